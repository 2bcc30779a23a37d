package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	"github.com/proxyctl/proxyctl/test/cluster"
	"github.com/proxyctl/proxyctl/test/replica"
)

// loadBalancers reads status.loadBalancer of every proxy in ns.
func loadBalancers(t *testing.T, c *cluster.Cluster, ns string) map[string]corev1.LoadBalancerStatus {
	t.Helper()
	list, err := versioned.NewForConfigOrDie(c.RESTConfig()).ProjectcontourV1().HTTPProxies(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]corev1.LoadBalancerStatus{}
	for _, p := range list.Items {
		out[p.Name] = p.Status.LoadBalancer
	}
	return out
}

// TestEnvoyServiceAddressInStatus: as in Contour, the leader copies the
// Envoy Service's status.loadBalancer to status.loadBalancer of every
// HTTPProxy of its class, whatever the proxy's status (Contour's address
// updater checks the class only); a proxy of another class is not touched.
// When the Service's address changes, every proxy follows; when the Service
// goes, the address goes. The addresses are from the documentation range
// 192.0.2.0/24 and only written into objects: nothing is sent to them.
func TestEnvoyServiceAddressInStatus(t *testing.T) {
	c := cluster.Start(t)
	ns := c.NewNamespace(t)
	ctx := context.Background()
	services := c.Client.CoreV1().Services(ns)
	if _, err := services.Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	envoy, err := services.Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "envoy"},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, AllocateLoadBalancerNodePorts: ptr.To(false),
			Ports: []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "https", Port: 443}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// What a cloud's load balancer controller would write. It returns
	// what the Service shows then (the API server defaults ipMode): the
	// proxies must show exactly that.
	setAddress := func(lb corev1.LoadBalancerStatus) corev1.LoadBalancerStatus {
		t.Helper()
		svc, err := services.Get(ctx, "envoy", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		svc.Status.LoadBalancer = lb
		if envoy, err = services.UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		return envoy.Status.LoadBalancer
	}
	first := setAddress(corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.10"}}})

	out, err := c.KubectlInput(strings.NewReader(statusManifest+`---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: other-class}
spec:
  ingressClassName: other
  virtualhost: {fqdn: other.example.com}
  routes: [{services: [{name: web, port: 80}]}]
`), "apply", "-n", ns, "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	replica.Start(t, replica.Options{
		Binary: replica.Binary(t), Kubeconfig: c.Kubeconfig, Identity: "replica-0",
		LeaseNamespace: ns, LogDir: t.TempDir(),
		Args: append([]string{"--envoy-service-name", "envoy", "--envoy-service-namespace", ns}, statusLeaseArgs...),
	})

	ours := []string{"good", "broken", "lonely-child"}
	expect := func(what string, lb corev1.LoadBalancerStatus) {
		t.Helper()
		eventually(t, what, func() error {
			got := loadBalancers(t, c, ns)
			for _, name := range ours {
				if !equality.Semantic.DeepEqual(got[name], lb) {
					return fmt.Errorf("%s shows %+v, want %+v", name, got[name], lb)
				}
			}
			if other := got["other-class"]; len(other.Ingress) != 0 {
				return fmt.Errorf("other-class, not ours, shows %+v", other)
			}
			return nil
		})
	}
	expect("the Envoy Service's address on every proxy of our class", first)
	// The statuses themselves are as without an address.
	if got, want := fmt.Sprint(statuses(t, c, ns)["broken"][0]), "invalid"; got != want {
		t.Errorf("broken shows %q, want %q", got, want)
	}

	// The cloud hands out another address, with a hostname and ports.
	second := setAddress(corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
		{IP: "192.0.2.20", IPMode: ptr.To(corev1.LoadBalancerIPModeProxy), Ports: []corev1.PortStatus{{Port: 80, Protocol: corev1.ProtocolTCP}}},
		{Hostname: "lb.example.com"},
	}})
	expect("every proxy follows the new address", second)

	// A proxy created now shows the address at once with its status.
	if out, err := c.KubectlInput(strings.NewReader(`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: late}
spec:
  virtualhost: {fqdn: late.example.com}
  routes: [{services: [{name: web, port: 80}]}]
`), "apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	ours = append(ours, "late")
	expect("a new proxy shows the address", second)

	// The Service gone: no address is known any more.
	if err := services.Delete(ctx, envoy.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("no address once the Envoy Service is deleted", corev1.LoadBalancerStatus{})
}
