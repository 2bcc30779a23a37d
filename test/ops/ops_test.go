// Package ops checks the operator's tools against a running replica (the
// real binary, a real API server): `proxyctl cli` connects to its xDS port
// over mutual TLS as an Envoy would and prints what it is served, and the
// Grafana dashboard of examples/grafana queries only metrics the replica
// exports.
package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/certgen"
	"github.com/proxyctl/proxyctl/internal/testutil"
	"github.com/proxyctl/proxyctl/test/cluster"
	"github.com/proxyctl/proxyctl/test/replica"
)

// served is what `proxyctl cli` prints: a DiscoveryResponse without nonce,
// in protojson.
type served struct {
	VersionInfo string            `json:"versionInfo"`
	TypeURL     string            `json:"typeUrl"`
	Resources   []json.RawMessage `json:"resources"`
}

// names returns the resources' names in the order printed.
func (s served) names(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range s.Resources {
		var n struct {
			Name        string `json:"name"`
			ClusterName string `json:"clusterName"`
		}
		if err := json.Unmarshal(r, &n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n.Name+n.ClusterName)
	}
	return out
}

// joined is every resource's JSON, one after the other.
func joined(s served) []byte {
	var b bytes.Buffer
	for _, r := range s.Resources {
		b.Write(r)
	}
	return b.Bytes()
}

type env struct {
	bin     string
	replica *replica.Replica
	certs   string // directory of ca.crt, envoy.crt, envoy.key
	ns      string
}

// cli runs `proxyctl cli ARGS` against the replica as Envoy, over mutual
// TLS with Envoy's client certificate.
func (e *env) cli(args ...string) (string, error) {
	host, port, _ := net.SplitHostPort(e.replica.XDSAddr)
	args = append(args, "--xds-address", host, "--xds-port", port, "--timeout", "5s",
		"--xds-ca-file", filepath.Join(e.certs, "ca.crt"),
		"--xds-cert-file", filepath.Join(e.certs, "envoy.crt"),
		"--xds-key-file", filepath.Join(e.certs, "envoy.key"))
	cmd := exec.Command(e.bin, append([]string{"cli"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("proxyctl cli %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

func (e *env) get(t *testing.T, kind string) served {
	t.Helper()
	out, err := e.cli(kind)
	if err != nil {
		t.Fatal(err)
	}
	var s served
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("proxyctl cli %s: %v\n%s", kind, err, out)
	}
	return s
}

func start(t *testing.T) *env {
	c := cluster.Start(t)
	certs, err := certgen.Generate(certgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := certgen.WriteFiles(dir, certs, false); err != nil {
		t.Fatal(err)
	}
	e := &env{bin: replica.Binary(t), certs: dir, ns: c.NewNamespace(t)}
	e.replica = replica.Start(t, replica.Options{
		Binary: e.bin, Kubeconfig: c.Kubeconfig, Identity: "replica-0",
		LeaseNamespace: c.NewNamespace(t), LogDir: t.TempDir(),
		Args: []string{"--xds-ca-file", filepath.Join(dir, "ca.crt"),
			"--xds-cert-file", filepath.Join(dir, "proxyctl.crt"), "--xds-key-file", filepath.Join(dir, "proxyctl.key")},
	})

	// One Service with an endpoint, a TLS Secret and a proxy that uses
	// both: every xDS type has something to serve. No Envoy runs, so no
	// traffic goes to the endpoint (a documentation address: the API
	// server refuses loopback ones).
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Services(e.ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.DiscoveryV1().EndpointSlices(e.ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.10"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](9000)}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.CoreV1().Secrets(e.ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "web-cert"},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: certs.ServerCert, corev1.TLSPrivateKeyKey: certs.ServerKey},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := versioned.NewForConfigOrDie(c.RESTConfig()).ProjectcontourV1().HTTPProxies(e.ns).Create(ctx, &contourv1.HTTPProxy{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: contourv1.HTTPProxySpec{
			VirtualHost: &contourv1.VirtualHost{Fqdn: "web.example.com", TLS: &contourv1.TLS{SecretName: "web-cert"}},
			Routes:      []contourv1.Route{{Services: []contourv1.Service{{Name: "web", Port: 80}}}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestOps(t *testing.T) {
	e := start(t)
	t.Run("cli", func(t *testing.T) { testCLI(t, e) })
	// After the cli: its streams make the xDS metrics appear.
	t.Run("dashboard", func(t *testing.T) { testDashboard(t, e) })
}

func testCLI(t *testing.T, e *env) {
	// The replica serves once it has synced and built the proxy.
	testutil.Eventually(t, 30*time.Second, "the HTTPS listener served", func() error {
		out, err := e.cli("lds")
		if err != nil {
			return err
		}
		if !strings.Contains(out, `"ingress_https"`) {
			return fmt.Errorf("no ingress_https in\n%s", out)
		}
		return nil
	})

	lds := e.get(t, "lds")
	if lds.TypeURL != "type.googleapis.com/envoy.config.listener.v3.Listener" || lds.VersionInfo == "" {
		t.Errorf("lds: type %q version %q", lds.TypeURL, lds.VersionInfo)
	}
	if got := lds.names(t); !slices.Equal(got, []string{"ingress_http", "ingress_https"}) {
		t.Errorf("lds names %q, want ingress_http and ingress_https", got)
	}

	// RDS: what the listeners (HTTPS) and the scopes (HTTP) name, each
	// served.
	var routeNames []string
	for _, l := range lds.Resources {
		for _, m := range routeConfigName.FindAllSubmatch(l, -1) {
			routeNames = append(routeNames, string(m[1]))
		}
	}
	srds := e.get(t, "srds")
	for _, sc := range srds.Resources {
		for _, m := range scopeRouteConfigName.FindAllSubmatch(sc, -1) {
			routeNames = append(routeNames, string(m[1]))
		}
	}
	slices.Sort(routeNames)
	routeNames = slices.Compact(routeNames)
	rds := e.get(t, "rds")
	if got := rds.names(t); len(got) == 0 || !slices.Equal(got, routeNames) {
		t.Errorf("rds names %q, want those the listeners name, %q", got, routeNames)
	}
	if !bytes.Contains(joined(rds), []byte(`"web.example.com"`)) {
		t.Errorf("rds: no virtual host web.example.com")
	}

	cds := e.get(t, "cds")
	clusters := cds.names(t)
	if len(clusters) != 1 || !strings.HasPrefix(clusters[0], e.ns+"/web/80/") {
		t.Errorf("cds names %q, want the one cluster of %s/web port 80", clusters, e.ns)
	}
	eds := e.get(t, "eds")
	if got := eds.names(t); !slices.Equal(got, clusters) {
		t.Errorf("eds names %q, want the clusters' %q", got, clusters)
	}
	if !port9000.Match(joined(eds)) {
		t.Errorf("eds: endpoint 192.0.2.10:9000 not served:\n%s", joined(eds))
	}

	sds := e.get(t, "sds")
	secrets := sds.names(t)
	if len(secrets) != 1 || !strings.Contains(secrets[0], e.ns) || !strings.Contains(secrets[0], "web-cert") {
		t.Errorf("sds names %q, want the Secret %s/web-cert", secrets, e.ns)
	}

	t.Run("yaml", func(t *testing.T) {
		out, err := e.cli("cds", "-o", "yaml")
		if err != nil {
			t.Fatal(err)
		}
		var y served
		if err := yaml.Unmarshal([]byte(out), &y); err != nil {
			t.Fatalf("-o yaml: %v\n%s", err, out)
		}
		if got := y.names(t); !slices.Equal(got, clusters) {
			t.Errorf("-o yaml names %q, want %q", got, clusters)
		}
	})

	t.Run("refused without client certificate", func(t *testing.T) {
		host, port, _ := net.SplitHostPort(e.replica.XDSAddr)
		out, err := exec.Command(e.bin, "cli", "lds", "--insecure", "--xds-address", host, "--xds-port", port, "--timeout", "3s").CombinedOutput()
		if err == nil {
			t.Errorf("plaintext cli against an mTLS replica succeeded:\n%s", out)
		}
	})
}

var (
	routeConfigName      = regexp.MustCompile(`"routeConfigName":\s*"([^"]+)"`)
	scopeRouteConfigName = regexp.MustCompile(`"routeConfigurationName":\s*"([^"]+)"`)
	port9000             = regexp.MustCompile(`"portValue":\s*9000\b`)
)
