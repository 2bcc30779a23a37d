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
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
	"github.com/proxyctl/proxyctl/test/cluster"
)

// TestExtensionServiceRoundTripsThroughTheAPIServer stores the maximal
// ExtensionService, spec and status, and reads back every field.
func TestExtensionServiceRoundTripsThroughTheAPIServer(t *testing.T) {
	c := kube
	ns := c.NewNamespace(t)
	client := versioned.NewForConfigOrDie(c.RESTConfig())
	ctx := context.Background()

	root, err := cluster.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "apis/projectcontour/v1alpha1/testdata/extensionservice-maximal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ext contourv1alpha1.ExtensionService
	if err := yaml.UnmarshalStrict(data, &ext); err != nil {
		t.Fatal(err)
	}
	ext.Namespace = ns
	want := ext.DeepCopy()
	created, err := client.ProjectcontourV1alpha1().ExtensionServices(ns).Create(ctx, &ext, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create maximal ExtensionService: %v", err)
	}
	if diff := cmp.Diff(want.Spec, created.Spec); diff != "" {
		t.Errorf("the API server changed the spec (-sent +stored):\n%s", diff)
	}
	created.Status = *want.Status.DeepCopy()
	updated, err := client.ProjectcontourV1alpha1().ExtensionServices(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if diff := cmp.Diff(want.Status, updated.Status, cmpIgnoreTimes()); diff != "" {
		t.Errorf("the API server changed the status (-sent +stored):\n%s", diff)
	}
	for _, resource := range []string{"extensionservice", "extensionservices", "extensionservices.projectcontour.io"} {
		if out, err := c.Kubectl("get", resource, "-n", ns); err != nil || !strings.Contains(out, ext.Name) {
			t.Errorf("kubectl get %s: %v\n%s", resource, err, out)
		}
	}
}

// TestExtensionServiceSchemaRejectsInvalidObjects checks the validation
// Contour's schema has.
func TestExtensionServiceSchemaRejectsInvalidObjects(t *testing.T) {
	c := kube
	ns := c.NewNamespace(t)
	for name, manifest := range map[string]string{
		"no services":         `spec: {services: []}`,
		"port out of range":   `spec: {services: [{name: a, port: 65536}]}`,
		"port zero":           `spec: {services: [{name: a, port: 0}]}`,
		"protocol version v2": `spec: {services: [{name: a, port: 9000}], protocolVersion: v2}`,
		"unknown protocol":    `spec: {services: [{name: a, port: 9000}], protocol: spdy}`,
		"subjectNames[0] differs": `
spec:
  services: [{name: a, port: 9000}]
  validation: {caSecret: ca, subjectName: a.example.com, subjectNames: [b.example.com]}`,
	} {
		t.Run(name, func(t *testing.T) {
			doc := "apiVersion: projectcontour.io/v1alpha1\nkind: ExtensionService\nmetadata: {name: bad}\n" + strings.TrimPrefix(manifest, "\n")
			out, err := c.KubectlInput(strings.NewReader(doc), "apply", "-n", ns, "-f", "-")
			if err == nil {
				t.Fatalf("the API server accepted an invalid ExtensionService:\n%s", out)
			}
			if msg := err.Error() + out; !strings.Contains(msg, "Invalid value") && !strings.Contains(msg, "Unsupported value") && !strings.Contains(msg, "must") {
				t.Errorf("rejection does not say what is invalid:\n%s", msg)
			}
		})
	}
}
