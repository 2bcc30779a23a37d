package config

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/xds"
)

// validate checks values the way Contour does, so a file Contour refuses
// is refused here too, with the key and line.
func (p *Parameters) validate() error {
	oneOf := func(key, v string, allowed ...string) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return p.errorf(key, "%q is not one of %s", v, strings.Join(quoteAll(allowed), ", "))
	}
	checks := []func() error{
		func() error {
			return oneOf("accesslog-format", p.AccessLogFormat, xds.AccessLogEnvoy, xds.AccessLogJSON)
		},
		func() error {
			return oneOf("accesslog-level", p.AccessLogLevel, xds.AccessLogLevelInfo, xds.AccessLogLevelError,
				xds.AccessLogLevelCritical, xds.AccessLogLevelDisabled)
		},
		func() error {
			if err := xds.CheckFormatString(p.AccessLogFormatString); err != nil {
				return p.errorf("accesslog-format-string", "%v", err)
			}
			return nil
		},
		func() error {
			for i, e := range p.AccessLogFields {
				if _, err := xds.JSONFieldFormats([]string{e}); err != nil {
					return p.errorf(fmt.Sprintf("json-fields[%d]", i), "%v", err)
				}
			}
			return nil
		},
		func() error {
			return oneOf("compression.algorithm", p.Compression.Algorithm, xds.CompressionGzip, xds.CompressionBrotli,
				xds.CompressionZstd, xds.CompressionDisabled)
		},
		func() error {
			return oneOf("serverHeaderTransformation", p.ServerHeaderTransformation, xds.ServerHeaderOverwrite,
				xds.ServerHeaderAppendIfAbsent, xds.ServerHeaderPassThrough)
		},
		p.validateTimeouts,
		func() error {
			if p.IsSet("kubernetesClientQPS") && p.KubeClientQPS <= 0 {
				return p.errorf("kubernetesClientQPS", "must be positive")
			}
			if p.IsSet("kubernetesClientBurst") && p.KubeClientBurst <= 0 {
				return p.errorf("kubernetesClientBurst", "must be positive")
			}
			return nil
		},
		p.validateListener,
		func() error {
			if b := p.Listener.ConnectionBalancer; b != "" && b != xds.ConnectionBalancerExact {
				return p.errorf("listener.connection-balancer", "%q is not \"exact\", the only balancer (or empty, none)", b)
			}
			return nil
		},
		p.validateTLS,
		p.validatePolicy,
		func() error {
			for i, v := range p.DefaultHTTPVersions {
				if l := strings.ToLower(v); l != "http/1.1" && l != "http/2" {
					return p.errorf("default-http-versions", "entry %d, %q, is not HTTP/1.1 or HTTP/2", i+1, v)
				}
			}
			return nil
		},
		func() error {
			if p.Cluster.DNSLookupFamily == "" {
				return nil
			}
			return oneOf("cluster.dns-lookup-family", p.Cluster.DNSLookupFamily, "auto", "v4", "v6", "all")
		},
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

func (p *Parameters) validateTimeouts() error {
	t := p.Timeouts
	for _, kv := range []struct{ key, v string }{
		{"timeouts.request-timeout", t.RequestTimeout},
		{"timeouts.connection-idle-timeout", t.ConnectionIdleTimeout},
		{"timeouts.stream-idle-timeout", t.StreamIdleTimeout},
		{"timeouts.max-connection-duration", t.MaxConnectionDuration},
		{"timeouts.delayed-close-timeout", t.DelayedCloseTimeout},
		{"timeouts.connection-shutdown-grace-period", t.ConnectionShutdownGracePeriod},
	} {
		if _, err := xds.ParseTimeout(kv.v); err != nil {
			return p.errorf(kv.key, "%v", err)
		}
	}
	// Envoy needs a connect timeout; it cannot be off. "0s" is Contour's
	// 2s, as Contour reads it.
	if d, err := time.ParseDuration(t.ConnectTimeout); err != nil || d < 0 {
		return p.errorf("timeouts.connect-timeout", "%q is not a positive duration (such as 2s)", t.ConnectTimeout)
	}
	return nil
}

// ListenerTimeouts gives the connection manager timeouts of the file (or their
// defaults), checked by Parse.
func (p *Parameters) ListenerTimeouts() xds.Timeouts {
	parse := func(s string) xds.Timeout {
		t, _ := xds.ParseTimeout(s)
		return t
	}
	t := p.Timeouts
	return xds.Timeouts{
		Request:                       parse(t.RequestTimeout),
		ConnectionIdle:                parse(t.ConnectionIdleTimeout),
		StreamIdle:                    parse(t.StreamIdleTimeout),
		MaxConnectionDuration:         parse(t.MaxConnectionDuration),
		DelayedClose:                  parse(t.DelayedCloseTimeout),
		ConnectionShutdownGracePeriod: parse(t.ConnectionShutdownGracePeriod),
	}
}

// ConnectTimeout is timeouts.connect-timeout, checked by Parse; "0s" is
// Contour's default, 2s.
func (p *Parameters) ConnectTimeout() time.Duration {
	d, _ := time.ParseDuration(p.Timeouts.ConnectTimeout)
	if d == 0 {
		return xds.DefaultConnectTimeout
	}
	return d
}

func (p *Parameters) validateListener() error {
	l := p.Listener
	for key, v := range map[string]*uint32{
		"listener.max-requests-per-connection":                l.MaxRequestsPerConnection,
		"listener.per-connection-buffer-limit-bytes":          l.PerConnectionBufferLimitBytes,
		"listener.max-requests-per-io-cycle":                  l.MaxRequestsPerIOCycle,
		"listener.http2-max-concurrent-streams":               l.HTTP2MaxConcurrentStreams,
		"listener.max-connections-per-listener":               l.MaxConnectionsPerListener,
		"listener.max-connections-to-accept-per-socket-event": l.MaxConnectionsToAcceptPerSocketEvent,
		"cluster.max-requests-per-connection":                 p.Cluster.MaxRequestsPerConnection,
		"cluster.per-connection-buffer-limit-bytes":           p.Cluster.PerConnectionBufferLimitBytes,
	} {
		if v != nil && *v < 1 {
			return p.errorf(key, "must be at least 1")
		}
	}
	for key, v := range map[string]int32{
		"listener.socket-options.tos":           l.SocketOptions.TOS,
		"listener.socket-options.traffic-class": l.SocketOptions.TrafficClass,
	} {
		if v < 0 || v > 255 {
			return p.errorf(key, "%d is not from 0 to 255", v)
		}
	}
	return nil
}

func (p *Parameters) validateTLS() error {
	for _, kv := range []struct {
		prefix string
		v      [2]string
	}{
		{"tls.", [2]string{p.TLS.MinimumProtocolVersion, p.TLS.MaximumProtocolVersion}},
		{"cluster.upstream-tls.", [2]string{p.Cluster.UpstreamTLS.MinimumProtocolVersion, p.Cluster.UpstreamTLS.MaximumProtocolVersion}},
	} {
		prefix, v := kv.prefix, kv.v
		for i, key := range []string{"minimum-protocol-version", "maximum-protocol-version"} {
			switch v[i] {
			case "", "1.2", "1.3":
			default:
				return p.errorf(prefix+key, "%q is not \"1.2\" or \"1.3\"", v[i])
			}
		}
		if v[0] == "1.3" && v[1] == "1.2" {
			return p.errorf(prefix+"maximum-protocol-version", "1.2 is below the minimum-protocol-version 1.3")
		}
	}
	// The cipher suites and curves Envoy knows, as Contour checks them; a
	// list is reported whole, at its key.
	tp := xds.TLSParameters{CipherSuites: p.TLS.CipherSuites}
	if err := tp.Validate(); err != nil {
		return p.errorf("tls.cipher-suites", "%v", err)
	}
	tp = xds.TLSParameters{ECDHCurves: p.TLS.ECDHCurves}
	if err := tp.Validate(); err != nil {
		return p.errorf("tls.ecdh-curves", "%v", err)
	}
	for _, kv := range []struct {
		key string
		n   NamespacedName
	}{
		{"tls.fallback-certificate", p.TLS.FallbackCertificate},
		{"tls.envoy-client-certificate", p.TLS.EnvoyClientCertificate},
	} {
		if (kv.n.Name == "") != (kv.n.Namespace == "") {
			return p.errorf(kv.key, "needs both name and namespace")
		}
	}
	return nil
}

// headerName is RFC 9110's token, which Kubernetes checks header names
// against too.
var headerName = regexp.MustCompile("^[-!#$%&'*+.^_`|~0-9A-Za-z]+$")

func (p *Parameters) validatePolicy() error {
	for _, kv := range []struct {
		prefix string
		h      HeadersPolicy
	}{
		{"policy.request-headers", p.Policy.RequestHeaders},
		{"policy.response-headers", p.Policy.ResponseHeaders},
	} {
		prefix, h := kv.prefix, kv.h
		names := make([]string, 0, len(h.Set))
		for name := range h.Set {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if !headerName.MatchString(name) {
				return p.errorf(prefix+".set", "%q is not a header name", name)
			}
		}
		for _, name := range h.Remove {
			if !headerName.MatchString(name) {
				return p.errorf(prefix+".remove", "%q is not a header name", name)
			}
		}
		// What Envoy cannot do with a Host (on responses, or from a request
		// header for every service): Contour would fail every route.
		if err := (dag.GlobalHeaders{Set: h.Set}).Validate(prefix == "policy.response-headers"); err != nil {
			return p.errorf(prefix+".set", "%v", err)
		}
	}
	return nil
}

// GlobalHeaders are policy.request-headers and policy.response-headers for
// the DAG.
func (p *Parameters) GlobalHeaders() (request, response dag.GlobalHeaders) {
	conv := func(h HeadersPolicy) dag.GlobalHeaders { return dag.GlobalHeaders{Set: h.Set, Remove: h.Remove} }
	return conv(p.Policy.RequestHeaders), conv(p.Policy.ResponseHeaders)
}

// HTTPVersions are default-http-versions as the listeners take them
// (xds.HTTPVersion1, xds.HTTPVersion2), each once; empty is both, as in
// Contour. Parse checked the entries, which Contour reads in any case.
func (p *Parameters) HTTPVersions() []string {
	var out []string
	for _, v := range p.DefaultHTTPVersions {
		if v = strings.ToLower(v); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// UpstreamCircuitBreakers are cluster.circuit-breakers, the default
// thresholds of every cluster, for the DAG.
func (p *Parameters) UpstreamCircuitBreakers() dag.CircuitBreakers {
	cb := p.Cluster.CircuitBreakers
	if cb == nil {
		return dag.CircuitBreakers{}
	}
	return dag.CircuitBreakers{
		MaxConnections:        cb.MaxConnections,
		MaxPendingRequests:    cb.MaxPendingRequests,
		MaxRequests:           cb.MaxRequests,
		MaxRetries:            cb.MaxRetries,
		PerHostMaxConnections: cb.PerHostMaxConnections,
	}
}
