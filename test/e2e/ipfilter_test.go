package e2e

import (
	"fmt"
	"net/http"
	"testing"
)

// TestIPFilters sends requests through a real Envoy to virtual hosts and
// routes with ipAllowPolicy and ipDenyPolicy. The client is on loopback,
// so Envoy sees the peer 127.0.0.1.
func TestIPFilters(t *testing.T) {
	s := newStack(t, "echo-a")
	ns := kube.NewNamespace(t)
	s.service(t, ns, "svc", "echo-a")
	apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: allowed}
spec:
  virtualhost:
    fqdn: allowed.example.com
    ipAllowPolicy: [{source: Peer, cidr: 127.0.0.1}, {source: Peer, cidr: "::1"}]
  routes:
  - services: [{name: svc, port: 80}]
  - conditions: [{prefix: /blocked}]
    ipDenyPolicy: [{source: Peer, cidr: 127.0.0.0/8}]
    services: [{name: svc, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: denied}
spec:
  virtualhost:
    fqdn: denied.example.com
    ipDenyPolicy: [{source: Peer, cidr: 127.0.0.1/32}]
  routes:
  - services: [{name: svc, port: 80}]
  - conditions: [{prefix: /open}]
    ipAllowPolicy: [{source: Peer, cidr: 127.0.0.0/8}]
    services: [{name: svc, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: remote}
spec:
  virtualhost:
    fqdn: remote.example.com
    ipAllowPolicy: [{source: Remote, cidr: 203.0.113.0/24}]
  routes:
  - services: [{name: svc, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: typo}
spec:
  virtualhost:
    fqdn: typo.example.com
    ipAllowPolicy: [{source: Peer, cidr: 10.0.0.0/33}]
  routes:
  - services: [{name: svc, port: 80}]
`)
	eventually(t, "an allowed client", s.expect(t, "allowed.example.com", "/", 200, "echo-a"))
	eventually(t, "a route's deny list replaces the host's allow list", s.expect(t, "allowed.example.com", "/blocked", 403, ""))
	eventually(t, "a denied client", s.expect(t, "denied.example.com", "/", 403, ""))
	eventually(t, "a route's allow list replaces the host's deny list", s.expect(t, "denied.example.com", "/open", 200, "echo-a"))
	// With no trusted hops (the default) X-Forwarded-For is not believed:
	// the client's address is the peer's, outside the allowed range.
	eventually(t, "a forged X-Forwarded-For is not believed", func() error {
		r, err := s.get("remote.example.com", "/", http.Header{"X-Forwarded-For": {"203.0.113.7"}})
		if err != nil {
			return err
		}
		if r.status != 403 {
			return fmt.Errorf("answered %d %q, want 403", r.status, r.body)
		}
		return nil
	})
	eventually(t, "a range that does not parse makes the proxy invalid", proxyError(ns, "typo", "InvalidCIDR",
		`spec.virtualhost.ipAllowPolicy[0].cidr "10.0.0.0/33" is not an address or a CIDR range`))
	eventually(t, "and its host is not served", s.expect(t, "typo.example.com", "/", 404, ""))
}
