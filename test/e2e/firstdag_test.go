package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/test/replica"
	"github.com/proxyctl/proxyctl/test/xdsclient"
)

// Size of TestFirstAnswerHasEveryInitialProxy: firstDAGRoots roots, each
// including its own child that routes to its own Service, so that a root,
// its child and its cluster can each be missing from a partial view.
const (
	firstDAGRoots  = 1000
	firstDAGRounds = 3
)

// TestFirstAnswerHasEveryInitialProxy starts replicas against 2,000
// proxies that exist already, connects a simulated Envoy at once, and
// checks that the very first answer holds every virtual host with its
// child's route and every cluster: a replica must not build its first DAG
// (nor answer Envoy, nor write status) before its event loop has applied
// every object of the informers' initial lists. An informer reports synced
// once the event handlers have returned, which is before the loop has
// applied what they handed it.
//
// Here the window is narrow: the loop applies an event in microseconds
// and the sync is polled every 100ms, so a replica rarely lands in it (20
// rounds passed on the old loop). This test guards the whole path, from
// API server to Envoy and status; internal/controller's
// TestFirstDAGHasEveryInitialObjectThenChangesFlow opens the window for
// certain.
//
// The first replica also starts with no status written: every status write
// it makes must be the final, valid one, never a transient IncludeNotFound
// on a root whose child was not applied yet, nor an orphaned child whose
// root was not.
func TestFirstAnswerHasEveryInitialProxy(t *testing.T) {
	ns := kube.NewNamespace(t)
	ctx := context.Background()
	kc := kubernetes.NewForConfigOrDie(kube.RESTConfig())
	pc := versioned.NewForConfigOrDie(kube.RESTConfig())
	began := time.Now()
	createFirstDAGObjects(t, kc, pc, ns)
	t.Logf("created %d Services and %d proxies in %s", firstDAGRoots, 2*firstDAGRoots, time.Since(began).Round(time.Millisecond))

	list, err := pc.ProjectcontourV1().HTTPProxies(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2*firstDAGRoots {
		t.Fatalf("%d proxies listed, want %d", len(list.Items), 2*firstDAGRoots)
	}
	w, err := pc.ProjectcontourV1().HTTPProxies(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	writes := watchStatuses(w)

	bin := replica.Binary(t)
	t.Logf("proxyctl built after %s", time.Since(began).Round(time.Millisecond))
	logDir := t.TempDir()
	for round := range firstDAGRounds {
		began := time.Now()
		r := replica.Start(t, replica.Options{
			Binary: bin, Kubeconfig: kube.Kubeconfig, Identity: fmt.Sprintf("first-%d", round),
			LeaseNamespace: ns, LogDir: logDir, Args: []string{"--disable-leader-election"},
		})
		c := dialAtOnce(t, r.XDSAddr)
		firstCDS := waitFirst(t, c, resourcev3.ClusterType)
		firstRDS := waitFirst(t, c, resourcev3.RouteType)
		c.Close()
		checkFirstClusters(t, round, ns, firstCDS)
		checkFirstRoutes(t, round, ns, firstRDS)
		t.Logf("round %d: first answers complete after %s", round, time.Since(began).Round(time.Millisecond))
		if round == 0 {
			// Until every status is written, each write seen must be the
			// valid one.
			eventually(t, "every status written valid", func() error {
				if bad := writes.bad(); bad != "" {
					t.Fatalf("a transient status was written: %s", bad)
				}
				if n := writes.valid(); n != 2*firstDAGRoots {
					return fmt.Errorf("%d of %d proxies valid", n, 2*firstDAGRoots)
				}
				return nil
			})
			t.Logf("round %d: every status written valid after %s", round, time.Since(began).Round(time.Millisecond))
		}
		r.Kill()
		if _, err := r.Wait(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if bad := writes.bad(); bad != "" {
		t.Fatalf("a transient status was written: %s", bad)
	}
	if err := writes.failed(); err != nil {
		t.Fatal(err)
	}
}

func createFirstDAGObjects(t *testing.T, kc kubernetes.Interface, pc versioned.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	create := func(i int) error {
		svc := fmt.Sprintf("svc-%04d", i)
		// Headless: the API server allocates cluster IPs slowly, and
		// proxyctl reads only the ports.
		if _, err := kc.CoreV1().Services(ns).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: svc},
			Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		}, metav1.CreateOptions{}); err != nil {
			return err
		}
		if _, err := pc.ProjectcontourV1().HTTPProxies(ns).Create(ctx, &contourv1.HTTPProxy{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("child-%04d", i)},
			Spec:       contourv1.HTTPProxySpec{Routes: []contourv1.Route{{Services: []contourv1.Service{{Name: svc, Port: 80}}}}},
		}, metav1.CreateOptions{}); err != nil {
			return err
		}
		_, err := pc.ProjectcontourV1().HTTPProxies(ns).Create(ctx, &contourv1.HTTPProxy{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("root-%04d", i)},
			Spec: contourv1.HTTPProxySpec{
				VirtualHost: &contourv1.VirtualHost{Fqdn: firstDAGFQDN(i)},
				Includes: []contourv1.Include{{
					Name:       fmt.Sprintf("child-%04d", i),
					Conditions: []contourv1.MatchCondition{{Prefix: "/child"}},
				}},
			},
		}, metav1.CreateOptions{})
		return err
	}
	next := make(chan int)
	errs := make(chan error, firstDAGRoots)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := range next {
				if err := create(i); err != nil {
					errs <- fmt.Errorf("create objects %d: %w", i, err)
				}
			}
		})
	}
	for i := range firstDAGRoots {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func firstDAGFQDN(i int) string { return fmt.Sprintf("r%04d.first.example.com", i) }

// dialAtOnce opens an ADS stream as soon as the replica's xDS port accepts
// one, as an Envoy retrying its connection would.
func dialAtOnce(t *testing.T, addr string) *xdsclient.Client {
	t.Helper()
	var c *xdsclient.Client
	eventually(t, "an ADS stream to "+addr, func() error {
		var err error
		c, err = xdsclient.Dial(context.Background(), addr, xdsclient.Options{})
		return err
	})
	t.Cleanup(func() { c.Close() })
	return c
}

func waitFirst(t *testing.T, c *xdsclient.Client, typ string) xdsclient.State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.WaitFor(ctx, func(s map[string]xdsclient.State) bool { return s[typ].Responses > 0 }); err != nil {
		t.Fatalf("no %s response: %v", typ, err)
	}
	st, _ := c.First(typ)
	return st
}

// checkFirstClusters wants every child's cluster in the first CDS answer.
func checkFirstClusters(t *testing.T, round int, ns string, st xdsclient.State) {
	t.Helper()
	n := 0
	for name := range st.Resources {
		if strings.HasPrefix(name, ns+"/svc-") {
			n++
		}
	}
	if n != firstDAGRoots {
		t.Fatalf("round %d: the first CDS answer has %d of the %d clusters", round, n, firstDAGRoots)
	}
}

// checkFirstRoutes wants every root's virtual host in the first RDS answer,
// routing /child to its child's Service.
func checkFirstRoutes(t *testing.T, round int, ns string, st xdsclient.State) {
	t.Helper()
	// One route configuration per scope (virtual host) of the HTTP
	// listener, all in the first answer.
	vhosts := map[string]*routev3.VirtualHost{}
	for _, raw := range st.Resources {
		var rc routev3.RouteConfiguration
		if err := proto.Unmarshal(raw, &rc); err != nil {
			t.Fatal(err)
		}
		for _, vh := range rc.VirtualHosts {
			vhosts[vh.Name] = vh
		}
	}
	missing, unrouted := 0, 0
	for i := range firstDAGRoots {
		vh := vhosts[firstDAGFQDN(i)]
		if vh == nil {
			missing++
			continue
		}
		want := fmt.Sprintf("%s/svc-%04d/", ns, i)
		routed := false
		for _, r := range vh.Routes {
			if strings.HasPrefix(r.GetRoute().GetCluster(), want) {
				routed = true
			}
			for _, wc := range r.GetRoute().GetWeightedClusters().GetClusters() {
				if strings.HasPrefix(wc.Name, want) {
					routed = true
				}
			}
		}
		if !routed {
			unrouted++
		}
	}
	if missing+unrouted > 0 {
		t.Fatalf("round %d: the first RDS answer lacks %d of %d virtual hosts, and %d more do not route to their child's Service",
			round, missing, firstDAGRoots, unrouted)
	}
}

// statusWrites follows the proxies' statuses through a watch.
type statusWrites struct {
	mu      sync.Mutex
	current map[string]string // name -> currentStatus
	first   string            // the first write that was not valid
	err     error
}

func watchStatuses(w watch.Interface) *statusWrites {
	s := &statusWrites{current: map[string]string{}}
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*contourv1.HTTPProxy)
			s.mu.Lock()
			switch {
			case ev.Type == watch.Error:
				s.err = fmt.Errorf("watching proxies: %v", ev.Object)
			case ok && ev.Type == watch.Modified:
				st := p.Status.CurrentStatus
				s.current[p.Name] = st
				if st != "" && st != contourv1.StatusValid && s.first == "" {
					s.first = fmt.Sprintf("%s: %s %q", p.Name, st, p.Status.Description)
				}
			}
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *statusWrites) bad() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

func (s *statusWrites) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *statusWrites) valid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.current {
		if st == contourv1.StatusValid {
			n++
		}
	}
	return n
}
