package xds

import (
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	ratelimitconfig "github.com/envoyproxy/go-control-plane/envoy/config/ratelimit/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	ratelimit "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// globalRateLimitFilterName is Envoy's global rate limit filter: it asks
// the rate limit service about the descriptors of the virtual host's or
// route's rate limit actions.
const globalRateLimitFilterName = wellknown.HTTPRateLimit

// RateLimitService is the global rate limit service every HTTP connection
// manager asks, Contour's rateLimitService configuration. The zero value
// (no ClusterName) configures none: the rate limit actions of virtual
// hosts and routes are then generated for nobody, as in Contour.
type RateLimitService struct {
	// ClusterName is the Envoy cluster of the ExtensionService that runs
	// the service (gRPC, Envoy's RateLimitService v3).
	ClusterName string
	// SNI, when set, is the authority of the gRPC requests (the
	// ExtensionService's validation.subjectName); otherwise the cluster
	// name with dots for slashes, as Contour has it.
	SNI string
	// Timeout bounds each decision (the ExtensionService's
	// timeoutPolicy.response); unset is Envoy's default, 20ms.
	Timeout dag.Timeout
	// Domain is sent with every request: the rate limit service's
	// configuration for it holds the limits.
	Domain string
	// FailOpen lets requests through when the service does not answer
	// in time or fails; otherwise they are denied.
	FailOpen bool
	// EnableXRateLimitHeaders adds the X-RateLimit-Limit, -Remaining and
	// -Reset headers (draft 03 of the IETF RateLimit headers) to
	// responses.
	EnableXRateLimitHeaders bool
	// EnableResourceExhaustedCode answers a limited gRPC request with
	// RESOURCE_EXHAUSTED instead of UNAVAILABLE.
	EnableResourceExhaustedCode bool
}

// enabled reports whether a rate limit service is configured.
func (r RateLimitService) enabled() bool { return r.ClusterName != "" }

// globalRateLimitFilter is the HTTP filter that asks the rate limit
// service, nil without one.
func globalRateLimitFilter(r RateLimitService) *hcm.HttpFilter {
	if !r.enabled() {
		return nil
	}
	authority := strings.ReplaceAll(r.ClusterName, "/", ".")
	if r.SNI != "" {
		authority = r.SNI
	}
	m := &ratelimit.RateLimit{
		Domain:          r.Domain,
		FailureModeDeny: !r.FailOpen,
		RateLimitService: &ratelimitconfig.RateLimitServiceConfig{
			GrpcService: &core.GrpcService{TargetSpecifier: &core.GrpcService_EnvoyGrpc_{EnvoyGrpc: &core.GrpcService_EnvoyGrpc{
				ClusterName: r.ClusterName,
				Authority:   authority,
			}}},
			TransportApiVersion: core.ApiVersion_V3,
		},
		RateLimitedAsResourceExhausted: r.EnableResourceExhaustedCode,
	}
	if r.Timeout.IsSet() {
		m.Timeout = timeout(r.Timeout)
	}
	if r.EnableXRateLimitHeaders {
		m.EnableXRatelimitHeaders = ratelimit.RateLimit_DRAFT_VERSION_03
	}
	return &hcm.HttpFilter{Name: globalRateLimitFilterName, ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(m)}}
}

// globalRateLimits are the rate limit actions of a global rate limit
// policy, one per descriptor; nil without one.
func globalRateLimits(g *dag.GlobalRateLimit) []*route.RateLimit {
	if g == nil {
		return nil
	}
	out := make([]*route.RateLimit, 0, len(g.Descriptors))
	for _, d := range g.Descriptors {
		rl := &route.RateLimit{}
		for _, e := range d.Entries {
			rl.Actions = append(rl.Actions, rateLimitAction(e))
		}
		out = append(out, rl)
	}
	return out
}

func rateLimitAction(e dag.RateLimitEntry) *route.RateLimit_Action {
	switch {
	case e.GenericKey != nil:
		return &route.RateLimit_Action{ActionSpecifier: &route.RateLimit_Action_GenericKey_{GenericKey: &route.RateLimit_Action_GenericKey{
			DescriptorKey:   e.GenericKey.Key,
			DescriptorValue: e.GenericKey.Value,
		}}}
	case e.RequestHeader != nil:
		return &route.RateLimit_Action{ActionSpecifier: &route.RateLimit_Action_RequestHeaders_{RequestHeaders: &route.RateLimit_Action_RequestHeaders{
			HeaderName:    e.RequestHeader.Header,
			DescriptorKey: e.RequestHeader.Key,
		}}}
	case e.HeaderValueMatch != nil:
		return &route.RateLimit_Action{ActionSpecifier: &route.RateLimit_Action_HeaderValueMatch_{HeaderValueMatch: &route.RateLimit_Action_HeaderValueMatch{
			DescriptorValue: e.HeaderValueMatch.Value,
			ExpectMatch:     wrapperspb.Bool(e.HeaderValueMatch.ExpectMatch),
			Headers:         headerMatchers(e.HeaderValueMatch.Headers),
		}}}
	default: // e.RemoteAddress
		return &route.RateLimit_Action{ActionSpecifier: &route.RateLimit_Action_RemoteAddress_{RemoteAddress: &route.RateLimit_Action_RemoteAddress{}}}
	}
}

// vhRateLimitsIgnored is the per-route configuration of a route that
// keeps the virtual host's global rate limits off; nil otherwise. As in
// Contour, a route's own rate limits otherwise replace the virtual
// host's (Envoy's default, OVERRIDE).
func vhRateLimitsIgnored(r *dag.Route) *anypb.Any {
	if !r.DisableVirtualHostGlobalRateLimit {
		return nil
	}
	return toAny(&ratelimit.RateLimitPerRoute{VhRateLimits: ratelimit.RateLimitPerRoute_IGNORE})
}
