package xds

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacconfig "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	rbac "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// rbacFilterName is the HTTP filter that enforces IP filters. It sits in
// every connection manager with no rules of its own, so it lets every
// request through, and each virtual host or route with an IP filter
// configures it per route.
const rbacFilterName = "envoy.filters.http.rbac"

func rbacHTTPFilter() *hcm.HttpFilter {
	return &hcm.HttpFilter{
		Name:       rbacFilterName,
		ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(&rbac.RBAC{})},
	}
}

// ipFilterConfig is the RBAC filter's per-route configuration of a
// virtual host or route with filter f, or nil without one. An allow list admits only
// matching clients (the rest get 403); a deny list rejects them.
func ipFilterConfig(f *dag.IPFilter) *anypb.Any {
	if f == nil {
		return nil
	}
	action := rbacconfig.RBAC_DENY
	if f.Allow {
		action = rbacconfig.RBAC_ALLOW
	}
	principals := make([]*rbacconfig.Principal, 0, len(f.Rules))
	for _, r := range f.Rules {
		cidr := &core.CidrRange{AddressPrefix: r.Address, PrefixLen: wrapperspb.UInt32(r.PrefixLen)}
		p := &rbacconfig.Principal{Identifier: &rbacconfig.Principal_DirectRemoteIp{DirectRemoteIp: cidr}}
		if r.Remote {
			p = &rbacconfig.Principal{Identifier: &rbacconfig.Principal_RemoteIp{RemoteIp: cidr}}
		}
		principals = append(principals, p)
	}
	return toAny(&rbac.RBACPerRoute{Rbac: &rbac.RBAC{
		Rules: &rbacconfig.RBAC{
			Action: action,
			Policies: map[string]*rbacconfig.Policy{"ip-filter": {
				Permissions: []*rbacconfig.Permission{{Rule: &rbacconfig.Permission_Any{Any: true}}},
				Principals:  principals,
			}},
		},
	}})
}
