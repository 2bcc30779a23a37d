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

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/fixtures"
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

// service is Service i, endpointSlice its one EndpointSlice on backend i,
// httpProxy the proxy routing fqdn(i) to it.
func service(i int) *corev1.Service { return headlessService(serviceName(i)) }

func endpointSlice(i int) *discoveryv1.EndpointSlice {
	return backendSlice(serviceName(i), endpointAddress(i), backendPort)
}

func httpProxy(i int) *contourv1.HTTPProxy { return benchProxy(proxyName(i), fqdn(i), serviceName(i)) }

// headlessService is a Service of port 80, named "http". It is headless:
// proxyctl reads only a Service's ports, and the API server allocates
// cluster IPs one at a time (about 450 ms per create with 32 concurrent
// creates on 2 cores, 15 times an EndpointSlice's), which would make the
// create phase measure the IP allocator.
func headlessService(name string) *corev1.Service {
	s := fixtures.Service("", name, 80)
	s.Spec.ClusterIP = corev1.ClusterIPNone
	s.Spec.Ports[0].Name = "http"
	return s
}

// backendSlice is the EndpointSlice of Service svc: one ready endpoint,
// ip:port, for its port "http".
func backendSlice(svc, ip string, port int32) *discoveryv1.EndpointSlice {
	return fixtures.EndpointSlice("", svc+"-1", svc, "http", port, ip)
}

// benchProxy is the root proxy name routing fqdn to port 80 of Service svc.
func benchProxy(name, fqdn, svc string) *contourv1.HTTPProxy {
	p := fixtures.Root("", name, fqdn, fixtures.Route("/", fixtures.ServiceRef(svc, 80)))
	// The API server sets the generation.
	p.Generation = 0
	return p
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
