package e2e

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
)

// hits counts the requests a backend got, by Host and by Host plus path.
type hits struct {
	mu sync.Mutex
	n  map[string]int
}

func newHits() *hits { return &hits{n: map[string]int{}} }

// handler counts each request, then answers status with the header
// X-Echo-Name: name (so a test tells its answers from Envoy's own).
func (h *hits) handler(name string, status int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.n[r.Host]++
		h.n[r.Host+r.URL.Path]++
		h.mu.Unlock()
		w.Header().Set("X-Echo-Name", name)
		w.WriteHeader(status)
		fmt.Fprintf(w, "%s answered %d\n", name, status)
	})
}

func (h *hits) get(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[key]
}

// wantPath is a check that GET host/path (on HTTP) reaches backend with
// the path backendPath.
func (s *stack) wantPath(t *testing.T, host, path, backendName, backendPath string) func() error {
	return func() error {
		r, err := s.get(host, path, nil)
		if err != nil {
			return err
		}
		if r.status != 200 {
			return fmt.Errorf("GET %s%s = %d %q", host, path, r.status, r.body)
		}
		if e := r.echo(t); e.Name != backendName || e.Path != backendPath {
			return fmt.Errorf("GET %s%s reached %s with path %q, want %s with %q", host, path, e.Name, e.Path, backendName, backendPath)
		}
		return nil
	}
}

// TestParityRoutes checks, through a real Envoy, routing and listener
// behaviours where proxyctl follows Contour: one subtest per behaviour,
// sharing one replica and one Envoy.
func TestParityRoutes(t *testing.T) {
	s := newStack(t, "echo-a", "echo-b")
	flaky := newHits()
	s.addBackend(t, "flaky", flaky.handler("flaky", http.StatusServiceUnavailable))
	shadow := newHits()
	s.addBackend(t, "shadow", shadow.handler("shadow", http.StatusOK))
	ca := newTestCA(t)

	// Contour: a wildcard fqdn matches exactly one DNS label
	// (internal/dag/httpproxy_processor.go adds an :authority regex).
	t.Run("wildcard fqdn matches one label", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "web", "echo-a")
		cert, key := ca.issue(t, "*.wildtls.example.com")
		tlsSecret(t, ns, "wild-cert", cert, key)
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: wild}
spec:
  virtualhost: {fqdn: "*.wild.example.com"}
  routes:
  - services: [{name: web, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: wildtls}
spec:
  virtualhost:
    fqdn: "*.wildtls.example.com"
    tls: {secretName: wild-cert}
  routes:
  - services: [{name: web, port: 80}]
`)
		eventually(t, "one label", s.expect(t, "foo.wild.example.com", "/", 200, "echo-a"))
		eventually(t, "one label with a port", s.expect(t, "foo.wild.example.com:8080", "/", 200, "echo-a"))
		eventually(t, "two labels", s.expect(t, "bar.foo.wild.example.com", "/", 404, ""))
		eventually(t, "two labels with a port", s.expect(t, "bar.foo.wild.example.com:8080", "/", 404, ""))
		eventually(t, "the bare domain", s.expect(t, "wild.example.com", "/", 404, ""))

		eventually(t, "HTTPS, one label", func() error {
			r, err := s.getTLS("foo.wildtls.example.com", "/", ca.clientConfig())
			if err != nil {
				return err
			}
			if r.status != 200 || r.echo(t).Name != "echo-a" {
				return fmt.Errorf("answered %d %q", r.status, r.body)
			}
			return nil
		})
		eventually(t, "HTTPS, one label and a port", func() error {
			r, err := s.getTLSAs("foo.wildtls.example.com", "foo.wildtls.example.com:8443", "/", ca.clientConfig(), nil)
			if err != nil {
				return err
			}
			if r.status != 200 || r.echo(t).Name != "echo-a" {
				return fmt.Errorf("answered %d %q", r.status, r.body)
			}
			return nil
		})
		// Envoy's server_names "*.wildtls.example.com" also selects the
		// chain for a two-label SNI (the certificate does not cover it,
		// hence no verification here); the request is then not routed,
		// as with Contour.
		eventually(t, "HTTPS, two labels", func() error {
			insecure := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // the certificate cannot cover this name
			r, err := s.getTLSAs("bar.foo.wildtls.example.com", "bar.foo.wildtls.example.com", "/", insecure, nil)
			if err != nil {
				return err
			}
			if r.status != 404 {
				return fmt.Errorf("answered %d %q, want 404", r.status, r.body)
			}
			return nil
		})

		// The HTTP listener selects a route configuration per Host (scoped
		// RDS): an exact host under a wildcard still wins over it, as
		// Envoy's virtual host matching decides, a Host in capitals is the
		// same host, and the scope header a client sends is ignored.
		s.service(t, ns, "exact", "echo-b")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: exact}
spec:
  virtualhost: {fqdn: "exact.wild.example.com"}
  routes:
  - services: [{name: exact, port: 80}]
`)
		eventually(t, "exact host under the wildcard", s.expect(t, "exact.wild.example.com", "/", 200, "echo-b"))
		eventually(t, "the wildcard beside it", s.expect(t, "other.wild.example.com", "/", 200, "echo-a"))
		eventually(t, "Host in capitals", s.expect(t, "EXACT.Wild.Example.COM:8080", "/", 200, "echo-b"))
		eventually(t, "a client's scope header", func() error {
			r, err := s.get("nothing.example.org", "/", http.Header{"X-Proxyctl-Scope": {"exact.wild.example.com"}})
			if err != nil {
				return err
			}
			if r.status != 404 {
				return fmt.Errorf("answered %d %q, want 404", r.status, r.body)
			}
			return nil
		})
	})

	// Contour expands %CONTOUR_NAMESPACE%, %CONTOUR_SERVICE_NAME% and
	// %CONTOUR_SERVICE_PORT%, lets a list of Envoy operators through,
	// escapes every other '%', and takes Host: %REQ(x)% as a host rewrite
	// from that header (internal/dag/policy.go).
	t.Run("dynamic headers and host from a request header", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "web", "echo-a")
		cert, key := ca.issue(t, "dynamic-tls.example.com")
		tlsSecret(t, ns, "dynamic-cert", cert, key)
		routes := `
  routes:
  - services:
    - name: web
      port: 80
      requestHeadersPolicy:
        set: [{name: X-Svc, value: "%CONTOUR_SERVICE_NAME%:%CONTOUR_SERVICE_PORT%"}]
      responseHeadersPolicy:
        set: [{name: X-Svc-Ns, value: "%CONTOUR_NAMESPACE%/%CONTOUR_SERVICE_NAME%"}]
    requestHeadersPolicy:
      set:
      - {name: X-Ns, value: "%CONTOUR_NAMESPACE%"}
      - {name: X-Route-Svc, value: "%CONTOUR_SERVICE_NAME%"}
      - {name: X-Client, value: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}
      - {name: X-Node, value: "%HOSTNAME%"}
      - {name: X-Copy, value: "%REQ(x-foo)%"}
      - {name: X-Literal, value: "100% %START_TIME% %NOT_AN_OPERATOR%"}
      - {name: Host, value: "%REQ(x-foo)%"}
    responseHeadersPolicy:
      set: [{name: X-Ns, value: "%CONTOUR_NAMESPACE%"}]
`
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: dynamic}
spec:
  virtualhost: {fqdn: dynamic.example.com}`+routes+`---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: dynamic-tls}
spec:
  virtualhost:
    fqdn: dynamic-tls.example.com
    tls: {secretName: dynamic-cert}`+routes)
		hostname, err := os.Hostname()
		if err != nil {
			t.Fatal(err)
		}
		check := func(r response, err error) error {
			if err != nil {
				return err
			}
			if r.status != 200 {
				return fmt.Errorf("answered %d %q", r.status, r.body)
			}
			e := r.echo(t)
			for name, want := range map[string]string{
				"X-Ns":        ns,
				"X-Svc":       "web:80",
				"X-Route-Svc": "%CONTOUR_SERVICE_NAME%",
				"X-Client":    "127.0.0.1",
				"X-Node":      hostname,
				"X-Copy":      "upstream.internal",
				"X-Literal":   "100% %START_TIME% %NOT_AN_OPERATOR%",
			} {
				if got := e.Headers.Get(name); got != want {
					return fmt.Errorf("backend got %s: %q, want %q (all: %v)", name, got, want, e.Headers)
				}
			}
			if e.Host != "upstream.internal" {
				return fmt.Errorf("backend got Host %q, want it from x-foo", e.Host)
			}
			if got := r.header.Get("X-Ns"); got != ns {
				return fmt.Errorf("response X-Ns %q, want %q", got, ns)
			}
			if got, want := r.header.Get("X-Svc-Ns"), ns+"/web"; got != want {
				return fmt.Errorf("response X-Svc-Ns %q, want %q", got, want)
			}
			return nil
		}
		foo := http.Header{"X-Foo": {"upstream.internal"}}
		eventually(t, "HTTP", func() error { return check(s.get("dynamic.example.com", "/", foo)) })
		eventually(t, "HTTPS", func() error {
			return check(s.getTLSAs("dynamic-tls.example.com", "dynamic-tls.example.com", "/", ca.clientConfig(), foo))
		})
	})

	// Contour's default (disableMergeSlashes false): Envoy's HCM
	// merge_slashes.
	t.Run("repeated slashes are merged", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "foo", "echo-a")
		s.service(t, ns, "rest", "echo-b")
		apply(t, ns, slashesProxy)
		eventually(t, "//foo//bar", s.wantPath(t, "slashes.example.com", "//foo//bar", "echo-a", "/foo/bar"))
		eventually(t, "//foo", s.wantPath(t, "slashes.example.com", "//foo", "echo-a", "/foo"))
	})

	// Contour answers 421 on the HTTPS listener when the Host is not the
	// SNI (FilterMisdirectedRequests in internal/envoy/v3/listener.go).
	t.Run("misdirected request is 421", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "a", "echo-a")
		s.service(t, ns, "b", "echo-b")
		for _, h := range []string{"a", "b"} {
			cert, key := ca.issue(t, h+".mis.example.com")
			tlsSecret(t, ns, h+"-cert", cert, key)
			apply(t, ns, fmt.Sprintf(`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: %[1]s}
spec:
  virtualhost:
    fqdn: %[1]s.mis.example.com
    tls: {secretName: %[1]s-cert}
  routes:
  - services: [{name: %[1]s, port: 80}]
`, h))
		}
		for _, h := range []string{"a", "b"} {
			eventually(t, h+" served", func() error {
				r, err := s.getTLS(h+".mis.example.com", "/", ca.clientConfig())
				if err != nil {
					return err
				}
				if r.status != 200 || r.echo(t).Name != "echo-"+h {
					return fmt.Errorf("answered %d %q", r.status, r.body)
				}
				return nil
			})
		}
		for _, c := range []struct{ host string }{{"b.mis.example.com"}, {"B.mis.example.com:8443"}, {"other.example.com"}} {
			eventually(t, "SNI a, Host "+c.host, func() error {
				r, err := s.getTLSAs("a.mis.example.com", c.host, "/", ca.clientConfig(), nil)
				if err != nil {
					return err
				}
				if r.status != http.StatusMisdirectedRequest {
					return fmt.Errorf("answered %d %q, want 421", r.status, r.body)
				}
				return nil
			})
		}
		eventually(t, "SNI a, Host A.mis.example.com:8443", func() error {
			r, err := s.getTLSAs("a.mis.example.com", "A.mis.example.com:8443", "/", ca.clientConfig(), nil)
			if err != nil {
				return err
			}
			if r.status != 200 || r.echo(t).Name != "echo-a" {
				return fmt.Errorf("answered %d %q", r.status, r.body)
			}
			return nil
		})
	})

	// Contour: count -1 is no retry, unset (or 0, 1) is one; Envoy's own
	// default for an unset num_retries is 1 (internal/dag/policy.go and
	// internal/envoy/v3/route.go).
	t.Run("retry counts", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "flaky", "flaky")
		for name, policy := range map[string]string{"retry-off": "{count: -1}", "retry-default": "{}", "retry-two": "{count: 2}"} {
			apply(t, ns, fmt.Sprintf(`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: %[1]s}
spec:
  virtualhost: {fqdn: %[1]s.example.com}
  routes:
  - services: [{name: flaky, port: 80}]
    retryPolicy: %[2]s
`, name, policy))
		}
		for host, attempts := range map[string]int{"retry-off.example.com": 1, "retry-default.example.com": 2, "retry-two.example.com": 3} {
			// Wait for the route: a 503 from the backend itself.
			eventually(t, host+" routed", func() error {
				r, err := s.get(host, "/warm", nil)
				if err != nil {
					return err
				}
				if r.status != 503 || r.header.Get("X-Echo-Name") != "flaky" {
					return fmt.Errorf("answered %d %q", r.status, r.body)
				}
				return nil
			})
			for i := range 3 {
				path := fmt.Sprintf("/attempt-%d", i)
				r, err := s.get(host, path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if r.status != 503 {
					t.Fatalf("%s%s answered %d %q", host, path, r.status, r.body)
				}
				// Envoy answers after its last attempt: the count is final.
				if got := flaky.get(host + path); got != attempts {
					t.Errorf("%s: the backend saw %d attempts, want %d", host, got, attempts)
				}
			}
		}
	})

	// Contour mirrors weight% of requests, all of them when the weight is
	// unset (internal/dag/httpproxy_processor.go; runtime_fraction in
	// internal/envoy/v3/route.go).
	t.Run("mirror honours weight", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "main", "echo-a")
		s.service(t, ns, "shadow", "shadow")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: mirror-all}
spec:
  virtualhost: {fqdn: mirror-all.example.com}
  routes:
  - services:
    - {name: main, port: 80}
    - {name: shadow, port: 80, mirror: true}
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: mirror-some}
spec:
  virtualhost: {fqdn: mirror-some.example.com}
  routes:
  - services:
    - {name: main, port: 80}
    - {name: shadow, port: 80, mirror: true, weight: 20}
`)
		// Envoy sends a mirrored request with "-shadow" added to the Host.
		eventually(t, "mirror-all routed and mirrored", func() error {
			if err := s.expect(t, "mirror-all.example.com", "/warm", 200, "echo-a")(); err != nil {
				return err
			}
			if shadow.get("mirror-all.example.com-shadow/warm") == 0 {
				return fmt.Errorf("nothing mirrored yet")
			}
			return nil
		})
		eventually(t, "mirror-some routed", s.expect(t, "mirror-some.example.com", "/warm", 200, "echo-a"))

		send := func(host string, n int) {
			for range n {
				r, err := s.get(host, "/measure", nil)
				if err != nil || r.status != 200 {
					t.Fatalf("%s: %v %d %q", host, err, r.status, r.body)
				}
			}
		}
		const n = 200
		send("mirror-all.example.com", n)
		send("mirror-some.example.com", n)
		// Mirrored requests are sent alongside the main ones and may still
		// be on their way: wait until every one Envoy sent to the shadow
		// cluster has arrived and none is in flight.
		eventually(t, "mirrored requests arrived", func() error {
			stats, err := s.envoy.Stats()
			if err != nil {
				return err
			}
			sent, active := int64(0), int64(0)
			prefix := "cluster." + ns + "_shadow_"
			for k, v := range stats {
				if !strings.HasPrefix(k, prefix) {
					continue
				}
				switch {
				case strings.HasSuffix(k, ".upstream_rq_total"):
					sent += v
				case strings.HasSuffix(k, ".upstream_rq_active"), strings.HasSuffix(k, ".upstream_rq_pending_active"):
					active += v
				}
			}
			got := int64(shadow.get("mirror-all.example.com-shadow") + shadow.get("mirror-some.example.com-shadow"))
			if sent == 0 || active != 0 || got != sent {
				return fmt.Errorf("Envoy sent %d to the shadow (%d in flight), the shadow got %d", sent, active, got)
			}
			return nil
		})
		if got := shadow.get("mirror-all.example.com-shadow/measure"); got != n {
			t.Errorf("unset weight mirrored %d of %d requests, want all", got, n)
		}
		// 20% of 200 is 40, with a standard deviation of 5.7: accept
		// about 4 of them either way.
		got := shadow.get("mirror-some.example.com-shadow/measure")
		if got < 17 || got > 63 {
			t.Errorf("weight 20 mirrored %d of %d requests, want about 40", got, n)
		}
		t.Logf("weight 20 mirrored %d of %d requests", got, n)
	})

	// Contour serves a rewriting prefix route as "/p" and "/p/" so Envoy's
	// string replacement makes neither "//x" nor "/barx"
	// (expandPrefixMatches in internal/dag/httpproxy_processor.go).
	t.Run("replacePrefix and the trailing slash", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "web", "echo-a")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: rewrites}
spec:
  virtualhost: {fqdn: rewrites.example.com}
  routes:
  - conditions: [{prefix: /foo}]
    pathRewritePolicy: {replacePrefix: [{replacement: /}]}
    services: [{name: web, port: 80}]
  - conditions: [{prefix: /app/}]
    pathRewritePolicy: {replacePrefix: [{replacement: /bar}]}
    services: [{name: web, port: 80}]
`)
		for path, want := range map[string]string{
			"/foo": "/", "/foo/": "/", "/foo/x": "/x", "/foo/x/y": "/x/y",
			"/app": "/bar", "/app/": "/bar/", "/app/x": "/bar/x",
		} {
			eventually(t, path, s.wantPath(t, "rewrites.example.com", path, "echo-a", want))
		}
	})
}

// TestParityMergeSlashesDisabled: with --disable-merge-slashes (Contour's
// disableMergeSlashes) the path reaches routing and the backend as sent.
func TestParityMergeSlashesDisabled(t *testing.T) {
	s := newStackArgs(t, []string{"--disable-merge-slashes"}, "echo-a", "echo-b")
	ns := kube.NewNamespace(t)
	s.service(t, ns, "foo", "echo-a")
	s.service(t, ns, "rest", "echo-b")
	apply(t, ns, slashesProxy)
	eventually(t, "/foo/bar", s.wantPath(t, "slashes.example.com", "/foo/bar", "echo-a", "/foo/bar"))
	eventually(t, "//foo//bar", s.wantPath(t, "slashes.example.com", "//foo//bar", "echo-b", "//foo//bar"))
}

// slashesProxy sends /foo to Service foo and the rest to Service rest.
const slashesProxy = `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: slashes}
spec:
  virtualhost: {fqdn: slashes.example.com}
  routes:
  - conditions: [{prefix: /foo}]
    services: [{name: foo, port: 80}]
  - services: [{name: rest, port: 80}]
`
