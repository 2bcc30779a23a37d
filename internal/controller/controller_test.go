package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourfake "github.com/proxyctl/proxyctl/apis/generated/clientset/versioned/fake"
	contourinformers "github.com/proxyctl/proxyctl/apis/generated/informers/externalversions"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/dag"
)

// recorder keeps every DAG the controller hands out.
type recorder struct {
	mu   sync.Mutex
	dags []*dag.DAG
}

func (r *recorder) OnChange(d *dag.DAG) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dags = append(r.dags, d)
}

func (r *recorder) last() (*dag.DAG, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.dags) == 0 {
		return nil, 0
	}
	return r.dags[len(r.dags)-1], len(r.dags)
}

// waitForDAG polls until the latest DAG satisfies cond.
func (r *recorder) waitForDAG(t *testing.T, what string, cond func(*dag.DAG) bool) *dag.DAG {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if d, _ := r.last(); d != nil && cond(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("no DAG with %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasVhost(name string) func(*dag.DAG) bool {
	return func(d *dag.DAG) bool {
		for _, vh := range d.HTTP {
			if vh.Name == name {
				return true
			}
		}
		return false
	}
}

// testNamespace is where the tests' objects live; the fake clientsets
// need no namespace to exist.
const testNamespace = "ns"

type env struct {
	kube    kubernetes.Interface
	contour versioned.Interface
	ns      string
	rec     *recorder
	ctrl    *Controller
	reg     *prometheus.Registry
}

func newEnv() *env {
	return &env{
		kube:    kubefake.NewClientset(),
		contour: contourfake.NewSimpleClientset(),
		ns:      testNamespace,
		rec:     &recorder{},
		reg:     prometheus.NewRegistry(),
	}
}

// informers builds the controller's informers over the fake clientsets,
// whole-cluster, as cmd/proxyctl does, and starts them; they are shut
// down, every goroutine joined, when the test ends. Cleanups run last
// added first: call it before starting the controller, so the controller
// is stopped before its informers.
func (e *env) informers(t *testing.T) Informers {
	t.Helper()
	set, kf, cf := e.factories()
	stop := make(chan struct{})
	kf.Start(stop)
	cf.Start(stop)
	t.Cleanup(func() {
		close(stop)
		kf.Shutdown()
		cf.Shutdown()
	})
	return set
}

// informersUnstarted builds the informers and leaves them unstarted.
func (e *env) informersUnstarted() Informers {
	set, _, _ := e.factories()
	return set
}

func (e *env) factories() (Informers, informers.SharedInformerFactory, contourinformers.SharedInformerFactory) {
	kf := informers.NewSharedInformerFactoryWithOptions(e.kube, 0, informers.WithTransform(Trim))
	cf := contourinformers.NewSharedInformerFactoryWithOptions(e.contour, 0, contourinformers.WithTransform(Trim))
	return Informers{
		HTTPProxies:               cf.Projectcontour().V1().HTTPProxies().Informer(),
		TLSCertificateDelegations: cf.Projectcontour().V1().TLSCertificateDelegations().Informer(),
		ExtensionServices:         cf.Projectcontour().V1alpha1().ExtensionServices().Informer(),
		Services:                  kf.Core().V1().Services().Informer(),
		EndpointSlices:            kf.Discovery().V1().EndpointSlices().Informer(),
		Secrets:                   kf.Core().V1().Secrets().Informer(),
	}, kf, cf
}

// run runs the controller until the test ends.
func (e *env) run(t *testing.T, cfg Config) {
	t.Helper()
	ctrl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.ctrl = ctrl
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctrl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func start(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	e := newEnv()
	cfg := Config{Informers: []Informers{e.informers(t)}, Observers: []Observer{e.rec}, Registerer: e.reg}
	if mutate != nil {
		mutate(&cfg)
	}
	e.run(t, cfg)
	return e
}

func (e *env) createProxy(t *testing.T, name, class string) *contourv1.HTTPProxy {
	t.Helper()
	p := &contourv1.HTTPProxy{
		// The fake clientsets keep no generation: set the API server's
		// first, which status writes keep and spec changes bump.
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1},
		Spec: contourv1.HTTPProxySpec{
			IngressClassName: class,
			VirtualHost:      &contourv1.VirtualHost{Fqdn: name + ".example.com"},
			Routes:           []contourv1.Route{{Services: []contourv1.Service{{Name: "web", Port: 80}}}},
		},
	}
	created, err := e.contour.ProjectcontourV1().HTTPProxies(e.ns).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// createFamily creates Service web and, for i in [0, n), a child proxy
// routing to it and a root proxy including the child: each root's route
// and status depend on its child being cached, each child's status on its
// root.
func createFamily(t *testing.T, kube kubernetes.Interface, contour versioned.Interface, ns string, n int) {
	t.Helper()
	ctx := context.Background()
	if _, err := kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	proxies := contour.ProjectcontourV1().HTTPProxies(ns)
	for i := range n {
		child := fmt.Sprintf("child-%03d", i)
		if _, err := proxies.Create(ctx, &contourv1.HTTPProxy{
			ObjectMeta: metav1.ObjectMeta{Name: child},
			Spec:       contourv1.HTTPProxySpec{Routes: []contourv1.Route{{Services: []contourv1.Service{{Name: "web", Port: 80}}}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := proxies.Create(ctx, &contourv1.HTTPProxy{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("root-%03d", i)},
			Spec: contourv1.HTTPProxySpec{
				VirtualHost: &contourv1.VirtualHost{Fqdn: fmt.Sprintf("root-%03d.example.com", i)},
				Includes:    []contourv1.Include{{Name: child, Conditions: []contourv1.MatchCondition{{Prefix: "/app"}}}},
			},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// checkFamily says what d lacks of createFamily's n roots and children:
// a virtual host, its route to the child's Service, or a valid status.
func checkFamily(d *dag.DAG, ns string, n int) error {
	vhosts := map[string]*dag.VirtualHost{}
	for _, vh := range d.HTTP {
		vhosts[vh.Name] = vh
	}
	var problems []string
	for i := range n {
		fqdn := fmt.Sprintf("root-%03d.example.com", i)
		routed := false
		if vh := vhosts[fqdn]; vh != nil {
			for _, r := range vh.Routes {
				routed = routed || len(r.Clusters) > 0
			}
		}
		if !routed {
			problems = append(problems, fqdn+" does not route to its child's Service")
		}
		for _, name := range []string{fmt.Sprintf("root-%03d", i), fmt.Sprintf("child-%03d", i)} {
			s := d.Statuses[types.NamespacedName{Namespace: ns, Name: name}]
			if s == nil || !s.Valid() {
				problems = append(problems, fmt.Sprintf("status of %s is %+v", name, s))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problems, the first: %s", len(problems), problems[0])
	}
	return nil
}

// TestFirstDAGHasEveryInitialObjectThenChangesFlow: objects that exist
// before the controller starts are all in its first DAG, then changes
// flow. The handler registrations report synced once the handlers have
// returned, having only buffered the initial objects for the event loop;
// the test starts the loop only after that, so the loop sees the synced
// signal and a full buffer at once, the window a busy replica hits at
// random. A first DAG from a partial cache would reach Envoy and, on a new
// leader, write IncludeNotFound on roots and orphaned on children.
func TestFirstDAGHasEveryInitialObjectThenChangesFlow(t *testing.T) {
	const families = 100 // 200 proxies: the buffer holds them all
	e := newEnv()
	createFamily(t, e.kube, e.contour, e.ns, families)
	ctrl, err := New(Config{Informers: []Informers{e.informers(t)}, Observers: []Observer{e.rec}})
	if err != nil {
		t.Fatal(err)
	}
	e.ctrl = ctrl
	ctx, cancel := context.WithCancel(context.Background())
	synced, stop, err := ctrl.start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(synced) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the informers never synced")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(ctrl.events); n < 2*families {
		t.Fatalf("%d events buffered at sync, want the %d proxies at least", n, 2*families)
	}
	done := make(chan error, 1)
	go func() { done <- ctrl.loop(ctx, synced) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("loop: %v", err)
		}
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})

	e.rec.waitForDAG(t, "a first DAG", func(*dag.DAG) bool { return true })
	e.rec.mu.Lock()
	first := e.rec.dags[0]
	e.rec.mu.Unlock()
	if err := checkFamily(first, e.ns, families); err != nil {
		t.Fatalf("the first DAG was built from a partial cache: %v", err)
	}
	if err := e.ctrl.Ready(); err != nil {
		t.Fatalf("Ready after the first DAG: %v", err)
	}

	// Endpoints of a referenced Service reach the DAG's cluster.
	if _, err := e.kube.DiscoveryV1().EndpointSlices(e.ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.1.2.3"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.rec.waitForDAG(t, "the endpoint", func(d *dag.DAG) bool {
		for _, c := range d.Clusters {
			if len(c.Endpoints) == 1 && c.Endpoints[0] == (dag.Endpoint{Address: "10.1.2.3", Port: 8080}) {
				return true
			}
		}
		return false
	})

	// A proxy added later appears, and its status result is in the DAG.
	e.createProxy(t, "late", "")
	d := e.rec.waitForDAG(t, "the late vhost", hasVhost("late.example.com"))
	if s := d.Statuses[types.NamespacedName{Namespace: e.ns, Name: "late"}]; s == nil || !s.Valid() {
		t.Fatalf("status of late = %+v, want valid", s)
	}
}

// Our own status writes change only status; they must not cause rebuilds,
// or every write would trigger another build forever. After the status
// update has reached the event loop, a spec change follows: the first
// rebuild after the status update must be the one the spec change caused.
// The hold-off is a millisecond, so a rebuild the status update caused
// would have run before the spec change, which takes an API round trip and
// a watch event, could reach the loop.
func TestStatusOnlyUpdatesDoNotRebuild(t *testing.T) {
	e := start(t, func(c *Config) { c.HoldOff, c.MaxHoldOff = time.Millisecond, time.Millisecond })
	p := e.createProxy(t, "a", "")
	e.rec.waitForDAG(t, "vhost a", hasVhost("a.example.com"))
	_, builds := e.rec.last()
	events := testutil.ToFloat64(e.ctrl.metrics.events)

	p.Status.CurrentStatus = contourv1.StatusValid
	p.Status.Description = contourv1.DescriptionValid
	if _, err := e.contour.ProjectcontourV1().HTTPProxies(e.ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(e.ctrl.metrics.events) == events {
		if time.Now().After(deadline) {
			t.Fatal("the status update never reached the event loop")
		}
		time.Sleep(5 * time.Millisecond)
	}

	e.createProxy(t, "b", "")
	e.rec.waitForDAG(t, "vhost b", hasVhost("b.example.com"))
	e.rec.mu.Lock()
	next := e.rec.dags[builds]
	e.rec.mu.Unlock()
	if !hasVhost("b.example.com")(next) {
		t.Fatal("a status-only update caused a rebuild: the first DAG after it does not have vhost b")
	}
}

func TestOtherIngressClassIsIgnored(t *testing.T) {
	e := start(t, func(c *Config) { c.IngressClassNames = []string{"edge", "team1"} })
	e.createProxy(t, "theirs", "nginx")
	e.createProxy(t, "unclassed", "")
	e.createProxy(t, "ours", "edge")
	e.createProxy(t, "team", "team1")
	// The annotation takes precedence over the field, both ways.
	annotated := func(name, class, annotation string) {
		p := e.createProxy(t, name, class)
		p.Annotations = map[string]string{classAnnotation: annotation}
		if _, err := e.contour.ProjectcontourV1().HTTPProxies(e.ns).Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// annotated-theirs is ours until its update: made first, it is
	// settled in any DAG that has annotated-ours (one watch, in order).
	annotated("annotated-theirs", "edge", "nginx")
	annotated("annotated-ours", "nginx", "team1")
	d := e.rec.waitForDAG(t, "our vhosts", func(d *dag.DAG) bool {
		return hasVhost("ours.example.com")(d) && hasVhost("team.example.com")(d) && hasVhost("annotated-ours.example.com")(d)
	})
	for _, theirs := range []string{"theirs", "unclassed", "annotated-theirs"} {
		if hasVhost(theirs + ".example.com")(d) {
			t.Errorf("%s, of another class, is served: %v", theirs, d.HTTP)
		}
	}
	for key := range d.Statuses {
		switch key.Name {
		case "ours", "team", "annotated-ours":
		default:
			t.Errorf("a proxy of another class has a status result: %v", key)
		}
	}
}

// A kind left out of the wiring would silently never reach the DAG: New
// refuses it.
func TestNewRefusesMissingInformers(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without informers succeeded")
	}
	set := Informers{HTTPProxies: newEnv().informersUnstarted().HTTPProxies}
	_, err := New(Config{Informers: []Informers{set}})
	if err == nil || !strings.Contains(err.Error(), "TLSCertificateDelegations") {
		t.Errorf("New with only an HTTPProxy informer = %v, want the first missing one named", err)
	}
}

// proxyCounter counts the HTTPProxy events of each name.
type proxyCounter struct {
	mu   sync.Mutex
	seen map[string]int
}

func (c *proxyCounter) OnProxy(p *contourv1.HTTPProxy) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[p.Name]++
}

func (c *proxyCounter) count(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[name]
}

// The informers outlive the controller (their owner stops them): once Run
// has returned, none of its handlers is called again.
func TestRunUnsubscribesOnReturn(t *testing.T) {
	e := newEnv()
	set := e.informers(t)
	counter := &proxyCounter{seen: map[string]int{}}
	ctrl, err := New(Config{Informers: []Informers{set}, ProxyObservers: []ProxyObserver{counter}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctrl.Run(ctx) }()
	e.createProxy(t, "before", "")
	deadline := time.Now().Add(20 * time.Second)
	for ctrl.Ready() != nil || counter.count("before") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the controller never saw the first proxy")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	// A handler added now sees the next proxy only after the informer has
	// handed it to every handler still subscribed.
	seen := make(chan struct{})
	var once sync.Once
	if _, err := set.HTTPProxies.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		if obj.(*contourv1.HTTPProxy).Name == "after" {
			once.Do(func() { close(seen) })
		}
	}}); err != nil {
		t.Fatal(err)
	}
	e.createProxy(t, "after", "")
	select {
	case <-seen:
	case <-time.After(20 * time.Second):
		t.Fatal("the informer never delivered the second proxy")
	}
	if n := counter.count("after"); n != 0 {
		t.Fatalf("the controller was told of a proxy %d times after Run returned", n)
	}
}
