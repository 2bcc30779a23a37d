// Package examples checks the manifests under examples/ against a real API
// server: every file (found by walking the directory, so new examples are
// covered without touching this test) passes `kubectl apply
// --dry-run=server`, and the RBAC in examples/proxyctl grants the service
// accounts what they need and nothing more.
package examples

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
	"github.com/proxyctl/proxyctl/internal/certgen"
	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/test/cluster"
)

// manifest is one file under examples/ and the objects it holds.
type manifest struct {
	path    string // absolute
	rel     string // relative to examples/, for test names
	objects []*unstructured.Unstructured
}

// manifests walks examples/, skipping the generated CRDs (the harness
// installs them) and the Grafana dashboard, and decodes every YAML or JSON
// file.
func manifests(t *testing.T, root string) []manifest {
	t.Helper()
	dir := filepath.Join(root, "examples")
	var out []manifest
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// The CRDs are generated (the harness installs them); the
			// Grafana dashboard is no Kubernetes object.
			if path == filepath.Join(dir, "crds") || path == filepath.Join(dir, "grafana") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		// A `proxyctl serve --config-path` file, no Kubernetes object;
		// internal/config and cmd/proxyctl load it.
		if path == filepath.Join(dir, "proxyctl", "config.yaml") {
			return nil
		}
		objs, err := decode(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		out = append(out, manifest{path: path, rel: filepath.ToSlash(rel), objects: objs})
		return nil
	})
	if err != nil {
		t.Fatalf("read examples: %v", err)
	}
	return out
}

func decode(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, err
		}
		if obj == nil { // an empty document, e.g. after a trailing ---
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: obj})
	}
}

func TestExamples(t *testing.T) {
	root, err := cluster.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files := manifests(t, root)
	// A walk that found nothing would pass every check below.
	for _, want := range []string{"proxyctl/01-rbac.yaml", "proxyctl/03-proxyctl.yaml", "proxyctl/04-envoy.yaml", "httpproxy/delegation.yaml", "render/proxyctl.yaml"} {
		if !slices.ContainsFunc(files, func(m manifest) bool { return m.rel == want }) {
			t.Fatalf("examples/%s not found: the walk is broken or the file moved", want)
		}
	}

	c := cluster.Start(t)
	createNamespaces(t, c, files)

	t.Run("dry-run", func(t *testing.T) {
		for _, m := range files {
			t.Run(m.rel, func(t *testing.T) { dryRun(t, c, m) })
		}
	})
	t.Run("rbac", func(t *testing.T) {
		rbac := filepath.Join(root, "examples", "proxyctl", "01-rbac.yaml")
		if out, err := c.Kubectl("apply", "-f", rbac); err != nil {
			t.Fatalf("apply %s: %v\n%s", rbac, err, out)
		}
		t.Run("proxyctl", func(t *testing.T) { proxyctlPermissions(t, c) })
		t.Run("certgen", func(t *testing.T) { certgenPermissions(t, c) })
		t.Run("envoy", func(t *testing.T) { envoyPermissions(t, c) })
	})
}

// createNamespaces creates, for real, every namespace the manifests put
// objects in: a server-side dry run of a namespaced object needs its
// namespace to exist, and a Namespace in the same file is only dry-run.
func createNamespaces(t *testing.T, c *cluster.Cluster, files []manifest) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[string]bool{}
	for _, m := range files {
		for _, obj := range m.objects {
			ns := obj.GetNamespace()
			if ns == "" || seen[ns] {
				continue
			}
			seen[ns] = true
			_, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatalf("create namespace %s: %v", ns, err)
			}
		}
	}
}

// dryRun applies one file with a server-side dry run: the API server runs
// defaulting, schema and CRD validation and admission on every object and
// stores nothing. (No scheduler or controller runs, so a Deployment or a
// DaemonSet is checked as an object only.)
func dryRun(t *testing.T, c *cluster.Cluster, m manifest) {
	if len(m.objects) == 0 {
		t.Fatalf("%s holds no object", m.rel)
	}
	out, err := c.Kubectl("apply", "--dry-run=server", "-f", m.path)
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server -f %s: %v\n%s", m.rel, err, out)
	}
	// One line per object, "kind/name created (server dry run)": none was
	// skipped.
	if got := strings.Count(out, "(server dry run)"); got != len(m.objects) {
		t.Errorf("%d objects dry-run, the file holds %d:\n%s", got, len(m.objects), out)
	}
	for _, obj := range m.objects {
		if obj.GetAPIVersion() == "" || obj.GetKind() == "" || obj.GetName() == "" {
			t.Errorf("object without apiVersion, kind or name: %v", obj.Object)
		}
	}
}

type check struct {
	verb, resource string
	args           []string // namespace flags, --subresource
	want           bool
}

// canI asks the API server, as the service account, whether each check is
// allowed.
func canI(t *testing.T, c *cluster.Cluster, serviceAccount string, checks []check) {
	t.Helper()
	as := "--as=system:serviceaccount:proxyctl:" + serviceAccount
	for _, ch := range checks {
		args := append([]string{"auth", "can-i", ch.verb, ch.resource, as}, ch.args...)
		out, err := c.Kubectl(args...)
		answer := strings.TrimSpace(out)
		// kubectl exits 1 for "no".
		if answer != "yes" && answer != "no" {
			t.Errorf("kubectl %s: %q, %v", strings.Join(args, " "), out, err)
			continue
		}
		if got := answer == "yes"; got != ch.want {
			t.Errorf("%s can %s %s %s: %s, want %v", serviceAccount, ch.verb, ch.resource, strings.Join(ch.args, " "), answer, ch.want)
		}
	}
}

func proxyctlPermissions(t *testing.T, c *cluster.Cluster) {
	all := []string{"--all-namespaces"}
	status := []string{"--subresource=status", "-n", "examples"}
	canI(t, c, "proxyctl", []check{
		// What the informers read, in every namespace.
		{"list", "httpproxies.projectcontour.io", all, true},
		{"watch", "httpproxies.projectcontour.io", all, true},
		{"list", "tlscertificatedelegations.projectcontour.io", all, true},
		{"watch", "tlscertificatedelegations.projectcontour.io", all, true},
		{"list", "services", all, true},
		{"watch", "services", all, true},
		{"list", "endpointslices.discovery.k8s.io", all, true},
		{"watch", "endpointslices.discovery.k8s.io", all, true},
		{"list", "secrets", all, true},
		{"watch", "secrets", all, true},
		{"get", "secrets", []string{"-n", "examples"}, true},
		// The Envoy Service, watched alone for its address (a field
		// selector in its namespace); its status is read, never written.
		{"list", "services", []string{"-n", "proxyctl"}, true},
		{"watch", "services", []string{"-n", "proxyctl"}, true},
		{"update", "services", []string{"--subresource=status", "-n", "proxyctl"}, false},
		// Status, and only status.
		{"update", "httpproxies.projectcontour.io", status, true},
		{"patch", "httpproxies.projectcontour.io", status, true},
		{"update", "httpproxies.projectcontour.io", []string{"-n", "examples"}, false},
		{"patch", "httpproxies.projectcontour.io", []string{"-n", "examples"}, false},
		{"create", "httpproxies.projectcontour.io", []string{"-n", "examples"}, false},
		{"delete", "httpproxies.projectcontour.io", []string{"-n", "examples"}, false},
		{"update", "tlscertificatedelegations.projectcontour.io", []string{"-n", "examples-certs"}, false},
		// Nothing else is written.
		{"delete", "secrets", []string{"-n", "proxyctl"}, false},
		{"update", "secrets", []string{"-n", "examples"}, false},
		{"create", "secrets", []string{"-n", "proxyctl"}, false},
		{"update", "services", []string{"-n", "examples"}, false},
		{"update", "endpointslices.discovery.k8s.io", []string{"-n", "examples"}, false},
		// Leader election in its own namespace only.
		{"get", "leases.coordination.k8s.io", []string{"-n", "proxyctl"}, true},
		{"create", "leases.coordination.k8s.io", []string{"-n", "proxyctl"}, true},
		{"update", "leases.coordination.k8s.io", []string{"-n", "proxyctl"}, true},
		{"update", "leases.coordination.k8s.io/proxyctl-leader", []string{"-n", "proxyctl"}, true},
		{"delete", "leases.coordination.k8s.io", []string{"-n", "proxyctl"}, false},
		{"update", "leases.coordination.k8s.io", []string{"-n", "examples"}, false},
		{"create", "leases.coordination.k8s.io", []string{"-n", "kube-system"}, false},
		{"update", "leases.coordination.k8s.io", all, false},
		// Nothing it does not use.
		{"list", "pods", all, false},
		{"list", "configmaps", all, false},
		{"list", "namespaces", nil, false},
	})
}

// impersonate returns a client acting as the service account, as its pods
// would.
func impersonate(t *testing.T, c *cluster.Cluster, serviceAccount string) kubernetes.Interface {
	t.Helper()
	cfg := c.RESTConfig()
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:proxyctl:" + serviceAccount}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func certgenPermissions(t *testing.T, c *cluster.Cluster) {
	ns := []string{"-n", "proxyctl"}
	canI(t, c, "proxyctl-certgen", []check{
		{"create", "secrets", ns, true},
		{"get", "secrets/proxyctl-cert", ns, true},
		{"get", "secrets/envoy-cert", ns, true},
		{"update", "secrets/proxyctl-cert", ns, true},
		{"update", "secrets/envoy-cert", ns, true},
		{"get", "secrets/another", ns, false},
		{"list", "secrets", ns, false},
		{"delete", "secrets/envoy-cert", ns, false},
		{"create", "secrets", []string{"-n", "examples"}, false},
		{"get", "secrets/proxyctl-cert", []string{"-n", "examples"}, false},
	})

	// What the Job runs, with the Job's identity: create both Secrets,
	// keep them on a second run, replace them with --overwrite.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := impersonate(t, c, "proxyctl-certgen")
	for i, step := range []struct {
		overwrite bool
		want      certgen.WriteResult
	}{{false, certgen.Written}, {false, certgen.Kept}, {true, certgen.Written}} {
		certs, err := certgen.Generate(certgen.Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := certgen.WriteSecrets(ctx, client, "proxyctl", certs, step.overwrite)
		if err != nil {
			t.Fatalf("run %d of certgen as proxyctl-certgen (overwrite %v): %v", i+1, step.overwrite, err)
		}
		if got != step.want {
			t.Errorf("run %d: result %v, want %v", i+1, got, step.want)
		}
	}
}

func envoyPermissions(t *testing.T, c *cluster.Cluster) {
	canI(t, c, "envoy", []check{
		{"get", "secrets/envoy-cert", []string{"-n", "proxyctl"}, false},
		{"list", "services", []string{"--all-namespaces"}, false},
		{"list", "httpproxies.projectcontour.io", []string{"--all-namespaces"}, false},
		{"get", "leases.coordination.k8s.io", []string{"-n", "proxyctl"}, false},
	})
}

// TestSampleProxiesValid builds the DAG from every object under examples/
// and requires each sample HTTPProxy to be valid, and each TLS one to be
// served on the HTTPS listener with its certificate: a sample the API
// server accepts but proxyctl rejects (a missing Service, an undelegated
// Secret, a broken certificate) fails here.
func TestSampleProxiesValid(t *testing.T) {
	root, err := cluster.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	objs := dag.NewObjects()
	for _, m := range manifests(t, root) {
		for _, u := range m.objects {
			key := types.NamespacedName{Namespace: u.GetNamespace(), Name: u.GetName()}
			var err error
			switch u.GroupVersionKind() {
			case contourv1.SchemeGroupVersion.WithKind("HTTPProxy"):
				p := new(contourv1.HTTPProxy)
				err = fromUnstructured(u, p)
				objs.HTTPProxies[key] = p
			case contourv1.SchemeGroupVersion.WithKind("TLSCertificateDelegation"):
				d := new(contourv1.TLSCertificateDelegation)
				err = fromUnstructured(u, d)
				objs.Delegations[key] = d
			case contourv1alpha1.SchemeGroupVersion.WithKind("ExtensionService"):
				e := new(contourv1alpha1.ExtensionService)
				err = fromUnstructured(u, e)
				objs.ExtensionServices[key] = e
			case corev1.SchemeGroupVersion.WithKind("Service"):
				s := new(corev1.Service)
				err = fromUnstructured(u, s)
				objs.Services[key] = s
			case corev1.SchemeGroupVersion.WithKind("Secret"):
				s := new(corev1.Secret)
				err = fromUnstructured(u, s)
				// What the API server does with stringData.
				for k, v := range s.StringData {
					if s.Data == nil {
						s.Data = map[string][]byte{}
					}
					s.Data[k] = []byte(v)
				}
				s.StringData = nil
				objs.Secrets[key] = s
			}
			if err != nil {
				t.Fatalf("%s: %s %s: %v", m.rel, u.GetKind(), key, err)
			}
		}
	}
	if len(objs.HTTPProxies) == 0 {
		t.Fatal("no HTTPProxy under examples/")
	}

	// As `proxyctl serve --fallback-certificate examples/fallback-certificate
	// --enable-external-name-service` runs, which examples/httpproxy/fallback.yaml
	// and externalname.yaml ask for.
	d := dag.Build(objs, dag.Config{
		FallbackCertificate:       types.NamespacedName{Namespace: "examples", Name: "fallback-certificate"},
		EnableExternalNameService: true,
	})
	// Every sample ExtensionService is valid too.
	for key := range objs.ExtensionServices {
		if st := d.ExtensionStatuses[key]; st == nil || !st.Valid() || len(st.Warnings) > 0 {
			t.Errorf("ExtensionService %s: %+v", key, st)
		}
	}
	for key, p := range objs.HTTPProxies {
		st := d.Statuses[key]
		if st == nil {
			t.Errorf("HTTPProxy %s: no status", key)
			continue
		}
		if !st.Valid() {
			t.Errorf("HTTPProxy %s is not valid: %+v", key, st)
		}
		if len(st.Warnings) > 0 {
			t.Errorf("HTTPProxy %s has warnings: %+v", key, st.Warnings)
		}
		vh := p.Spec.VirtualHost
		if vh == nil || vh.TLS == nil {
			continue
		}
		i := slices.IndexFunc(d.HTTPS, func(s *dag.SecureVirtualHost) bool { return s.Name == vh.Fqdn })
		if i < 0 || d.HTTPS[i].Secret == nil {
			t.Errorf("HTTPProxy %s: %s not served over TLS with its certificate", key, vh.Fqdn)
		}
	}
}

func fromUnstructured(u *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, into, true)
}
