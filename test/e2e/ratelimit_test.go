package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/test/ratelimit"
)

// rateLimitConfig is the real rate limit service's configuration of the
// domain proxyctl sends (contour, the default): the limits of the
// descriptors the proxies below generate.
const rateLimitConfig = `
domain: contour
descriptors:
  - key: generic_key
    value: per-minute
    rate_limit: {unit: minute, requests_per_unit: 3}
  - key: tenant
    rate_limit: {unit: minute, requests_per_unit: 2}
  - key: header_match
    value: bots
    rate_limit: {unit: minute, requests_per_unit: 1}
  - key: header_match
    value: external
    rate_limit: {unit: minute, requests_per_unit: 1}
  - key: remote_address
    rate_limit: {unit: minute, requests_per_unit: 1}
`

// rateLimitStack is a stack whose proxyctl has --rate-limit-service
// naming an ExtensionService of namespace ns, in front of the real rate
// limit service (with Redis) running in the stack's network namespace.
// The ExtensionService exists before proxyctl starts: proxyctl reads it
// at start-up, as Contour does.
func rateLimitStack(t *testing.T, serveArgs ...string) (*stack, string, *ratelimit.Service) {
	t.Helper()
	ns := kube.NewNamespace(t)
	apply(t, ns, `
apiVersion: projectcontour.io/v1alpha1
kind: ExtensionService
metadata: {name: ratelimit}
spec:
  protocol: h2c
  services: [{name: ratelimit, port: 80}]
  # Envoy's default, 20ms, is short for a test machine that is busy.
  timeoutPolicy: {response: 5s}
`)
	s := newStackArgs(t, append([]string{"--rate-limit-service", ns + "/ratelimit"}, serveArgs...), "echo-a")
	// Envoy takes the filter while its cluster does not exist (the
	// ExtensionService's Service is created below, so it is invalid and
	// has none): a missing service is left to the failure mode, it never
	// makes Envoy refuse the listener.
	eventually(t, "the rate limit filter before its cluster", func() error {
		dump, err := s.envoy.ConfigDump()
		if err != nil {
			return err
		}
		stats, err := s.envoy.Stats()
		if err != nil {
			return err
		}
		if n := stats["listener_manager.lds.update_rejected"]; n != 0 {
			t.Fatalf("Envoy rejected %d listener updates", n)
		}
		for name := range stats {
			if strings.HasPrefix(name, "cluster.extension_"+ns+"_ratelimit.") {
				t.Fatalf("the cluster exists already (%s): nothing to prove", name)
			}
		}
		if !bytes.Contains(dump, []byte(`"envoy.filters.http.ratelimit"`)) {
			return fmt.Errorf("no rate limit filter in Envoy's listeners yet")
		}
		return nil
	})
	rl := ratelimit.Start(t, s.net, rateLimitConfig)
	ip, port := rl.Addr()
	backendService(t, ns, "ratelimit", ip, port)
	s.service(t, ns, "app", "echo-a")
	return s, ns, rl
}

// inOneMinute runs check on counters flushed to zero. The service counts
// per calendar minute: when a minute boundary passed while check ran,
// a failure may be the new minute's fresh counters, and check runs once
// more.
func inOneMinute(t *testing.T, rl *ratelimit.Service, what string, check func() error) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		if err := rl.Flush(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := check()
		if err == nil {
			return
		}
		if attempt == 2 || start.Truncate(time.Minute).Equal(time.Now().Truncate(time.Minute)) {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s: %v; a minute boundary passed, once more", what, err)
	}
}

// statuses sends GET host/path n times with header and returns the
// statuses and the last response.
func (s *stack) statuses(host, path string, header http.Header, n int) ([]int, response, error) {
	var codes []int
	var last response
	for range n {
		r, err := s.get(host, path, header)
		if err != nil {
			return codes, last, err
		}
		codes, last = append(codes, r.status), r
	}
	return codes, last, nil
}

// wantStatuses checks that GET host/path answers want, in order.
func (s *stack) wantStatuses(host, path string, header http.Header, want ...int) error {
	got, _, err := s.statuses(host, path, header, len(want))
	if err != nil {
		return err
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("%s%s %v: statuses %v, want %v", host, path, header, got, want)
	}
	return nil
}

// TestGlobalRateLimiting sends requests through a real Envoy whose
// global rate limit filter asks the real envoyproxy/ratelimit service,
// backed by a real Redis.
//
// Contour: internal/dag/httpproxy_processor.go (rateLimitPolicy,
// globalRateLimitPolicy, rateLimitPerRoute), internal/envoy/v3/ratelimit.go
// (GlobalRateLimits, GlobalRateLimitFilter), pkg/config/parameters.go
// (RateLimitService) and site/content/docs/main/config/rate-limiting.md.
func TestGlobalRateLimiting(t *testing.T) {
	s, ns, rl := rateLimitStack(t, "--rate-limit-x-ratelimit-headers")
	apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: global}
spec:
  virtualhost:
    fqdn: global.example.com
    rateLimitPolicy:
      global:
        descriptors:
        - entries: [{genericKey: {value: per-minute}}]
  routes:
  - services: [{name: app, port: 80}]
  - conditions: [{prefix: /free}]
    rateLimitPolicy: {global: {disabled: true}}
    services: [{name: app, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: tenants}
spec:
  virtualhost: {fqdn: tenants.example.com}
  routes:
  - services: [{name: app, port: 80}]
    rateLimitPolicy:
      global:
        descriptors:
        - entries: [{requestHeader: {headerName: X-Tenant, descriptorKey: tenant}}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: bots}
spec:
  virtualhost:
    fqdn: bots.example.com
    rateLimitPolicy:
      global:
        descriptors:
        - entries:
          - requestHeaderValueMatch:
              headers: [{name: User-Agent, contains: bot, ignoreCase: true}]
              value: bots
  routes:
  - services: [{name: app, port: 80}]
  - conditions: [{prefix: /external}]
    services: [{name: app, port: 80}]
    rateLimitPolicy:
      global:
        descriptors:
        - entries:
          - requestHeaderValueMatch:
              headers: [{name: X-Internal, exact: "yes"}]
              expectMatch: false
              value: external
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: clients}
spec:
  virtualhost:
    fqdn: clients.example.com
    rateLimitPolicy:
      global:
        descriptors:
        - entries: [{remoteAddress: {}}]
  routes:
  - services: [{name: app, port: 80}]
`)
	// Served once the route is there and Envoy reaches the service (with
	// fail-open off, a service it cannot reach answers 500).
	for _, host := range []string{"global.example.com", "tenants.example.com", "bots.example.com", "clients.example.com"} {
		eventually(t, host+" served", func() error {
			r, err := s.get(host, "/", nil)
			if err != nil {
				return err
			}
			if r.status != 200 && r.status != 429 {
				return fmt.Errorf("%s answered %d %q", host, r.status, r.body)
			}
			return nil
		})
	}

	t.Run("generic key limited per minute", func(t *testing.T) {
		inOneMinute(t, rl, "three a minute", func() error {
			for i, remaining := range []string{"2", "1", "0"} {
				r, err := s.get("global.example.com", "/", nil)
				if err != nil {
					return err
				}
				if r.status != 200 {
					return fmt.Errorf("request %d: %d %q, want 200", i+1, r.status, r.body)
				}
				if err := wantHeaders(r, map[string]string{"X-Ratelimit-Limit": "3, 3;w=60", "X-Ratelimit-Remaining": remaining}); err != nil {
					return fmt.Errorf("request %d: %v", i+1, err)
				}
			}
			r, err := s.get("global.example.com", "/", nil)
			if err != nil {
				return err
			}
			if r.status != 429 {
				return fmt.Errorf("request 4: %d %q, want 429", r.status, r.body)
			}
			if err := wantHeaders(r, map[string]string{"X-Ratelimit-Limit": "3, 3;w=60", "X-Ratelimit-Remaining": "0", "X-Envoy-Ratelimited": "true"}); err != nil {
				return fmt.Errorf("request 4: %v", err)
			}
			if r.header.Get("X-Ratelimit-Reset") == "" {
				return fmt.Errorf("request 4: no X-RateLimit-Reset: %v", r.header)
			}
			return nil
		})
	})

	t.Run("disabled route is not limited", func(t *testing.T) {
		inOneMinute(t, rl, "the host is limited, its disabled route is not", func() error {
			if err := s.wantStatuses("global.example.com", "/", nil, 200, 200, 200, 429); err != nil {
				return err
			}
			codes, last, err := s.statuses("global.example.com", "/free", nil, 5)
			if err != nil {
				return err
			}
			if fmt.Sprint(codes) != "[200 200 200 200 200]" {
				return fmt.Errorf("/free: %v, want 200s", codes)
			}
			// The service was not even asked.
			if err := wantHeaders(last, map[string]string{"X-Ratelimit-Limit": ""}); err != nil {
				return err
			}
			return s.wantStatuses("global.example.com", "/", nil, 429)
		})
	})

	t.Run("request header limited per value", func(t *testing.T) {
		inOneMinute(t, rl, "two a minute per tenant", func() error {
			a, b := http.Header{"X-Tenant": {"a"}}, http.Header{"X-Tenant": {"b"}}
			if err := s.wantStatuses("tenants.example.com", "/", a, 200, 200, 429); err != nil {
				return err
			}
			if err := s.wantStatuses("tenants.example.com", "/", b, 200, 200, 429); err != nil {
				return err
			}
			// Without the header there is no descriptor: nothing limits.
			return s.wantStatuses("tenants.example.com", "/", nil, 200, 200, 200, 200)
		})
	})

	t.Run("header value match", func(t *testing.T) {
		inOneMinute(t, rl, "one a minute for bots, one for external requests", func() error {
			bot := http.Header{"User-Agent": {"GoodBOT/1.0"}}
			if err := s.wantStatuses("bots.example.com", "/", bot, 200, 429); err != nil {
				return err
			}
			if err := s.wantStatuses("bots.example.com", "/", http.Header{"User-Agent": {"curl/8"}}, 200, 200, 200); err != nil {
				return err
			}
			// expectMatch false: limited when the headers do not match.
			if err := s.wantStatuses("bots.example.com", "/external", http.Header{"X-Internal": {"yes"}}, 200, 200, 200); err != nil {
				return err
			}
			return s.wantStatuses("bots.example.com", "/external", http.Header{"X-Internal": {"no"}}, 200, 429)
		})
	})

	t.Run("remote address", func(t *testing.T) {
		inOneMinute(t, rl, "one a minute per client address", func() error {
			return s.wantStatuses("clients.example.com", "/", nil, 200, 429)
		})
	})

	t.Run("bad descriptor is an error on that proxy only", func(t *testing.T) {
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: bad}
spec:
  virtualhost:
    fqdn: bad.example.com
    rateLimitPolicy:
      global:
        descriptors:
        - entries: [{genericKey: {value: per-minute}, remoteAddress: {}}]
  routes:
  - services: [{name: app, port: 80}]
`)
		eventually(t, "the proxy is invalid", proxyError(ns, "bad", "RateLimitPolicyNotValid",
			"Spec.VirtualHost.RateLimitPolicy is invalid: descriptor 0 entry 0: rate limit descriptor entry must have exactly one field set"))
		eventually(t, "its host is not served", s.expect(t, "bad.example.com", "/", 404, ""))
		eventually(t, "the others still are", s.expect(t, "global.example.com", "/free", 200, "echo-a"))
	})

	t.Run("service stopped: fail-open off denies", func(t *testing.T) {
		if err := rl.StopService(); err != nil {
			t.Fatal(err)
		}
		// Envoy's answer when the service fails and failure_mode_deny is
		// set: 500.
		eventually(t, "denied", s.expect(t, "global.example.com", "/", 500, ""))
		eventually(t, "a route that asks nothing still serves", s.expect(t, "global.example.com", "/free", 200, "echo-a"))
	})

	t.Run("service stopped: fail-open on lets requests through", func(t *testing.T) {
		s, ns, rl := rateLimitStack(t, "--rate-limit-fail-open")
		apply(t, ns, simpleProxy("open", "open.example.com", "app")+`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: limited}
spec:
  virtualhost:
    fqdn: limited.example.com
    rateLimitPolicy:
      global:
        descriptors:
        - entries: [{genericKey: {value: per-minute}}]
  routes:
  - services: [{name: app, port: 80}]
`)
		eventually(t, "served", s.expect(t, "open.example.com", "/", 200, "echo-a"))
		// Until Envoy has the route and reaches the service, fail-open
		// lets everything through too: retry until the limit shows.
		eventually(t, "limited while the service runs", func() error {
			if err := rl.Flush(); err != nil {
				return err
			}
			return s.wantStatuses("limited.example.com", "/", nil, 200, 200, 200, 429)
		})
		if err := rl.StopService(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "let through with the service stopped", func() error {
			return s.wantStatuses("limited.example.com", "/", nil, 200, 200, 200, 200, 200)
		})
	})
}
