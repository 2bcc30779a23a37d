package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// backendPort is the port of every Service and EndpointSlice; nothing listens
// on it and nothing is ever sent there.
const backendPort = 8080

func proxyName(i int) string   { return fmt.Sprintf("proxy-%05d", i) }
func serviceName(i int) string { return fmt.Sprintf("svc-%05d", i) }
func fqdn(i int) string        { return fmt.Sprintf("p%05d.bench.example.com", i) }

// endpointAddress gives backend i its own address in 10.0.0.0/8 (never
// contacted: there is no Envoy and no backend).
func endpointAddress(i int) string {
	return fmt.Sprintf("10.%d.%d.%d", 1+i/62500, (i/250)%250, i%250+1)
}

func service(i int) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: serviceName(i)},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{
			Name: "http", Port: 80, Protocol: corev1.ProtocolTCP,
		}}},
	}
}

func endpointSlice(i int) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:   serviceName(i) + "-1",
			Labels: map[string]string{discoveryv1.LabelServiceName: serviceName(i)},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{endpointAddress(i)},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(backendPort))}},
	}
}

func httpProxy(i int) *contourv1.HTTPProxy {
	return &contourv1.HTTPProxy{
		ObjectMeta: metav1.ObjectMeta{Name: proxyName(i)},
		Spec: contourv1.HTTPProxySpec{
			VirtualHost: &contourv1.VirtualHost{Fqdn: fqdn(i)},
			Routes: []contourv1.Route{{
				Conditions: []contourv1.MatchCondition{{Prefix: "/"}},
				Services:   []contourv1.Service{{Name: serviceName(i), Port: 80}},
			}},
		},
	}
}

// createAll creates, for i in [0,n), Service i, its EndpointSlice and
// HTTPProxy i (in that order, so each proxy is valid from its first DAG),
// with workers goroutines. It returns when the last create returned.
func createAll(ctx context.Context, kc kubernetes.Interface, pc versioned.Interface, ns string, n, workers int) (last time.Time, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	done := func(t time.Time) {
		mu.Lock()
		if t.After(last) {
			last = t
		}
		mu.Unlock()
	}
	for range max(workers, 1) {
		wg.Go(func() {
			for i := range next {
				if err := createOne(ctx, kc, pc, ns, i); err != nil {
					cancel(err)
					return
				}
				done(time.Now())
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return last, err
	}
	return last, nil
}

func createOne(ctx context.Context, kc kubernetes.Interface, pc versioned.Interface, ns string, i int) error {
	if _, err := kc.CoreV1().Services(ns).Create(ctx, service(i), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create service %d: %w", i, err)
	}
	if _, err := kc.DiscoveryV1().EndpointSlices(ns).Create(ctx, endpointSlice(i), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create endpointslice %d: %w", i, err)
	}
	if _, err := pc.ProjectcontourV1().HTTPProxies(ns).Create(ctx, httpProxy(i), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create httpproxy %d: %w", i, err)
	}
	return nil
}
