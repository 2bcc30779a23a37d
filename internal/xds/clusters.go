package xds

import (
	"net"
	"strings"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	upstreamhttp "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	envoytype "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// httpProtocolOptionsKey is where Envoy looks for upstream HTTP options in
// typed_extension_protocol_options.
const httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// envoyCluster is an EDS cluster whose endpoints come over ADS in the
// ClusterLoadAssignment of the same name. Connecting to an endpoint gives
// up after cfg.ConnectTimeout; cfg.ClusterPerConnectionBufferLimitBytes
// bounds each upstream connection's buffers. A JWT key set server's
// cluster has the connect timeout only, as Contour's.
func envoyCluster(c *dag.Cluster, cfg ListenerConfig) *cluster.Cluster {
	if c.DNS != nil {
		return dnsCluster(c, cfg.ConnectTimeout)
	}
	out := edsCluster(c.Name, c.LoadBalancer, cfg.ConnectTimeout)
	// Envoy's 1MiB when unset, as in Contour.
	out.PerConnectionBufferLimitBytes = uint32OrNil(cfg.ClusterPerConnectionBufferLimitBytes)
	if c.ExternalName != "" {
		externalNameDiscovery(out, c)
	}
	out.TypedExtensionProtocolOptions = protocolOptions(c)
	switch c.Protocol {
	case dag.ProtocolH2, dag.ProtocolTLS:
		// Without validation the upstream's certificate is not checked,
		// and the SNI is the Host rewrite or the external name, if any, as
		// in Contour.
		ctx := &tls.UpstreamTlsContext{CommonTlsContext: &tls.CommonTlsContext{}, Sni: c.SNI}
		if c.Protocol == dag.ProtocolH2 {
			ctx.CommonTlsContext.AlpnProtocols = []string{"h2"}
		}
		if v := c.Validation; v != nil {
			ctx.CommonTlsContext.ValidationContextType = &tls.CommonTlsContext_ValidationContext{
				ValidationContext: upstreamValidationContext(v),
			}
			// The name the certificate must carry is the one to ask for:
			// a backend choosing its certificate by SNI presents it.
			ctx.Sni = v.SubjectNames[0]
		}
		out.TransportSocket = &core.TransportSocket{
			Name:       wellknown.TransportSocketTLS,
			ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: toAny(ctx)},
		}
	}
	withSlowStart(out, c.SlowStart)
	out.CircuitBreakers = circuitBreakers(c.CircuitBreakers)
	if c.HealthCheck != nil {
		out.HealthChecks = []*core.HealthCheck{healthCheck(c.HealthCheck, c.Protocol)}
		// An endpoint removed from EDS goes at once, even while its
		// health checks still pass (as in Contour).
		out.IgnoreHealthOnHostRemoval = true
	}
	return out
}

// externalNameDiscovery makes out the cluster of an ExternalName Service,
// as Contour makes it: Envoy resolves the name by DNS (STRICT_DNS, every
// address it gets is an endpoint, re-resolved as the records change) with
// the configured lookup family (by default IPv6, else IPv4; LOGICAL_DNS
// when both families are asked for, as Contour has it), and connects to
// the Service's port; health checks go to the health port when it
// differs. There is no ClusterLoadAssignment to fetch over EDS. An
// external name that is an IP address is looked up in its own family
// only: the resolver answers it as it is, where a lookup of the other
// family would ask a name server about an address.
func externalNameDiscovery(out *cluster.Cluster, c *dag.Cluster) {
	typ, family := dnsDiscovery(c.DNSLookupFamily)
	out.ClusterDiscoveryType = &cluster.Cluster_Type{Type: typ}
	out.DnsLookupFamily = family
	out.EdsClusterConfig = nil
	if ip := net.ParseIP(c.ExternalName); ip != nil {
		out.ClusterDiscoveryType = &cluster.Cluster_Type{Type: cluster.Cluster_STRICT_DNS}
		out.DnsLookupFamily = cluster.Cluster_V6_ONLY
		if ip.To4() != nil {
			out.DnsLookupFamily = cluster.Cluster_V4_ONLY
		}
	}
	ep := &endpoint.Endpoint{Address: socketAddress(c.ExternalName, uint32(c.Port))}
	if c.HealthPort != 0 {
		ep.HealthCheckConfig = &endpoint.Endpoint_HealthCheckConfig{PortValue: uint32(c.HealthPort)}
	}
	out.LoadAssignment = &endpoint.ClusterLoadAssignment{
		ClusterName: c.Name,
		Endpoints: []*endpoint.LocalityLbEndpoints{{LbEndpoints: []*endpoint.LbEndpoint{{
			HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: ep},
		}}}},
	}
}

// dnsDiscovery maps Contour's DNS lookup families ("auto" or empty, "v4",
// "v6", "all") to Envoy's, with the cluster type Contour uses for each:
// STRICT_DNS, but LOGICAL_DNS for "all".
func dnsDiscovery(family string) (cluster.Cluster_DiscoveryType, cluster.Cluster_DnsLookupFamily) {
	switch family {
	case "v4":
		return cluster.Cluster_STRICT_DNS, cluster.Cluster_V4_ONLY
	case "v6":
		return cluster.Cluster_STRICT_DNS, cluster.Cluster_V6_ONLY
	case "all":
		return cluster.Cluster_LOGICAL_DNS, cluster.Cluster_ALL
	}
	return cluster.Cluster_STRICT_DNS, cluster.Cluster_AUTO
}

// protocolOptions are the upstream HTTP options: HTTP/2 for h2 and h2c,
// the idle timeout of upstream connections (timeoutPolicy.idleConnection)
// and the requests each may carry (cluster.max-requests-per-connection), with HTTP/1.1 stated explicitly then as
// Envoy requires a protocol with them. nil keeps Envoy's defaults.
func protocolOptions(c *dag.Cluster) map[string]*anypb.Any {
	h2 := c.Protocol == dag.ProtocolH2 || c.Protocol == dag.ProtocolH2C
	if !h2 && !c.IdleTimeout.IsSet() && c.MaxRequestsPerConnection == 0 {
		return nil
	}
	opts := &upstreamhttp.HttpProtocolOptions{}
	explicit := &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig{
		ProtocolConfig: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{},
	}
	if h2 {
		explicit.ProtocolConfig = &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
			Http2ProtocolOptions: &core.Http2ProtocolOptions{},
		}
	}
	opts.UpstreamProtocolOptions = &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: explicit}
	if c.IdleTimeout.IsSet() {
		opts.CommonHttpProtocolOptions = &core.HttpProtocolOptions{IdleTimeout: timeout(c.IdleTimeout)}
	}
	if n := c.MaxRequestsPerConnection; n > 0 {
		if opts.CommonHttpProtocolOptions == nil {
			opts.CommonHttpProtocolOptions = &core.HttpProtocolOptions{}
		}
		opts.CommonHttpProtocolOptions.MaxRequestsPerConnection = wrapperspb.UInt32(n)
	}
	return map[string]*anypb.Any{httpProtocolOptionsKey: toAny(opts)}
}

// upstreamValidationContext requires the upstream's certificate to chain
// to the CA inlined from the DAG and to carry one of the subject names as
// a DNS subject alternative name.
func upstreamValidationContext(v *dag.UpstreamValidation) *tls.CertificateValidationContext {
	vc := &tls.CertificateValidationContext{
		TrustChainVerification: tls.CertificateValidationContext_VERIFY_TRUST_CHAIN,
		TrustedCa:              inlineBytes(v.CA),
	}
	for _, name := range v.SubjectNames {
		vc.MatchTypedSubjectAltNames = append(vc.MatchTypedSubjectAltNames, &tls.SubjectAltNameMatcher{
			SanType: tls.SubjectAltNameMatcher_DNS,
			Matcher: &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: name}},
		})
	}
	return vc
}

func lbPolicy(lb string) cluster.Cluster_LbPolicy {
	switch lb {
	case dag.LBWeightedLeastRequest:
		return cluster.Cluster_LEAST_REQUEST
	case dag.LBRandom:
		return cluster.Cluster_RANDOM
	case dag.LBCookie, dag.LBRequestHash:
		return cluster.Cluster_RING_HASH
	default:
		return cluster.Cluster_ROUND_ROBIN
	}
}

// healthCheck is an HTTP check, or a TCP connect check when Path is empty.
func healthCheck(h *dag.HealthCheck, protocol string) *core.HealthCheck {
	out := &core.HealthCheck{
		Interval:           duration(orDefault(h.Interval, dag.DefaultHealthCheckInterval)),
		Timeout:            duration(orDefault(h.Timeout, dag.DefaultHealthCheckTimeout)),
		UnhealthyThreshold: wrapperspb.UInt32(orDefault(h.UnhealthyThreshold, dag.DefaultHealthCheckUnhealthyThreshold)),
		HealthyThreshold:   wrapperspb.UInt32(orDefault(h.HealthyThreshold, dag.DefaultHealthCheckHealthyThreshold)),
	}
	if h.Path == "" {
		out.HealthChecker = &core.HealthCheck_TcpHealthCheck_{TcpHealthCheck: &core.HealthCheck_TcpHealthCheck{}}
		return out
	}
	hc := &core.HealthCheck_HttpHealthCheck{
		Host: h.Host,
		Path: h.Path,
	}
	if hc.Host == "" {
		// Envoy would send the cluster name, which is no host name.
		hc.Host = dag.DefaultHealthCheckHost
	}
	if protocol == dag.ProtocolH2 || protocol == dag.ProtocolH2C {
		hc.CodecClientType = envoytype.CodecClientType_HTTP2
	}
	for _, s := range h.ExpectedStatuses {
		if s >= 100 && s < 600 {
			// Int64Range is half-open: [s, s+1).
			hc.ExpectedStatuses = append(hc.ExpectedStatuses, &envoytype.Int64Range{Start: int64(s), End: int64(s) + 1})
		}
	}
	out.HealthChecker = &core.HealthCheck_HttpHealthCheck_{HttpHealthCheck: hc}
	return out
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// edsCluster is the part every EDS cluster shares: its endpoints in the
// ClusterLoadAssignment of its name, over ADS.
func edsCluster(name, lb string, connectTimeout time.Duration) *cluster.Cluster {
	return &cluster.Cluster{
		Name: name,
		// Cluster names hold '/'; stats read better with '_'.
		AltStatName:          strings.ReplaceAll(name, "/", "_"),
		ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS},
		EdsClusterConfig: &cluster.Cluster_EdsClusterConfig{
			EdsConfig:   adsConfigSource(),
			ServiceName: name,
		},
		ConnectTimeout: duration(connectTimeout),
		LbPolicy:       lbPolicy(lb),
		// Panic mode off, as Contour has it: with Envoy's default of 50%,
		// once fewer than half the endpoints pass their health checks
		// Envoy would send traffic to all of them, the failing ones too.
		// Off, failing endpoints get nothing, and a route whose endpoints
		// all fail answers 503.
		CommonLbConfig: &cluster.Cluster_CommonLbConfig{HealthyPanicThreshold: &envoytype.Percent{Value: 0}},
	}
}

// circuitBreakers are the thresholds of a Service's cluster as Contour
// sets them: those given at the default priority, with the remaining
// budget tracked (the stats remaining_cx, remaining_rq, ...), and the
// per-host connection limit; nil, Envoy's defaults, when none is given.
func circuitBreakers(cb dag.CircuitBreakers) *cluster.CircuitBreakers {
	if !cb.IsSet() {
		return nil
	}
	orNil := func(v uint32) *wrapperspb.UInt32Value {
		if v == 0 {
			return nil
		}
		return wrapperspb.UInt32(v)
	}
	return &cluster.CircuitBreakers{
		Thresholds: []*cluster.CircuitBreakers_Thresholds{{
			Priority:           core.RoutingPriority_DEFAULT,
			MaxConnections:     orNil(cb.MaxConnections),
			MaxPendingRequests: orNil(cb.MaxPendingRequests),
			MaxRequests:        orNil(cb.MaxRequests),
			MaxRetries:         orNil(cb.MaxRetries),
			TrackRemaining:     true,
		}},
		PerHostThresholds: []*cluster.CircuitBreakers_Thresholds{{
			Priority:       core.RoutingPriority_DEFAULT,
			MaxConnections: orNil(cb.PerHostMaxConnections),
			TrackRemaining: true,
		}},
	}
}
