package xds

import (
	"sort"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// Names of the resources the Translator makes that do not come from the DAG.
const (
	// HTTPListenerName is the plain-HTTP listener.
	HTTPListenerName = "ingress_http"
	// HTTPSListenerName is the TLS listener (one filter chain per SNI name).
	HTTPSListenerName = "ingress_https"
	// httpsRoutePrefix prefixes the fqdn to name a TLS virtual host's route
	// configuration: "https/<fqdn>".
	httpsRoutePrefix = "https/"
	// FallbackRouteName is the route configuration of the fallback
	// certificate's filter chain: every virtual host that enables it.
	FallbackRouteName = "ingress_fallbackcert"
	// fallbackChainName names that filter chain; the '_' keeps it apart
	// from every fqdn, which name the other chains.
	fallbackChainName = "fallback_certificate"
)

// Defaults applied by the Translator when a ListenerConfig field is zero.
const (
	DefaultAddress   = "0.0.0.0"
	DefaultHTTPPort  = 8080
	DefaultHTTPSPort = 8443
)

// ListenerConfig says where Envoy listens and how it treats request paths.
// Zero fields take the Default values above.
type ListenerConfig struct {
	HTTPAddress  string
	HTTPPort     uint32
	HTTPSAddress string
	HTTPSPort    uint32
	// NumTrustedHops is how many proxies in front of Envoy append to
	// X-Forwarded-For: the client's address is that many entries from
	// the right. 0 trusts no header: the client is the TCP peer.
	NumTrustedHops uint32
	// DisableMergeSlashes keeps repeated slashes in request paths; by
	// default Envoy merges them ("//a//b" is "/a/b"), as with Contour.
	DisableMergeSlashes bool

	// AccessLog is the access log of the HTTP connection managers; the
	// zero value is JSON lines of DefaultJSONFields on Envoy's stdout.
	AccessLog AccessLog
	// Timeouts of the HTTP connection managers; zero is Contour's
	// defaults.
	Timeouts Timeouts
	// ConnectTimeout bounds each connection attempt to an upstream
	// (every cluster's connect_timeout); zero is Contour's 2s.
	ConnectTimeout time.Duration
	// Compression is the response compression offered to clients that
	// accept it: CompressionGzip (the default, as in Contour),
	// CompressionBrotli, CompressionZstd or CompressionDisabled.
	Compression string
	// ServerHeader is what Envoy does with the upstream's Server header:
	// ServerHeaderOverwrite (the default: "envoy"), ServerHeaderAppendIfAbsent
	// or ServerHeaderPassThrough.
	ServerHeader string
	// UseProxyProtocol makes both listeners expect a PROXY protocol (v1
	// or v2) header on every connection, and take the client's address
	// from it; connections without one are closed.
	UseProxyProtocol bool
	// MaxRequestsPerConnection closes a client connection after that
	// many requests; 0 is unlimited.
	MaxRequestsPerConnection uint32
	// HTTP2MaxConcurrentStreams caps the streams a client may open on
	// one HTTP/2 connection; 0 is Envoy's default.
	HTTP2MaxConcurrentStreams uint32
	// PerConnectionBufferLimitBytes is the soft limit of each client
	// connection's read and write buffers; 0 is Envoy's 1MiB.
	PerConnectionBufferLimitBytes uint32
	// ClusterPerConnectionBufferLimitBytes is the same for each
	// connection to a Service's endpoints (Contour's
	// cluster.per-connection-buffer-limit-bytes); 0 is Envoy's 1MiB. As
	// in Contour, the clusters of ExtensionServices and of JWT key set
	// servers keep Envoy's default.
	ClusterPerConnectionBufferLimitBytes uint32

	// TLS is the downstream TLS of every HTTPS filter chain.
	TLS TLSParameters

	// RateLimit is the global rate limit service, when ClusterName is set.
	RateLimit RateLimitService

	// GlobalAuthorization, when set, is the global external authorization
	// server (Contour's globalExtAuth), read at start-up as Contour does.
	// As in Contour, the HTTP listener and the fallback certificate's
	// chain check every request with it (a route turns it off with
	// authPolicy.disabled); a TLS virtual host has the DAG's own filter.
	GlobalAuthorization *dag.ExternalAuthorization

	// StripTrailingHostDot removes a final dot from the Host of requests
	// ("app.example.com." is app.example.com) before routing, as Contour's
	// network.strip-trailing-host-dot; off, such a Host matches no
	// virtual host (404).
	StripTrailingHostDot bool
	// HTTPVersions are the HTTP versions clients may speak, HTTPVersion1
	// and HTTPVersion2, as Contour's default-http-versions; empty is both.
	HTTPVersions []string
	// DisableAllowChunkedLength refuses (400) an HTTP/1 request with both
	// Content-Length and Transfer-Encoding: chunked, as Contour's
	// disableAllowChunkedLength; by default, as in Contour, Envoy drops
	// the Content-Length and serves it.
	DisableAllowChunkedLength bool
	// ConnectionBalancer is "" (the kernel spreads connections among
	// Envoy's workers) or ConnectionBalancerExact (Envoy gives each to
	// the worker with the fewest), Contour's listener.connection-balancer.
	ConnectionBalancer string
	// TOS and TrafficClass, when not 0, are the IPv4 TOS byte and the
	// IPv6 traffic class of the packets of the listeners' connections
	// (Contour's listener.socket-options). Envoy refuses a listener on
	// an IPv4 address with a traffic class: the caller checks.
	TOS, TrafficClass int32
}

// TLSParameters are the cluster-wide settings of downstream TLS, as
// Contour's tls configuration has them. Check them with Validate.
type TLSParameters struct {
	// MinimumProtocolVersion and MaximumProtocolVersion are "1.2" or
	// "1.3"; empty is 1.2 and 1.3. A virtual host may narrow them
	// (virtualhost.tls.minimumProtocolVersion and maximumProtocolVersion),
	// never widen them.
	MinimumProtocolVersion string
	MaximumProtocolVersion string
	// CipherSuites are offered for TLS 1.2, in order of preference
	// ("[A|B]" is a group of equal preference); empty is
	// DefaultCipherSuites. TLS 1.3's suites are not configurable.
	CipherSuites []string
	// ECDHCurves are the key exchange groups, most preferred first; empty
	// is Envoy's default (X25519, P-256).
	ECDHCurves []string
}

// DefaultConnectTimeout is Contour's timeout for connecting to upstreams.
const DefaultConnectTimeout = 2 * time.Second

func (c ListenerConfig) withDefaults() ListenerConfig {
	if c.HTTPAddress == "" {
		c.HTTPAddress = DefaultAddress
	}
	if c.HTTPPort == 0 {
		c.HTTPPort = DefaultHTTPPort
	}
	if c.HTTPSAddress == "" {
		c.HTTPSAddress = DefaultAddress
	}
	if c.HTTPSPort == 0 {
		c.HTTPSPort = DefaultHTTPSPort
	}
	if c.AccessLog.Format == "" {
		c.AccessLog.Format = AccessLogJSON
	}
	if c.AccessLog.Level == "" {
		c.AccessLog.Level = AccessLogLevelInfo
	}
	if c.AccessLog.HTTPPath == "" {
		c.AccessLog.HTTPPath = DefaultAccessLogPath
	}
	if c.AccessLog.HTTPSPath == "" {
		c.AccessLog.HTTPSPath = DefaultAccessLogPath
	}
	if c.Timeouts.ConnectionIdle.Mode == TimeoutUnset {
		c.Timeouts.ConnectionIdle = Timeout{Mode: TimeoutDuration, Duration: DefaultConnectionIdleTimeout}
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.Compression == "" {
		c.Compression = CompressionGzip
	}
	if c.ServerHeader == "" {
		c.ServerHeader = ServerHeaderOverwrite
	}
	return c
}

// sortByName sorts s stably by name and drops later entries with a name
// already seen, so a DAG listing something twice cannot produce a
// configuration Envoy rejects.
func sortByName[T any](s []T, name func(T) string) []T {
	// The DAG's lists come sorted; checking is cheaper than sorting 10,000
	// names again.
	if !sort.SliceIsSorted(s, func(i, j int) bool { return name(s[i]) < name(s[j]) }) {
		sort.SliceStable(s, func(i, j int) bool { return name(s[i]) < name(s[j]) })
	}
	out := s[:0]
	for i, v := range s {
		if i > 0 && name(v) == name(s[i-1]) {
			continue
		}
		out = append(out, v)
	}
	return out
}

// adsConfigSource tells Envoy to fetch a resource over the ADS stream it
// already has.
func adsConfigSource() *core.ConfigSource {
	return &core.ConfigSource{
		ResourceApiVersion:    core.ApiVersion_V3,
		ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
	}
}

// toAny packs m deterministically so that equal messages always give equal
// bytes (anypb.New does not promise that).
func toAny(m proto.Message) *anypb.Any {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		// Only invalid UTF-8 in a string field can fail here; the DAG
		// holds Go strings built from Kubernetes objects, which are valid.
		panic("xds: marshal " + string(m.ProtoReflect().Descriptor().FullName()) + ": " + err.Error())
	}
	return &anypb.Any{
		TypeUrl: "type.googleapis.com/" + string(m.ProtoReflect().Descriptor().FullName()),
		Value:   b,
	}
}

func duration(d time.Duration) *durationpb.Duration { return durationpb.New(d) }

// timeout converts a model timeout; Infinite becomes 0s, which Envoy reads
// as "disabled". The caller checks IsSet first.
func timeout(t dag.Timeout) *durationpb.Duration {
	if t.Infinite {
		return duration(0)
	}
	return duration(t.Duration)
}
