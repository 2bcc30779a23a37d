package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/test/cluster"
	"github.com/proxyctl/proxyctl/test/netns"
	"github.com/proxyctl/proxyctl/test/replica"
)

// extauthzBinary is bin/extauthz, Istio's sample ext_authz server, built by
// `make tools` from tools/extauthz/go.mod.
func extauthzBinary(t *testing.T) string {
	t.Helper()
	root, err := cluster.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "bin", "extauthz")
	if info, err := os.Stat(bin); err != nil || info.Mode().Perm()&0o111 == 0 {
		t.Fatalf("no authorization server at %s: run `make tools`", bin)
	}
	return bin
}

// Ports of the authorization server inside the namespace (it listens on
// every address of the namespace, which reaches nothing beyond its /24).
const (
	extauthzGRPCPort = 9300
	extauthzHTTPPort = 9301
)

// startExtauthz runs the real authorization server in the namespace and
// waits until it serves gRPC.
func startExtauthz(t *testing.T, n *netns.NS) *netns.Process {
	t.Helper()
	p := n.Start(t, extauthzBinary(t), "-grpc", fmt.Sprint(extauthzGRPCPort), "-http", fmt.Sprint(extauthzHTTPPort))
	if err := p.WaitOutput("Starting gRPC server", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return p
}

// extensionValid checks that ExtensionService ns/name shows Contour's
// Valid condition: True, reason Valid, for its generation.
func extensionValid(ns, name string) func() error {
	exts := versioned.NewForConfigOrDie(kube.RESTConfig()).ProjectcontourV1alpha1().ExtensionServices(ns)
	return func() error {
		e, err := exts.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		c := e.Status.ConditionFor(contourv1.ConditionTypeValid)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != "Valid" || c.Message != "Valid ExtensionService" ||
			c.ObservedGeneration != e.Generation {
			return fmt.Errorf("ExtensionService %s/%s (generation %d) shows %+v", ns, name, e.Generation, e.Status.Conditions)
		}
		return nil
	}
}

// TestExtAuth authorizes requests with a real external authorization
// server, Istio's sample ext_authz server, over gRPC through a real
// Envoy: it allows requests carrying "x-ext-authz: allow" and denies
// others with 403, and hands the check it got (context entries, body) to
// the backend in a header of the allowed request.
func TestExtAuth(t *testing.T) {
	ns := kube.NewNamespace(t)
	// Only the test's namespace: the standby replica of the last subtest
	// watches another one alone.
	s := newStackArgs(t, []string{"--watch-namespaces", ns})
	var reached atomic.Int64
	echo := netns.EchoHandler("echo-a")
	s.addBackend(t, "echo-a", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		echo.ServeHTTP(w, r)
	}))
	s.service(t, ns, "web", "echo-a")
	ca := newTestCA(t)
	for _, host := range []string{"auth", "open", "missing", "other"} {
		cert, key := ca.issue(t, host+".example.com")
		tlsSecret(t, ns, host+"-cert", cert, key)
	}
	srv := startExtauthz(t, s.net)
	backendService(t, ns, "authz", s.net.IP(), extauthzGRPCPort)

	apply(t, ns, `
apiVersion: projectcontour.io/v1alpha1
kind: ExtensionService
metadata: {name: authz}
spec:
  protocol: h2c
  protocolVersion: v3
  services: [{name: authz, port: 80}]
  timeoutPolicy: {response: 2s}
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: auth}
spec:
  virtualhost:
    fqdn: auth.example.com
    tls: {secretName: auth-cert}
    authorization:
      extensionRef: {name: authz}
      responseTimeout: 1s
      failOpen: false
      authPolicy:
        context: {tenant: shop}
      withRequestBody: {maxRequestBytes: 64, allowPartialMessage: true}
  routes:
  - services: [{name: web, port: 80}]
  - conditions: [{prefix: /public}]
    authPolicy: {disabled: true}
    services: [{name: web, port: 80}]
  - conditions: [{prefix: /api}]
    authPolicy:
      context: {area: api}
    services: [{name: web, port: 80}]
  - conditions: [{prefix: /insecure}]
    permitInsecure: true
    services: [{name: web, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: open}
spec:
  virtualhost:
    fqdn: open.example.com
    tls: {secretName: open-cert}
    authorization:
      extensionRef: {name: authz, namespace: `+ns+`, apiVersion: projectcontour.io/v1alpha1}
      failOpen: true
  routes:
  - services: [{name: web, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: missing}
spec:
  virtualhost:
    fqdn: missing.example.com
    tls: {secretName: missing-cert}
    authorization:
      extensionRef: {name: nope}
  routes:
  - services: [{name: web, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: other}
spec:
  virtualhost:
    fqdn: other.example.com
    tls: {secretName: other-cert}
  routes:
  - services: [{name: web, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: plain}
spec:
  virtualhost:
    fqdn: plain.example.com
    authorization:
      extensionRef: {name: authz}
  routes:
  - services: [{name: web, port: 80}]
`)

	allow := http.Header{"X-Ext-Authz": {"allow"}}
	// get sends GET https://host/path through Envoy and checks the
	// status, and for a 200 that the backend answered.
	get := func(host, path string, header http.Header, status int) func() error {
		return s.expectHTTPS(t, ca.clientConfig(), host, path, header, status, "echo-a")
	}
	// received is what the server says it was asked for the request to
	// host/path, which it hands upstream with an allowed request.
	received := func(t *testing.T, host, path, body string) string {
		t.Helper()
		var got string
		eventually(t, "an allowed request", func() error {
			r, err := s.sendTLS(host, path, ca.clientConfig(), allow, body)
			if err != nil {
				return err
			}
			if r.status != 200 {
				return fmt.Errorf("%s%s = %d %q", host, path, r.status, r.body)
			}
			e := r.echo(t)
			if e.Headers.Get("X-Ext-Authz-Check-Result") != "allowed" {
				return fmt.Errorf("the backend got no allowed check result: %v", e.Headers)
			}
			// Protobuf text format: spaces vary, so they are made single.
			got = strings.Join(strings.Fields(e.Headers.Get("X-Ext-Authz-Check-Received")), " ")
			return nil
		})
		return got
	}

	t.Run("authorised request reaches the backend", func(t *testing.T) {
		eventually(t, "allowed by the server", get("auth.example.com", "/", allow, 200))
		if got := received(t, "auth.example.com", "/orders", ""); !strings.Contains(got, `path:"/orders"`) {
			t.Errorf("the server was asked %q", got)
		}
	})

	t.Run("unauthorised request is denied", func(t *testing.T) {
		eventually(t, "denied by the server", get("auth.example.com", "/", nil, 403))
		before := reached.Load()
		r, err := s.getTLSAs("auth.example.com", "auth.example.com", "/secret", ca.clientConfig(), http.Header{"X-Ext-Authz": {"deny"}})
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 403 || !strings.Contains(string(r.body), "denied by ext_authz") {
			t.Errorf("denied request = %d %q, want 403 with the server's body", r.status, r.body)
		}
		if n := reached.Load() - before; n != 0 {
			t.Errorf("the backend got %d denied requests", n)
		}
		if !strings.Contains(srv.Output(), "[gRPCv3][denied]: auth.example.com/secret") {
			t.Errorf("the server logged no denied check of /secret:\n%s", srv.Output())
		}
	})

	t.Run("disabled route needs no authorization", func(t *testing.T) {
		eventually(t, "authPolicy.disabled", get("auth.example.com", "/public/page", nil, 200))
		if strings.Contains(srv.Output(), "auth.example.com/public/page") {
			t.Errorf("the server was asked about a route with authorization disabled")
		}
	})

	t.Run("context reaches the server", func(t *testing.T) {
		// The route's entries are merged over the virtual host's.
		got := received(t, "auth.example.com", "/api/items", "")
		for _, want := range []string{`key:"tenant" value:"shop"`, `key:"area" value:"api"`} {
			if !strings.Contains(got, want) {
				t.Errorf("the check of /api/items has no context entry %s: %q", want, got)
			}
		}
		if got := received(t, "auth.example.com", "/orders", ""); strings.Contains(got, `"area"`) ||
			!strings.Contains(got, `key:"tenant" value:"shop"`) {
			t.Errorf("the check of /orders has the wrong context entries: %q", got)
		}
	})

	t.Run("request body is sent", func(t *testing.T) {
		// withRequestBody: the first 64 bytes of a longer body, since
		// allowPartialMessage lets it through.
		body := "hello-body-" + strings.Repeat("x", 100)
		got := received(t, "auth.example.com", "/upload", body)
		if !strings.Contains(got, `body:"hello-body-`) || strings.Contains(got, strings.Repeat("x", 60)) {
			t.Errorf("the check did not carry the first 64 bytes of the body: %q", got)
		}
	})

	t.Run("plain HTTP never skips authorization", func(t *testing.T) {
		eventually(t, "a permitInsecure route with authorization redirects", s.expect(t, "auth.example.com", "/insecure", 301, ""))
	})

	t.Run("missing ExtensionService invalidates only its proxy", func(t *testing.T) {
		eventually(t, "the proxy is invalid", proxyError(ns, "missing", "ExtensionServiceNotFound",
			fmt.Sprintf(`extension service "%s/nope" not found`, ns)))
		eventually(t, "its host is not served", func() error {
			r, err := s.getTLSAs("missing.example.com", "missing.example.com", "/", ca.clientConfig(), allow)
			if err == nil {
				return fmt.Errorf("missing.example.com answered %d %q", r.status, r.body)
			}
			return nil
		})
		eventually(t, "a host without authorization is served", get("other.example.com", "/", nil, 200))
		eventually(t, "a host with authorization is served", get("auth.example.com", "/", allow, 200))
		// Once the ExtensionService exists, the proxy is served.
		apply(t, ns, `
apiVersion: projectcontour.io/v1alpha1
kind: ExtensionService
metadata: {name: nope}
spec:
  protocol: h2c
  services: [{name: authz, port: 80}]
`)
		eventually(t, "served once its ExtensionService exists", get("missing.example.com", "/", allow, 200))
		eventually(t, "and checked", get("missing.example.com", "/", nil, 403))
	})

	t.Run("virtual host without TLS is not permitted", func(t *testing.T) {
		eventually(t, "the proxy is invalid", proxyError(ns, "plain", "AuthNotPermitted",
			"can only be defined for root HTTPProxies that terminate TLS"))
		eventually(t, "its host is not served", s.expect(t, "plain.example.com", "/", 404, ""))
	})

	t.Run("ExtensionService status is Valid", func(t *testing.T) {
		eventually(t, "the leader writes Valid", extensionValid(ns, "authz"))
		l, err := s.replica.Leader(context.Background())
		if err != nil || !l.Leader {
			t.Errorf("the replica that wrote it does not lead: %+v %v", l, err)
		}
	})

	// The server goes away: Envoy cannot get an answer.
	t.Run("server down denies when failOpen is false", func(t *testing.T) {
		srv.Stop()
		before := reached.Load()
		// Envoy answers 403 (statusOnError, as Contour configures it).
		eventually(t, "denied without a server", get("auth.example.com", "/", allow, 403))
		if n := reached.Load() - before; n != 0 {
			t.Errorf("the backend got %d requests while the server was down", n)
		}
	})
	t.Run("server down lets through when failOpen is true", func(t *testing.T) {
		srv.Stop()
		eventually(t, "let through without a server", get("open.example.com", "/", nil, 200))
	})

	t.Run("ExtensionService status is written by the leader only", func(t *testing.T) {
		testExtensionStatusLeaderOnly(t)
	})
}

// testExtensionStatusLeaderOnly runs a standby replica, watching a
// namespace of its own, while a foreign holder has the Lease: it builds
// the ExtensionService's cluster but writes no status. Once the Lease is
// free it leads and writes Valid.
func testExtensionStatusLeaderOnly(t *testing.T) {
	ns, leaseNS := kube.NewNamespace(t), kube.NewNamespace(t)
	ctx := context.Background()
	now := metav1.NewMicroTime(time.Now())
	leases := kube.Client.CoordinationV1().Leases(leaseNS)
	if _, err := leases.Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: leaseName},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("intruder"), LeaseDurationSeconds: ptr.To(int32(3600)),
			AcquireTime: &now, RenewTime: &now},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	backendService(t, ns, "authz", "10.0.0.1", extauthzGRPCPort)
	apply(t, ns, `
apiVersion: projectcontour.io/v1alpha1
kind: ExtensionService
metadata: {name: authz}
spec:
  services: [{name: authz, port: 80}]
`)
	standby := replica.Start(t, replica.Options{
		Binary: replica.Binary(t), Kubeconfig: kube.Kubeconfig, Identity: "standby",
		LeaseNamespace: leaseNS, LogDir: t.TempDir(), Args: []string{"--watch-namespaces", ns},
	})
	eventually(t, "the standby is ready (its first DAG has the ExtensionService)", func() error {
		code, body, err := standby.Get(ctx, "/readyz")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("/readyz: %d %q %v", code, body, err)
		}
		return nil
	})
	if l, err := standby.Leader(ctx); err != nil || l.Leader || l.Holder != "intruder" {
		t.Fatalf("standby: %+v %v, want a follower of intruder", l, err)
	}
	exts := versioned.NewForConfigOrDie(kube.RESTConfig()).ProjectcontourV1alpha1().ExtensionServices(ns)
	e, err := exts.Get(ctx, "authz", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Status.Conditions) != 0 {
		t.Fatalf("a replica that does not lead wrote %+v", e.Status.Conditions)
	}
	if err := leases.Delete(ctx, leaseName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the standby leads", func() error {
		l, err := standby.Leader(ctx)
		if err != nil || !l.Leader {
			return fmt.Errorf("%+v %v", l, err)
		}
		return nil
	})
	eventually(t, "the new leader writes Valid", extensionValid(ns, "authz"))
}

// sendTLS sends a request to https://host/path through Envoy's HTTPS
// listener: a POST of body when it is not empty, else a GET.
func (s *stack) sendTLS(host, path string, cfg *tls.Config, header http.Header, body string) (response, error) {
	return s.sendTLSAs(host, host, path, cfg, header, body)
}

// TestGlobalExtAuth: Contour's globalExtAuth in the --config-path file,
// through a real Envoy and Istio's ext_authz server: a TLS proxy without
// authorization of its own is checked (denied without the header,
// allowed with it), a route with authPolicy.disabled is not; a plain
// HTTP proxy is checked on the HTTP listener, as in Contour. The
// ExtensionService exists before proxyctl starts: it is read at
// start-up, as Contour does.
func TestGlobalExtAuth(t *testing.T) {
	ns := kube.NewNamespace(t)
	apply(t, ns, `
apiVersion: projectcontour.io/v1alpha1
kind: ExtensionService
metadata: {name: authz}
spec:
  protocol: h2c
  protocolVersion: v3
  services: [{name: authz, port: 80}]
  timeoutPolicy: {response: 2s}
`)
	s := newStackConfig(t, `
globalExtAuth:
  extensionService: `+ns+`/authz
  responseTimeout: 2s
`, []string{"--watch-namespaces", ns}, "echo-a")
	s.service(t, ns, "web", "echo-a")
	ca := newTestCA(t)
	cert, key := ca.issue(t, "global.example.com")
	tlsSecret(t, ns, "global-cert", cert, key)
	startExtauthz(t, s.net)
	backendService(t, ns, "authz", s.net.IP(), extauthzGRPCPort)
	apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: global}
spec:
  virtualhost:
    fqdn: global.example.com
    tls: {secretName: global-cert}
  routes:
  - services: [{name: web, port: 80}]
  - conditions: [{prefix: /public}]
    authPolicy: {disabled: true}
    services: [{name: web, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: plain}
spec:
  virtualhost:
    fqdn: plain.example.com
  routes:
  - services: [{name: web, port: 80}]
`)
	allow := http.Header{"X-Ext-Authz": {"allow"}}
	get := func(host, path string, header http.Header, status int) func() error {
		return func() error {
			r, err := s.getTLSAs(host, host, path, ca.clientConfig(), header)
			if err != nil {
				return err
			}
			if r.status != status {
				return fmt.Errorf("GET https://%s%s = %d %q, want %d", host, path, r.status, r.body, status)
			}
			if status == 200 && r.echo(t).Name != "echo-a" {
				return fmt.Errorf("GET https://%s%s answered by %q", host, path, r.echo(t).Name)
			}
			return nil
		}
	}
	getPlain := func(path string, header http.Header, status int) func() error {
		return func() error {
			r, err := s.get("plain.example.com", path, header)
			if err != nil {
				return err
			}
			if r.status != status {
				return fmt.Errorf("GET http://plain.example.com%s = %d %q, want %d", path, r.status, r.body, status)
			}
			return nil
		}
	}

	t.Run("allowed with the header", func(t *testing.T) {
		eventually(t, "allowed by the global server", get("global.example.com", "/", allow, 200))
	})
	t.Run("denied without the header", func(t *testing.T) {
		eventually(t, "denied by the global server", get("global.example.com", "/", nil, 403))
	})
	t.Run("authPolicy disabled is not checked", func(t *testing.T) {
		eventually(t, "served unchecked", get("global.example.com", "/public", nil, 200))
	})
	t.Run("plain HTTP is checked", func(t *testing.T) {
		eventually(t, "denied on HTTP", getPlain("/", nil, 403))
		eventually(t, "allowed on HTTP", getPlain("/", allow, 200))
	})
}
