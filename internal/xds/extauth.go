package xds

import (
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extauthz "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	envoytype "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// extAuthzFilterName is Envoy's external authorization HTTP filter.
const extAuthzFilterName = "envoy.filters.http.ext_authz"

// extAuthzFilter is the ext_authz filter of a TLS virtual host with
// external authorization, none without. As in Contour: the check goes
// over gRPC (Envoy's v3 protocol) to the ExtensionService's cluster, with
// the client's certificate when it sent one; the route cache is cleared
// after the check, so headers the server adds can change the route; and
// when the server cannot answer the request is denied with 403 unless
// the authorization fails open.
func extAuthzFilter(a *dag.ExternalAuthorization) []*hcm.HttpFilter {
	if a == nil || a.Cluster == nil {
		return nil
	}
	grpc := &core.GrpcService{
		TargetSpecifier: &core.GrpcService_EnvoyGrpc_{EnvoyGrpc: &core.GrpcService_EnvoyGrpc{
			ClusterName: a.Cluster.Name,
			Authority:   extensionAuthority(a.Cluster),
		}},
	}
	if a.ResponseTimeout.IsSet() {
		grpc.Timeout = timeout(a.ResponseTimeout)
	}
	cfg := &extauthz.ExtAuthz{
		Services:               &extauthz.ExtAuthz_GrpcService{GrpcService: grpc},
		TransportApiVersion:    core.ApiVersion_V3,
		FailureModeAllow:       a.FailOpen,
		ClearRouteCache:        true,
		IncludePeerCertificate: true,
		StatusOnError:          &envoytype.HttpStatus{Code: envoytype.StatusCode_Forbidden},
	}
	if b := a.WithRequestBody; b != nil {
		cfg.WithRequestBody = &extauthz.BufferSettings{
			MaxRequestBytes:     b.MaxRequestBytes,
			AllowPartialMessage: b.AllowPartialMessage,
			PackAsBytes:         b.PackAsBytes,
		}
	}
	return []*hcm.HttpFilter{{
		Name:       extAuthzFilterName,
		ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(cfg)},
	}}
}

// extensionAuthority is the :authority of the gRPC requests to an
// extension: the name its certificate is verified against, else the
// cluster name with dots, as in Contour.
func extensionAuthority(c *dag.ExtensionCluster) string {
	if c.SNI != "" {
		return c.SNI
	}
	return strings.ReplaceAll(c.Name, "/", ".")
}

// extAuthzRouteConfig is the ext_authz per-route configuration of r: off
// when the route disables authorization, its context entries otherwise;
// nil when it has neither.
func extAuthzRouteConfig(r *dag.Route) *anypb.Any {
	switch {
	case r.AuthDisabled:
		return toAny(&extauthz.ExtAuthzPerRoute{Override: &extauthz.ExtAuthzPerRoute_Disabled{Disabled: true}})
	case len(r.AuthContext) > 0:
		ctx := make(map[string]string, len(r.AuthContext))
		for _, h := range r.AuthContext {
			ctx[h.Name] = h.Value
		}
		return toAny(&extauthz.ExtAuthzPerRoute{Override: &extauthz.ExtAuthzPerRoute_CheckSettings{
			CheckSettings: &extauthz.CheckSettings{ContextExtensions: ctx},
		}})
	}
	return nil
}
