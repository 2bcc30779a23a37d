package xds

import (
	"regexp"
	"sort"
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/proxyctl/proxyctl/internal/dag"
)

func scopedRouteConfiguration(key string) *route.ScopedRouteConfiguration {
	return &route.ScopedRouteConfiguration{
		Name:                   httpRoutePrefix + key,
		RouteConfigurationName: httpRoutePrefix + key,
		Key: &route.ScopedRouteConfiguration_Key{Fragments: []*route.ScopedRouteConfiguration_Key_Fragment{{
			Type: &route.ScopedRouteConfiguration_Key_Fragment_StringKey{StringKey: key},
		}}},
	}
}

// httpScope is one route configuration of the HTTP listener: the virtual
// hosts whose requests carry the scope key key.
type httpScope struct {
	key    string
	vhosts []*dag.VirtualHost
}

// httpScopes groups the HTTP virtual hosts by scope key, in key order, each
// group in name order. A host's key is its lower-cased name, unless a
// wildcard host "*.<parent>" exists and the host is "<label>.<parent>":
// then it shares the wildcard's key "*.<parent>", so that Envoy, choosing
// among both in one route configuration, prefers the exact host as it
// always did. The scope filter computes the same key from the Host header
// (see scopeScript).
func httpScopes(vhs []*dag.VirtualHost) []httpScope {
	vhs = sortByName(nonNil(vhs), func(vh *dag.VirtualHost) string { return vh.Name })
	wild := wildcardParents(vhs)
	byKey := map[string]int{}
	var out []httpScope
	for _, vh := range vhs {
		k := scopeKey(vh.Name, wild)
		i, ok := byKey[k]
		if !ok {
			i = len(out)
			byKey[k] = i
			out = append(out, httpScope{key: k})
		}
		out[i].vhosts = append(out[i].vhosts, vh)
	}
	return sortByName(out, func(s httpScope) string { return s.key })
}

// wildcardParents are the lower-cased parents ("example.com") of the
// wildcard hosts ("*.example.com") whose names the scope filter can hold:
// letters, digits, dots and dashes only.
func wildcardParents(vhs []*dag.VirtualHost) map[string]bool {
	out := map[string]bool{}
	for _, vh := range vhs {
		n := strings.ToLower(vh.Name)
		if p, ok := strings.CutPrefix(n, "*."); ok && luaSafeName(p) {
			out[p] = true
		}
	}
	return out
}

func luaSafeName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// scopeKey is the scope key of the virtual host name, given the parents of
// the wildcard hosts.
func scopeKey(name string, wild map[string]bool) string {
	n := strings.ToLower(name)
	if strings.HasPrefix(n, "*.") {
		return n
	}
	if len(wild) == 0 {
		return n
	}
	if i := strings.IndexByte(n, '.'); i >= 0 && wild[n[i+1:]] {
		return "*." + n[i+1:]
	}
	return n
}

// fallbackSecret is the fallback certificate's name when a virtual host
// that routes HTTP enables it, else "". Every such host has the same one
// (the serve flag's); the first by name decides.
func fallbackSecret(vhs []*dag.SecureVirtualHost) string {
	for _, vh := range vhs {
		if servesHTTP(vh) && vh.FallbackCertificate != nil {
			return vh.FallbackCertificate.Name
		}
	}
	return ""
}

func routeConfiguration(name string, vhosts []*route.VirtualHost) *route.RouteConfiguration {
	rc := &route.RouteConfiguration{
		Name:         name,
		VirtualHosts: sortByName(vhosts, (*route.VirtualHost).GetName),
		// Match "example.com:8080" like "example.com", including for
		// wildcard hosts, whose "*.example.com:*" domain Envoy would
		// otherwise take literally.
		IgnorePortInHostMatching: true,
	}
	// The scope header stays on the request: an internal redirect finds
	// its target's route again in the same stream, after the filters,
	// from the headers as they are then; without the header there would
	// be no scope and the redirect would not be followed.
	return rc
}

// virtualHost keeps the DAG's route order: most specific first.
func virtualHost(vh *dag.VirtualHost) *route.VirtualHost {
	out := &route.VirtualHost{
		Name:    vh.Name,
		Domains: []string{vh.Name, vh.Name + ":*"},
		TypedPerFilterConfig: perFilterConfig(
			filterConfig{rbacFilterName, ipFilterConfig(vh.IPFilter)},
			filterConfig{corsFilterName, corsConfig(vh.CORS)},
			filterConfig{localRateLimitFilterName, rateLimitConfig(vh.RateLimit, vh.Name)},
		),
		RateLimits: globalRateLimits(vh.GlobalRateLimit),
	}
	wildcard := wildcardAuthority(vh.Name)
	for _, r := range vh.Routes {
		if r != nil {
			er := envoyRoute(r, vh.Name)
			if wildcard != nil {
				er.Match.Headers = append(er.Match.Headers, wildcard)
			}
			out.Routes = append(out.Routes, er)
		}
	}
	return out
}

// wildcardAuthority is, for a wildcard virtual host "*.example.com", a
// match of the authority on exactly one DNS label before "example.com",
// with or without a port; nil for other names. Envoy's "*.example.com"
// domain also takes "a.b.example.com", which the HTTPProxy API (like a
// wildcard certificate) does not mean; Contour adds the same match to the
// routes of a wildcard virtual host.
func wildcardAuthority(name string) *route.HeaderMatcher {
	if !strings.HasPrefix(name, "*.") {
		return nil
	}
	return &route.HeaderMatcher{
		Name: ":authority",
		HeaderMatchSpecifier: &route.HeaderMatcher_StringMatch{StringMatch: &matcher.StringMatcher{
			MatchPattern: &matcher.StringMatcher_SafeRegex{SafeRegex: regex(
				`^[a-z0-9]([-a-z0-9]*[a-z0-9])?` + regexp.QuoteMeta(name[1:]) + `(:[0-9]+)?`)},
		}},
	}
}

func envoyRoute(r *dag.Route, vhost string) *route.Route {
	out := &route.Route{Match: routeMatch(r), TypedPerFilterConfig: perFilterConfig(
		filterConfig{rbacFilterName, ipFilterConfig(r.IPFilter)},
		filterConfig{localRateLimitFilterName, rateLimitConfig(r.RateLimit, vhost)},
		filterConfig{cookieRewriteFilterName, cookieRewriteConfig(r.CookieRewrites, nil)},
		filterConfig{jwtAuthnFilterName, jwtRequirementConfig(r.JWTProvider)},
		filterConfig{extAuthzFilterName, extAuthzRouteConfig(r)},
		filterConfig{globalRateLimitFilterName, vhRateLimitsIgnored(r)},
	)}
	var hostRewrite string
	out.RequestHeadersToAdd, out.RequestHeadersToRemove, hostRewrite = requestHeaders(r.RequestHeaders)
	out.ResponseHeadersToAdd, out.ResponseHeadersToRemove = responseHeaders(r.ResponseHeaders)

	switch {
	case r.Redirect != nil:
		out.Action = &route.Route_Redirect{Redirect: redirect(r.Redirect)}
	case r.DirectResponse != nil:
		out.Action = &route.Route_DirectResponse{DirectResponse: directResponse(r.DirectResponse)}
	default:
		if a := routeAction(r, hostRewrite); a != nil {
			out.Action = &route.Route_Route{Route: a}
		} else {
			// No upstream at all: answer as for an unresolved service.
			out.Action = &route.Route_DirectResponse{DirectResponse: directResponse(&dag.DirectResponse{StatusCode: 503})}
		}
	}
	return out
}

func routeMatch(r *dag.Route) *route.RouteMatch {
	m := &route.RouteMatch{
		Headers:         headerMatchers(r.HeaderMatches),
		QueryParameters: queryMatchers(r.QueryMatches),
	}
	switch r.PathMatch.Kind {
	case dag.PathExact:
		m.PathSpecifier = &route.RouteMatch_Path{Path: r.PathMatch.Value}
	case dag.PathRegex:
		m.PathSpecifier = &route.RouteMatch_SafeRegex{SafeRegex: regex(r.PathMatch.Value)}
	default:
		p := r.PathMatch.Value
		if p == "" {
			p = "/"
		}
		m.PathSpecifier = &route.RouteMatch_Prefix{Prefix: p}
	}
	return m
}

// regex uses Envoy's default engine (RE2); setting google_re2 explicitly is
// deprecated.
func regex(re string) *matcher.RegexMatcher { return &matcher.RegexMatcher{Regex: re} }

func headerMatchers(hs []dag.HeaderMatch) []*route.HeaderMatcher {
	var out []*route.HeaderMatcher
	for _, h := range hs {
		m := &route.HeaderMatcher{
			Name:                      h.Name,
			InvertMatch:               h.Invert,
			TreatMissingHeaderAsEmpty: h.TreatMissingAsEmpty,
		}
		switch h.Kind {
		case dag.HeaderExact:
			m.HeaderMatchSpecifier = &route.HeaderMatcher_StringMatch{StringMatch: &matcher.StringMatcher{
				MatchPattern: &matcher.StringMatcher_Exact{Exact: h.Value}, IgnoreCase: h.IgnoreCase,
			}}
		case dag.HeaderContains:
			m.HeaderMatchSpecifier = &route.HeaderMatcher_StringMatch{StringMatch: &matcher.StringMatcher{
				MatchPattern: &matcher.StringMatcher_Contains{Contains: h.Value}, IgnoreCase: h.IgnoreCase,
			}}
		case dag.HeaderRegex:
			m.HeaderMatchSpecifier = &route.HeaderMatcher_StringMatch{StringMatch: &matcher.StringMatcher{
				MatchPattern: &matcher.StringMatcher_SafeRegex{SafeRegex: regex(caseInsensitive(h.Value, h.IgnoreCase))},
			}}
		default: // dag.HeaderPresent
			m.HeaderMatchSpecifier = &route.HeaderMatcher_PresentMatch{PresentMatch: true}
		}
		out = append(out, m)
	}
	return out
}

// caseInsensitive folds case in a regex, since ignore_case has no effect on
// safe_regex.
func caseInsensitive(re string, ignoreCase bool) string {
	if ignoreCase {
		return "(?i)" + re
	}
	return re
}

func queryMatchers(qs []dag.QueryMatch) []*route.QueryParameterMatcher {
	var out []*route.QueryParameterMatcher
	for _, q := range qs {
		m := &route.QueryParameterMatcher{Name: q.Name}
		sm := &matcher.StringMatcher{IgnoreCase: q.IgnoreCase}
		switch q.Kind {
		case dag.QueryPresent:
			m.QueryParameterMatchSpecifier = &route.QueryParameterMatcher_PresentMatch{PresentMatch: true}
			out = append(out, m)
			continue
		case dag.QueryPrefix:
			sm.MatchPattern = &matcher.StringMatcher_Prefix{Prefix: q.Value}
		case dag.QuerySuffix:
			sm.MatchPattern = &matcher.StringMatcher_Suffix{Suffix: q.Value}
		case dag.QueryContains:
			sm.MatchPattern = &matcher.StringMatcher_Contains{Contains: q.Value}
		case dag.QueryRegex:
			sm.MatchPattern = &matcher.StringMatcher_SafeRegex{SafeRegex: regex(caseInsensitive(q.Value, q.IgnoreCase))}
			sm.IgnoreCase = false
		default: // dag.QueryExact
			sm.MatchPattern = &matcher.StringMatcher_Exact{Exact: q.Value}
		}
		m.QueryParameterMatchSpecifier = &route.QueryParameterMatcher_StringMatch{StringMatch: sm}
		out = append(out, m)
	}
	return out
}

func redirect(r *dag.Redirect) *route.RedirectAction {
	out := &route.RedirectAction{
		HostRedirect: r.Hostname,
		PortRedirect: r.Port,
	}
	switch r.Scheme {
	case "":
	case "https":
		out.SchemeRewriteSpecifier = &route.RedirectAction_HttpsRedirect{HttpsRedirect: true}
	default:
		out.SchemeRewriteSpecifier = &route.RedirectAction_SchemeRedirect{SchemeRedirect: r.Scheme}
	}
	switch {
	case r.Path != "":
		out.PathRewriteSpecifier = &route.RedirectAction_PathRedirect{PathRedirect: r.Path}
	case r.Prefix != "":
		out.PathRewriteSpecifier = &route.RedirectAction_PrefixRewrite{PrefixRewrite: r.Prefix}
	}
	switch r.StatusCode {
	case 302:
		out.ResponseCode = route.RedirectAction_FOUND
	case 303:
		out.ResponseCode = route.RedirectAction_SEE_OTHER
	case 307:
		out.ResponseCode = route.RedirectAction_TEMPORARY_REDIRECT
	case 308:
		out.ResponseCode = route.RedirectAction_PERMANENT_REDIRECT
	default: // 301
		out.ResponseCode = route.RedirectAction_MOVED_PERMANENTLY
	}
	return out
}

func directResponse(r *dag.DirectResponse) *route.DirectResponseAction {
	out := &route.DirectResponseAction{Status: r.StatusCode}
	if out.Status < 200 || out.Status >= 600 {
		out.Status = 503
	}
	if r.Body != "" {
		out.Body = &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: r.Body}}
	}
	return out
}

// routeAction forwards to r.Clusters; nil when r has none.
func routeAction(r *dag.Route, hostRewrite string) *route.RouteAction {
	var wcs []*dag.WeightedCluster
	for _, wc := range r.Clusters {
		if wc != nil && wc.Cluster != nil {
			wcs = append(wcs, wc)
		}
	}
	if len(wcs) == 0 {
		return nil
	}
	a := &route.RouteAction{
		InternalRedirectPolicy: internalRedirectPolicy(r.InternalRedirect),
		// As in Contour, only a route that forwards has rate limits of
		// its own: Envoy keeps them in the route action.
		RateLimits: globalRateLimits(r.GlobalRateLimit),
	}
	if len(wcs) == 1 && wcs[0].RequestHeaders == nil && wcs[0].ResponseHeaders == nil && len(wcs[0].CookieRewrites) == 0 {
		a.ClusterSpecifier = &route.RouteAction_Cluster{Cluster: wcs[0].Cluster.Name}
	} else {
		a.ClusterSpecifier = &route.RouteAction_WeightedClusters{WeightedClusters: weightedClusters(wcs, r.CookieRewrites)}
	}
	switch {
	case hostRewrite != "":
		a.HostRewriteSpecifier = &route.RouteAction_HostRewriteLiteral{HostRewriteLiteral: hostRewrite}
	case r.RequestHeaders != nil && r.RequestHeaders.HostRewriteHeader != "":
		a.HostRewriteSpecifier = &route.RouteAction_HostRewriteHeader{HostRewriteHeader: r.RequestHeaders.HostRewriteHeader}
	}
	if r.PrefixRewrite != nil {
		a.PrefixRewrite = *r.PrefixRewrite
	}
	if r.Timeouts.Response.IsSet() {
		a.Timeout = timeout(r.Timeouts.Response)
	}
	if r.Timeouts.Idle.IsSet() {
		a.IdleTimeout = timeout(r.Timeouts.Idle)
	}
	if r.Retry != nil {
		a.RetryPolicy = retryPolicy(r.Retry)
	}
	for _, h := range r.HashPolicies {
		if hp := hashPolicy(h); hp != nil {
			a.HashPolicy = append(a.HashPolicy, hp)
		}
	}
	if r.Mirror != nil {
		a.RequestMirrorPolicies = []*route.RouteAction_RequestMirrorPolicy{{
			Cluster:         r.Mirror.Name,
			RuntimeFraction: mirrorFraction(r.MirrorPercent),
		}}
	}
	if r.Websocket {
		a.UpgradeConfigs = []*route.RouteAction_UpgradeConfig{{
			UpgradeType: "websocket",
			Enabled:     wrapperspb.Bool(true),
		}}
	}
	return a
}

// mirrorFraction is the share of requests mirrored, in percent; 0 (a DAG
// made without a percentage) means all of them.
func mirrorFraction(percent uint32) *core.RuntimeFractionalPercent {
	if percent == 0 || percent > 100 {
		percent = 100
	}
	return &core.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{
		Numerator:   percent,
		Denominator: typev3.FractionalPercent_HUNDRED,
	}}
}

// weightedClusters splits traffic by weight; when every weight is 0 each
// cluster gets an equal share.
// A cluster with cookie rewrites of its own gets the route's merged with
// them (the most specific per-filter configuration is the only one Envoy
// reads).
func weightedClusters(wcs []*dag.WeightedCluster, routeCookies []dag.CookieRewrite) *route.WeightedCluster {
	allZero := true
	for _, wc := range wcs {
		if wc.Weight > 0 {
			allZero = false
		}
	}
	out := &route.WeightedCluster{}
	for _, wc := range wcs {
		w := wc.Weight
		if allZero {
			w = 1
		}
		cw := &route.WeightedCluster_ClusterWeight{
			Name:   wc.Cluster.Name,
			Weight: wrapperspb.UInt32(w),
		}
		var host string
		cw.RequestHeadersToAdd, cw.RequestHeadersToRemove, host = requestHeaders(wc.RequestHeaders)
		cw.ResponseHeadersToAdd, cw.ResponseHeadersToRemove = responseHeaders(wc.ResponseHeaders)
		if len(wc.CookieRewrites) > 0 {
			cw.TypedPerFilterConfig = perFilterConfig(filterConfig{cookieRewriteFilterName, cookieRewriteConfig(routeCookies, wc.CookieRewrites)})
		}
		if host != "" {
			cw.HostRewriteSpecifier = &route.WeightedCluster_ClusterWeight_HostRewriteLiteral{HostRewriteLiteral: host}
		}
		out.Clusters = append(out.Clusters, cw)
	}
	return out
}

func retryPolicy(p *dag.RetryPolicy) *route.RetryPolicy {
	on := append([]string(nil), p.RetryOn...)
	if len(on) == 0 {
		on = []string{"5xx"}
	}
	if len(p.RetriableStatusCodes) > 0 && !contains(on, "retriable-status-codes") {
		on = append(on, "retriable-status-codes")
		sort.Strings(on)
	}
	out := &route.RetryPolicy{
		RetryOn:              strings.Join(on, ","),
		RetriableStatusCodes: append([]uint32(nil), p.RetriableStatusCodes...),
	}
	// Always explicit: Envoy takes an unset num_retries as 1, and 0 is how
	// the DAG says retryPolicy.count -1, no retries.
	out.NumRetries = wrapperspb.UInt32(p.NumRetries)
	if p.PerTryTimeout.IsSet() {
		out.PerTryTimeout = timeout(p.PerTryTimeout)
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func hashPolicy(h dag.HashPolicy) *route.RouteAction_HashPolicy {
	out := &route.RouteAction_HashPolicy{Terminal: h.Terminal}
	switch {
	case h.Header != "":
		out.PolicySpecifier = &route.RouteAction_HashPolicy_Header_{Header: &route.RouteAction_HashPolicy_Header{HeaderName: h.Header}}
	case h.QueryParam != "":
		out.PolicySpecifier = &route.RouteAction_HashPolicy_QueryParameter_{QueryParameter: &route.RouteAction_HashPolicy_QueryParameter{Name: h.QueryParam}}
	case h.SourceIP:
		out.PolicySpecifier = &route.RouteAction_HashPolicy_ConnectionProperties_{ConnectionProperties: &route.RouteAction_HashPolicy_ConnectionProperties{SourceIp: true}}
	case h.Cookie != "":
		// A ttl, even 0s (a session cookie), makes Envoy set the cookie
		// when the request has none.
		out.PolicySpecifier = &route.RouteAction_HashPolicy_Cookie_{Cookie: &route.RouteAction_HashPolicy_Cookie{
			Name: h.Cookie,
			Ttl:  duration(h.CookieTTL),
			Path: h.CookiePath,
		}}
	default:
		return nil
	}
	return out
}

// requestHeaders converts a request header policy. Envoy refuses to add or
// remove pseudo-headers and Host through header lists; a Host value is
// returned as a host rewrite instead (p.HostRewrite wins), pseudo-headers
// are dropped.
func requestHeaders(p *dag.HeadersPolicy) (add []*core.HeaderValueOption, remove []string, hostRewrite string) {
	if p == nil {
		return nil, nil, ""
	}
	hostRewrite = p.HostRewrite
	for _, h := range p.Set {
		if strings.EqualFold(h.Name, "host") {
			if hostRewrite == "" {
				hostRewrite = h.Value
			}
			continue
		}
		if o := headerValueOption(h); o != nil {
			add = append(add, o)
		}
	}
	return add, removable(p.Remove), hostRewrite
}

func responseHeaders(p *dag.HeadersPolicy) (add []*core.HeaderValueOption, remove []string) {
	if p == nil {
		return nil, nil
	}
	for _, h := range p.Set {
		if o := headerValueOption(h); o != nil {
			add = append(add, o)
		}
	}
	return add, removable(p.Remove)
}

func headerValueOption(h dag.Header) *core.HeaderValueOption {
	if !modifiable(h.Name) {
		return nil
	}
	return &core.HeaderValueOption{
		Header:       &core.HeaderValue{Key: h.Name, Value: escapeHeaderValue(h.Value)},
		AppendAction: core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

func removable(names []string) []string {
	var out []string
	for _, n := range names {
		if modifiable(n) && !strings.EqualFold(n, "host") {
			out = append(out, n)
		}
	}
	return out
}

func modifiable(name string) bool { return name != "" && !strings.HasPrefix(name, ":") }

// envoyVariable matches the Envoy command operators a header value may
// use, the ones Contour lets through: a request header (%REQ(x-foo)%,
// with an alternative and a length, %REQ(x-foo?x-bar):10%) and a list of
// connection and TLS properties.
var envoyVariable = regexp.MustCompile(`%(REQ\(:?[\w-]+(\?:?[\w-]+)?\)(:\d+)?|` +
	`DOWNSTREAM_REMOTE_ADDRESS|DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT|` +
	`DOWNSTREAM_LOCAL_ADDRESS|DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT|DOWNSTREAM_LOCAL_PORT|` +
	`DOWNSTREAM_LOCAL_URI_SAN|DOWNSTREAM_PEER_URI_SAN|DOWNSTREAM_LOCAL_SUBJECT|DOWNSTREAM_PEER_SUBJECT|` +
	`DOWNSTREAM_PEER_ISSUER|DOWNSTREAM_TLS_SESSION_ID|DOWNSTREAM_TLS_CIPHER|DOWNSTREAM_TLS_VERSION|` +
	`DOWNSTREAM_PEER_FINGERPRINT_256|DOWNSTREAM_PEER_FINGERPRINT_1|DOWNSTREAM_PEER_SERIAL|` +
	`DOWNSTREAM_PEER_CERT|DOWNSTREAM_PEER_CERT_V_START|DOWNSTREAM_PEER_CERT_V_END|` +
	`HOSTNAME|PROTOCOL|UPSTREAM_REMOTE_ADDRESS|RESPONSE_FLAGS|RESPONSE_CODE_DETAILS|` +
	`TLS_JA3_FINGERPRINT|TLS_JA4_FINGERPRINT)%`)

// escapeHeaderValue doubles every '%' that does not start a known Envoy
// variable: Envoy parses header values as format strings and rejects a
// configuration with a stray '%'.
func escapeHeaderValue(v string) string {
	if !strings.Contains(v, "%") {
		return v
	}
	var b strings.Builder
	last := 0
	for _, loc := range envoyVariable.FindAllStringIndex(v, -1) {
		b.WriteString(strings.ReplaceAll(v[last:loc[0]], "%", "%%"))
		b.WriteString(v[loc[0]:loc[1]])
		last = loc[1]
	}
	b.WriteString(strings.ReplaceAll(v[last:], "%", "%%"))
	return b.String()
}
