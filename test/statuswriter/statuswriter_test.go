// Package statuswriter runs the status writer against a real API server:
// nothing is written before leadership, every stale status is written once
// after it, an unchanged DAG writes nothing, and a result never overwrites
// a newer generation.
package statuswriter

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	"github.com/proxyctl/proxyctl/apis/generated/informers/externalversions"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/status"
	"github.com/proxyctl/proxyctl/internal/testutil"
	"github.com/proxyctl/proxyctl/test/cluster"
)

const (
	n         = 200
	userAgent = "proxyctl/test (replica-a) controller"
)

func name(i int) string { return fmt.Sprintf("p-%03d", i) }

// result is what the DAG says about proxy i: every tenth is invalid, the
// one after it orphaned, the rest valid.
func result(ns string, i int, gen int64) *dag.ProxyStatus {
	ps := &dag.ProxyStatus{Proxy: types.NamespacedName{Namespace: ns, Name: name(i)}, Generation: gen}
	switch i % 10 {
	case 0:
		ps.Errors = []dag.Condition{
			{Type: contourv1.ConditionTypeRouteError, Reason: contourv1.ReasonServiceUnresolvedReference, Message: `Service "ns/missing" not found`},
			{Type: contourv1.ConditionTypeTLSError, Reason: contourv1.ReasonSecretNotValid, Message: `Secret "ns/cert" not found`},
		}
		ps.Warnings = []dag.Condition{{Type: contourv1.ConditionTypeSpecError, Reason: contourv1.ReasonTimeoutPolicyNotValid, Message: "ignored"}}
	case 1:
		ps.Orphaned = true
	}
	return ps
}

type env struct {
	t      *testing.T
	c      *cluster.Cluster
	ns     string
	admin  versioned.Interface
	writer *status.Writer
}

// statusWrites counts the status updates our user agent sent for the
// proxies of ns, all and successful, per proxy name.
func (e *env) statusWrites() (all, ok map[string]int) {
	e.t.Helper()
	events, err := e.c.AuditEvents()
	if err != nil {
		e.t.Fatal(err)
	}
	all, ok = map[string]int{}, map[string]int{}
	for _, ev := range events {
		r := ev.ObjectRef
		if ev.Stage != "ResponseComplete" || ev.UserAgent != userAgent || ev.Verb != "update" ||
			r == nil || r.Resource != "httpproxies" || r.Subresource != "status" || r.Namespace != e.ns {
			continue
		}
		all[r.Name]++
		if ev.Code() == 200 {
			ok[r.Name]++
		}
	}
	return all, ok
}

// auditBarrier returns once every request sent before it is in the audit
// log: it sends a marker request and waits for it to be logged.
func (e *env) auditBarrier() {
	e.t.Helper()
	marker := fmt.Sprintf("barrier-%d", time.Now().UnixNano())
	_, _ = e.admin.ProjectcontourV1().HTTPProxies(e.ns).Get(context.Background(), marker, metav1.GetOptions{})
	testutil.Eventually(e.t, 30*time.Second, "the audit log to catch up", func() bool {
		events, err := e.c.AuditEvents()
		if err != nil {
			e.t.Fatal(err)
		}
		for _, ev := range events {
			if ev.ObjectRef != nil && ev.ObjectRef.Name == marker && ev.Stage == "ResponseComplete" {
				return true
			}
		}
		return false
	})
}

func sum(m map[string]int) int {
	t := 0
	for _, v := range m {
		t += v
	}
	return t
}

// matches reports whether every listed proxy shows the result of d for
// it, and returns the names of those that do not.
func (e *env) mismatches(d *dag.DAG, except map[string]bool) []string {
	e.t.Helper()
	list, err := e.admin.ProjectcontourV1().HTTPProxies(e.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var bad []string
	for _, p := range list.Items {
		if except[p.Name] {
			continue
		}
		ps := d.Statuses[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}]
		want := status.Desired(ps, p.Status, metav1.Now())
		if status.NeedsUpdate(p.Status, want) {
			bad = append(bad, p.Name)
		}
	}
	return bad
}

func TestStatusWriterOnARealAPIServer(t *testing.T) {
	c := cluster.Start(t, cluster.WithAuditLog())
	ns := c.NewNamespace(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := &env{t: t, c: c, ns: ns, admin: versioned.NewForConfigOrDie(c.RESTConfig())}

	// N proxies, created concurrently.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			p := &contourv1.HTTPProxy{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name(i)},
				Spec: contourv1.HTTPProxySpec{
					VirtualHost: &contourv1.VirtualHost{Fqdn: name(i) + ".example.com"},
					Routes:      []contourv1.Route{{Services: []contourv1.Service{{Name: "s", Port: 80}}}},
				},
			}
			if _, err := e.admin.ProjectcontourV1().HTTPProxies(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("create: %v", err)
	}

	// The replica: its own client and user agent, an informer-backed
	// getter, and a leadership channel the test closes.
	cfg := c.RESTConfig()
	cfg.UserAgent = userAgent
	client := versioned.NewForConfigOrDie(cfg)
	factory := externalversions.NewSharedInformerFactoryWithOptions(client, 0, externalversions.WithNamespace(ns))
	lister := factory.Projectcontour().V1().HTTPProxies().Lister()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for typ, synced := range factory.WaitForCacheSync(ctx.Done()) {
		if !synced {
			t.Fatalf("informer for %v did not sync", typ)
		}
	}

	elected := make(chan struct{})
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	w, err := status.NewWriter(status.Config{
		Client: client, Proxies: status.ListerGetter(lister), Elected: elected,
		Registerer: prometheus.NewRegistry(), Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.writer = w
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	d := &dag.DAG{Statuses: map[types.NamespacedName]*dag.ProxyStatus{}}
	for i := range n {
		ps := result(ns, i, 1)
		d.Statuses[ps.Proxy] = ps
	}
	w.OnChange(d)

	// (d, before leading) p-005's spec changes after the DAG was built.
	bumped := name(5)
	bump := func(proxyName string) int64 {
		t.Helper()
		p, err := e.admin.ProjectcontourV1().HTTPProxies(ns).Get(ctx, proxyName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Spec.VirtualHost.Fqdn = "changed-" + p.Spec.VirtualHost.Fqdn
		p, err = e.admin.ProjectcontourV1().HTTPProxies(ns).Update(ctx, p, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p.Generation
	}
	if gen := bump(bumped); gen != 2 {
		t.Fatalf("generation after a spec change: %d, want 2", gen)
	}

	// (a) Not leading: nothing is written, however long we watch.
	t.Run("nothing written before elected", func(t *testing.T) {
		watch := time.NewTimer(2 * time.Second)
		defer watch.Stop()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for done := false; !done; {
			select {
			case <-watch.C:
				done = true
			case <-tick.C:
			}
			if all, _ := e.statusWrites(); sum(all) != 0 {
				t.Fatalf("a replica that does not lead wrote %d statuses", sum(all))
			}
			if p := w.Pending(); p != 0 {
				t.Fatalf("a replica that does not lead queued %d writes", p)
			}
		}
		e.auditBarrier()
		if all, _ := e.statusWrites(); sum(all) != 0 {
			t.Fatalf("a replica that does not lead wrote %d statuses", sum(all))
		}
	})

	// (b) Leading: every stale status is written, about once.
	start := time.Now()
	close(elected)
	testutil.Eventually(t, 2*time.Minute, "every proxy to show its result", func() bool {
		return len(e.mismatches(d, map[string]bool{bumped: true})) == 0
	})
	elapsed := time.Since(start)
	testutil.Eventually(t, time.Minute, "the writer to be idle", func() bool { return w.Pending() == 0 })
	t.Logf("%d proxies reached their status %v after leadership", n-1, elapsed.Round(time.Millisecond))

	e.auditBarrier()
	all, ok := e.statusWrites()
	t.Logf("status updates: %d sent, %d succeeded, for %d proxies (%.3f per proxy)", sum(all), sum(ok), n-1, float64(sum(all))/float64(n-1))
	if float64(sum(all)) > 1.05*float64(n) {
		t.Errorf("%d status updates for %d proxies: more than 1.05 per proxy", sum(all), n)
	}
	if sum(ok) != n-1 {
		t.Errorf("%d successful status updates, want %d (all but %s)", sum(ok), n-1, bumped)
	}
	if ok[bumped] != 0 {
		t.Errorf("%s (generation 2) was written from generation 1's result", bumped)
	}
	p, err := e.admin.ProjectcontourV1().HTTPProxies(ns).Get(ctx, bumped, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.CurrentStatus != contourv1.StatusNotReconciled {
		t.Errorf("%s shows %q, want the CRD default until a DAG of generation 2", bumped, p.Status.CurrentStatus)
	}

	t.Run("kubectl shows status and description", func(t *testing.T) {
		out, err := c.Kubectl("get", "httpproxy", "-n", ns)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if !strings.Contains(lines[0], "STATUS DESCRIPTION") {
			t.Fatalf("no STATUS DESCRIPTION column:\n%s", lines[0])
		}
		want := map[string]string{
			name(2):  "valid   Valid HTTPProxy",
			name(10): "invalid   " + contourv1.MessageErrorPresent,
			name(11): "orphaned   " + contourv1.DescriptionOrphaned,
			bumped:   "NotReconciled   " + contourv1.DescriptionNotReconciled,
		}
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if w, found := want[f[0]]; found {
				if !strings.HasSuffix(strings.Join(strings.Fields(l), " "), strings.Join(strings.Fields(w), " ")) {
					t.Errorf("kubectl shows\n%s\nwant it to end with %q", l, w)
				}
				delete(want, f[0])
			}
		}
		if len(want) != 0 {
			t.Errorf("kubectl did not list %v:\n%s", want, out)
		}
		t.Logf("kubectl get httpproxy (first lines):\n%s", strings.Join(lines[:4], "\n"))
	})

	// (c) The same DAG again writes nothing.
	t.Run("an unchanged DAG writes nothing", func(t *testing.T) {
		before, _ := e.statusWrites()
		w.OnChange(d)
		testutil.Eventually(t, time.Minute, "the writer to be idle", func() bool { return w.Pending() == 0 })
		e.auditBarrier()
		if after, _ := e.statusWrites(); sum(after) != sum(before) {
			t.Errorf("an unchanged DAG sent %d status updates", sum(after)-sum(before))
		}
	})

	// (d, while leading) A spec change after the DAG was built: the old
	// generation's result, even a different one, is not written.
	t.Run("a newer generation is not clobbered", func(t *testing.T) {
		target := name(2) // valid at generation 1
		gen := bump(target)
		before, _ := e.statusWrites()
		stale := &dag.DAG{Statuses: map[types.NamespacedName]*dag.ProxyStatus{}}
		for k, ps := range d.Statuses {
			stale.Statuses[k] = ps
		}
		old := result(ns, 2, 1)
		old.Errors = []dag.Condition{{Type: contourv1.ConditionTypeSpecError, Reason: contourv1.ReasonNothingDefined, Message: "from generation 1"}}
		stale.Statuses[old.Proxy] = old
		w.OnChange(stale)
		testutil.Eventually(t, time.Minute, "the writer to be idle", func() bool { return w.Pending() == 0 })
		e.auditBarrier()
		_, after := e.statusWrites()
		if after[target] != before[target] {
			t.Errorf("generation %d of %s was written from generation 1's result", gen, target)
		}
		p, err := e.admin.ProjectcontourV1().HTTPProxies(ns).Get(ctx, target, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Status.CurrentStatus != contourv1.StatusValid {
			t.Errorf("%s shows %q, want the valid status it had", target, p.Status.CurrentStatus)
		}

		// The DAG of the new generations is written.
		fresh := &dag.DAG{Statuses: map[types.NamespacedName]*dag.ProxyStatus{}}
		for k, ps := range d.Statuses {
			fresh.Statuses[k] = ps
		}
		for _, i := range []int{2, 5} {
			ps := result(ns, i, 2)
			fresh.Statuses[ps.Proxy] = ps
		}
		w.OnChange(fresh)
		testutil.Eventually(t, time.Minute, "the new generations' results", func() bool { return len(e.mismatches(fresh, nil)) == 0 })
	})
}
