package dag

import (
	"testing"
	"time"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

func ptrTo[T any](v T) *T { return &v }

func TestCORSPolicy(t *testing.T) {
	methods := []contourv1.CORSHeaderValue{"GET", "POST"}
	tests := map[string]struct {
		in      *contourv1.CORSPolicy
		want    *CORSPolicy
		reasons []string
		message string
	}{
		"none": {reasons: []string{"valid"}},
		"exact, any and regex origins, every field": {
			in: &contourv1.CORSPolicy{
				AllowOrigin:  []string{"*", "https://www.example.com", "http://localhost:8080", `https://.*\.example\.org`, "www.example.com"},
				AllowMethods: methods, AllowHeaders: []contourv1.CORSHeaderValue{"X-A", "X-B"},
				ExposeHeaders: []contourv1.CORSHeaderValue{"X-C"}, MaxAge: "10m", AllowCredentials: true, AllowPrivateNetwork: true,
			},
			want: &CORSPolicy{
				AllowOrigins: []CORSOrigin{{Value: "*"}, {Value: "https://www.example.com"}, {Value: "http://localhost:8080"},
					{Value: `https://.*\.example\.org`, Regex: true}, {Value: "www.example.com", Regex: true}},
				AllowMethods: []string{"GET", "POST"}, AllowHeaders: []string{"X-A", "X-B"}, ExposeHeaders: []string{"X-C"},
				MaxAge: "600", AllowCredentials: true, AllowPrivateNetwork: true,
			},
			reasons: []string{"valid"},
		},
		"an origin with a path is a regex": {
			in:      &contourv1.CORSPolicy{AllowOrigin: []string{"https://example.com/"}, AllowMethods: methods},
			want:    &CORSPolicy{AllowOrigins: []CORSOrigin{{Value: "https://example.com/", Regex: true}}, AllowMethods: []string{"GET", "POST"}},
			reasons: []string{"valid"},
		},
		"max age 0 disables caching": {
			in:      &contourv1.CORSPolicy{AllowOrigin: []string{"*"}, AllowMethods: methods, MaxAge: "0s"},
			want:    &CORSPolicy{AllowOrigins: []CORSOrigin{{Value: "*"}}, AllowMethods: []string{"GET", "POST"}, MaxAge: "0"},
			reasons: []string{"valid"},
		},
		"no origin": {
			in: &contourv1.CORSPolicy{AllowMethods: methods}, reasons: []string{"CORSError/PolicyDidNotParse"},
			message: "Spec.VirtualHost.CORSPolicy: invalid allowed origin configuration with length 0",
		},
		"bad origin": {
			in: &contourv1.CORSPolicy{AllowOrigin: []string{"**"}, AllowMethods: methods}, reasons: []string{"CORSError/PolicyDidNotParse"},
			message: `Spec.VirtualHost.CORSPolicy: invalid allowed origin "**": allowed origin is invalid exact match and invalid regex match`,
		},
		"no methods": {
			in: &contourv1.CORSPolicy{AllowOrigin: []string{"*"}}, reasons: []string{"CORSError/PolicyDidNotParse"},
			message: "Spec.VirtualHost.CORSPolicy: invalid allowed methods configuration with length 0",
		},
		"bad max age": {
			in: &contourv1.CORSPolicy{AllowOrigin: []string{"*"}, AllowMethods: methods, MaxAge: "soon"}, reasons: []string{"CORSError/PolicyDidNotParse"},
			message: `Spec.VirtualHost.CORSPolicy: unable to parse timeout string "soon": time: invalid duration "soon"`,
		},
		"negative max age": {
			in: &contourv1.CORSPolicy{AllowOrigin: []string{"*"}, AllowMethods: methods, MaxAge: "-1s"}, reasons: []string{"CORSError/PolicyDidNotParse"},
			message: `Spec.VirtualHost.CORSPolicy: invalid max age value "-1s"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := withTLS(root("default", "p", "p.example.com", route("/", svcRef("kuard", 8080))), "tls")
			p.Spec.VirtualHost.CORSPolicy = tc.in
			other := root("default", "other", "other.example.com", route("/", svcRef("kuard", 8080)))
			d := Build(objects(p, other, service("default", "kuard", 8080), tlsSecret(t, "default", "tls")), Config{})
			diff(t, tc.reasons, reasons(d, nn("default", "p")))
			diff(t, []string{"valid"}, reasons(d, nn("default", "other")))
			if tc.message != "" {
				diff(t, tc.message, d.Statuses[nn("default", "p")].Errors[0].Message)
				if secureVhost(d, "p.example.com") != nil || httpRoutes(d, "p.example.com") != nil {
					t.Fatal("a virtual host with an invalid CORS policy is served")
				}
				return
			}
			diff(t, tc.want, secureVhost(d, "p.example.com").CORS)
			diff(t, tc.want, d.HTTP[1].CORS)
		})
	}
}

func TestLocalRateLimit(t *testing.T) {
	local := func(l contourv1.LocalRateLimitPolicy) *contourv1.RateLimitPolicy {
		return &contourv1.RateLimitPolicy{Local: &l}
	}
	tests := map[string]struct {
		in     *contourv1.RateLimitPolicy
		want   *LocalRateLimit
		errMsg string
	}{
		"none":        {},
		"global only": {in: &contourv1.RateLimitPolicy{}},
		"every field": {
			in: local(contourv1.LocalRateLimitPolicy{Requests: 10, Unit: "minute", Burst: 5, ResponseStatusCode: 503,
				ResponseHeadersToAdd: []contourv1.HeaderValue{{Name: "x-limited", Value: "yes"}, {Name: "Retry-After", Value: "60"}}}),
			want: &LocalRateLimit{MaxTokens: 15, TokensPerFill: 10, FillInterval: time.Minute, StatusCode: 503,
				ResponseHeaders: []Header{{Name: "X-Limited", Value: "yes"}, {Name: "Retry-After", Value: "60"}}},
		},
		"per second and hour": {
			in:   local(contourv1.LocalRateLimitPolicy{Requests: 1, Unit: "hour"}),
			want: &LocalRateLimit{MaxTokens: 1, TokensPerFill: 1, FillInterval: time.Hour},
		},
		"no requests":      {in: local(contourv1.LocalRateLimitPolicy{Unit: "second"}), errMsg: "invalid requests value 0 in local rate limit policy"},
		"bad unit":         {in: local(contourv1.LocalRateLimitPolicy{Requests: 1, Unit: "day"}), errMsg: `invalid unit "day" in local rate limit policy`},
		"status not Envoy": {in: local(contourv1.LocalRateLimitPolicy{Requests: 1, Unit: "second", ResponseStatusCode: 450}), errMsg: "invalid response status code 450 in local rate limit policy: Envoy answers only the 4xx and 5xx codes it knows"},
		"duplicate header": {
			in:     local(contourv1.LocalRateLimitPolicy{Requests: 1, Unit: "second", ResponseHeadersToAdd: []contourv1.HeaderValue{{Name: "x-a", Value: "1"}, {Name: "X-A", Value: "2"}}}),
			errMsg: `duplicate header addition: "X-A"`,
		},
		"bad header": {
			in:     local(contourv1.LocalRateLimitPolicy{Requests: 1, Unit: "second", ResponseHeadersToAdd: []contourv1.HeaderValue{{Name: "x a", Value: "1"}}}),
			errMsg: `invalid header name "x a"`,
		},
	}
	for name, tc := range tests {
		t.Run("virtual host: "+name, func(t *testing.T) {
			p := root("default", "p", "p.example.com", route("/", svcRef("kuard", 8080)))
			p.Spec.VirtualHost.RateLimitPolicy = tc.in
			d := Build(objects(p, service("default", "kuard", 8080)), Config{})
			if tc.errMsg != "" {
				diff(t, []string{"VirtualHostError/RateLimitPolicyNotValid"}, reasons(d, nn("default", "p")))
				diff(t, "Spec.VirtualHost.RateLimitPolicy is invalid: "+tc.errMsg, d.Statuses[nn("default", "p")].Errors[0].Message)
				diff(t, 0, len(d.HTTP))
				return
			}
			diff(t, []string{"valid"}, reasons(d, nn("default", "p")))
			diff(t, tc.want, d.HTTP[0].RateLimit)
		})
		t.Run("route: "+name, func(t *testing.T) {
			d, routes := twoRoutes("/limited", func(r *contourv1.Route) { r.RateLimitPolicy = tc.in })
			if tc.errMsg != "" {
				wantSecondRouteRefused(t, d, "RouteError/RateLimitPolicyNotValid", "routes[1]: route.rateLimitPolicy is invalid: "+tc.errMsg)
				return
			}
			diff(t, []string{"valid"}, reasons(d, nn("default", "p")))
			diff(t, tc.want, routes[0].RateLimit)
			diff(t, (*LocalRateLimit)(nil), routes[1].RateLimit)
		})
	}
}

func TestInternalRedirectPolicy(t *testing.T) {
	tests := map[string]struct {
		in     *contourv1.HTTPInternalRedirectPolicy
		want   *InternalRedirect
		errMsg string
	}{
		"defaults": {in: &contourv1.HTTPInternalRedirectPolicy{}, want: &InternalRedirect{CrossScheme: "Never"}},
		"every field": {
			in: &contourv1.HTTPInternalRedirectPolicy{MaxInternalRedirects: 3, RedirectResponseCodes: []contourv1.RedirectResponseCode{308, 301, 301},
				AllowCrossSchemeRedirect: "SafeOnly", DenyRepeatedRouteRedirect: true},
			want: &InternalRedirect{MaxRedirects: 3, StatusCodes: []uint32{301, 308}, CrossScheme: "SafeOnly", DenyRepeatedRoute: true},
		},
		"always": {in: &contourv1.HTTPInternalRedirectPolicy{AllowCrossSchemeRedirect: "Always"}, want: &InternalRedirect{CrossScheme: "Always"}},
		"bad code": {
			in:     &contourv1.HTTPInternalRedirectPolicy{RedirectResponseCodes: []contourv1.RedirectResponseCode{300}},
			errMsg: "routes[1]: internalRedirectPolicy: redirectResponseCodes: 300 is not one of 301, 302, 303, 307, 308",
		},
		"bad scheme": {
			in:     &contourv1.HTTPInternalRedirectPolicy{AllowCrossSchemeRedirect: "Sometimes"},
			errMsg: `routes[1]: internalRedirectPolicy: allowCrossSchemeRedirect "Sometimes" must be Always, Never or SafeOnly`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := root("default", "p", "p.example.com", route("/", svcRef("kuard", 8080)), route("/follow", svcRef("kuard", 8080)))
			p.Spec.Routes[1].InternalRedirectPolicy = tc.in
			d := Build(objects(p, service("default", "kuard", 8080)), Config{})
			routes := d.HTTP[0].Routes
			if tc.errMsg != "" {
				diff(t, []string{"RouteError/InternalRedirectPolicyNotValid"}, reasons(d, nn("default", "p")))
				diff(t, tc.errMsg, d.Statuses[nn("default", "p")].Errors[0].Message)
				diff(t, 1, len(routes))
				return
			}
			diff(t, []string{"valid"}, reasons(d, nn("default", "p")))
			diff(t, tc.want, routes[0].InternalRedirect)
		})
	}
}

func TestSlowStartPolicy(t *testing.T) {
	tests := map[string]struct {
		strategy string
		in       contourv1.SlowStartPolicy
		want     *SlowStart
		errMsg   string
	}{
		"defaults":        {in: contourv1.SlowStartPolicy{Window: "10s"}, want: &SlowStart{Window: 10 * time.Second, Aggression: 1}},
		"every field":     {strategy: "WeightedLeastRequest", in: contourv1.SlowStartPolicy{Window: "1m", Aggression: "2.5", MinimumWeightPercent: 30}, want: &SlowStart{Window: time.Minute, Aggression: 2.5, MinWeightPercent: 30}},
		"random":          {strategy: "Random", in: contourv1.SlowStartPolicy{Window: "10s"}, errMsg: "slow start is only supported with RoundRobin or WeightedLeastRequest load balancer strategy"},
		"cookie":          {strategy: "Cookie", in: contourv1.SlowStartPolicy{Window: "10s"}, errMsg: "slow start is only supported with RoundRobin or WeightedLeastRequest load balancer strategy"},
		"bad window":      {in: contourv1.SlowStartPolicy{Window: "soon"}, errMsg: `error parsing window: time: invalid duration "soon" on slow start`},
		"bad aggression":  {in: contourv1.SlowStartPolicy{Window: "1s", Aggression: "lots"}, errMsg: `error parsing aggression: "lots" is not a decimal number on slow start`},
		"zero aggression": {in: contourv1.SlowStartPolicy{Window: "1s", Aggression: "0"}, errMsg: `aggression "0" must be greater than 0 on slow start`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := root("default", "p", "p.example.com", route("/", svcRef("kuard", 8080)), route("/slow", svcRef("kuard", 8080)))
			p.Spec.Routes[1].Services[0].SlowStartPolicy = &tc.in
			if tc.strategy != "" {
				p.Spec.Routes[1].LoadBalancerPolicy = &contourv1.LoadBalancerPolicy{Strategy: tc.strategy}
			}
			d := Build(objects(p, service("default", "kuard", 8080)), Config{})
			routes := d.HTTP[0].Routes
			if tc.errMsg != "" {
				diff(t, []string{"ServiceError/SlowStartInvalid"}, reasons(d, nn("default", "p")))
				diff(t, "routes[1]: services[0] (kuard): "+tc.errMsg, d.Statuses[nn("default", "p")].Errors[0].Message)
				diff(t, 1, len(routes))
				return
			}
			diff(t, []string{"valid"}, reasons(d, nn("default", "p")))
			slow, plain := routes[0].Clusters[0].Cluster, routes[1].Clusters[0].Cluster
			diff(t, tc.want, slow.SlowStart)
			// Distinct settings are distinct clusters.
			if slow.Name == plain.Name || plain.SlowStart != nil {
				t.Errorf("slow start cluster %s shares the name of %s", slow.Name, plain.Name)
			}
			diff(t, 2, len(d.Clusters))
		})
	}
}

func TestCookieRewritePolicies(t *testing.T) {
	tests := map[string]struct {
		in     []contourv1.CookieRewritePolicy
		want   []CookieRewrite
		errMsg string
	}{
		"every field, sorted by name": {
			in: []contourv1.CookieRewritePolicy{
				{Name: "session", PathRewrite: &contourv1.CookiePathRewrite{Value: "/"}, DomainRewrite: &contourv1.CookieDomainRewrite{Value: "example.com"},
					Secure: ptrTo(true), SameSite: ptrTo("Strict")},
				{Name: "a", Secure: ptrTo(false)},
			},
			want: []CookieRewrite{{Name: "a", Secure: ptrTo(false)},
				{Name: "session", Path: ptrTo("/"), Domain: ptrTo("example.com"), Secure: ptrTo(true), SameSite: ptrTo("Strict")}},
		},
		"duplicate":    {in: []contourv1.CookieRewritePolicy{{Name: "a", Secure: ptrTo(true)}, {Name: "a", Secure: ptrTo(false)}}, errMsg: `duplicate cookie rewrite rule for cookie "a"`},
		"nothing":      {in: []contourv1.CookieRewritePolicy{{Name: "a"}}, errMsg: `no attributes rewritten for cookie "a"`},
		"bad samesite": {in: []contourv1.CookieRewritePolicy{{Name: "a", SameSite: ptrTo("Loose")}}, errMsg: `invalid sameSite "Loose" for cookie "a": use Strict, Lax or None`},
		"bad domain":   {in: []contourv1.CookieRewritePolicy{{Name: "a", DomainRewrite: &contourv1.CookieDomainRewrite{Value: "a;b"}}}, errMsg: `invalid domain "a;b" for cookie "a"`},
		"bad path":     {in: []contourv1.CookieRewritePolicy{{Name: "a", PathRewrite: &contourv1.CookiePathRewrite{Value: "/;x"}}}, errMsg: `invalid path "/;x" for cookie "a"`},
		"bad name":     {in: []contourv1.CookieRewritePolicy{{Name: "a b", Secure: ptrTo(true)}}, errMsg: `invalid cookie name "a b"`},
	}
	for name, tc := range tests {
		t.Run("route: "+name, func(t *testing.T) {
			d, routes := twoRoutes("/c", func(r *contourv1.Route) { r.CookieRewritePolicies = tc.in })
			if tc.errMsg != "" {
				wantSecondRouteRefused(t, d, "RouteError/CookieRewritePoliciesInvalid", "routes[1]: "+tc.errMsg+" on route cookie rewrite rules")
				return
			}
			diff(t, tc.want, routes[0].CookieRewrites)
		})
		t.Run("service: "+name, func(t *testing.T) {
			d, routes := twoRoutes("/c", func(r *contourv1.Route) { r.Services[0].CookieRewritePolicies = tc.in })
			if tc.errMsg != "" {
				wantSecondRouteRefused(t, d, "RouteError/CookieRewritePoliciesInvalid", "routes[1]: services[0] (kuard): "+tc.errMsg+" on service cookie rewrite rules")
				return
			}
			diff(t, tc.want, routes[0].Clusters[0].CookieRewrites)
			// Cookie rules are no cluster setting: one cluster serves both.
			diff(t, routes[1].Clusters[0].Cluster, routes[0].Clusters[0].Cluster)
		})
	}
}

// A mirror's responses are discarded: its cookie rules are a warning.
func TestMirrorCookieRewriteWarns(t *testing.T) {
	m := svcRef("shadow", 8080)
	m.Mirror = true
	m.CookieRewritePolicies = []contourv1.CookieRewritePolicy{{Name: "a", Secure: ptrTo(true)}}
	p := root("default", "p", "p.example.com", route("/", svcRef("kuard", 8080), m))
	d := Build(objects(p, service("default", "kuard", 8080), service("default", "shadow", 8080)), Config{})
	ps := d.Statuses[nn("default", "p")]
	diff(t, true, ps.Valid())
	diff(t, []Condition{{Type: "ServiceError", Reason: "IgnoredField",
		Message: "routes[0]: services[1] (shadow): ignoring cookieRewritePolicies of a mirror, whose responses are discarded"}}, ps.Warnings)
}
