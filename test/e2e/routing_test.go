package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// TestRouting sends real HTTP through a real Envoy configured by proxyctl,
// one scenario per HTTPProxy feature. The scenarios share one replica and
// one Envoy; each works in namespaces and on an fqdn of its own.
func TestRouting(t *testing.T) {
	s := newStack(t, "echo-a", "echo-b")

	t.Run("prefix and exact", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "svc-a", "echo-a")
		s.service(t, ns, "svc-b", "echo-b")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: paths}
spec:
  virtualhost: {fqdn: paths.example.com}
  routes:
  - conditions: [{prefix: /}]
    services: [{name: svc-a, port: 80}]
  - conditions: [{exact: /exact}]
    services: [{name: svc-b, port: 80}]
  - conditions: [{prefix: /b}]
    services: [{name: svc-b, port: 80}]
`)
		eventually(t, "exact match", s.expect(t, "paths.example.com", "/exact", 200, "echo-b"))
		eventually(t, "exact does not match longer paths", s.expect(t, "paths.example.com", "/exact/more", 200, "echo-a"))
		eventually(t, "longer prefix wins", s.expect(t, "paths.example.com", "/b/anything", 200, "echo-b"))
		eventually(t, "root prefix", s.expect(t, "paths.example.com", "/", 200, "echo-a"))
	})

	// Envoy refuses a whole route configuration, every tenant's, over one
	// regex whose RE2 program is above its limit (100 by default, which a
	// UUID path segment already exceeds). proxyctl's bootstrap raises the
	// limit, and the DAG refuses a regex that may exceed even that, on the
	// proxy that wrote it.
	t.Run("regex routes past Envoy's default limit, and one too complex", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "svc-a", "echo-a")
		s.service(t, ns, "svc-b", "echo-b")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: users}
spec:
  virtualhost: {fqdn: regex.example.com}
  routes:
  - services: [{name: svc-a, port: 80}]
  - conditions: [{regex: "^/users/[0-9a-f-]{36}$"}]
    services: [{name: svc-b, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: greedy}
spec:
  virtualhost: {fqdn: greedy.example.com}
  routes:
  - conditions: [{regex: "/[a-z0-9]{1,500}"}]
    services: [{name: svc-b, port: 80}]
  - services: [{name: svc-a, port: 80}]
`)
		eventually(t, "a UUID path by regex", s.expect(t, "regex.example.com", "/users/0b7c2a3e-5f1d-4c8e-9a6b-1d2e3f4a5b6c", 200, "echo-b"))
		eventually(t, "other paths", s.expect(t, "regex.example.com", "/users/me", 200, "echo-a"))
		eventually(t, "the proxy with the refused regex keeps its other route", s.expect(t, "greedy.example.com", "/abc", 200, "echo-a"))
		proxies := versioned.NewForConfigOrDie(kube.RESTConfig()).ProjectcontourV1().HTTPProxies(ns)
		eventually(t, "greedy is invalid for its regex", func() error {
			p, err := proxies.Get(context.Background(), "greedy", metav1.GetOptions{})
			if err != nil {
				return err
			}
			for _, c := range p.Status.Conditions {
				for _, e := range c.Errors {
					if e.Reason == contourv1.ReasonPathMatchConditionsNotValid && strings.Contains(e.Message, "too complex") {
						return nil
					}
				}
			}
			return fmt.Errorf("greedy shows %q %+v", p.Status.CurrentStatus, p.Status.Conditions)
		})
	})

	t.Run("unknown host is 404", func(t *testing.T) {
		eventually(t, "unknown host", s.expect(t, "nobody.example.com", "/", 404, ""))
	})

	t.Run("header condition", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "stable", "echo-a")
		s.service(t, ns, "canary", "echo-b")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: headers}
spec:
  virtualhost: {fqdn: headers.example.com}
  routes:
  - services: [{name: stable, port: 80}]
  - conditions: [{header: {name: x-canary, exact: "true"}}]
    services: [{name: canary, port: 80}]
`)
		eventually(t, "without the header", s.expect(t, "headers.example.com", "/", 200, "echo-a"))
		eventually(t, "with the header", func() error {
			r, err := s.get("headers.example.com", "/", http.Header{"X-Canary": {"true"}})
			if err != nil {
				return err
			}
			if r.status != 200 || r.echo(t).Name != "echo-b" {
				return fmt.Errorf("x-canary: true answered %d by %q", r.status, r.body)
			}
			return nil
		})
	})

	t.Run("weighted split", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "main", "echo-a")
		s.service(t, ns, "next", "echo-b")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: split}
spec:
  virtualhost: {fqdn: split.example.com}
  routes:
  - services:
    - {name: main, port: 80, weight: 80}
    - {name: next, port: 80, weight: 20}
`)
		// Wait until both backends have answered once, so the config is in.
		seen := map[string]bool{}
		eventually(t, "both backends answer", func() error {
			r, err := s.get("split.example.com", "/", nil)
			if err != nil {
				return err
			}
			if r.status == 200 {
				seen[r.echo(t).Name] = true
			}
			if !seen["echo-a"] || !seen["echo-b"] {
				return fmt.Errorf("seen %v", seen)
			}
			return nil
		})
		const n = 400
		counts := map[string]int{}
		for range n {
			r, err := s.get("split.example.com", "/", nil)
			if err != nil || r.status != 200 {
				t.Fatalf("request failed: %v %d", err, r.status)
			}
			counts[r.echo(t).Name]++
		}
		// 20% of 400 is 80, with a standard deviation of 8: accept 4 of them.
		if b := counts["echo-b"]; b < 48 || b > 112 {
			t.Fatalf("weight 20 of 100 got %d of %d requests (%v)", b, n, counts)
		}
		t.Logf("weighted 80/20 split over %d requests: %v", n, counts)
	})

	t.Run("missing service is 503, siblings still route", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "present", "echo-a")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: missing}
spec:
  virtualhost: {fqdn: missing.example.com}
  routes:
  - conditions: [{prefix: /gone}]
    services: [{name: absent, port: 80}]
  - services: [{name: present, port: 80}]
`)
		eventually(t, "missing service", s.expect(t, "missing.example.com", "/gone", 503, ""))
		eventually(t, "sibling route", s.expect(t, "missing.example.com", "/here", 200, "echo-a"))
	})

	t.Run("include from another namespace", func(t *testing.T) {
		root := kube.NewNamespace(t)
		team := kube.NewNamespace(t)
		s.service(t, root, "site", "echo-a")
		s.service(t, team, "blog", "echo-b")
		apply(t, team, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: blog}
spec:
  routes:
  - services: [{name: blog, port: 80}]
`)
		apply(t, root, fmt.Sprintf(`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: site}
spec:
  virtualhost: {fqdn: include.example.com}
  includes:
  - name: blog
    namespace: %s
    conditions: [{prefix: /blog}]
  - name: nowhere
    conditions: [{prefix: /lost}]
  routes:
  - services: [{name: site, port: 80}]
`, team))
		eventually(t, "included route", s.expect(t, "include.example.com", "/blog/post", 200, "echo-b"))
		eventually(t, "root route", s.expect(t, "include.example.com", "/about", 200, "echo-a"))
		eventually(t, "missing include is 502", s.expect(t, "include.example.com", "/lost", 502, ""))
	})

	t.Run("prefix rewrite", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "api", "echo-a")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: rewrite}
spec:
  virtualhost: {fqdn: rewrite.example.com}
  routes:
  - conditions: [{prefix: /api}]
    pathRewritePolicy:
      replacePrefix: [{prefix: /api, replacement: /v2}]
    services: [{name: api, port: 80}]
`)
		eventually(t, "rewritten path", func() error {
			r, err := s.get("rewrite.example.com", "/api/users", nil)
			if err != nil {
				return err
			}
			if r.status != 200 {
				return fmt.Errorf("status %d", r.status)
			}
			if p := r.echo(t).Path; p != "/v2/users" {
				return fmt.Errorf("backend saw path %q, want /v2/users", p)
			}
			return nil
		})
	})

	t.Run("header policies", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "web", "echo-a")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: policies}
spec:
  virtualhost: {fqdn: policies.example.com}
  routes:
  - services: [{name: web, port: 80}]
    requestHeadersPolicy:
      set: [{name: X-Added, value: "yes"}]
      remove: [X-Secret]
    responseHeadersPolicy:
      set: [{name: X-Served-By, value: proxyctl}]
      remove: [X-Echo-Name]
`)
		eventually(t, "header policies", func() error {
			r, err := s.get("policies.example.com", "/", http.Header{"X-Secret": {"hunter2"}})
			if err != nil {
				return err
			}
			if r.status != 200 {
				return fmt.Errorf("status %d", r.status)
			}
			e := r.echo(t)
			switch {
			case e.Headers.Get("X-Added") != "yes":
				return fmt.Errorf("request header not set: %v", e.Headers)
			case e.Headers.Get("X-Secret") != "":
				return fmt.Errorf("request header not removed: %v", e.Headers)
			case r.header.Get("X-Served-By") != "proxyctl":
				return fmt.Errorf("response header not set: %v", r.header)
			case r.header.Get("X-Echo-Name") != "":
				return fmt.Errorf("response header not removed: %v", r.header)
			}
			return nil
		})
	})
}
