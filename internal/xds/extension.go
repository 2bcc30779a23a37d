package xds

import (
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	upstreamhttp "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// extensionCluster is the EDS cluster of an ExtensionService: HTTP/2 (gRPC)
// in cleartext (h2c) or over TLS (h2), its endpoints in the
// ClusterLoadAssignment of the same name, one locality per Service so that
// the Services' weights apply.
func extensionCluster(c *dag.ExtensionCluster, connectTimeout time.Duration) *cluster.Cluster {
	out := edsCluster(c.Name, c.LoadBalancer, connectTimeout)
	if extensionWeighted(c) {
		out.CommonLbConfig.LocalityConfigSpecifier = &cluster.Cluster_CommonLbConfig_LocalityWeightedLbConfig_{
			LocalityWeightedLbConfig: &cluster.Cluster_CommonLbConfig_LocalityWeightedLbConfig{},
		}
	}
	out.TypedExtensionProtocolOptions = extensionProtocolOptions(c)
	if c.Protocol == dag.ProtocolH2 {
		// Without validation the certificate is not checked, as in
		// Contour; with it, the first subject name is the SNI.
		ctx := &tls.UpstreamTlsContext{CommonTlsContext: &tls.CommonTlsContext{AlpnProtocols: []string{"h2"}}}
		if v := c.Validation; v != nil {
			ctx.CommonTlsContext.ValidationContextType = &tls.CommonTlsContext_ValidationContext{
				ValidationContext: upstreamValidationContext(v),
			}
			ctx.Sni = c.SNI
		}
		out.TransportSocket = &core.TransportSocket{
			Name:       wellknown.TransportSocketTLS,
			ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: toAny(ctx)},
		}
	}
	if cb := c.CircuitBreakers; cb != nil {
		th := &cluster.CircuitBreakers_Thresholds{Priority: core.RoutingPriority_DEFAULT}
		if cb.MaxConnections > 0 {
			th.MaxConnections = wrapperspb.UInt32(cb.MaxConnections)
		}
		if cb.MaxPendingRequests > 0 {
			th.MaxPendingRequests = wrapperspb.UInt32(cb.MaxPendingRequests)
		}
		if cb.MaxRequests > 0 {
			th.MaxRequests = wrapperspb.UInt32(cb.MaxRequests)
		}
		if cb.MaxRetries > 0 {
			th.MaxRetries = wrapperspb.UInt32(cb.MaxRetries)
		}
		out.CircuitBreakers = &cluster.CircuitBreakers{Thresholds: []*cluster.CircuitBreakers_Thresholds{th}}
		if cb.PerHostMaxConnections > 0 {
			out.CircuitBreakers.PerHostThresholds = []*cluster.CircuitBreakers_Thresholds{{
				Priority:       core.RoutingPriority_DEFAULT,
				MaxConnections: wrapperspb.UInt32(cb.PerHostMaxConnections),
			}}
		}
	}
	return out
}

// extensionWeighted reports whether any Service of c has a weight: the
// Services then share the traffic by weight (one with none gets none),
// else evenly.
func extensionWeighted(c *dag.ExtensionCluster) bool {
	for _, t := range c.Targets {
		if t.Weight > 0 {
			return true
		}
	}
	return false
}

// extensionProtocolOptions are HTTP/2 for h2 and h2c, HTTP/1.1 otherwise
// (stated explicitly only with an idle timeout), and the idle timeout of
// upstream connections.
func extensionProtocolOptions(c *dag.ExtensionCluster) map[string]*anypb.Any {
	h2 := c.Protocol == dag.ProtocolH2 || c.Protocol == dag.ProtocolH2C
	if !h2 && !c.IdleTimeout.IsSet() {
		return nil
	}
	explicit := &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig{
		ProtocolConfig: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{},
	}
	if h2 {
		explicit.ProtocolConfig = &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
			Http2ProtocolOptions: &core.Http2ProtocolOptions{},
		}
	}
	opts := &upstreamhttp.HttpProtocolOptions{
		UpstreamProtocolOptions: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: explicit},
	}
	if c.IdleTimeout.IsSet() {
		opts.CommonHttpProtocolOptions = &core.HttpProtocolOptions{IdleTimeout: timeout(c.IdleTimeout)}
	}
	return map[string]*anypb.Any{httpProtocolOptionsKey: toAny(opts)}
}

// extensionLoadAssignment has one locality per Service, in the order
// written, weighted when any Service has a weight.
func extensionLoadAssignment(c *dag.ExtensionCluster) *endpoint.ClusterLoadAssignment {
	cla := &endpoint.ClusterLoadAssignment{ClusterName: c.Name}
	weighted := extensionWeighted(c)
	for _, t := range c.Targets {
		if weighted && t.Weight == 0 {
			continue
		}
		loc := &endpoint.LocalityLbEndpoints{}
		if weighted {
			loc.LoadBalancingWeight = wrapperspb.UInt32(t.Weight)
		}
		for _, e := range t.Endpoints {
			loc.LbEndpoints = append(loc.LbEndpoints, &endpoint.LbEndpoint{
				HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: &endpoint.Endpoint{Address: socketAddress(e.Address, e.Port)}},
			})
		}
		if len(loc.LbEndpoints) > 0 {
			cla.Endpoints = append(cla.Endpoints, loc)
		}
	}
	return cla
}

func extensionResources(c *dag.ExtensionCluster, connectTimeout time.Duration) (clusterParts, error) {
	return encodeClusterParts(extensionCluster(c, connectTimeout), extensionLoadAssignment(c))
}
