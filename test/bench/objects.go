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

// service is headless: proxyctl reads only a Service's ports, and the API
// server allocates cluster IPs one at a time (about 450 ms per create with
// 32 concurrent creates on 2 cores, 15 times an EndpointSlice's), which
// would make the create phase measure the IP allocator.
func service(i int) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: serviceName(i)},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Ports:     []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
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
func createAll(ctx context.Context, kc kubernetes.Interface, pc versioned.Interface, ns string, n, workers int, lat *createLatency) (last time.Time, err error) {
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
				if err := lat.createOne(ctx, kc, pc, ns, i); err != nil {
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

// createLatency adds up how long the creates of each kind took.
type createLatency struct {
	mu    sync.Mutex
	total [3]time.Duration
	n     [3]int
}

func (l *createLatency) add(kind int, d time.Duration) {
	l.mu.Lock()
	l.total[kind] += d
	l.n[kind]++
	l.mu.Unlock()
}

// String gives the mean latency of each kind.
func (l *createLatency) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	mean := func(k int) time.Duration {
		if l.n[k] == 0 {
			return 0
		}
		return (l.total[k] / time.Duration(l.n[k])).Round(time.Microsecond)
	}
	return fmt.Sprintf("mean create latency: Service %s, EndpointSlice %s, HTTPProxy %s", mean(0), mean(1), mean(2))
}

func (l *createLatency) createOne(ctx context.Context, kc kubernetes.Interface, pc versioned.Interface, ns string, i int) error {
	began := time.Now()
	if _, err := kc.CoreV1().Services(ns).Create(ctx, service(i), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create service %d: %w", i, err)
	}
	l.add(0, time.Since(began))
	began = time.Now()
	if _, err := kc.DiscoveryV1().EndpointSlices(ns).Create(ctx, endpointSlice(i), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create endpointslice %d: %w", i, err)
	}
	l.add(1, time.Since(began))
	began = time.Now()
	if _, err := pc.ProjectcontourV1().HTTPProxies(ns).Create(ctx, httpProxy(i), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create httpproxy %d: %w", i, err)
	}
	l.add(2, time.Since(began))
	return nil
}
