package status

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	listersv1 "github.com/proxyctl/proxyctl/apis/generated/listers/projectcontour/v1"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/metrics"
)

// DefaultWorkers is the number of concurrent status writers when
// Config.Workers is 0.
const DefaultWorkers = 32

// ProxyGetter reads the current HTTPProxy, typically from an informer's
// lister. It must be safe for concurrent use and return a NotFound error
// (apierrors.IsNotFound) when the object does not exist. Returned objects
// are shared and never modified.
type ProxyGetter interface {
	HTTPProxy(namespace, name string) (*contourv1.HTTPProxy, error)
}

// ListerGetter is a ProxyGetter backed by an informer's lister.
func ListerGetter(l listersv1.HTTPProxyLister) ProxyGetter { return listerGetter{l} }

type listerGetter struct{ l listersv1.HTTPProxyLister }

func (g listerGetter) HTTPProxy(namespace, name string) (*contourv1.HTTPProxy, error) {
	return g.l.HTTPProxies(namespace).Get(name)
}

// Config holds a Writer's dependencies.
type Config struct {
	// Client writes the status subresource and re-reads an object after a
	// conflict.
	Client versioned.Interface
	// Proxies reads the objects as they are now.
	Proxies ProxyGetter
	// Elected closes once this replica leads. Nothing is written before.
	Elected <-chan struct{}
	// StillLeading, when set, is asked right before every write, so that a
	// replica that has just learned it lost the Lease writes nothing more
	// while it shuts down. Learning that it leads comes only from Elected.
	StillLeading func() bool
	// Workers is the number of concurrent writers; DefaultWorkers if 0.
	Workers int
	// Registerer receives the metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Log receives failures (with the proxy's key) and, at debug level,
	// each write.
	Log logrus.FieldLogger
	// Clock gives lastTransitionTime; time.Now if nil.
	Clock func() time.Time
}

// Writer keeps every HTTPProxy's status in line with the latest DAG.
//
// OnChange, called after each rebuild, only records the wanted results and
// queues the keys whose object shows something else. Run waits for
// leadership, then queues every stale key and runs the workers. A key is
// never held by two workers at once and a worker always writes the latest
// result recorded for its key, so a key queued twice is written once. The
// queue, workers and retries are the core's, shared with ExtensionWriter;
// Writer supplies what is particular to HTTPProxies (see proxyTarget).
type Writer struct {
	client  versioned.Interface
	proxies ProxyGetter
	metrics *proxyMetrics
	core    *core[*contourv1.HTTPProxy, proxyResult]

	mu      sync.Mutex
	leading bool
	// desired is the latest DAG's Statuses, not copied: nil entries mean
	// no result.
	desired map[types.NamespacedName]*dag.ProxyStatus
	// written is the result last written per key. When the lister still
	// shows an older status for a result we already wrote, it is behind
	// our own write: the worker then asks the API server instead of
	// writing against a stale resourceVersion.
	written map[types.NamespacedName]dag.ProxyStatus
	// lb is the Envoy Service's address every proxy shows, once
	// SetLoadBalancer has told it; nil until then, and loadBalancer is
	// left alone. Replaced, never modified: workers share it.
	lb *corev1.LoadBalancerStatus
}

// NewWriter returns a Writer; it fails if the metrics cannot be
// registered.
func NewWriter(cfg Config) (*Writer, error) {
	if cfg.Client == nil || cfg.Proxies == nil || cfg.Elected == nil {
		return nil, errors.New("status: Client, Proxies and Elected are required")
	}
	m, err := newProxyMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	w := &Writer{
		client:  cfg.Client,
		proxies: cfg.Proxies,
		metrics: m,
		desired: map[types.NamespacedName]*dag.ProxyStatus{},
		written: map[types.NamespacedName]dag.ProxyStatus{},
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	log := cfg.Log
	if log != nil {
		log = log.WithField("context", "status")
	}
	w.core = newCore(coreConfig{
		kind: "HTTPProxy", logField: "httpproxy",
		elected: cfg.Elected, stillLeading: cfg.StillLeading, workers: workers,
		log: log, clock: cfg.Clock, metrics: m.writeMetrics,
	}, proxyTarget{w})
	return w, nil
}

// OnChange records d's status results, replacing the previous set, and,
// when leading, queues every proxy whose result changed and whose object
// shows something else. It makes no API call and keeps d's Statuses as
// they are: a DAG is immutable, and dag.Builder hands back the previous
// *ProxyStatus for a result that did not change, so comparing pointers
// finds the few results worth a look among 10,000.
func (w *Writer) OnChange(d *dag.DAG) {
	desired := d.Statuses
	var changed []types.NamespacedName
	w.mu.Lock()
	prev := w.desired
	w.desired = desired
	leading := w.leading
	for k, ps := range prev {
		if ps != nil && desired[k] == nil {
			delete(w.written, k)
			if leading {
				w.metrics.count(ps, -1)
			}
		}
	}
	for k, ps := range desired {
		if ps == nil || prev[k] == ps {
			continue
		}
		changed = append(changed, k)
		if leading {
			if old := prev[k]; old != nil {
				w.metrics.count(old, -1)
			}
			w.metrics.count(ps, +1)
		}
	}
	lb := w.lb
	w.mu.Unlock()
	if !leading {
		return
	}
	for _, k := range changed {
		w.enqueueIfStale(k, desired[k], lb)
	}
}

// SetLoadBalancer records the Envoy Service's status.loadBalancer, which
// every proxy with a result then shows (see DesiredWithAddress); the
// Service gone is an empty one. When it differs from the one recorded
// before and this replica leads, every proxy that shows something else is
// queued: an address change rewrites every proxy, and only those.
func (w *Writer) SetLoadBalancer(lb corev1.LoadBalancerStatus) {
	lb = *lb.DeepCopy()
	w.mu.Lock()
	if w.lb != nil && equality.Semantic.DeepEqual(*w.lb, lb) {
		w.mu.Unlock()
		return
	}
	w.lb = &lb
	// What was written carried the old address: the lister showing an
	// older status than the last write no longer means it is behind.
	clear(w.written)
	leading, desired := w.leading, w.desired
	w.mu.Unlock()
	w.core.log.WithField("loadbalancer", lb.Ingress).Info("Envoy Service address for status.loadBalancer")
	if leading {
		w.enqueueStale(desired, &lb)
	}
}

// OnProxy is told of every HTTPProxy the informers deliver, including the
// status-only updates that cause no rebuild, and queues it when leading and
// its status is not what the latest DAG says: someone else wrote over it
// (another controller, or a write of the previous leader that landed late).
// Our own writes arriving back are up to date and cost one comparison.
func (w *Writer) OnProxy(p *contourv1.HTTPProxy) {
	k := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
	w.mu.Lock()
	ps, leading, lb := w.desired[k], w.leading, w.lb
	w.mu.Unlock()
	if leading && ps != nil && !upToDate(ps, lb, p) {
		w.core.add(k)
	}
}

// Run waits for leadership, then writes every stale status and keeps
// writing until ctx ends. It returns nil when ctx ends, once nothing of it
// runs any more.
func (w *Writer) Run(ctx context.Context) error {
	return w.core.run(ctx, func() {
		w.mu.Lock()
		w.leading = true
		desired, lb := w.desired, w.lb
		w.metrics.setProxies(desired)
		w.mu.Unlock()
		w.core.log.WithField("proxies", len(desired)).Info("leading: writing stale HTTPProxy statuses")
		w.enqueueStale(desired, lb)
	})
}

// Pending is the number of proxies queued, being written, or waiting to
// be retried. It is 0 when every result recorded so far has been dealt
// with.
func (w *Writer) Pending() int { return w.core.pending() }

func (w *Writer) enqueueStale(desired map[types.NamespacedName]*dag.ProxyStatus, lb *corev1.LoadBalancerStatus) {
	for k, ps := range desired {
		if ps != nil {
			w.enqueueIfStale(k, ps, lb)
		}
	}
}

func (w *Writer) enqueueIfStale(k types.NamespacedName, ps *dag.ProxyStatus, lb *corev1.LoadBalancerStatus) {
	obj, err := w.proxies.HTTPProxy(k.Namespace, k.Name)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		w.core.add(k) // let a worker retry and report
	case !upToDate(ps, lb, obj):
		w.core.add(k)
	}
}

// upToDate reports whether obj needs no write for ps and lb: it shows them
// already (transition time aside), or it is newer than ps. It is what
// NeedsUpdate(DesiredWithAddress(...)) says, without copying the status.
func upToDate(ps *dag.ProxyStatus, lb *corev1.LoadBalancerStatus, obj *contourv1.HTTPProxy) bool {
	if obj.Generation > ps.Generation || stale(obj.Status, ps.Generation) {
		return true
	}
	return showsAddress(obj.Status, lb) && render(ps).shownIn(obj.Status)
}

// proxyResult is what decides one proxy's status: the DAG's result and
// the Envoy Service's address (nil: loadBalancer is not ours).
type proxyResult struct {
	ps *dag.ProxyStatus
	lb *corev1.LoadBalancerStatus
}

// proxyTarget is the HTTPProxy side of the writer core.
type proxyTarget struct{ w *Writer }

var _ target[*contourv1.HTTPProxy, proxyResult] = proxyTarget{}

func (t proxyTarget) result(k types.NamespacedName) (proxyResult, bool) {
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	ps := t.w.desired[k]
	return proxyResult{ps: ps, lb: t.w.lb}, ps != nil
}

func (t proxyTarget) cached(k types.NamespacedName) (*contourv1.HTTPProxy, error) {
	return t.w.proxies.HTTPProxy(k.Namespace, k.Name)
}

func (t proxyTarget) fresh(ctx context.Context, k types.NamespacedName) (*contourv1.HTTPProxy, error) {
	return t.w.client.ProjectcontourV1().HTTPProxies(k.Namespace).Get(ctx, k.Name, metav1.GetOptions{})
}

// behind: we wrote this very result, yet the cache shows something else.
func (t proxyTarget) behind(k types.NamespacedName, r proxyResult, obj *contourv1.HTTPProxy) bool {
	t.w.mu.Lock()
	last, wrote := t.w.written[k]
	t.w.mu.Unlock()
	return wrote && reflect.DeepEqual(last, *r.ps) && !upToDate(r.ps, r.lb, obj)
}

func (proxyTarget) upToDate(r proxyResult, obj *contourv1.HTTPProxy) bool {
	return upToDate(r.ps, r.lb, obj)
}

func (proxyTarget) desired(r proxyResult, obj *contourv1.HTTPProxy, now metav1.Time) *contourv1.HTTPProxy {
	update := obj.DeepCopy()
	update.Status = DesiredWithAddress(r.ps, obj.Status, r.lb, now)
	return update
}

func (t proxyTarget) updateStatus(ctx context.Context, obj *contourv1.HTTPProxy) error {
	_, err := t.w.client.ProjectcontourV1().HTTPProxies(obj.Namespace).UpdateStatus(ctx, obj, metav1.UpdateOptions{})
	return err
}

func (t proxyTarget) wrote(k types.NamespacedName, r proxyResult) {
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	// Not deleted meanwhile (nothing would clear it), and written with the
	// address still current.
	if t.w.desired[k] == r.ps && t.w.lb == r.lb {
		t.w.written[k] = *r.ps
	}
}

// proxyMetrics are the core's write metrics and the leader's count of
// proxies by status.
type proxyMetrics struct {
	*writeMetrics
	proxies *prometheus.GaugeVec
	// counts backs proxies; guarded by the Writer's mu.
	counts map[string]int
}

func newProxyMetrics(reg prometheus.Registerer) (*proxyMetrics, error) {
	m := &proxyMetrics{
		writeMetrics: newWriteMetrics(),
		counts:       map[string]int{},
		proxies: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: metrics.Namespace,
			Name:      "httpproxies",
			Help:      "HTTPProxies in the latest DAG by status; reported by the leader only.",
		}, []string{"status"}),
	}
	if reg == nil {
		return m, nil
	}
	if err := metrics.Register(reg, m.writes, m.duration, m.proxies); err != nil {
		return nil, fmt.Errorf("status: register metrics: %w", err)
	}
	return m, nil
}

// setProxies counts every result of desired, when this replica starts
// leading; count keeps the gauges current after that, one result at a time.
func (m *proxyMetrics) setProxies(desired map[types.NamespacedName]*dag.ProxyStatus) {
	clear(m.counts)
	for _, s := range []string{contourv1.StatusValid, contourv1.StatusInvalid, contourv1.StatusOrphaned} {
		m.counts[s] = 0
	}
	for _, ps := range desired {
		if ps != nil {
			m.counts[render(ps).currentStatus]++
		}
	}
	for s, n := range m.counts {
		m.proxies.WithLabelValues(s).Set(float64(n))
	}
}

// count adds n to the gauge of ps's status.
func (m *proxyMetrics) count(ps *dag.ProxyStatus, n int) {
	s := render(ps).currentStatus
	m.counts[s] += n
	m.proxies.WithLabelValues(s).Set(float64(m.counts[s]))
}
