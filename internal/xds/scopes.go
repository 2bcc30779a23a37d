package xds

import (
	"fmt"
	"slices"
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	lua "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/lua/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
)

// How the plain-HTTP listener finds a request's routes: scoped RDS.
//
// Every HTTP virtual host used to live in the one route configuration
// ingress_http, so a change to one proxy re-sent, and made Envoy parse
// again, every virtual host of every proxy (1.2 MB at 10,000 proxies, per
// Envoy). Now the listener's HTTP connection manager selects one route
// configuration per request by a scope key: the Host header's name, lower
// case, without its port. Each key has a ScopedRouteConfiguration (SRDS)
// naming the route configuration "http/<key>", which holds the virtual
// hosts of that key only, so one proxy's change re-sends one small route
// configuration.
//
// Envoy matches scope keys exactly, while virtual host domains match
// wildcards, ignore case and (here) ports. The scope filter, a Lua filter
// first in the chain, bridges the two: it writes the key into the header
// scopeHeader, which the scope key builder reads, and Envoy selects the
// scope again as the filter's header change clears the route cache. A
// Host "<label>.<parent>" whose parent has a wildcard host "*.<parent>"
// gets the key "*.<parent>", whose route configuration holds the wildcard
// host and the exact hosts under it: Envoy then picks among them exactly as
// it did in one route configuration (the exact host first; the wildcard's
// one-label :authority match). A Host with no scope gets no route: 404, as
// a Host no virtual host matched did. The header is removed before the
// request goes upstream (routeConfiguration), and a client's own value is
// always overwritten.

const (
	// httpRoutePrefix prefixes a scope key to name its scope and route
	// configuration: "http/<key>".
	httpRoutePrefix = "http/"
	// scopeHeader carries the scope key from the scope filter to the scope
	// key builder.
	scopeHeader = "x-proxyctl-scope"
	// scopedRoutesName names the HTTP listener's scoped routes (stats).
	scopedRoutesName = HTTPListenerName
)

// routeSource is where an HTTP connection manager takes its routes from,
// and the filters that must run first for it.
type routeSource interface {
	// set sets m's route specifier.
	set(m *hcm.HttpConnectionManager)
	filters() []*hcm.HttpFilter
}

// rds is one route configuration over RDS.
type rds string

func (r rds) set(m *hcm.HttpConnectionManager) {
	m.RouteSpecifier = &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{ConfigSource: adsConfigSource(), RouteConfigName: string(r)}}
}

func (rds) filters() []*hcm.HttpFilter { return nil }

// scopedRoutes selects a route configuration per request over SRDS; wild
// are the parents of the wildcard hosts (see httpScopes).
type scopedRoutes struct{ wild map[string]bool }

func (s scopedRoutes) set(m *hcm.HttpConnectionManager) {
	m.RouteSpecifier = &hcm.HttpConnectionManager_ScopedRoutes{ScopedRoutes: &hcm.ScopedRoutes{
		Name: scopedRoutesName,
		ScopeKeyBuilder: &hcm.ScopedRoutes_ScopeKeyBuilder{Fragments: []*hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder{{
			Type: &hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor_{
				HeaderValueExtractor: &hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor{
					Name: scopeHeader,
					// The whole value: the header is one key.
					ExtractType: &hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor_Index{Index: 0},
				},
			},
		}}},
		RdsConfigSource: adsConfigSource(),
		ConfigSpecifier: &hcm.ScopedRoutes_ScopedRds{ScopedRds: &hcm.ScopedRds{ScopedRdsConfigSource: adsConfigSource()}},
	}}
}

func (s scopedRoutes) filters() []*hcm.HttpFilter {
	return []*hcm.HttpFilter{{
		Name: wellknown.Lua,
		ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(&lua.Lua{
			DefaultSourceCode: &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: scopeScript(s.wild)}},
		})},
	}}
}

// scopeScript is the scope filter's Lua source: the scope key of the
// request's Host, as scopeKey gives it for virtual host names, written into
// scopeHeader. wild's names hold only [a-z0-9.-] (wildcardParents), so
// they are safe in Lua string literals.
func scopeScript(wild map[string]bool) string {
	parents := make([]string, 0, len(wild))
	for p := range wild {
		parents = append(parents, p)
	}
	slices.Sort(parents)
	var b strings.Builder
	b.WriteString("local wildcard = {")
	for _, p := range parents {
		fmt.Fprintf(&b, "[\"%s\"]=true,", p)
	}
	b.WriteString(`}
function envoy_on_request(handle)
  local headers = handle:headers()
  local host = string.lower((string.gsub(headers:get(":authority") or "", ":%d+$", "")))
  local dot = string.find(host, ".", 1, true)
  if dot and wildcard[string.sub(host, dot + 1)] then
    host = "*." .. string.sub(host, dot + 1)
  end
  headers:replace("` + scopeHeader + `", host)
end
`)
	return b.String()
}
