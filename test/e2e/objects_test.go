package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// apply creates the objects in a YAML stream with kubectl, as a user would.
func apply(t *testing.T, ns, manifest string) {
	t.Helper()
	out, err := kube.KubectlInput(strings.NewReader(manifest), "apply", "-n", ns, "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

// backendService creates a Service with one named port and an EndpointSlice
// pointing at addr:port (Kubernetes has no controller here to make it).
func backendService(t *testing.T, ns, name string, addr string, port int32) {
	t.Helper()
	ctx := context.Background()
	kc := kubernetes.NewForConfigOrDie(kube.RESTConfig())
	if _, err := kc.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{addr},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(port)}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// simpleProxy is an HTTPProxy routing everything on fqdn to service.
func simpleProxy(name, fqdn, service string) string {
	return fmt.Sprintf(`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: %s}
spec:
  virtualhost: {fqdn: %s}
  routes:
  - services: [{name: %s, port: 80}]
---
`, name, fqdn, service)
}
