package e2e

import (
	"fmt"
	"net"
	"testing"
)

// externalNameService is a Service of type ExternalName for name, with
// one port: the port Envoy connects to on the addresses name resolves to.
func externalNameService(svc, name string, port int) string {
	return fmt.Sprintf(`
apiVersion: v1
kind: Service
metadata: {name: %s}
spec:
  type: ExternalName
  externalName: %q
  ports: [{name: p, port: %d}]
---
`, svc, name, port)
}

// TestExternalName sends traffic to Services of type ExternalName through
// a real Envoy, which resolves the name itself. The external name is the
// address of the test's network namespace written as a name (Kubernetes
// takes a dotted IPv4 address as a DNS subdomain, and Envoy's resolver
// answers it as it is), so no request leaves the namespace and no name
// server is asked.
func TestExternalName(t *testing.T) {
	t.Run("disabled by default", func(t *testing.T) {
		s := newStack(t, "outside")
		ns := kube.NewNamespace(t)
		b := s.backends["outside"]
		apply(t, ns, externalNameService("ext", s.net.IP(), int(b.port))+`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: ext}
spec:
  virtualhost: {fqdn: ext.example.com}
  routes:
  - services: [{name: ext, port: `+fmt.Sprint(b.port)+`}]
`)
		eventually(t, "Contour's error", proxyError(ns, "ext", "ServiceUnresolvedReference",
			"/ext is an ExternalName service, these are not currently enabled"))
		eventually(t, "the route answers 503", s.expect(t, "ext.example.com", "/", 503, ""))
	})

	s := newStackArgs(t, []string{"--enable-external-name-service"}, "outside")
	b := s.backends["outside"]
	ca := newTestCA(t)

	t.Run("enabled", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		apply(t, ns, externalNameService("ext", s.net.IP(), int(b.port))+`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: ext}
spec:
  virtualhost: {fqdn: ext.example.com}
  routes:
  - conditions: [{prefix: /rewritten}]
    requestHeadersPolicy:
      set: [{name: Host, value: upstream.example.net}]
    services: [{name: ext, port: `+fmt.Sprint(b.port)+`}]
  - services: [{name: ext, port: `+fmt.Sprint(b.port)+`}]
`)
		eventually(t, "200 from the backend behind the external name", s.expect(t, "ext.example.com", "/", 200, "outside"))
		// Contour does not rewrite the Host for an ExternalName: the
		// upstream sees the client's, unless a Host policy says otherwise.
		r, err := s.get("ext.example.com", "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.echo(t).Host; got != "ext.example.com" {
			t.Errorf("the upstream saw Host %q, want the client's ext.example.com", got)
		}
		eventually(t, "the Host policy rewrites it", func() error {
			r, err := s.get("ext.example.com", "/rewritten", nil)
			if err != nil {
				return err
			}
			if r.status != 200 || r.echo(t).Host != "upstream.example.net" {
				return fmt.Errorf("GET /rewritten = %d %q, want the echo of Host upstream.example.net", r.status, r.body)
			}
			return nil
		})
	})

	t.Run("TLS upstream gets the Host rewrite as SNI", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		addr := net.JoinHostPort(s.net.IP(), "9443")
		s.net.ServeHTTPSEcho(t, addr, "outside-tls", ca.keyPair(t, "upstream.example.net"))
		apply(t, ns, externalNameService("ext-tls", s.net.IP(), 9443)+`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: ext-tls}
spec:
  virtualhost: {fqdn: ext-tls.example.com}
  routes:
  - requestHeadersPolicy:
      set: [{name: Host, value: upstream.example.net}]
    services: [{name: ext-tls, port: 9443, protocol: tls}]
`)
		eventually(t, "HTTPS to the external name with SNI", func() error {
			r, err := s.get("ext-tls.example.com", "/", nil)
			if err != nil {
				return err
			}
			if r.status != 200 {
				return fmt.Errorf("GET = %d %q", r.status, r.body)
			}
			if e := r.echo(t); e.Name != "outside-tls" || e.SNI != "upstream.example.net" || e.Host != "upstream.example.net" {
				return fmt.Errorf("the upstream %q saw SNI %q and Host %q, want upstream.example.net for both", e.Name, e.SNI, e.Host)
			}
			return nil
		})
	})

	t.Run("localhost is refused", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		// Port 9001 is where `proxyctl bootstrap` puts Envoy's admin
		// interface: the attack Contour's check is there for.
		apply(t, ns, externalNameService("admin", "localhost", 9001)+`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: admin}
spec:
  virtualhost: {fqdn: admin.example.com}
  routes:
  - services: [{name: admin, port: 9001}]
`)
		eventually(t, "Contour's error", proxyError(ns, "admin", "ServiceUnresolvedReference",
			"/admin is an ExternalName service that points to localhost, this is not allowed"))
		eventually(t, "the route answers 503", s.expect(t, "admin.example.com", "/", 503, ""))
	})
}
