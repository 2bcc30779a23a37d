package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/test/netns"
)

// appBackend is an echo backend that also counts requests by method and
// path, answers ".../old" with a 302 to ".../new" on the same host, and
// sets two cookies on "/cookie".
func appBackend(name string, h *hits) http.Handler {
	echo := netns.EchoHandler(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.n[r.Method+" "+r.Host+r.URL.Path]++
		h.mu.Unlock()
		switch {
		case strings.HasSuffix(r.URL.Path, "/old"):
			w.Header().Set("Location", "http://"+r.Host+strings.TrimSuffix(r.URL.Path, "old")+"new")
			w.WriteHeader(http.StatusFound)
			return
		case strings.HasSuffix(r.URL.Path, "/cookie"):
			w.Header().Add("Set-Cookie", "session=abc; Path=/app; Domain=backend.local; HttpOnly; SameSite=None; Secure")
			w.Header().Add("Set-Cookie", "other=1; Path=/x")
		}
		echo.ServeHTTP(w, r)
	})
}

// request sends method host/path through Envoy's HTTP listener.
func (s *stack) request(method, host, path string, header http.Header) (response, error) {
	req, err := http.NewRequest(method, "http://"+s.httpAddr+path, nil)
	if err != nil {
		return response{}, err
	}
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	return s.do(req)
}

// wantHeaders checks that r has each header of want with that value ("" :
// absent).
func wantHeaders(r response, want map[string]string) error {
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			return fmt.Errorf("%s: %q, want %q (status %d, headers %v)", k, got, v, r.status, r.header)
		}
	}
	return nil
}

// TestTrafficPolicies sends requests through a real Envoy to proxies
// with corsPolicy, local rate limits, internalRedirectPolicy,
// slowStartPolicy and cookieRewritePolicies, one subtest each, sharing
// one replica and one Envoy.
func TestTrafficPolicies(t *testing.T) {
	s := newStack(t)
	app := newHits()
	s.addBackend(t, "app", appBackend("app", app))

	// Contour: internal/dag/httpproxy_processor.go (toCORSPolicy) and
	// internal/envoy/v3/route.go (corsPolicy): exact origins compared
	// without case, anything else a regex; Envoy's CORS filter answers
	// preflight requests itself.
	t.Run("cors", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "app", "app")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: cors}
spec:
  virtualhost:
    fqdn: cors.example.com
    corsPolicy:
      allowOrigin: ["https://www.example.com", "https://[a-z]+\\.trusted\\.example"]
      allowMethods: [GET, PUT]
      allowHeaders: [X-Custom]
      exposeHeaders: [X-Echo-Name]
      allowCredentials: true
      maxAge: 10m
  routes:
  - services: [{name: app, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: cors-any}
spec:
  virtualhost:
    fqdn: cors-any.example.com
    corsPolicy:
      allowOrigin: ["*"]
      allowMethods: [GET]
      maxAge: "0"
      allowPrivateNetwork: true
  routes:
  - services: [{name: app, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: cors-bad}
spec:
  virtualhost:
    fqdn: cors-bad.example.com
    corsPolicy:
      allowOrigin: ["*.example.com"]
      allowMethods: [GET]
  routes:
  - services: [{name: app, port: 80}]
`)
		preflight := func(host, origin string, extra http.Header) (response, error) {
			h := http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"PUT"}}
			for k, v := range extra {
				h[k] = v
			}
			return s.request(http.MethodOptions, host, "/preflight", h)
		}
		eventually(t, "a preflight from an allowed origin is answered by Envoy", func() error {
			r, err := preflight("cors.example.com", "https://www.example.com", nil)
			if err != nil {
				return err
			}
			if r.status != 200 {
				return fmt.Errorf("preflight answered %d %q", r.status, r.body)
			}
			return wantHeaders(r, map[string]string{
				"Access-Control-Allow-Origin":      "https://www.example.com",
				"Access-Control-Allow-Methods":     "GET,PUT",
				"Access-Control-Allow-Headers":     "X-Custom",
				"Access-Control-Max-Age":           "600",
				"Access-Control-Allow-Credentials": "true",
				"X-Echo-Name":                      "",
			})
		})
		eventually(t, "an origin matching the regex, in another case, is allowed", func() error {
			r, err := preflight("cors.example.com", "https://shop.trusted.example", nil)
			if err != nil {
				return err
			}
			return wantHeaders(r, map[string]string{"Access-Control-Allow-Origin": "https://shop.trusted.example"})
		})
		if n := app.get("OPTIONS cors.example.com/preflight"); n != 0 {
			t.Errorf("the backend got %d preflight requests, want 0", n)
		}
		eventually(t, "a simple GET from an allowed origin", func() error {
			r, err := s.get("cors.example.com", "/", http.Header{"Origin": {"HTTPS://WWW.EXAMPLE.COM"}})
			if err != nil {
				return err
			}
			if r.status != 200 || r.echo(t).Name != "app" {
				return fmt.Errorf("GET answered %d %q", r.status, r.body)
			}
			return wantHeaders(r, map[string]string{
				"Access-Control-Allow-Origin":      "HTTPS://WWW.EXAMPLE.COM",
				"Access-Control-Expose-Headers":    "X-Echo-Name",
				"Access-Control-Allow-Credentials": "true",
			})
		})
		eventually(t, "a GET from another origin gets no CORS header", func() error {
			r, err := s.get("cors.example.com", "/", http.Header{"Origin": {"https://evil.example"}})
			if err != nil {
				return err
			}
			if r.status != 200 {
				return fmt.Errorf("GET answered %d %q", r.status, r.body)
			}
			return wantHeaders(r, map[string]string{"Access-Control-Allow-Origin": ""})
		})
		eventually(t, "a preflight from another origin is not allowed", func() error {
			r, err := preflight("cors.example.com", "https://app.trusted.example.evil", nil)
			if err != nil {
				return err
			}
			return wantHeaders(r, map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""})
		})
		eventually(t, `"*", maxAge "0" and private network access`, func() error {
			r, err := s.request(http.MethodOptions, "cors-any.example.com", "/", http.Header{
				"Origin": {"https://anyone.example"}, "Access-Control-Request-Method": {"GET"},
				"Access-Control-Request-Private-Network": {"true"},
			})
			if err != nil {
				return err
			}
			return wantHeaders(r, map[string]string{
				"Access-Control-Allow-Origin":          "https://anyone.example",
				"Access-Control-Max-Age":               "0",
				"Access-Control-Allow-Private-Network": "true",
				"Access-Control-Allow-Credentials":     "",
			})
		})
		eventually(t, "an origin that is neither exact nor a regex", proxyError(ns, "cors-bad", "PolicyDidNotParse",
			`Spec.VirtualHost.CORSPolicy: invalid allowed origin "*.example.com": allowed origin is invalid exact match and invalid regex match`))
		eventually(t, "and its host is not served", s.expect(t, "cors-bad.example.com", "/", 404, ""))
	})

	// Contour: internal/dag/policy.go (localRateLimitPolicy) and
	// internal/envoy/v3/ratelimit.go: a token bucket of requests+burst,
	// refilled every unit, on the virtual host and, replacing it, on a
	// route; a global policy needs a rate limit service and stays refused.
	t.Run("local rate limit", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "app", "app")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: limited}
spec:
  virtualhost:
    fqdn: limited.example.com
    rateLimitPolicy:
      local:
        requests: 1
        unit: hour
        responseHeadersToAdd: [{name: x-limited-by, value: host}]
  routes:
  - services: [{name: app, port: 80}]
  - conditions: [{prefix: /route}]
    rateLimitPolicy:
      local:
        requests: 1
        burst: 1
        unit: hour
        responseStatusCode: 503
        responseHeadersToAdd: [{name: x-limited-by, value: route}]
    services: [{name: app, port: 80}]
  - conditions: [{prefix: /open}]
    rateLimitPolicy:
      local: {requests: 1000, unit: second}
    services: [{name: app, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: global}
spec:
  virtualhost:
    fqdn: global.example.com
  routes:
  - services: [{name: app, port: 80}]
  - conditions: [{prefix: /limited}]
    rateLimitPolicy:
      local: {requests: 1, unit: hour}
      global:
        descriptors: [{entries: [{remoteAddress: {}}]}]
    services: [{name: app, port: 80}]
`)
		limited := func(path string, status int, by string) func() error {
			return func() error {
				r, err := s.get("limited.example.com", path, nil)
				if err != nil {
					return err
				}
				if r.status != status {
					return fmt.Errorf("GET %s answered %d %q, want %d", path, r.status, r.body, status)
				}
				return wantHeaders(r, map[string]string{"X-Limited-By": by})
			}
		}
		// The first request takes the only token, the next is refused.
		eventually(t, "the virtual host's second request in the hour gets 429", limited("/", 429, "host"))
		// Its bucket holds requests+burst tokens: two pass, the third is
		// refused with the route's code and header.
		eventually(t, "the route's own limit replaces the host's", limited("/route", 503, "route"))
		if n := app.get("GET limited.example.com/route"); n != 2 {
			t.Errorf("the backend got %d requests for /route, want 2 (requests 1 + burst 1)", n)
		}
		for i := 0; i < 5; i++ {
			if err := limited("/open", 200, "")(); err != nil {
				t.Fatalf("a route with a generous limit, while the host's is spent: %v", err)
			}
		}
		// Without a rate limit service (--rate-limit-service), the global
		// part limits nothing, as in Contour; the local part beside it
		// still does: one request in the hour, then 429.
		eventually(t, "a route with local and global limits is served", s.expect(t, "global.example.com", "/limited", 200, "app"))
		eventually(t, "and its local limit applies", s.expect(t, "global.example.com", "/limited", 429, ""))
	})

	// Contour: internal/dag/httpproxy_processor.go (internalRedirectPolicy)
	// and internal/envoy/v3/route.go: Envoy follows the upstream's
	// redirect itself and the client gets the final answer.
	t.Run("internal redirect", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "app", "app")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: redirects}
spec:
  virtualhost:
    fqdn: redirects.example.com
  routes:
  - services: [{name: app, port: 80}]
  - conditions: [{prefix: /follow}]
    internalRedirectPolicy:
      maxInternalRedirects: 2
      redirectResponseCodes: [301, 302]
      allowCrossSchemeRedirect: SafeOnly
      denyRepeatedRouteRedirect: false
    services: [{name: app, port: 80}]
`)
		eventually(t, "the client gets the redirect target's answer", s.wantPath(t, "redirects.example.com", "/follow/old", "app", "/follow/new"))
		eventually(t, "without the policy the client gets the 302", func() error {
			r, err := s.get("redirects.example.com", "/plain/old", nil)
			if err != nil {
				return err
			}
			if r.status != 302 || r.header.Get("Location") != "http://redirects.example.com/plain/new" {
				return fmt.Errorf("answered %d, Location %q", r.status, r.header.Get("Location"))
			}
			return nil
		})
	})

	// Contour: internal/dag/httpproxy_processor.go (SlowStartInvalid) and
	// internal/envoy/v3/cluster.go (slowStartConfig).
	t.Run("slow start", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "app", "app")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: slow}
spec:
  virtualhost:
    fqdn: slow.example.com
  routes:
  - services: [{name: app, port: 80, slowStartPolicy: {window: 10s, aggression: "1.5", minWeightPercent: 20}}]
    loadBalancerPolicy: {strategy: WeightedLeastRequest}
  - conditions: [{prefix: /random}]
    loadBalancerPolicy: {strategy: Random}
    services: [{name: app, port: 80, slowStartPolicy: {window: 10s}}]
`)
		eventually(t, "a slow-start cluster serves", s.expect(t, "slow.example.com", "/", 200, "app"))
		eventually(t, "Envoy holds the cluster with its slow start", func() error {
			b, err := s.envoy.Admin("/config_dump?resource=dynamic_active_clusters")
			if err != nil {
				return err
			}
			var dump struct {
				Configs []struct {
					Cluster struct {
						Name                 string `json:"name"`
						LeastRequestLbConfig *struct {
							SlowStartConfig struct {
								Window     string `json:"slow_start_window"`
								Aggression struct {
									DefaultValue float64 `json:"default_value"`
								} `json:"aggression"`
								MinWeightPercent struct {
									Value float64 `json:"value"`
								} `json:"min_weight_percent"`
							} `json:"slow_start_config"`
						} `json:"least_request_lb_config"`
					} `json:"cluster"`
				} `json:"configs"`
			}
			if err := json.Unmarshal(b, &dump); err != nil {
				return err
			}
			for _, c := range dump.Configs {
				if !strings.HasPrefix(c.Cluster.Name, ns+"/app/80/") || c.Cluster.LeastRequestLbConfig == nil {
					continue
				}
				ss := c.Cluster.LeastRequestLbConfig.SlowStartConfig
				if ss.Window != "10s" || ss.Aggression.DefaultValue != 1.5 || ss.MinWeightPercent.Value != 20 {
					return fmt.Errorf("cluster %s: slow start %+v", c.Cluster.Name, ss)
				}
				return nil
			}
			return fmt.Errorf("no least-request cluster of %s/app in Envoy", ns)
		})
		eventually(t, "slow start with Random is refused", proxyError(ns, "slow", "SlowStartInvalid",
			"slow start is only supported with RoundRobin or WeightedLeastRequest load balancer strategy"))
	})

	// Contour rewrites Set-Cookie with a Lua filter (internal/envoy/v3/
	// route.go, cookieRewriteConfig): a service's rules are merged over
	// its route's.
	t.Run("cookie rewrite", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "app", "app")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: cookies}
spec:
  virtualhost:
    fqdn: cookies.example.com
  routes:
  - conditions: [{prefix: /route}]
    cookieRewritePolicies:
    - name: session
      pathRewrite: {value: /}
      domainRewrite: {value: cookies.example.com}
      secure: false
      sameSite: Strict
    services: [{name: app, port: 80}]
  - conditions: [{prefix: /service}]
    cookieRewritePolicies:
    - name: session
      pathRewrite: {value: /}
      sameSite: Strict
    services:
    - name: app
      port: 80
      cookieRewritePolicies:
      - name: session
        sameSite: Lax
      - name: other
        domainRewrite: {value: example.com}
`)
		cookies := func(path string, want ...string) func() error {
			return func() error {
				r, err := s.get("cookies.example.com", path, nil)
				if err != nil {
					return err
				}
				got := r.header.Values("Set-Cookie")
				if r.status != 200 || strings.Join(got, "\n") != strings.Join(want, "\n") {
					return fmt.Errorf("GET %s answered %d with Set-Cookie\n%s\nwant\n%s", path, r.status, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				return nil
			}
		}
		eventually(t, "a route's rules", cookies("/route/cookie",
			"session=abc; Path=/; Domain=cookies.example.com; HttpOnly; SameSite=Strict",
			"other=1; Path=/x"))
		eventually(t, "a service's rules merged over the route's", cookies("/service/cookie",
			"session=abc; Path=/; Domain=backend.local; HttpOnly; SameSite=Lax; Secure",
			"other=1; Path=/x; Domain=example.com"))
	})
}
