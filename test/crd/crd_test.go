// Package crd checks the generated CRDs on a real API server: every field of
// an existing Contour object survives (nothing is pruned), the printer
// columns and short names work, and the schema rejects what it should.
package crd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/test/cluster"
)

func load(t *testing.T, file string, into any) {
	t.Helper()
	root, err := cluster.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "apis/projectcontour/v1/testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func TestMaximalObjectsRoundTripThroughTheAPIServer(t *testing.T) {
	c := kube
	ns := c.NewNamespace(t)
	client := versioned.NewForConfigOrDie(c.RESTConfig())
	ctx := context.Background()

	var proxy contourv1.HTTPProxy
	load(t, "httpproxy-maximal.yaml", &proxy)
	proxy.Namespace = ns
	want := proxy.DeepCopy()
	created, err := client.ProjectcontourV1().HTTPProxies(ns).Create(ctx, &proxy, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create maximal HTTPProxy: %v", err)
	}
	got, err := client.ProjectcontourV1().HTTPProxies(ns).Get(ctx, created.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Spec, got.Spec); diff != "" {
		t.Errorf("the API server changed the spec (-sent +stored):\n%s", diff)
	}

	// Status goes through the status subresource and survives too.
	got.Status = *want.Status.DeepCopy()
	updated, err := client.ProjectcontourV1().HTTPProxies(ns).UpdateStatus(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if diff := cmp.Diff(want.Status, updated.Status, cmpIgnoreTimes()); diff != "" {
		t.Errorf("the API server changed the status (-sent +stored):\n%s", diff)
	}

	var delegation contourv1.TLSCertificateDelegation
	load(t, "tlscertificatedelegation-maximal.yaml", &delegation)
	delegation.Namespace = ns
	wantDelegation := delegation.DeepCopy()
	createdDelegation, err := client.ProjectcontourV1().TLSCertificateDelegations(ns).Create(ctx, &delegation, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create maximal TLSCertificateDelegation: %v", err)
	}
	if diff := cmp.Diff(wantDelegation.Spec, createdDelegation.Spec); diff != "" {
		t.Errorf("the API server changed the delegation (-sent +stored):\n%s", diff)
	}

	// kubectl shows the printer columns, by every name users know.
	for _, resource := range []string{"httpproxy", "httpproxies", "proxy", "proxies"} {
		out, err := c.Kubectl("get", resource, "-n", ns)
		if err != nil {
			t.Fatalf("kubectl get %s: %v\n%s", resource, err, out)
		}
		header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
		if strings.Join(header, " ") != "NAME FQDN TLS SECRET STATUS STATUS DESCRIPTION" {
			t.Errorf("kubectl get %s columns = %q", resource, header)
		}
		if !strings.Contains(out, want.Spec.VirtualHost.Fqdn) || !strings.Contains(out, want.Spec.VirtualHost.TLS.SecretName) ||
			!strings.Contains(out, want.Status.CurrentStatus) {
			t.Errorf("kubectl get %s does not show fqdn, secret and status:\n%s", resource, out)
		}
	}
	if out, err := c.Kubectl("get", "tlscerts", "-n", ns); err != nil || !strings.Contains(out, delegation.Name) {
		t.Errorf("kubectl get tlscerts: %v\n%s", err, out)
	}
}

// Fresh objects show the CRD's defaults until a controller writes status.
func TestNewProxyShowsNotReconciled(t *testing.T) {
	c := kube
	ns := c.NewNamespace(t)
	out, err := c.KubectlInput(strings.NewReader(`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: basic}
spec:
  virtualhost: {fqdn: basic.example.com}
  routes:
  - services: [{name: web, port: 80}]
`), "apply", "-n", ns, "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	out, err = c.Kubectl("get", "proxy", "basic", "-n", ns, "--no-headers")
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(out); len(f) < 4 || f[1] != "basic.example.com" || f[2] != contourv1.StatusNotReconciled {
		t.Errorf("new proxy shows %q, want fqdn and %s", out, contourv1.StatusNotReconciled)
	}
}

func TestSchemaRejectsInvalidObjects(t *testing.T) {
	c := kube
	ns := c.NewNamespace(t)
	for name, manifest := range map[string]string{
		"service port out of range": `
spec:
  virtualhost: {fqdn: a.example.com}
  routes: [{services: [{name: web, port: 70000}]}]`,
		"fqdn with a space": `
spec:
  virtualhost: {fqdn: "a b.example.com"}
  routes: [{services: [{name: web, port: 80}]}]`,
		"unknown upstream protocol": `
spec:
  virtualhost: {fqdn: a.example.com}
  routes: [{services: [{name: web, port: 80, protocol: spdy}]}]`,
	} {
		t.Run(name, func(t *testing.T) {
			doc := "apiVersion: projectcontour.io/v1\nkind: HTTPProxy\nmetadata: {name: bad}\n" + strings.TrimPrefix(manifest, "\n")
			out, err := c.KubectlInput(strings.NewReader(doc), "apply", "-n", ns, "-f", "-")
			if err == nil {
				t.Fatalf("the API server accepted an invalid HTTPProxy:\n%s", out)
			}
			if msg := err.Error() + out; !strings.Contains(msg, "Invalid value") && !strings.Contains(msg, "Unsupported value") {
				t.Errorf("rejection does not say what is invalid:\n%s", msg)
			}
		})
	}
}

func cmpIgnoreTimes() cmp.Option {
	return cmp.Comparer(func(a, b metav1.Time) bool { return a.Time.Equal(b.Time) })
}
