package xds

import (
	"strings"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	cors "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	localratelimit "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	lua "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/lua/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	previousroutes "github.com/envoyproxy/go-control-plane/envoy/extensions/internal_redirect/previous_routes/v3"
	safecrossscheme "github.com/envoyproxy/go-control-plane/envoy/extensions/internal_redirect/safe_cross_scheme/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	envoytype "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// Names of the HTTP filters that virtual hosts and routes configure per
// route. Each sits in every connection manager with nothing to do until
// a virtual host, route or weighted cluster gives it a configuration.
const (
	corsFilterName           = "envoy.filters.http.cors"
	localRateLimitFilterName = "envoy.filters.http.local_ratelimit"
	// cookieRewriteFilterName is a Lua filter of its own, apart from the
	// one answering 421, so that per-route configurations name it alone.
	cookieRewriteFilterName = "proxyctl.cookie_rewrite"
	cookieRewriteScriptName = "cookie_rewrite"
)

// trafficHTTPFilters are the filters of the policies of this file, in
// the order Contour has them: CORS answers preflight requests before a
// rate limit counts them, and both come before the IP filter (RBAC).
func trafficHTTPFilters() []*hcm.HttpFilter {
	return []*hcm.HttpFilter{
		{Name: corsFilterName, ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(&cors.Cors{})}},
		{Name: localRateLimitFilterName, ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(&localratelimit.LocalRateLimit{
			// No token bucket: the filter limits nothing until a virtual
			// host or route configures it.
			StatPrefix: "http_local_rate_limit",
		})}},
		{Name: cookieRewriteFilterName, ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(&lua.Lua{
			SourceCodes: map[string]*core.DataSource{
				cookieRewriteScriptName: {Specifier: &core.DataSource_InlineString{InlineString: cookieRewriteScript}},
			},
		})}},
	}
}

// filterConfig is one filter's per-route configuration, nil when unset.
type filterConfig struct {
	name string
	cfg  *anypb.Any
}

// perFilterConfig is a typed_per_filter_config of the configurations
// that are set; nil when none is.
func perFilterConfig(cs ...filterConfig) map[string]*anypb.Any {
	var out map[string]*anypb.Any
	for _, c := range cs {
		if c.cfg == nil {
			continue
		}
		if out == nil {
			out = map[string]*anypb.Any{}
		}
		out[c.name] = c.cfg
	}
	return out
}

// corsConfig is a virtual host's CORS policy for Envoy's CORS filter; nil
// without one.
func corsConfig(p *dag.CORSPolicy) *anypb.Any {
	if p == nil {
		return nil
	}
	out := &cors.CorsPolicy{
		AllowMethods:              strings.Join(p.AllowMethods, ","),
		AllowHeaders:              strings.Join(p.AllowHeaders, ","),
		ExposeHeaders:             strings.Join(p.ExposeHeaders, ","),
		MaxAge:                    p.MaxAge,
		AllowCredentials:          wrapperspb.Bool(p.AllowCredentials),
		AllowPrivateNetworkAccess: wrapperspb.Bool(p.AllowPrivateNetwork),
	}
	for _, o := range p.AllowOrigins {
		m := &matcher.StringMatcher{}
		if o.Regex {
			m.MatchPattern = &matcher.StringMatcher_SafeRegex{SafeRegex: regex(o.Value)}
		} else {
			// Envoy takes an exact "*" as any origin. Scheme and host
			// are case-insensitive.
			m.MatchPattern = &matcher.StringMatcher_Exact{Exact: o.Value}
			m.IgnoreCase = true
		}
		out.AllowOriginStringMatch = append(out.AllowOriginStringMatch, m)
	}
	return toAny(out)
}

// rateLimitConfig is a local rate limit for Envoy's local_ratelimit
// filter, enabled and enforced for every request; nil without one.
func rateLimitConfig(l *dag.LocalRateLimit, vhost string) *anypb.Any {
	if l == nil {
		return nil
	}
	all := func() *core.RuntimeFractionalPercent {
		return &core.RuntimeFractionalPercent{DefaultValue: &envoytype.FractionalPercent{
			Numerator: 100, Denominator: envoytype.FractionalPercent_HUNDRED,
		}}
	}
	out := &localratelimit.LocalRateLimit{
		StatPrefix: "vhost." + vhost,
		TokenBucket: &envoytype.TokenBucket{
			MaxTokens:     l.MaxTokens,
			TokensPerFill: wrapperspb.UInt32(l.TokensPerFill),
			FillInterval:  duration(l.FillInterval),
		},
		FilterEnabled:  all(),
		FilterEnforced: all(),
	}
	if l.StatusCode != 0 {
		out.Status = &envoytype.HttpStatus{Code: envoytype.StatusCode(l.StatusCode)}
	}
	for _, h := range l.ResponseHeaders {
		if o := headerValueOption(h); o != nil {
			out.ResponseHeadersToAdd = append(out.ResponseHeadersToAdd, o)
		}
	}
	return toAny(out)
}

// internalRedirectPolicy lets Envoy follow an upstream's redirects
// itself, as Contour configures it: SafeOnly is a cross-scheme redirect
// restricted by Envoy's safe_cross_scheme predicate (HTTP to HTTPS only).
func internalRedirectPolicy(p *dag.InternalRedirect) *route.InternalRedirectPolicy {
	if p == nil {
		return nil
	}
	out := &route.InternalRedirectPolicy{
		RedirectResponseCodes:    append([]uint32(nil), p.StatusCodes...),
		AllowCrossSchemeRedirect: p.CrossScheme == "Always" || p.CrossScheme == "SafeOnly",
	}
	if p.MaxRedirects > 0 {
		out.MaxInternalRedirects = wrapperspb.UInt32(p.MaxRedirects)
	}
	if p.CrossScheme == "SafeOnly" {
		out.Predicates = append(out.Predicates, &core.TypedExtensionConfig{
			Name:        "envoy.internal_redirect_predicates.safe_cross_scheme",
			TypedConfig: toAny(&safecrossscheme.SafeCrossSchemeConfig{}),
		})
	}
	if p.DenyRepeatedRoute {
		out.Predicates = append(out.Predicates, &core.TypedExtensionConfig{
			Name:        "envoy.internal_redirect_predicates.previous_routes",
			TypedConfig: toAny(&previousroutes.PreviousRoutesConfig{}),
		})
	}
	return out
}

// slowStartConfig ramps up a cluster's new endpoints.
func slowStartConfig(s *dag.SlowStart) *cluster.Cluster_SlowStartConfig {
	return &cluster.Cluster_SlowStartConfig{
		SlowStartWindow: duration(s.Window),
		Aggression: &core.RuntimeDouble{
			DefaultValue: s.Aggression,
			RuntimeKey:   "proxyctl.slowstart.aggression",
		},
		MinWeightPercent: &envoytype.Percent{Value: float64(s.MinWeightPercent)},
	}
}

// withSlowStart sets the slow start of a RoundRobin or LeastRequest
// cluster (the DAG allows it on no other).
func withSlowStart(c *cluster.Cluster, s *dag.SlowStart) {
	if s == nil {
		return
	}
	switch c.LbPolicy {
	case cluster.Cluster_ROUND_ROBIN:
		c.LbConfig = &cluster.Cluster_RoundRobinLbConfig_{RoundRobinLbConfig: &cluster.Cluster_RoundRobinLbConfig{
			SlowStartConfig: slowStartConfig(s),
		}}
	case cluster.Cluster_LEAST_REQUEST:
		c.LbConfig = &cluster.Cluster_LeastRequestLbConfig_{LeastRequestLbConfig: &cluster.Cluster_LeastRequestLbConfig{
			SlowStartConfig: slowStartConfig(s),
		}}
	}
}

// cookieRewriteConfig points the cookie rewrite filter at its script,
// with the rules of route and service merged (a service's field wins)
// as the filter context; nil when neither rewrites anything.
func cookieRewriteConfig(routeRules, serviceRules []dag.CookieRewrite) *anypb.Any {
	if len(routeRules) == 0 && len(serviceRules) == 0 {
		return nil
	}
	rules := map[string]any{}
	for _, r := range append(append([]dag.CookieRewrite(nil), routeRules...), serviceRules...) {
		m, _ := rules[r.Name].(map[string]any)
		if m == nil {
			m = map[string]any{}
			rules[r.Name] = m
		}
		if r.Path != nil {
			m["path"] = *r.Path
		}
		if r.Domain != nil {
			m["domain"] = *r.Domain
		}
		if r.Secure != nil {
			m["secure"] = *r.Secure
		}
		if r.SameSite != nil {
			m["samesite"] = *r.SameSite
		}
	}
	ctx, err := structpb.NewStruct(map[string]any{"rules": rules})
	if err != nil {
		// Only strings and booleans are in it: this cannot fail.
		panic(err)
	}
	return toAny(&lua.LuaPerRoute{
		Override:      &lua.LuaPerRoute_Name{Name: cookieRewriteScriptName},
		FilterContext: ctx,
	})
}

// cookieRewriteScript rewrites the attributes of the Set-Cookie headers
// of a response according to the rules in the filter context: a table
// from cookie name to the attributes to set (path, domain, samesite) and
// whether to add or drop Secure. Attributes not named are kept, in their
// order; rewritten ones replace the original in place or are appended.
const cookieRewriteScript = `
local function trim(s)
  return (string.gsub(s, "^%s+", ""):gsub("%s+$", ""))
end

local function rewrite(cookie, rules)
  local first = string.find(cookie, ";", 1, true)
  local pair = cookie
  local rest = ""
  if first then
    pair = string.sub(cookie, 1, first - 1)
    rest = string.sub(cookie, first + 1)
  end
  local eq = string.find(pair, "=", 1, true)
  if not eq then
    return cookie
  end
  local rule = rules[trim(string.sub(pair, 1, eq - 1))]
  if rule == nil then
    return cookie
  end
  local wanted = {}
  if rule.path ~= nil then wanted["path"] = "Path=" .. rule.path end
  if rule.domain ~= nil then wanted["domain"] = "Domain=" .. rule.domain end
  if rule.samesite ~= nil then wanted["samesite"] = "SameSite=" .. rule.samesite end
  if rule.secure == true then wanted["secure"] = "Secure" end
  -- Every attribute the rule sets is written once, where the cookie had
  -- it (or appended); Secure is dropped when the rule says false.
  local set = { path = rule.path, domain = rule.domain, samesite = rule.samesite, secure = rule.secure }
  local out = { trim(pair) }
  for attr in string.gmatch(rest, "[^;]+") do
    attr = trim(attr)
    local key = string.lower(trim((string.gsub(attr, "=.*$", ""))))
    if attr == "" then
      -- nothing
    elseif set[key] == nil then
      table.insert(out, attr)
    elseif wanted[key] ~= nil then
      table.insert(out, wanted[key])
      wanted[key] = nil
    end
  end
  for _, key in ipairs({"path", "domain", "samesite", "secure"}) do
    if wanted[key] ~= nil then
      table.insert(out, wanted[key])
    end
  end
  return table.concat(out, "; ")
end

function envoy_on_response(handle)
  local rules = handle:filterContext():get("rules")
  if rules == nil then
    return
  end
  local headers = handle:headers()
  local cookies = {}
  for name, value in pairs(headers) do
    if name == "set-cookie" then
      table.insert(cookies, rewrite(value, rules))
    end
  end
  if #cookies == 0 then
    return
  end
  headers:remove("set-cookie")
  for _, c in ipairs(cookies) do
    headers:add("set-cookie", c)
  end
end
`
