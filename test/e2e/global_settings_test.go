package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestGlobalSettings runs a replica with a configuration file (Contour's
// keys) setting the cluster-wide header policies and disablePermitInsecure,
// and checks them through a real Envoy.
func TestGlobalSettings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "proxyctl.yaml")
	if err := os.WriteFile(file, []byte(`
disablePermitInsecure: true
policy:
  request-headers:
    set:
      x-global-request: from-config
      x-overridden: global
      x-where: "%CONTOUR_NAMESPACE%/%CONTOUR_SERVICE_NAME%"
    remove: [x-client-secret]
  response-headers:
    set:
      x-global-response: proxyctl
      x-overridden: global
    remove: [x-echo-name]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStackArgs(t, []string{"--config-path", file}, "echo")
	ca := newTestCA(t)

	t.Run("header policies", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "web", "echo")
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: headers}
spec:
  virtualhost: {fqdn: headers.example.com}
  routes:
  - conditions: [{prefix: /own}]
    requestHeadersPolicy:
      set: [{name: X-Overridden, value: route}]
    responseHeadersPolicy:
      set: [{name: X-Overridden, value: route}]
    services: [{name: web, port: 80}]
  - services: [{name: web, port: 80}]
`)
		get := func(path string) (response, error) {
			return s.get("headers.example.com", path, http.Header{"X-Client-Secret": {"s3cr3t"}})
		}
		eventually(t, "the cluster-wide policies on every route", func() error {
			r, err := get("/")
			if err != nil {
				return err
			}
			if r.status != 200 {
				return fmt.Errorf("GET / = %d %q", r.status, r.body)
			}
			e := r.echo(t)
			switch {
			case e.Headers.Get("X-Global-Request") != "from-config" || e.Headers.Get("X-Overridden") != "global":
				return fmt.Errorf("the backend saw %v, want X-Global-Request: from-config and X-Overridden: global", e.Headers)
			case e.Headers.Get("X-Where") != ns+"/web":
				return fmt.Errorf("the backend saw X-Where %q, want %s/web", e.Headers.Get("X-Where"), ns)
			case e.Headers.Get("X-Client-Secret") != "":
				return fmt.Errorf("the backend saw X-Client-Secret, which the policy removes")
			case r.header.Get("X-Global-Response") != "proxyctl" || r.header.Get("X-Overridden") != "global":
				return fmt.Errorf("the client saw %v, want X-Global-Response: proxyctl and X-Overridden: global", r.header)
			case r.header.Get("X-Echo-Name") != "":
				return fmt.Errorf("the client saw X-Echo-Name, which the policy removes")
			}
			return nil
		})
		eventually(t, "a route's own policy wins", func() error {
			r, err := get("/own")
			if err != nil {
				return err
			}
			e := r.echo(t)
			if got := e.Headers.Get("X-Overridden"); got != "route" || e.Headers.Get("X-Global-Request") != "from-config" {
				return fmt.Errorf("the backend saw X-Overridden %q and X-Global-Request %q, want route and from-config", got, e.Headers.Get("X-Global-Request"))
			}
			if got := r.header.Get("X-Overridden"); got != "route" || r.header.Get("X-Global-Response") != "proxyctl" {
				return fmt.Errorf("the client saw X-Overridden %q and X-Global-Response %q, want route and proxyctl", got, r.header.Get("X-Global-Response"))
			}
			return nil
		})
	})

	t.Run("disablePermitInsecure", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "web", "echo")
		cert, key := ca.issue(t, "insecure.example.com")
		tlsSecret(t, ns, "cert", cert, key)
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: insecure}
spec:
  virtualhost:
    fqdn: insecure.example.com
    tls: {secretName: cert}
  routes:
  - permitInsecure: true
    services: [{name: web, port: 80}]
`)
		eventually(t, "HTTPS serves the route", func() error {
			r, err := s.getTLS("insecure.example.com", "/", ca.clientConfig())
			if err != nil {
				return err
			}
			if r.status != 200 {
				return fmt.Errorf("HTTPS answered %d %q", r.status, r.body)
			}
			return nil
		})
		eventually(t, "plain HTTP is redirected despite permitInsecure", func() error {
			r, err := s.get("insecure.example.com", "/open?x=1", nil)
			if err != nil {
				return err
			}
			if loc := r.header.Get("Location"); r.status != 301 || loc != "https://insecure.example.com/open?x=1" {
				return fmt.Errorf("HTTP answered %d Location %q, want 301 to https", r.status, loc)
			}
			return nil
		})
	})
}
