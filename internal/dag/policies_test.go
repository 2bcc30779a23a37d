package dag

import (
	"testing"
	"time"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// policyRoute builds example.com with one route "/" to kuard:8080 edited
// by edit, and returns the route and the proxy's reasons.
func policyRoute(t *testing.T, edit func(r *contourv1.Route)) (*Route, []string) {
	t.Helper()
	r := route("/", svcRef("kuard", 8080))
	edit(&r)
	d := Build(objects(root("default", "a", "example.com", r), service("default", "kuard", 8080)), Config{})
	var got *Route
	if len(d.HTTP) == 1 && len(d.HTTP[0].Routes) == 1 {
		got = d.HTTP[0].Routes[0]
	}
	return got, reasons(d, nn("default", "a"))
}

func TestTimeoutPolicy(t *testing.T) {
	tests := map[string]struct {
		tp      contourv1.TimeoutPolicy
		want    TimeoutPolicy
		reasons []string
	}{
		"durations":           {contourv1.TimeoutPolicy{Response: "1m", Idle: "500ms"}, TimeoutPolicy{Response: Timeout{Duration: time.Minute}, Idle: Timeout{Duration: 500 * time.Millisecond}}, nil},
		"infinity":            {contourv1.TimeoutPolicy{Response: "infinity", Idle: "infinite"}, TimeoutPolicy{Response: Timeout{Infinite: true}, Idle: Timeout{Infinite: true}}, nil},
		"zero default":        {contourv1.TimeoutPolicy{Response: "0s"}, TimeoutPolicy{}, nil},
		"bad response":        {contourv1.TimeoutPolicy{Response: "forever"}, TimeoutPolicy{}, []string{"RouteError/TimeoutPolicyNotValid"}},
		"bad idle":            {contourv1.TimeoutPolicy{Idle: "-1s"}, TimeoutPolicy{}, []string{"RouteError/TimeoutPolicyNotValid"}},
		"bad idle connection": {contourv1.TimeoutPolicy{IdleConnection: "1x"}, TimeoutPolicy{}, []string{"RouteError/TimeoutPolicyNotValid"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, rs := policyRoute(t, func(r *contourv1.Route) { r.TimeoutPolicy = &tc.tp })
			if tc.reasons != nil {
				diff(t, tc.reasons, rs)
				if r != nil {
					t.Errorf("invalid route served: %s", summarize(r))
				}
				return
			}
			diff(t, []string{"valid"}, rs)
			diff(t, tc.want, r.Timeouts)
		})
	}
}

func TestRetryPolicy(t *testing.T) {
	tests := map[string]struct {
		rp      contourv1.RetryPolicy
		want    *RetryPolicy
		reasons []string
	}{
		"defaults": {contourv1.RetryPolicy{}, &RetryPolicy{RetryOn: []string{"5xx"}, NumRetries: 1}, nil},
		"disabled": {contourv1.RetryPolicy{NumRetries: -1}, &RetryPolicy{RetryOn: []string{"5xx"}}, nil},
		"full": {
			contourv1.RetryPolicy{NumRetries: 3, PerTryTimeout: "2s", RetryOn: []contourv1.RetryOn{"reset", "retriable-status-codes", "reset"}, RetriableStatusCodes: []uint32{503, 502}},
			&RetryPolicy{RetryOn: []string{"reset", "retriable-status-codes"}, NumRetries: 3, PerTryTimeout: Timeout{Duration: 2 * time.Second}, RetriableStatusCodes: []uint32{502, 503}},
			nil,
		},
		"bad count":       {contourv1.RetryPolicy{NumRetries: -2}, nil, []string{"RouteError/RetryPolicyNotValid"}},
		"bad per try":     {contourv1.RetryPolicy{PerTryTimeout: "soon"}, nil, []string{"RouteError/RetryPolicyNotValid"}},
		"bad retry on":    {contourv1.RetryPolicy{RetryOn: []contourv1.RetryOn{"sometimes"}}, nil, []string{"RouteError/RetryPolicyNotValid"}},
		"bad status code": {contourv1.RetryPolicy{RetriableStatusCodes: []uint32{42}}, nil, []string{"RouteError/RetryPolicyNotValid"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, rs := policyRoute(t, func(r *contourv1.Route) { r.RetryPolicy = &tc.rp })
			if tc.reasons != nil {
				diff(t, tc.reasons, rs)
				return
			}
			diff(t, tc.want, r.Retry)
		})
	}
}

func TestHealthCheckPolicy(t *testing.T) {
	tests := map[string]struct {
		hc      contourv1.HTTPHealthCheckPolicy
		want    *HealthCheck
		reasons []string
	}{
		"defaults": {contourv1.HTTPHealthCheckPolicy{Path: "/healthz"}, &HealthCheck{
			Path: "/healthz", Host: "contour-envoy-healthcheck", Interval: 5 * time.Second, Timeout: 2 * time.Second,
			UnhealthyThreshold: 3, HealthyThreshold: 2,
		}, nil},
		"explicit": {contourv1.HTTPHealthCheckPolicy{
			Path: "/hc", Host: "h", IntervalSeconds: 10, TimeoutSeconds: 1, UnhealthyThresholdCount: 5, HealthyThresholdCount: 1,
			ExpectedStatuses: []contourv1.HTTPStatusRange{{Start: 200, End: 202}, {Start: 204, End: 205}},
		}, &HealthCheck{
			Path: "/hc", Host: "h", Interval: 10 * time.Second, Timeout: time.Second,
			UnhealthyThreshold: 5, HealthyThreshold: 1, ExpectedStatuses: []uint32{200, 201, 204},
		}, nil},
		"no path":   {contourv1.HTTPHealthCheckPolicy{}, nil, []string{"RouteError/HealthCheckPolicyNotValid"}},
		"bad range": {contourv1.HTTPHealthCheckPolicy{Path: "/", ExpectedStatuses: []contourv1.HTTPStatusRange{{Start: 300, End: 200}}}, nil, []string{"RouteError/HealthCheckPolicyNotValid"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, rs := policyRoute(t, func(r *contourv1.Route) { r.HealthCheckPolicy = &tc.hc })
			if tc.reasons != nil {
				diff(t, tc.reasons, rs)
				return
			}
			diff(t, tc.want, r.Clusters[0].Cluster.HealthCheck)
		})
	}
}

func TestLoadBalancerPolicy(t *testing.T) {
	tests := map[string]struct {
		lb     contourv1.LoadBalancerPolicy
		want   string
		hashes []HashPolicy
	}{
		"default":   {contourv1.LoadBalancerPolicy{}, LBRoundRobin, nil},
		"unknown":   {contourv1.LoadBalancerPolicy{Strategy: "Magic"}, LBRoundRobin, nil},
		"wlr":       {contourv1.LoadBalancerPolicy{Strategy: "WeightedLeastRequest"}, LBWeightedLeastRequest, nil},
		"random":    {contourv1.LoadBalancerPolicy{Strategy: "Random"}, LBRandom, nil},
		"cookie":    {contourv1.LoadBalancerPolicy{Strategy: "Cookie"}, LBCookie, []HashPolicy{{Cookie: "X-Contour-Session-Affinity", CookiePath: "/"}}},
		"hash none": {contourv1.LoadBalancerPolicy{Strategy: "RequestHash"}, LBRoundRobin, nil},
		"hash": {contourv1.LoadBalancerPolicy{Strategy: "RequestHash", RequestHashPolicies: []contourv1.RequestHashPolicy{
			{Terminal: true, HeaderHashOptions: &contourv1.HeaderHashOptions{HeaderName: "x-user"}},
			{QueryParameterHashOptions: &contourv1.QueryParameterHashOptions{ParameterName: "id"}},
			{HashSourceIP: true},
			{HashSourceIP: true, HeaderHashOptions: &contourv1.HeaderHashOptions{HeaderName: "ignored"}},
		}}, LBRequestHash, []HashPolicy{{Terminal: true, Header: "X-User"}, {QueryParam: "id"}, {SourceIP: true}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, rs := policyRoute(t, func(r *contourv1.Route) { r.LoadBalancerPolicy = &tc.lb })
			diff(t, []string{"valid"}, rs)
			diff(t, tc.want, r.Clusters[0].Cluster.LoadBalancer)
			diff(t, tc.hashes, r.HashPolicies)
		})
	}
}

func TestHeadersPolicy(t *testing.T) {
	r, rs := policyRoute(t, func(r *contourv1.Route) {
		r.RequestHeadersPolicy = &contourv1.HeadersPolicy{
			Set:    []contourv1.HeaderValue{{Name: "x-b", Value: "2"}, {Name: "host", Value: "internal"}, {Name: "X-A", Value: "1"}},
			Remove: []string{"x-z", "x-y"},
		}
		r.ResponseHeadersPolicy = &contourv1.HeadersPolicy{Remove: []string{"server"}}
		r.Services[0].RequestHeadersPolicy = &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{{Name: "x-svc", Value: "yes"}}}
		r.EnableWebsockets = true
	})
	diff(t, []string{"valid"}, rs)
	diff(t, &HeadersPolicy{Set: []Header{{"X-A", "1"}, {"X-B", "2"}}, Remove: []string{"X-Y", "X-Z"}, HostRewrite: "internal"}, r.RequestHeaders)
	diff(t, &HeadersPolicy{Remove: []string{"Server"}}, r.ResponseHeaders)
	diff(t, &HeadersPolicy{Set: []Header{{"X-Svc", "yes"}}}, r.Clusters[0].RequestHeaders)
	diff(t, true, r.Websocket)

	for name, edit := range map[string]func(r *contourv1.Route){
		"host on response": func(r *contourv1.Route) {
			r.ResponseHeadersPolicy = &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{{Name: "Host", Value: "x"}}}
		},
		"bad name": func(r *contourv1.Route) {
			r.RequestHeadersPolicy = &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{{Name: "a b", Value: "x"}}}
		},
		"duplicate": func(r *contourv1.Route) {
			r.RequestHeadersPolicy = &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{{Name: "x-a", Value: "1"}, {Name: "X-A", Value: "2"}}}
		},
		"bad service header": func(r *contourv1.Route) {
			r.Services[0].ResponseHeadersPolicy = &contourv1.HeadersPolicy{Remove: []string{""}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			r, rs := policyRoute(t, edit)
			if r != nil || len(rs) != 1 || rs[0][:len("RouteError/")] != "RouteError/" {
				t.Errorf("got route %v, reasons %v", r, rs)
			}
		})
	}
}

func TestPathRewritePolicy(t *testing.T) {
	objs := objects(
		withIncludes(root("default", "root", "example.com"), include("app", "", "/app")),
		child("default", "app",
			contourv1.Route{
				Conditions: []contourv1.MatchCondition{{Prefix: "/v1"}},
				Services:   []contourv1.Service{svcRef("kuard", 8080)},
				PathRewritePolicy: &contourv1.PathRewritePolicy{ReplacePrefix: []contourv1.ReplacePrefix{
					{Prefix: "/app/v1/", Replacement: "/"},
					{Prefix: "/other", Replacement: "/nope"},
				}},
			},
			contourv1.Route{
				Services:          []contourv1.Service{svcRef("kuard", 8080)},
				PathRewritePolicy: &contourv1.PathRewritePolicy{ReplacePrefix: []contourv1.ReplacePrefix{{Replacement: "/api"}}},
			},
			contourv1.Route{
				Conditions: []contourv1.MatchCondition{{Prefix: "/dup"}},
				Services:   []contourv1.Service{svcRef("kuard", 8080)},
				PathRewritePolicy: &contourv1.PathRewritePolicy{ReplacePrefix: []contourv1.ReplacePrefix{
					{Prefix: "/a", Replacement: "/"}, {Prefix: "/a/", Replacement: "/b"},
				}},
			},
			contourv1.Route{
				Conditions: []contourv1.MatchCondition{{Prefix: "/amb"}},
				Services:   []contourv1.Service{svcRef("kuard", 8080)},
				PathRewritePolicy: &contourv1.PathRewritePolicy{ReplacePrefix: []contourv1.ReplacePrefix{
					{Replacement: "/"}, {Prefix: "/a/", Replacement: "/b"},
				}},
			},
		),
		service("default", "kuard", 8080),
	)
	d := Build(objs, Config{})
	got := map[string]string{}
	for _, r := range d.HTTP[0].Routes {
		if r.PrefixRewrite != nil {
			got[r.PathMatch.Value] = *r.PrefixRewrite
		}
	}
	// Each rewriting route is served as "/p" and "/p/" (see
	// TestPrefixRewriteTrailingSlash).
	diff(t, map[string]string{"/app/v1": "/", "/app/v1/": "/", "/app": "/api", "/app/": "/api/"}, got)
	diff(t, []string{"PrefixReplaceError/DuplicateReplacement", "PrefixReplaceError/AmbiguousReplacement"}, reasons(d, nn("default", "app")))
}

func TestRedirectPolicy(t *testing.T) {
	code := contourv1.RedirectResponseCode(301)
	r, rs := policyRoute(t, func(r *contourv1.Route) {
		r.Services = nil
		r.RequestRedirectPolicy = &contourv1.HTTPRequestRedirectPolicy{
			Scheme: ptr("https"), Hostname: ptr("example.org"), Port: ptr(int32(8443)), StatusCode: &code, Prefix: ptr("/new"),
		}
	})
	diff(t, []string{"valid"}, rs)
	diff(t, &Redirect{Scheme: "https", Hostname: "example.org", Port: 8443, Prefix: "/new", StatusCode: 301}, r.Redirect)

	_, rs = policyRoute(t, func(r *contourv1.Route) {
		r.Services = nil
		r.RequestRedirectPolicy = &contourv1.HTTPRequestRedirectPolicy{Path: ptr("/a"), Prefix: ptr("/b")}
	})
	diff(t, []string{"RouteError/RequestRedirectPolicyNotValid"}, rs)
}
