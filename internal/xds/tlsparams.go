package xds

import (
	"fmt"
	"slices"
	"strings"

	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// DefaultCipherSuites are the TLS 1.2 cipher suites Envoy's listeners
// offer by default, Contour's list: AEAD suites with forward secrecy only,
// in order of preference ("[A|B]" lets the client choose within the
// group). Clients that need CBC or RSA key exchange need TLS 1.0 too,
// which is never enabled.
var DefaultCipherSuites = []string{
	"[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]",
	"[ECDHE-RSA-AES128-GCM-SHA256|ECDHE-RSA-CHACHA20-POLY1305]",
	"ECDHE-ECDSA-AES256-GCM-SHA384",
	"ECDHE-RSA-AES256-GCM-SHA384",
}

// validCipherSuites are the names Envoy (BoringSSL, FIPS builds included)
// accepts for TLS 1.2, as Contour lists them: a name outside this list
// would make Envoy reject the whole listener.
var validCipherSuites = map[string]bool{
	"ECDHE-ECDSA-CHACHA20-POLY1305": true,
	"ECDHE-RSA-CHACHA20-POLY1305":   true,
	"ECDHE-ECDSA-AES128-GCM-SHA256": true,
	"ECDHE-RSA-AES128-GCM-SHA256":   true,
	"ECDHE-ECDSA-AES128-SHA":        true,
	"ECDHE-RSA-AES128-SHA":          true,
	"AES128-GCM-SHA256":             true,
	"AES128-SHA":                    true,
	"ECDHE-ECDSA-AES256-GCM-SHA384": true,
	"ECDHE-RSA-AES256-GCM-SHA384":   true,
	"ECDHE-ECDSA-AES256-SHA":        true,
	"ECDHE-RSA-AES256-SHA":          true,
	"AES256-GCM-SHA384":             true,
	"AES256-SHA":                    true,
}

// validECDHCurves are the key exchange groups Contour accepts (BoringSSL's
// names).
var validECDHCurves = map[string]bool{
	"X25519":         true,
	"P-256":          true,
	"P-384":          true,
	"P-521":          true,
	"X25519MLKEM768": true,
	"MLKEM1024":      true,
}

// Validate reports, as Contour does, versions other than 1.2 and 1.3, a
// minimum above the maximum, and cipher suites or curves Envoy does not
// know (all of them, quoted, in one error).
func (p TLSParameters) Validate() error {
	for _, v := range []struct{ what, value string }{{"minimum", p.MinimumProtocolVersion}, {"maximum", p.MaximumProtocolVersion}} {
		switch v.value {
		case "", "1.2", "1.3":
		default:
			return fmt.Errorf("invalid TLS %s protocol version: %q (use \"1.2\" or \"1.3\")", v.what, v.value)
		}
	}
	if p.minVersion() > p.maxVersion() {
		return fmt.Errorf("the minimum TLS protocol version is greater than the maximum TLS protocol version")
	}
	var bad []string
	for _, c := range p.CipherSuites {
		if !validCipherSuite(c) {
			bad = append(bad, c)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("invalid TLS cipher suites %q", bad)
	}
	for _, c := range p.ECDHCurves {
		if !validECDHCurves[c] {
			bad = append(bad, c)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("invalid ECDH curves %q", bad)
	}
	return nil
}

// validCipherSuite accepts a known name or a group of them, "[A|B]".
func validCipherSuite(s string) bool {
	if inner, ok := strings.CutPrefix(s, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		if !ok || inner == "" {
			return false
		}
		for _, c := range strings.Split(inner, "|") {
			if !validCipherSuites[c] {
				return false
			}
		}
		return true
	}
	return validCipherSuites[s]
}

func (p TLSParameters) minVersion() tls.TlsParameters_TlsProtocol {
	return tlsVersion(p.MinimumProtocolVersion, tls.TlsParameters_TLSv1_2)
}

func (p TLSParameters) maxVersion() tls.TlsParameters_TlsProtocol {
	return tlsVersion(p.MaximumProtocolVersion, tls.TlsParameters_TLSv1_3)
}

// cipherSuites are the suites to offer, each once, in the order given.
func (p TLSParameters) cipherSuites() []string {
	if len(p.CipherSuites) == 0 {
		return DefaultCipherSuites
	}
	return dedupe(p.CipherSuites)
}

func (p TLSParameters) ecdhCurves() []string {
	if len(p.ECDHCurves) == 0 {
		return nil
	}
	return dedupe(p.ECDHCurves)
}

// dedupe keeps the first of each value, in order.
func dedupe(l []string) []string {
	out := make([]string, 0, len(l))
	for _, v := range l {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// tlsParams are a filter chain's TLS parameters: the cluster-wide ones,
// narrowed by the virtual host's versions (empty for none), as Contour
// combines them: the higher minimum and the lower maximum. A host asking
// for a range outside the cluster-wide one gets the cluster-wide bound
// for both ends rather than a range Envoy would refuse.
func (p TLSParameters) tlsParams(vhMin, vhMax string) *tls.TlsParameters {
	lo := max(p.minVersion(), tlsVersion(vhMin, tls.TlsParameters_TLS_AUTO))
	hi := p.maxVersion()
	if v := tlsVersion(vhMax, tls.TlsParameters_TLS_AUTO); v != tls.TlsParameters_TLS_AUTO {
		hi = min(hi, v)
	}
	if hi < lo {
		hi = lo
	}
	return &tls.TlsParameters{
		TlsMinimumProtocolVersion: lo,
		TlsMaximumProtocolVersion: hi,
		CipherSuites:              p.cipherSuites(),
		EcdhCurves:                p.ecdhCurves(),
	}
}
