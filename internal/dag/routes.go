package dag

import (
	"fmt"
	"math"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// maxIncludeVisits bounds the include expansions of one virtual host, so
// that includes fanning out and back in (A includes B twice, B includes C
// twice, ...) cannot blow up exponentially.
const maxIncludeVisits = 20000

// proxyTemplate is what one HTTPProxy contributes to any virtual host that
// reaches it, validated once: its routes and includes with their own
// conditions only.
type proxyTemplate struct {
	routes   []routeTemplate
	includes []includeTemplate
	// jwtInvalid marks a route's invalid jwtVerificationPolicy: any
	// virtual host that reaches this proxy is not served.
	jwtInvalid bool
}

type routeTemplate struct {
	conds          matchConds
	route          Route // everything but the match
	permitInsecure bool
	replacements   []contourv1.ReplacePrefix
	// jwtRequire and jwtDisabled are the route's jwtVerificationPolicy.
	jwtRequire  string
	jwtDisabled bool
	// authPolicy is the route's own authorization policy, applied over
	// the virtual host's where it is placed.
	authPolicy *contourv1.AuthorizationPolicy
}

type includeTemplate struct {
	child   types.NamespacedName
	conds   matchConds
	missing bool // answer 502 for the include's conditions
}

// routeEntry is a route placed in a virtual host.
type routeEntry struct {
	route          *Route
	key            string
	permitInsecure bool
}

// walk is the state of one virtual host's include traversal.
type walk struct {
	vhost   string
	seen    map[string]bool
	entries []routeEntry
	// extra are routes made from others, placed after the walk.
	extra  []routeEntry
	budget int
	onPath map[types.NamespacedName]bool
	path   []types.NamespacedName
	// jwt resolves the routes' token requirements.
	jwt *jwtScope
	// auth is the virtual host's authorization the routes inherit.
	auth *authScope
}

// template validates key's routes and includes once, recording their
// errors on key.
func (b *rootBuild) template(key types.NamespacedName) *proxyTemplate {
	if t, ok := b.templates[key]; ok {
		return t
	}
	t := &proxyTemplate{}
	if b.templates == nil {
		b.templates = map[types.NamespacedName]*proxyTemplate{}
	}
	b.templates[key] = t
	p, _ := b.proxy(key)
	t.routes = make([]routeTemplate, 0, len(p.Spec.Routes))
	for i := range p.Spec.Routes {
		r := &p.Spec.Routes[i]
		require, disabled, ok := b.jwtPolicy(key, i, r, t)
		if !ok {
			continue
		}
		if rt, ok := b.routeTemplate(key, i, r); ok {
			rt.jwtRequire, rt.jwtDisabled = require, disabled
			t.routes = append(t.routes, rt)
		}
	}
	seen := map[string]int{} // include conditions -> index of the first
	for i, inc := range p.Spec.Includes {
		ns := inc.Namespace
		if ns == "" {
			ns = key.Namespace
		}
		child := types.NamespacedName{Namespace: ns, Name: inc.Name}
		conds, cerr := parseConditions(inc.Conditions, true)
		if cerr != nil {
			b.errorf(key, contourv1.ConditionTypeIncludeError, cerr.reason, "includes[%d] (%s): %s", i, child, cerr.msg)
			continue
		}
		it := includeTemplate{child: child, conds: conds}
		if first, ok := seen[includeDupKey(child, conds)]; ok {
			b.errorf(key, contourv1.ConditionTypeIncludeError, contourv1.ReasonDuplicateMatchConditions,
				"includes[%d] (%s): its conditions %s duplicate those of includes[%d] (%s)", i, child,
				describeMatch(includePath(conds), conds.headers, conds.queries), first, p.Spec.Includes[first].Name)
			continue
		}
		seen[includeDupKey(child, conds)] = i
		cp, ok := b.proxy(child)
		switch {
		case child == key:
			b.errorf(key, contourv1.ConditionTypeIncludeError, contourv1.ReasonIncludeCreatesCycle,
				"include %s creates a cycle: it includes itself", child)
			continue
		case inc.Name == "" || !ok:
			b.errorf(key, contourv1.ConditionTypeIncludeError, contourv1.ReasonIncludeNotFound,
				"include %s not found", child)
			it.missing = true
		case cp.Spec.VirtualHost != nil:
			b.errorf(key, contourv1.ConditionTypeIncludeError, contourv1.ReasonRootIncludesRoot,
				"include %s is a root HTTPProxy (it has a virtualhost) and cannot be included", child)
			continue
		}
		t.includes = append(t.includes, it)
	}
	return t
}

// routeTemplate validates one route. A route with an invalid stanza is
// dropped (ok false); a route whose services do not resolve answers 503.
func (b *rootBuild) routeTemplate(key types.NamespacedName, idx int, r *contourv1.Route) (routeTemplate, bool) {
	fail := func(condType, reason, format string, args ...any) (routeTemplate, bool) {
		b.errorf(key, condType, reason, "routes[%d]: %s", idx, fmt.Sprintf(format, args...))
		return routeTemplate{}, false
	}
	conds, cerr := parseConditions(r.Conditions, false)
	if cerr != nil {
		return fail(contourv1.ConditionTypeRouteError, cerr.reason, "%s", cerr.msg)
	}
	actions := 0
	if len(r.Services) > 0 {
		actions++
	}
	if r.RequestRedirectPolicy != nil {
		actions++
	}
	if r.DirectResponsePolicy != nil {
		actions++
	}
	if actions != 1 {
		return fail(contourv1.ConditionTypeRouteError, contourv1.ReasonRouteActionCountNotValid,
			"must set exactly one of services, requestRedirectPolicy and directResponsePolicy (%d set)", actions)
	}

	rt := routeTemplate{conds: conds, permitInsecure: r.PermitInsecure, authPolicy: r.AuthPolicy}
	route := Route{Owner: key, Websocket: r.EnableWebsockets}
	var perr *policyError
	var idleConn Timeout
	if route.Timeouts, idleConn, perr = timeoutPolicy(r.TimeoutPolicy); perr != nil {
		return fail(perr.condType, perr.reason, "%s", perr.msg)
	}
	if route.Retry, perr = retryPolicy(r.RetryPolicy); perr != nil {
		return fail(perr.condType, perr.reason, "%s", perr.msg)
	}
	if route.IPFilter, perr = ipFilter(r.IPAllowFilterPolicy, r.IPDenyFilterPolicy); perr != nil {
		return fail(perr.condType, perr.reason, "%s", perr.msg)
	}
	if route.InternalRedirect, perr = internalRedirect(r.InternalRedirectPolicy); perr != nil {
		return fail(perr.condType, perr.reason, "%s", perr.msg)
	}
	var err error
	if route.RateLimit, err = rateLimitPolicy(r.RateLimitPolicy); err != nil {
		return fail(contourv1.ConditionTypeRouteError, reasonRateLimitPolicyNotValid, "route.rateLimitPolicy is invalid: %v", err)
	}
	if route.GlobalRateLimit, err = globalRateLimitPolicy(r.RateLimitPolicy); err != nil {
		return fail(contourv1.ConditionTypeRouteError, reasonRateLimitPolicyNotValid, "route.rateLimitPolicy is invalid: %v", err)
	}
	// As in Contour, a route's disabled global policy also keeps the
	// virtual host's off it.
	route.DisableVirtualHostGlobalRateLimit = r.RateLimitPolicy != nil && r.RateLimitPolicy.Global != nil && r.RateLimitPolicy.Global.Disabled
	if route.CookieRewrites, err = cookieRewrites(r.CookieRewritePolicies); err != nil {
		return fail(contourv1.ConditionTypeRouteError, reasonCookieRewritePolicesInvalid, "%v on route cookie rewrite rules", err)
	}
	if rt.replacements, perr = prefixReplacements(r.PathRewritePolicy); perr != nil {
		return fail(perr.condType, perr.reason, "%s", perr.msg)
	}
	if route.RequestHeaders, err = headersPolicy(r.RequestHeadersPolicy, routeRequest, routeDynamic(key.Namespace)); err != nil {
		return fail(contourv1.ConditionTypeRouteError, "RequestHeadersPolicyInvalid", "requestHeadersPolicy: %v", err)
	}
	if route.ResponseHeaders, err = headersPolicy(r.ResponseHeadersPolicy, response, routeDynamic(key.Namespace)); err != nil {
		return fail(contourv1.ConditionTypeRouteError, "ResponseHeadersPolicyInvalid", "responseHeadersPolicy: %v", err)
	}

	switch {
	case r.RequestRedirectPolicy != nil:
		if route.Redirect, perr = redirect(r.RequestRedirectPolicy); perr != nil {
			return fail(perr.condType, perr.reason, "%s", perr.msg)
		}
		rt.replacements = nil
		rt.route = route
		return rt, true
	case r.DirectResponsePolicy != nil:
		if route.DirectResponse, perr = directResponse(r.DirectResponsePolicy); perr != nil {
			return fail(perr.condType, perr.reason, "%s", perr.msg)
		}
		rt.replacements = nil
		rt.route = route
		return rt, true
	}

	hc, perr := httpHealthCheck(r.HealthCheckPolicy)
	if perr != nil {
		return fail(perr.condType, perr.reason, "%s", perr.msg)
	}
	lb, hashes, warnings := loadBalancer(r.LoadBalancerPolicy)
	for _, w := range warnings {
		b.warnf(key, contourv1.ConditionTypeSpecError, contourv1.ReasonIgnoredField, "routes[%d]: %s", idx, w)
	}
	route.HashPolicies = hashes
	set := clusterSettings{lb: lb, hc: hc, idleConnection: idleConn}

	mirrors := 0
	for i, s := range r.Services {
		if s.Mirror {
			mirrors++
		}
		if s.Weight < 0 || s.Weight > math.MaxUint32 {
			return fail(contourv1.ConditionTypeRouteError, "ServiceWeightNotValid", "services[%d] (%s): weight %d is out of range", i, s.Name, s.Weight)
		}
	}
	if mirrors > 1 {
		return fail(contourv1.ConditionTypeServiceError, contourv1.ReasonOnlyOneMirror, "only one service per route may be a mirror (%d are)", mirrors)
	}
	if mirrors == len(r.Services) {
		return fail(contourv1.ConditionTypeRouteError, contourv1.ReasonRouteActionCountNotValid, "a route needs at least one service that is not a mirror")
	}

	unresolved := false
	for i, s := range r.Services {
		dyn := serviceDynamic(key.Namespace, s)
		reqH, err := headersPolicy(s.RequestHeadersPolicy, serviceRequest, dyn)
		if err != nil {
			return fail(contourv1.ConditionTypeRouteError, "RequestHeadersPolicyInvalid", "services[%d] (%s) requestHeadersPolicy: %v", i, s.Name, err)
		}
		respH, err := headersPolicy(s.ResponseHeadersPolicy, response, dyn)
		if err != nil {
			return fail(contourv1.ConditionTypeRouteError, "ResponseHeadersPolicyInvalid", "services[%d] (%s) responseHeadersPolicy: %v", i, s.Name, err)
		}
		cookies, err := cookieRewrites(s.CookieRewritePolicies)
		if err != nil {
			return fail(contourv1.ConditionTypeRouteError, reasonCookieRewritePolicesInvalid, "services[%d] (%s): %v on service cookie rewrite rules", i, s.Name, err)
		}
		// The cluster-wide policies, under the service's own (as in
		// Contour); the route's apply after both in Envoy, so its
		// headers win over the cluster-wide ones too.
		routeHost := route.RequestHeaders != nil && (route.RequestHeaders.HostRewrite != "" || route.RequestHeaders.HostRewriteHeader != "")
		reqH = b.bl.globalRequest.merge(reqH, dyn, routeHost)
		respH = b.bl.globalResponse.merge(respH, dyn, true)
		sset := set
		sset.hostRewrite = hostRewriteOf(reqH, route.RequestHeaders)
		if sset.slow, err = slowStart(s.SlowStartPolicy, lb); err != nil {
			return fail(contourv1.ConditionTypeServiceError, reasonSlowStartInvalid, "services[%d] (%s): %v", i, s.Name, err)
		}
		c, serr := b.cluster(key.Namespace, s, sset)
		if serr != nil {
			b.errorf(key, serr.conditionType(), serr.reason, "routes[%d]: %s", idx, serr.msg)
			unresolved = true
			continue
		}
		if s.Mirror {
			route.Mirror, route.MirrorPercent = c, mirrorPercent(s.Weight)
			if len(cookies) > 0 {
				// Said rather than silently dropped (Contour is silent).
				b.warnf(key, contourv1.ConditionTypeServiceError, contourv1.ReasonIgnoredField,
					"routes[%d]: services[%d] (%s): ignoring cookieRewritePolicies of a mirror, whose responses are discarded", idx, i, s.Name)
			}
			continue
		}
		route.Clusters = append(route.Clusters, &WeightedCluster{
			Cluster:         c,
			Weight:          uint32(s.Weight),
			RequestHeaders:  reqH,
			ResponseHeaders: respH,
			CookieRewrites:  cookies,
		})
	}
	if unresolved {
		// Do not send part of the traffic to whatever resolved: answer
		// 503 like a route with no healthy upstream.
		route.Clusters, route.Mirror, route.MirrorPercent, route.HashPolicies = nil, nil, 0, nil
		route.DirectResponse = &DirectResponse{StatusCode: 503}
		rt.replacements = nil
	} else {
		sortWeighted(route.Clusters)
	}
	rt.route = route
	return rt, true
}

// hostRewriteOf is the Host a service's requests are rewritten to: the
// service's own rewrite, else the route's literal one (Contour's choice of
// upstream server name).
func hostRewriteOf(service, route *HeadersPolicy) string {
	if service != nil && service.HostRewrite != "" {
		return service.HostRewrite
	}
	if route != nil {
		return route.HostRewrite
	}
	return ""
}

// mirrorPercent is the share of requests a mirror gets: its weight as a
// percentage, and all of them when the weight is unset (0), as in Contour.
func mirrorPercent(weight int64) uint32 {
	if weight <= 0 || weight > 100 {
		return 100
	}
	return uint32(weight)
}

// sortWeighted orders a route's clusters by name (then weight), keeping
// the written order among equals.
func sortWeighted(wcs []*WeightedCluster) {
	stableSort(wcs, func(a, b *WeightedCluster) int {
		if c := strings.Compare(a.Cluster.Name, b.Cluster.Name); c != 0 {
			return c
		}
		return int(int64(a.Weight) - int64(b.Weight))
	})
}

// walkProxy adds key's routes to w behind the conditions its include
// chain built (prefix, headers, queries), then follows its includes.
func (b *rootBuild) walkProxy(w *walk, key types.NamespacedName, prefix string, headers []HeaderMatch, queries []QueryMatch) {
	b.reach(key)
	w.onPath[key] = true
	w.path = append(w.path, key)
	defer func() {
		delete(w.onPath, key)
		w.path = w.path[:len(w.path)-1]
	}()

	t := b.template(key)
	if t.jwtInvalid {
		w.jwt.invalid = append(w.jwt.invalid, key)
	}
	placed := make([]routeEntry, 0, len(t.routes))
	for i := range t.routes {
		rt := &t.routes[i]
		r := rt.route
		r.PathMatch = mergePath(prefix, rt.conds)
		if r.PathMatch.Kind == PathRegex && prefix != "" {
			// The include prefix went into the regex: it must still fit.
			if err := checkRegex(r.PathMatch.Value, false); err != nil {
				b.errorf(key, contourv1.ConditionTypeRouteError, contourv1.ReasonPathMatchConditionsNotValid,
					"route under include prefix %q: %v", prefix, err)
				continue
			}
		}
		r.HeaderMatches = mergeHeaders(headers, rt.conds.headers)
		r.QueryMatches = mergeQueries(queries, rt.conds.queries)
		if r.PathMatch.Kind == PathPrefix && len(rt.replacements) > 0 {
			r.PrefixRewrite = prefixRewrite(rt.replacements, r.PathMatch.Value)
		}
		r.JWTProvider = w.jwt.provider(rt, &r)
		w.auth.route(&r, rt.authPolicy)
		placed = append(placed, routeEntry{route: &r, permitInsecure: rt.permitInsecure})
	}
	splitPrefixRewrites(w, placed)
	for _, e := range placed {
		r := e.route
		if !b.addRoute(w, r, e.permitInsecure) {
			b.errorf(key, contourv1.ConditionTypeRouteError, contourv1.ReasonDuplicateMatchConditions,
				"route with %s duplicates the conditions of another route of virtual host %q",
				describeMatch(r.PathMatch, r.HeaderMatches, r.QueryMatches), w.vhost)
		}
	}
	for _, inc := range t.includes {
		if w.budget <= 0 {
			b.errorf(key, contourv1.ConditionTypeIncludeError, "TooManyIncludes",
				"virtual host %q expands to more than %d includes; the rest are ignored", w.vhost, maxIncludeVisits)
			return
		}
		w.budget--
		np := prefix
		if inc.conds.hasPath {
			np = joinPrefix(prefix, inc.conds.path.Value)
		}
		nh := mergeHeaders(headers, inc.conds.headers)
		nq := mergeQueries(queries, inc.conds.queries)
		if inc.missing {
			if np == "" {
				np = "/"
			}
			b.addRoute(w, &Route{
				PathMatch:      PathMatch{Kind: PathPrefix, Value: np},
				HeaderMatches:  nh,
				QueryMatches:   nq,
				DirectResponse: &DirectResponse{StatusCode: 502},
				Owner:          key,
			}, false)
			continue
		}
		if w.onPath[inc.child] {
			b.errorf(key, contourv1.ConditionTypeIncludeError, contourv1.ReasonIncludeCreatesCycle,
				"include %s creates a cycle: %s", inc.child, cyclePath(w.path, inc.child))
			continue
		}
		b.walkProxy(w, inc.child, np, nh, nq)
	}
}

// splitPrefixRewrites handles the trailing slash of prefix rewrites as
// Contour does. Envoy replaces the matched prefix as a string, so a route
// of prefix "/foo" rewritten to "/" turns "/foo/x" into "//x", and one of
// "/foo/" rewritten to "/bar" turns "/foo/x" into "/barx". A rewriting
// route whose prefix, without trailing slashes, no other route of the
// same proxy has is therefore served as two: "/foo" rewritten to the
// replacement without its trailing slash ("/" if that leaves nothing),
// and "/foo/" rewritten to it with one. The "/foo/" half goes to
// w.extra, placed after the walk where no route has its match yet.
func splitPrefixRewrites(w *walk, placed []routeEntry) {
	var group map[string]int
	for _, e := range placed {
		if e.route.PrefixRewrite != nil && e.route.PathMatch.Kind == PathPrefix {
			group = map[string]int{}
			break
		}
	}
	if group == nil {
		return
	}
	for _, e := range placed {
		if e.route.PathMatch.Kind == PathPrefix {
			group[strings.TrimRight(e.route.PathMatch.Value, "/")]++
		}
	}
	for _, e := range placed {
		r := e.route
		if r.PathMatch.Kind != PathPrefix || r.PrefixRewrite == nil {
			continue
		}
		p := strings.TrimRight(r.PathMatch.Value, "/")
		if p == "" || group[p] != 1 {
			continue
		}
		bare := strings.TrimRight(*r.PrefixRewrite, "/")
		withSlash := bare + "/"
		if bare == "" {
			bare = "/"
		}
		slash := *r
		slash.PathMatch = PathMatch{Kind: PathPrefix, Value: p + "/"}
		slash.PrefixRewrite = &withSlash
		r.PathMatch.Value = p
		r.PrefixRewrite = &bare
		w.extra = append(w.extra, routeEntry{route: &slash, permitInsecure: e.permitInsecure})
	}
}

// addExtra places the routes splitPrefixRewrites made where no route of
// the virtual host has their match: a route written with that match wins.
func (b *rootBuild) addExtra(w *walk) {
	for _, e := range w.extra {
		b.addRoute(w, e.route, e.permitInsecure)
	}
}

// addRoute places r in the virtual host unless a route with the same
// match is already there.
func (b *rootBuild) addRoute(w *walk, r *Route, permitInsecure bool) bool {
	k := matchKey(r.PathMatch, r.HeaderMatches, r.QueryMatches)
	if w.seen[k] {
		return false
	}
	w.seen[k] = true
	w.entries = append(w.entries, routeEntry{route: r, key: k, permitInsecure: permitInsecure})
	return true
}

func cyclePath(path []types.NamespacedName, child types.NamespacedName) string {
	var parts []string
	for i, p := range path {
		if p == child {
			for _, q := range path[i:] {
				parts = append(parts, q.String())
			}
			break
		}
	}
	parts = append(parts, child.String())
	return strings.Join(parts, " -> ")
}

func mergeHeaders(a, b []HeaderMatch) []HeaderMatch {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make([]HeaderMatch, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	sortHeaders(out)
	return out
}

func mergeQueries(a, b []QueryMatch) []QueryMatch {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make([]QueryMatch, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	sortQueries(out)
	return out
}

// includePath is the path condition of an include: a prefix, "/" when it
// sets none.
func includePath(conds matchConds) PathMatch {
	if !conds.hasPath || conds.path.Value == "" {
		return PathMatch{Kind: PathPrefix, Value: "/"}
	}
	return conds.path
}

// includeDupKey identifies an include's conditions: two includes of one
// proxy with the same conditions are duplicates, whatever they include
// (as in Contour). Includes that match everything (no conditions, or a
// lone "/" prefix) may be several, as Contour allows, but not twice the
// same child, whose routes would all collide.
func includeDupKey(child types.NamespacedName, conds matchConds) string {
	path := includePath(conds)
	k := matchKey(path, conds.headers, conds.queries)
	if path.Value == "/" && len(conds.headers) == 0 && len(conds.queries) == 0 {
		k = child.String() + "\x00" + k
	}
	return k
}
