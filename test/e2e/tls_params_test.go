package e2e

import (
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"
)

// handshake completes a TLS handshake with Envoy's HTTPS listener as the
// client cfg (server name sni, trusting the test CA) and returns what was
// negotiated.
func (s *stack) handshake(ca *testCA, sni string, cfg *tls.Config) (tls.ConnectionState, error) {
	c := ca.clientConfig()
	c.ServerName = sni
	c.MinVersion, c.MaxVersion = cfg.MinVersion, cfg.MaxVersion
	c.CipherSuites, c.CurvePreferences = cfg.CipherSuites, cfg.CurvePreferences
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.httpsAddr, c)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.ConnectionState(), nil
}

// refused is a check that the client cfg cannot complete a handshake.
func (s *stack) refused(ca *testCA, sni string, cfg *tls.Config) error {
	st, err := s.handshake(ca, sni, cfg)
	if err == nil {
		return fmt.Errorf("handshake succeeded with %s and %s, want it refused",
			tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	}
	return nil
}

// accepted is a check that the client cfg completes a handshake with
// version.
func (s *stack) accepted(ca *testCA, sni string, cfg *tls.Config, version uint16) func() error {
	return func() error {
		st, err := s.handshake(ca, sni, cfg)
		if err != nil {
			return err
		}
		if st.Version != version {
			return fmt.Errorf("negotiated %s, want %s", tls.VersionName(st.Version), tls.VersionName(version))
		}
		return nil
	}
}

// tlsHost creates, in a namespace of its own, a TLS virtual host fqdn with
// a certificate of ca, the extra tls settings tlsExtra (YAML flow fields),
// routing to the echo backend.
func (s *stack) tlsHost(t *testing.T, ca *testCA, fqdn, tlsExtra string) {
	t.Helper()
	ns := kube.NewNamespace(t)
	s.service(t, ns, "web", "echo")
	cert, key := ca.issue(t, fqdn)
	tlsSecret(t, ns, "cert", cert, key)
	apply(t, ns, fmt.Sprintf(`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: p}
spec:
  virtualhost:
    fqdn: %s
    tls: {secretName: cert%s}
  routes:
  - services: [{name: web, port: 80}]
`, fqdn, tlsExtra))
}

// TestTLSParameters checks the downstream TLS settings with Go's TLS
// client against a real Envoy: Contour's defaults (TLS 1.2 and 1.3, its
// AEAD cipher suites), a virtual host's own versions, and the cluster-wide
// flags narrowing them.
func TestTLSParameters(t *testing.T) {
	ca := newTestCA(t)
	const (
		ecdsaGCM = tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
		ecdsaCBC = tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
		ecdsa256 = tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
	)
	tls12 := func(suites ...uint16) *tls.Config {
		return &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: suites}
	}

	t.Run("defaults", func(t *testing.T) {
		s := newStack(t, "echo")
		s.tlsHost(t, ca, "default.tls.example.com", "")
		s.tlsHost(t, ca, "only13.tls.example.com", ", minimumProtocolVersion: \"1.3\"")
		host := "default.tls.example.com"
		eventually(t, "TLS 1.3", s.accepted(ca, host, &tls.Config{MinVersion: tls.VersionTLS13}, tls.VersionTLS13))
		eventually(t, "TLS 1.2 with an AEAD suite of Contour's list", s.accepted(ca, host, tls12(ecdsaGCM), tls.VersionTLS12))
		t.Run("TLS 1.1 is refused", func(t *testing.T) {
			if err := s.refused(ca, host, &tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11}); err != nil {
				t.Error(err)
			}
		})
		t.Run("a CBC suite outside Contour's list is refused", func(t *testing.T) {
			if err := s.refused(ca, host, tls12(ecdsaCBC)); err != nil {
				t.Error(err)
			}
		})
		t.Run("a TLS 1.3-only virtual host refuses TLS 1.2", func(t *testing.T) {
			eventually(t, "TLS 1.3", s.accepted(ca, "only13.tls.example.com", &tls.Config{MinVersion: tls.VersionTLS13}, tls.VersionTLS13))
			if err := s.refused(ca, "only13.tls.example.com", tls12(ecdsaGCM)); err != nil {
				t.Error(err)
			}
		})
	})

	t.Run("cluster-wide flags", func(t *testing.T) {
		s := newStackArgs(t, []string{"--tls-maximum-protocol-version", "1.2",
			"--tls-cipher-suites", "ECDHE-ECDSA-AES256-GCM-SHA384", "--tls-ecdh-curves", "P-384"}, "echo")
		host := "narrow.tls.example.com"
		s.tlsHost(t, ca, host, "")
		s.tlsHost(t, ca, "wants13.tls.example.com", ", maximumProtocolVersion: \"1.3\"")
		// P-256 is offered too: with TLS 1.2 a client's groups also bound
		// the curve of the server's ECDSA certificate (P-256 here).
		p384 := tls12(ecdsa256)
		p384.CurvePreferences = []tls.CurveID{tls.CurveP384, tls.CurveP256}
		eventually(t, "TLS 1.2 with the one suite and curve", s.accepted(ca, host, p384, tls.VersionTLS12))
		t.Run("a suite outside the list is refused", func(t *testing.T) {
			c := tls12(ecdsaGCM)
			c.CurvePreferences = p384.CurvePreferences
			if err := s.refused(ca, host, c); err != nil {
				t.Error(err)
			}
		})
		t.Run("a curve outside the list is refused", func(t *testing.T) {
			c := tls12(ecdsa256)
			c.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
			if err := s.refused(ca, host, c); err != nil {
				t.Error(err)
			}
		})
		t.Run("TLS 1.3 is refused, even where a virtual host asks for it", func(t *testing.T) {
			eventually(t, "the other host is served", s.accepted(ca, "wants13.tls.example.com", p384, tls.VersionTLS12))
			for _, h := range []string{host, "wants13.tls.example.com"} {
				if err := s.refused(ca, h, &tls.Config{MinVersion: tls.VersionTLS13}); err != nil {
					t.Errorf("%s: %v", h, err)
				}
			}
		})
	})
}
