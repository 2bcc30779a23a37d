package xds

import (
	"net"
	"strings"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	jwtauthn "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// jwtAuthnFilterName is Envoy's JWT verification HTTP filter.
const jwtAuthnFilterName = "envoy.filters.http.jwt_authn"

// jwtAuthnFilter is the jwt_authn filter of a TLS virtual host with JWT
// providers, nil without any. Each provider has a requirement of the same
// name; a route requiring a token selects it in its per-route config (see
// jwtRouteConfig), so the filter has no rules of its own and a route
// without per-route config is not checked.
func jwtAuthnFilter(providers []dag.JWTProvider) []*hcm.HttpFilter {
	if len(providers) == 0 {
		return nil
	}
	cfg := &jwtauthn.JwtAuthentication{
		Providers:      make(map[string]*jwtauthn.JwtProvider, len(providers)),
		RequirementMap: make(map[string]*jwtauthn.JwtRequirement, len(providers)),
	}
	for _, p := range providers {
		jp := &jwtauthn.JwtProvider{
			Issuer:    p.Issuer,
			Audiences: p.Audiences,
			Forward:   p.ForwardJWT,
		}
		switch {
		case p.RemoteJWKS != nil:
			r := &jwtauthn.RemoteJwks{
				HttpUri: &core.HttpUri{
					Uri:              p.RemoteJWKS.URI,
					HttpUpstreamType: &core.HttpUri_Cluster{Cluster: p.RemoteJWKS.Cluster.Name},
					Timeout:          duration(p.RemoteJWKS.Timeout),
				},
			}
			if p.RemoteJWKS.CacheDuration > 0 {
				r.CacheDuration = duration(p.RemoteJWKS.CacheDuration)
			}
			jp.JwksSourceSpecifier = &jwtauthn.JwtProvider_RemoteJwks{RemoteJwks: r}
		default:
			// A provider without a key set (the DAG never makes one)
			// gets an empty set: it accepts no token.
			jwks := string(p.LocalJWKS)
			if jwks == "" {
				jwks = `{"keys":[]}`
			}
			jp.JwksSourceSpecifier = &jwtauthn.JwtProvider_LocalJwks{LocalJwks: &core.DataSource{
				Specifier: &core.DataSource_InlineString{InlineString: jwks},
			}}
		}
		cfg.Providers[p.Name] = jp
		cfg.RequirementMap[p.Name] = &jwtauthn.JwtRequirement{
			RequiresType: &jwtauthn.JwtRequirement_ProviderName{ProviderName: p.Name},
		}
	}
	return []*hcm.HttpFilter{{
		Name:       jwtAuthnFilterName,
		ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(cfg)},
	}}
}

// jwtRequirementConfig is the jwt_authn per-route configuration of a
// route that requires a valid token of provider; nil when it requires none.
func jwtRequirementConfig(provider string) *anypb.Any {
	if provider == "" {
		return nil
	}
	return toAny(&jwtauthn.PerRouteConfig{
		RequirementSpecifier: &jwtauthn.PerRouteConfig_RequirementName{RequirementName: provider},
	})
}

// dnsCluster is the cluster of a server Envoy resolves by name, with its
// one address inline (there is no ClusterLoadAssignment to fetch), as
// Contour makes it for a JWKS URI: STRICT_DNS, or LOGICAL_DNS when every
// address family is asked for.
func dnsCluster(c *dag.Cluster, connectTimeout time.Duration) *cluster.Cluster {
	up := c.DNS
	typ, family := dnsDiscovery(up.DNSLookupFamily)
	out := &cluster.Cluster{
		Name:                 c.Name,
		AltStatName:          strings.NewReplacer("/", "_", ":", "_").Replace(c.Name),
		ClusterDiscoveryType: &cluster.Cluster_Type{Type: typ},
		DnsLookupFamily:      family,
		ConnectTimeout:       duration(connectTimeout),
		LbPolicy:             cluster.Cluster_ROUND_ROBIN,
		LoadAssignment: &endpoint.ClusterLoadAssignment{
			ClusterName: c.Name,
			Endpoints: []*endpoint.LocalityLbEndpoints{{LbEndpoints: []*endpoint.LbEndpoint{{
				HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: &endpoint.Endpoint{
					Address: socketAddress(up.Host, up.Port),
				}},
			}}}},
		},
	}
	if up.TLS {
		ctx := &tls.UpstreamTlsContext{CommonTlsContext: &tls.CommonTlsContext{}}
		if net.ParseIP(up.Host) == nil {
			// SNI carries host names only (RFC 6066).
			ctx.Sni = up.Host
		}
		if len(up.CACertificate) > 0 {
			vc := &tls.CertificateValidationContext{TrustedCa: inlineBytes(up.CACertificate)}
			for _, n := range up.SubjectNames {
				san := tls.SubjectAltNameMatcher_DNS
				if net.ParseIP(n) != nil {
					san = tls.SubjectAltNameMatcher_IP_ADDRESS
				}
				vc.MatchTypedSubjectAltNames = append(vc.MatchTypedSubjectAltNames, &tls.SubjectAltNameMatcher{
					SanType: san,
					Matcher: &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: n}},
				})
			}
			ctx.CommonTlsContext.ValidationContextType = &tls.CommonTlsContext_ValidationContext{ValidationContext: vc}
		}
		out.TransportSocket = &core.TransportSocket{
			Name:       wellknown.TransportSocketTLS,
			ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: toAny(ctx)},
		}
	}
	return out
}
