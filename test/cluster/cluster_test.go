package cluster_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/proxyctl/proxyctl/internal/testutil"
	"github.com/proxyctl/proxyctl/test/cluster"
)

// widgetCRD is a tiny CRD, so these tests do not depend on the project's.
const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.test.proxyctl.io
spec:
  group: test.proxyctl.io
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    listKind: WidgetList
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size:
                type: integer
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
`

var widgets = schema.GroupVersionResource{Group: "test.proxyctl.io", Version: "v1", Resource: "widgets"}

func TestMissingBinariesFailWithAHint(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "etcd"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := cluster.New(cluster.Options{BinDir: dir, SkipCRDs: true})
	if err == nil {
		t.Fatal("New succeeded without kube-apiserver and kubectl")
	}
	for _, want := range []string{"kube-apiserver", "kubectl", "make tools"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestMissingCRDManifestsFailBeforeStarting(t *testing.T) {
	began := time.Now()
	_, err := cluster.New(cluster.Options{CRDDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "no *.yaml CRD manifests") {
		t.Fatalf("New with an empty CRD directory: err = %v", err)
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("New took %v to report the missing manifests; it should not start anything", d)
	}
}

func TestNamespaceAndConfigMap(t *testing.T) {
	t.Parallel()
	c := cluster.Start(t, cluster.WithoutCRDs())
	ctx := t.Context()

	var ns string
	t.Run("create", func(t *testing.T) {
		ns = c.NewNamespace(t)
		if !strings.HasPrefix(ns, "testnamespaceandconfigmap-create-") {
			t.Errorf("namespace %q is not named after the test", ns)
		}
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "greeting", Namespace: ns},
			Data:       map[string]string{"greeting": "hello"},
		}
		if _, err := c.Client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		out, err := c.Kubectl("get", "configmap", "greeting", "-n", ns, "-o", "jsonpath={.data.greeting}")
		if err != nil {
			t.Fatal(err)
		}
		if out != "hello" {
			t.Errorf("kubectl read %q, want %q", out, "hello")
		}
	})
	if ns == "" {
		t.FailNow()
	}

	// The subtest's cleanup deleted the namespace and its contents.
	if _, err := c.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s after its test ended: err = %v, want NotFound", ns, err)
	}
	if _, err := c.Client.CoreV1().ConfigMaps(ns).Get(ctx, "greeting", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("configmap in deleted namespace: err = %v, want NotFound", err)
	}
}

func TestRBACIsEnforced(t *testing.T) {
	t.Parallel()
	c := cluster.Start(t, cluster.WithoutCRDs())
	ns := c.NewNamespace(t)

	// A user nobody granted anything to is forbidden; the admin may act as one.
	cfg := c.RESTConfig()
	cfg.Impersonate.UserName = "nobody"
	nobody, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = nobody.CoreV1().ConfigMaps(ns).List(t.Context(), metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("list as an unprivileged user: err = %v, want Forbidden", err)
	}

	// Without WithAuditLog there is no audit log to read.
	if _, err := c.AuditEvents(); err == nil {
		t.Error("AuditEvents succeeded on a cluster without an audit log")
	}
}

func TestCRDSurvivesAPIServerRestart(t *testing.T) {
	t.Parallel()
	crds := t.TempDir()
	if err := os.WriteFile(filepath.Join(crds, "widget.yaml"), []byte(widgetCRD), 0o644); err != nil {
		t.Fatal(err)
	}
	c := cluster.Start(t, cluster.WithCRDDir(crds))
	ns := c.NewNamespace(t)

	widget := fmt.Sprintf("apiVersion: test.proxyctl.io/v1\nkind: Widget\nmetadata:\n  name: small\n  namespace: %s\nspec:\n  size: 3\n", ns)
	if _, err := c.KubectlInput(strings.NewReader(widget), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	client := dynamic.NewForConfigOrDie(c.RESTConfig())
	checkWidget := func(when string) {
		t.Helper()
		obj, err := client.Resource(widgets).Namespace(ns).Get(t.Context(), "small", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: get widget: %v", when, err)
		}
		if size := obj.Object["spec"].(map[string]any)["size"]; size != int64(3) {
			t.Errorf("%s: widget size = %v, want 3", when, size)
		}
		out, err := c.Kubectl("get", "widgets", "-n", ns, "-o", "name")
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if strings.TrimSpace(out) != "widget.test.proxyctl.io/small" {
			t.Errorf("%s: kubectl get widgets = %q", when, out)
		}
	}
	checkWidget("before the restart")

	for _, s := range []struct {
		name string
		stop func() error
	}{{"StopAPIServer", c.StopAPIServer}, {"KillAPIServer", c.KillAPIServer}} {
		name := s.name
		if err := s.stop(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := c.Client.Discovery().ServerVersion(); err == nil {
			t.Fatalf("the API server answers after %s", name)
		}
		began := time.Now()
		if err := c.StartAPIServer(); err != nil {
			t.Fatalf("StartAPIServer after %s: %v", name, err)
		}
		t.Logf("API server ready again %v after %s", time.Since(began).Round(time.Millisecond), name)
		// Same port, certificates and token: the old clients keep working.
		checkWidget("after " + name)
	}
}

func TestAuditLogRecordsRequests(t *testing.T) {
	t.Parallel()
	c := cluster.Start(t, cluster.WithoutCRDs(), cluster.WithAuditLog())
	ns := c.NewNamespace(t)

	cfg := c.RESTConfig()
	cfg.UserAgent = "audit-test/" + ns
	client := kubernetes.NewForConfigOrDie(cfg)
	began := time.Now()
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "leader", Namespace: ns}}
	if _, err := client.CoordinationV1().Leases(ns).Create(t.Context(), lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The event is written as the request completes, which the client may
	// see before it is on disk.
	var found *cluster.AuditEvent
	testutil.Eventually(t, 30*time.Second, "the lease creation in the audit log", func() error {
		events, err := c.AuditEvents()
		for _, e := range events {
			if e.UserAgent == cfg.UserAgent && e.Verb == "create" && e.ObjectRef != nil && e.ObjectRef.Resource == "leases" {
				found = &e
				return nil
			}
		}
		if err == nil {
			err = errors.New("no such event yet")
		}
		return err
	})
	if found.Code() != 201 {
		t.Errorf("response code = %d, want 201", found.Code())
	}
	if found.User.Username != cluster.AdminUser {
		t.Errorf("user = %q, want %q", found.User.Username, cluster.AdminUser)
	}
	if ref := *found.ObjectRef; ref.Namespace != ns || ref.Name != "leader" || ref.APIGroup != "coordination.k8s.io" {
		t.Errorf("objectRef = %+v", ref)
	}
	if found.RequestURI != "/apis/coordination.k8s.io/v1/namespaces/"+ns+"/leases" {
		t.Errorf("requestURI = %q", found.RequestURI)
	}
	received, completed := found.RequestReceivedTimestamp.Time, found.StageTimestamp.Time
	if received.Before(began.Add(-time.Second)) || completed.Before(received) {
		t.Errorf("timestamps: request began %v, received %v, completed %v", began, received, completed)
	}
}

func TestStopLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	c, err := cluster.New(cluster.Options{SkipCRDs: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := c.Dir()
	if procs := processesUsing(t, dir); len(procs) != 2 {
		t.Errorf("processes using %s while running: %v, want etcd and kube-apiserver", dir, procs)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if procs := processesUsing(t, dir); len(procs) != 0 {
		t.Errorf("processes left after Stop: %v", procs)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory after Stop: %v, want it gone", err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// processesUsing returns the command names of the processes whose command
// line mentions dir.
func processesUsing(t *testing.T, dir string) []string {
	t.Helper()
	cmdlines, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var procs []string
	for _, path := range cmdlines {
		data, err := os.ReadFile(path)
		if err != nil || !strings.Contains(string(data), dir) {
			continue // gone since the glob, or not ours
		}
		argv := strings.Split(string(data), "\x00")
		procs = append(procs, filepath.Base(argv[0]))
	}
	return procs
}
