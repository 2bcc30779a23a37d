package status

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned/fake"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/testutil"
)

var proxiesGVR = contourv1.SchemeGroupVersion.WithResource("httpproxies")

// trackerGetter reads the fake clientset's store without recording an
// action, as an informer's lister would. frozen, if set, is served instead
// of the store (a lagging cache).
type trackerGetter struct {
	client *fake.Clientset

	mu     sync.Mutex
	frozen map[string]*contourv1.HTTPProxy
}

func (g *trackerGetter) HTTPProxy(ns, name string) (*contourv1.HTTPProxy, error) {
	g.mu.Lock()
	frozen := g.frozen
	g.mu.Unlock()
	if frozen != nil {
		if p, ok := frozen[name]; ok {
			return p, nil
		}
		return nil, apierrors.NewNotFound(proxiesGVR.GroupResource(), name)
	}
	obj, err := g.client.Tracker().Get(proxiesGVR, ns, name)
	if err != nil {
		return nil, err
	}
	return obj.(*contourv1.HTTPProxy), nil
}

// freeze makes the getter serve the store's current content from now on.
func (g *trackerGetter) freeze(t *testing.T, names ...string) {
	t.Helper()
	m := map[string]*contourv1.HTTPProxy{}
	for _, n := range names {
		p, err := g.HTTPProxy("ns", n)
		if err != nil {
			t.Fatal(err)
		}
		m[n] = p
	}
	g.mu.Lock()
	g.frozen = m
	g.mu.Unlock()
}

func proxy(name string, gen int64, st contourv1.HTTPProxyStatus) *contourv1.HTTPProxy {
	return &contourv1.HTTPProxy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Generation: gen, ResourceVersion: "1"},
		Status:     st,
	}
}

func notReconciled() contourv1.HTTPProxyStatus {
	return contourv1.HTTPProxyStatus{CurrentStatus: "NotReconciled", Description: "Waiting for controller"}
}

func key(name string) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: name} }

func named(name string, ps *dag.ProxyStatus) *dag.ProxyStatus {
	ps.Proxy = key(name)
	return ps
}

func dagOf(statuses ...*dag.ProxyStatus) *dag.DAG {
	d := &dag.DAG{Statuses: map[types.NamespacedName]*dag.ProxyStatus{}}
	for _, ps := range statuses {
		d.Statuses[ps.Proxy] = ps
	}
	return d
}

type harness struct {
	t       *testing.T
	client  *fake.Clientset
	getter  *trackerGetter
	elected chan struct{}
	reg     *prometheus.Registry
	w       *Writer
	done    chan error
}

func newHarness(t *testing.T, workers int, objs ...runtime.Object) *harness {
	t.Helper()
	client := fake.NewSimpleClientset(objs...)
	h := &harness{t: t, client: client, getter: &trackerGetter{client: client},
		elected: make(chan struct{}), reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	log := logrus.New()
	log.SetLevel(logrus.DebugLevel)
	log.Out = testWriter{t}
	w, err := NewWriter(Config{
		Client: client, Proxies: h.getter, Elected: h.elected, Workers: workers,
		Registerer: h.reg, Log: log, Clock: func() time.Time { return t1.Time },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.w = w
	return h
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { h.done <- h.w.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.done:
			if err != nil {
				h.t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			h.t.Error("Run did not return after its context was cancelled")
		}
	})
}

// statusUpdates returns the names of the proxies whose status was
// updated, once per update action, in order.
func (h *harness) statusUpdates() []string {
	var names []string
	for _, a := range h.client.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			names = append(names, a.(k8stesting.UpdateAction).GetObject().(*contourv1.HTTPProxy).Name)
		}
	}
	return names
}

func (h *harness) stored(name string) *contourv1.HTTPProxy {
	h.t.Helper()
	obj, err := h.client.Tracker().Get(proxiesGVR, "ns", name)
	if err != nil {
		h.t.Fatal(err)
	}
	return obj.(*contourv1.HTTPProxy)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, what, cond)
}

// idle waits until the writer has nothing left to do.
func (h *harness) idle() {
	h.t.Helper()
	eventually(h.t, "the writer to be idle", func() bool { return h.w.Pending() == 0 })
}

func (h *harness) counter(result string) float64 {
	h.t.Helper()
	return h.metric("proxyctl_status_writes_total", "result", result)
}

// metric returns the value of the series of name with label=value, or -1
// if there is none.
func (h *harness) metric(name, label, value string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					if m.Counter != nil {
						return m.Counter.GetValue()
					}
					return m.Gauge.GetValue()
				}
			}
		}
	}
	return -1
}

func TestNothingIsWrittenBeforeElectedThenEverythingStale(t *testing.T) {
	upToDate := Desired(named("ok", valid(1)), notReconciled(), t0)
	h := newHarness(t, 4,
		proxy("a", 1, notReconciled()),
		proxy("b", 2, notReconciled()),
		proxy("c", 1, notReconciled()),
		proxy("ok", 1, upToDate),
	)
	h.run()
	h.w.OnChange(dagOf(
		named("a", valid(1)),
		named("b", invalid(2, dag.Condition{Type: "SpecError", Reason: "NothingDefined", Message: "nothing"})),
		named("c", orphaned(1)),
		named("ok", valid(1)),
	))
	h.w.OnChange(dagOf( // replaces the first set
		named("a", valid(1)),
		named("b", invalid(2, dag.Condition{Type: "RouteError", Reason: "ServiceUnresolvedReference", Message: "gone"})),
		named("c", orphaned(1)),
		named("ok", valid(1)),
	))
	if n := h.w.Pending(); n != 0 {
		t.Errorf("a non-leader queued %d writes", n)
	}
	if a := h.client.Actions(); len(a) != 0 {
		t.Errorf("a non-leader made API calls: %v", a)
	}
	if v := h.metric("proxyctl_httpproxies", "status", "valid"); v != -1 {
		t.Errorf("a non-leader reports proxyctl_httpproxies{status=valid} = %v", v)
	}

	close(h.elected)
	eventually(t, "three status writes", func() bool { return len(h.statusUpdates()) >= 3 })
	h.idle()

	if got := h.statusUpdates(); len(got) != 3 {
		t.Errorf("status updates: %v, want a, b and c once each", got)
	}
	for name, want := range map[string]string{"a": "valid", "b": "invalid", "c": "orphaned", "ok": "valid"} {
		if got := h.stored(name).Status.CurrentStatus; got != want {
			t.Errorf("%s: currentStatus %q, want %q", name, got, want)
		}
	}
	if errs := h.stored("b").Status.Conditions[0].Errors; len(errs) != 1 || errs[0].Reason != "ServiceUnresolvedReference" {
		t.Errorf("b shows errors %+v, want the latest DAG's", errs)
	}
	if got := h.stored("c").Status.Description; got != contourv1.DescriptionOrphaned {
		t.Errorf("c: description %q", got)
	}
	for result, want := range map[string]float64{"written": 3, "unchanged": 0, "conflict": 0, "failed": 0} {
		if got := h.counter(result); got != want {
			t.Errorf("status_writes_total{result=%q} = %v, want %v", result, got, want)
		}
	}
	for status, want := range map[string]float64{"valid": 2, "invalid": 1, "orphaned": 1} {
		if got := h.metric("proxyctl_httpproxies", "status", status); got != want {
			t.Errorf("httpproxies{status=%q} = %v, want %v", status, got, want)
		}
	}

	// The same DAG again writes nothing.
	before := len(h.client.Actions())
	h.w.OnChange(dagOf(
		named("a", valid(1)),
		named("b", invalid(2, dag.Condition{Type: "RouteError", Reason: "ServiceUnresolvedReference", Message: "gone"})),
		named("c", orphaned(1)),
		named("ok", valid(1)),
	))
	h.idle()
	if a := h.client.Actions()[before:]; len(a) != 0 {
		t.Errorf("an unchanged DAG caused API calls: %v", a)
	}
}

func TestLatestDesiredStatusWinsWhenQueuedTwice(t *testing.T) {
	h := newHarness(t, 1, proxy("gate", 1, notReconciled()), proxy("k", 1, notReconciled()))
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.client.PrependReactor("update", "httpproxies", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.UpdateAction).GetObject().(*contourv1.HTTPProxy).Name == "gate" {
			once.Do(func() { close(started); <-release })
		}
		return false, nil, nil
	})
	close(h.elected)
	h.run()
	h.w.OnChange(dagOf(named("gate", valid(1))))
	<-started // the only worker is busy with gate

	h.w.OnChange(dagOf(named("gate", valid(1)), named("k", invalid(1, dag.Condition{Type: "SpecError", Reason: "A", Message: "a"}))))
	h.w.OnChange(dagOf(named("gate", valid(1)), named("k", valid(1))))
	close(release)
	eventually(t, "k to be written", func() bool { return h.stored("k").Status.CurrentStatus != "NotReconciled" })
	h.idle()

	var k int
	for _, n := range h.statusUpdates() {
		if n == "k" {
			k++
		}
	}
	if k != 1 {
		t.Errorf("k was written %d times, want once (updates: %v)", k, h.statusUpdates())
	}
	if got := h.stored("k").Status.CurrentStatus; got != "valid" {
		t.Errorf("k shows %q, want the latest result, valid", got)
	}
}

func TestANewerGenerationIsNotClobbered(t *testing.T) {
	h := newHarness(t, 2, proxy("p", 3, notReconciled()), proxy("q", 2, contourv1.HTTPProxyStatus{
		CurrentStatus: "valid", Description: "Valid HTTPProxy",
		Conditions: []contourv1.DetailedCondition{validCond(3, t0)}, // written for a newer generation
	}))
	close(h.elected)
	h.run()
	h.w.OnChange(dagOf(named("p", invalid(2, dag.Condition{Type: "SpecError", Reason: "A", Message: "a"})), named("q", invalid(2))))
	h.idle()
	if got := h.statusUpdates(); len(got) != 0 {
		t.Errorf("results of generation 2 were written over newer objects: %v", got)
	}
}

func TestConflictsAreRetriedWithAFreshRead(t *testing.T) {
	h := newHarness(t, 1, proxy("p", 1, notReconciled()))
	var conflicts int
	h.client.PrependReactor("update", "httpproxies", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" && conflicts == 0 {
			conflicts++
			return true, nil, apierrors.NewConflict(proxiesGVR.GroupResource(), "p", errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	close(h.elected)
	h.run()
	h.w.OnChange(dagOf(named("p", valid(1))))
	eventually(t, "p to be written", func() bool { return h.stored("p").Status.CurrentStatus == "valid" })
	h.idle()

	var verbs []string
	for _, a := range h.client.Actions() {
		verbs = append(verbs, a.GetVerb()+"/"+a.GetSubresource())
	}
	if want := "[update/status get/ update/status]"; fmt.Sprint(verbs) != want {
		t.Errorf("actions %v, want %s", verbs, want)
	}
	if h.counter("conflict") != 1 || h.counter("written") != 1 || h.counter("failed") != 0 {
		t.Errorf("conflict=%v written=%v failed=%v, want 1 1 0", h.counter("conflict"), h.counter("written"), h.counter("failed"))
	}
}

func TestConflictWithANewerGenerationGivesUp(t *testing.T) {
	h := newHarness(t, 1, proxy("p", 1, notReconciled()))
	h.client.PrependReactor("update", "httpproxies", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" {
			// Someone changed the spec meanwhile.
			obj, err := h.client.Tracker().Get(proxiesGVR, "ns", "p")
			if err != nil {
				t.Error(err)
				return true, nil, err
			}
			p := obj.(*contourv1.HTTPProxy).DeepCopy()
			p.Generation = 2
			if err := h.client.Tracker().Update(proxiesGVR, p, "ns"); err != nil {
				t.Error(err)
			}
			return true, nil, apierrors.NewConflict(proxiesGVR.GroupResource(), "p", errors.New("modified"))
		}
		return false, nil, nil
	})
	close(h.elected)
	h.run()
	h.w.OnChange(dagOf(named("p", valid(1))))
	eventually(t, "the conflict", func() bool { return h.counter("conflict") == 1 })
	h.idle()
	if got := h.statusUpdates(); len(got) != 1 {
		t.Errorf("updates %v, want the one that conflicted only", got)
	}
	if got := h.stored("p").Status.CurrentStatus; got != "NotReconciled" {
		t.Errorf("generation 2 shows %q, written from generation 1's result", got)
	}
}

func TestOtherErrorsAreRequeued(t *testing.T) {
	h := newHarness(t, 1, proxy("p", 1, notReconciled()))
	var failures int
	h.client.PrependReactor("update", "httpproxies", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if failures < 2 {
			failures++
			return true, nil, apierrors.NewInternalError(errors.New("etcd is sad"))
		}
		return false, nil, nil
	})
	close(h.elected)
	h.run()
	h.w.OnChange(dagOf(named("p", valid(1))))
	eventually(t, "p to be written", func() bool { return h.stored("p").Status.CurrentStatus == "valid" })
	h.idle()
	if h.counter("failed") != 2 || h.counter("written") != 1 {
		t.Errorf("failed=%v written=%v, want 2 and 1", h.counter("failed"), h.counter("written"))
	}
}

func TestALaggingCacheDoesNotCauseASecondWrite(t *testing.T) {
	h := newHarness(t, 1, proxy("p", 1, notReconciled()))
	h.getter.freeze(t, "p") // the cache never sees our write
	close(h.elected)
	h.run()
	h.w.OnChange(dagOf(named("p", valid(1))))
	eventually(t, "p to be written", func() bool { return len(h.statusUpdates()) == 1 })
	h.idle()

	h.w.OnChange(dagOf(named("p", valid(1)))) // the cache still shows NotReconciled
	h.idle()
	if got := h.statusUpdates(); len(got) != 1 {
		t.Errorf("updates %v, want one", got)
	}
	if h.counter("unchanged") != 1 {
		t.Errorf("unchanged=%v, want 1 (checked against the API server)", h.counter("unchanged"))
	}
}

func TestDeletedProxiesAreSkipped(t *testing.T) {
	h := newHarness(t, 1)
	close(h.elected)
	h.run()
	h.w.OnChange(dagOf(named("gone", valid(1))))
	h.idle()
	if a := h.client.Actions(); len(a) != 0 {
		t.Errorf("API calls for a proxy that does not exist: %v", a)
	}
}

func TestRunReturnsWhenCancelledBeforeElected(t *testing.T) {
	w, err := NewWriter(Config{Client: fake.NewSimpleClientset(), Proxies: &trackerGetter{}, Elected: make(chan struct{})})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Run(ctx); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestNewWriterRejectsDuplicateMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := Config{Client: fake.NewSimpleClientset(), Proxies: &trackerGetter{}, Elected: make(chan struct{}), Registerer: reg}
	if _, err := NewWriter(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewWriter(cfg); err == nil {
		t.Error("a second writer registered the same metrics")
	}
}

// TestAStatusWrittenOverIsWrittenAgain: an unchanged DAG looks at nothing,
// but the informer's event for a status someone else wrote over queues the
// proxy again, on the leader only.
func TestAStatusWrittenOverIsWrittenAgain(t *testing.T) {
	h := newHarness(t, 1, proxy("p", 1, notReconciled()))
	overwrite := func() {
		t.Helper()
		p := h.stored("p").DeepCopy()
		p.Status = notReconciled()
		if err := h.client.Tracker().Update(proxiesGVR, p, "ns"); err != nil {
			t.Fatal(err)
		}
	}
	d := dagOf(named("p", valid(1)))
	h.w.OnChange(d)
	h.w.OnProxy(h.stored("p"))
	if n := h.w.Pending(); n != 0 {
		t.Fatalf("a non-leader queued %d writes for a proxy event", n)
	}

	close(h.elected)
	h.run()
	eventually(t, "p to be written", func() bool { return h.stored("p").Status.CurrentStatus == "valid" })
	h.idle()

	overwrite()
	h.w.OnChange(d) // the very same results: nothing to look at
	h.idle()
	if got := h.statusUpdates(); len(got) != 1 {
		t.Fatalf("updates %v after an unchanged DAG, want the first only", got)
	}
	h.w.OnProxy(h.stored("p"))
	eventually(t, "p to be written again", func() bool { return h.stored("p").Status.CurrentStatus == "valid" })
	h.idle()
	if got := h.statusUpdates(); len(got) != 2 {
		t.Errorf("updates %v, want two", got)
	}

	// Our own write coming back through the informer queues nothing.
	h.w.OnProxy(h.stored("p"))
	if n := h.w.Pending(); n != 0 {
		t.Errorf("an up-to-date proxy event queued %d writes", n)
	}
}

// TestProxyCountsFollowEachDAG: the leader's gauges change with the results
// that change, and proxies that leave the DAG leave the counts.
func TestProxyCountsFollowEachDAG(t *testing.T) {
	h := newHarness(t, 1, proxy("a", 1, notReconciled()), proxy("b", 1, notReconciled()))
	close(h.elected)
	h.run()
	a, b := named("a", valid(1)), named("b", valid(1))
	h.w.OnChange(dagOf(a, b))
	// Run takes the lead on its own goroutine, counting what it finds.
	eventually(t, "the leader's counts", func() bool { return h.metric("proxyctl_httpproxies", "status", "valid") == 2 })
	steps := []struct {
		name string
		dag  *dag.DAG
		want map[string]float64
	}{
		{"both valid", dagOf(a, b), map[string]float64{"valid": 2, "invalid": 0, "orphaned": 0}},
		{"a invalid, b gone", dagOf(named("a", invalid(1, dag.Condition{Type: "SpecError", Reason: "A", Message: "a"}))),
			map[string]float64{"valid": 0, "invalid": 1, "orphaned": 0}},
		{"a orphaned, b back", dagOf(named("a", orphaned(1)), b), map[string]float64{"valid": 1, "invalid": 0, "orphaned": 1}},
	}
	for _, s := range steps {
		h.w.OnChange(s.dag)
		for status, want := range s.want {
			if got := h.metric("proxyctl_httpproxies", "status", status); got != want {
				t.Errorf("%s: httpproxies{status=%q} = %v, want %v", s.name, status, got, want)
			}
		}
	}
	h.idle()
}
