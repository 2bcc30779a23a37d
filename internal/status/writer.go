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
	"k8s.io/client-go/util/workqueue"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	listersv1 "github.com/proxyctl/proxyctl/apis/generated/listers/projectcontour/v1"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/metrics"
)

// DefaultWorkers is the number of concurrent status writers when
// Config.Workers is 0.
const DefaultWorkers = 32

// Bounds of the conflict retry inside one attempt at a key: after
// maxConflictRetries conflicts in a row the key goes back to the queue with
// the rate limiter's backoff.
const (
	maxConflictRetries  = 5
	conflictBackoffBase = 10 * time.Millisecond
)

// Results counted by proxyctl_status_writes_total.
const (
	resultWritten   = "written"   // the status was written
	resultUnchanged = "unchanged" // nothing to write: up to date, gone, or a newer generation
	resultConflict  = "conflict"  // one write answered Conflict (retried)
	resultFailed    = "failed"    // the key was requeued after an error
)

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
// result recorded for its key, so a key queued twice is written once.
type Writer struct {
	client  versioned.Interface
	proxies ProxyGetter
	elected <-chan struct{}
	// stillLeading is Config.StillLeading.
	stillLeading func() bool
	workers      int
	log          logrus.FieldLogger
	clock        func() time.Time
	metrics      *writerMetrics

	queue   *queue
	limiter workqueue.TypedRateLimiter[types.NamespacedName]

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
	w := &Writer{
		client:       cfg.Client,
		proxies:      cfg.Proxies,
		elected:      cfg.Elected,
		stillLeading: cfg.StillLeading,
		workers:      cfg.Workers,
		log:          cfg.Log,
		clock:        cfg.Clock,
		queue:        newQueue(),
		limiter:      workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](50*time.Millisecond, 60*time.Second),
		desired:      map[types.NamespacedName]*dag.ProxyStatus{},
		written:      map[types.NamespacedName]dag.ProxyStatus{},
	}
	if w.workers <= 0 {
		w.workers = DefaultWorkers
	}
	if w.log == nil {
		l := logrus.New()
		l.Out = discard{}
		w.log = l
	}
	w.log = w.log.WithField("context", "status")
	if w.clock == nil {
		w.clock = time.Now
	}
	m, err := newWriterMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	w.metrics = m
	return w, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

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
	w.log.WithField("loadbalancer", lb.Ingress).Info("Envoy Service address for status.loadBalancer")
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
		w.queue.add(k)
	}
}

// Run waits for leadership, then writes every stale status and keeps
// writing until ctx ends. It returns nil when ctx ends.
func (w *Writer) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-w.elected:
	}
	w.mu.Lock()
	w.leading = true
	desired, lb := w.desired, w.lb
	w.metrics.setProxies(desired)
	w.mu.Unlock()
	w.log.WithField("proxies", len(desired)).Info("leading: writing stale HTTPProxy statuses")
	w.enqueueStale(desired, lb)

	var wg sync.WaitGroup
	for range w.workers {
		wg.Go(func() { w.work(ctx) })
	}
	<-ctx.Done()
	w.queue.shutDown()
	wg.Wait()
	return nil
}

// Pending is the number of proxies queued, being written, or waiting to
// be retried. It is 0 when every result recorded so far has been dealt
// with.
func (w *Writer) Pending() int { return w.queue.len() }

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
		w.queue.add(k) // let a worker retry and report
	case !upToDate(ps, lb, obj):
		w.queue.add(k)
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

func (w *Writer) work(ctx context.Context) {
	for {
		k, ok := w.queue.get()
		if !ok {
			return
		}
		err := w.sync(ctx, k)
		switch {
		case ctx.Err() != nil:
			// Shutting down: the next leader writes what is left.
		case err != nil:
			w.metrics.writes.WithLabelValues(resultFailed).Inc()
			delay := w.limiter.When(k)
			w.log.WithError(err).WithField("httpproxy", k.String()).WithField("retry_in", delay).Error("writing HTTPProxy status failed")
			w.queue.addAfter(k, delay)
		default:
			w.limiter.Forget(k)
		}
		w.queue.done(k)
	}
}

// sync brings one proxy's status in line with the latest result for it.
func (w *Writer) sync(ctx context.Context, k types.NamespacedName) error {
	log := w.log.WithField("httpproxy", k.String())
	ps, lb, lastWritten, wrote := w.lookup(k)
	if ps == nil {
		return nil // no longer in the DAG: deleted
	}
	obj, err := w.proxies.HTTPProxy(k.Namespace, k.Name)
	if apierrors.IsNotFound(err) {
		w.metrics.writes.WithLabelValues(resultUnchanged).Inc()
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", k, err)
	}
	if wrote && reflect.DeepEqual(lastWritten, *ps) && !upToDate(ps, lb, obj) {
		// The cache has not seen our own write yet.
		if obj, err = w.get(ctx, k); obj == nil {
			return err
		}
	}

	for conflicts := 0; ; {
		if obj.Generation > ps.Generation || stale(obj.Status, ps.Generation) {
			log.WithField("generation", obj.Generation).WithField("dag_generation", ps.Generation).Debug("newer generation: a newer result is coming")
			w.metrics.writes.WithLabelValues(resultUnchanged).Inc()
			return nil
		}
		want := DesiredWithAddress(ps, obj.Status, lb, metav1.NewTime(w.clock()))
		if !NeedsUpdate(obj.Status, want) {
			w.metrics.writes.WithLabelValues(resultUnchanged).Inc()
			return nil
		}
		if w.stillLeading != nil && !w.stillLeading() {
			log.Debug("not writing: this replica no longer leads")
			return nil
		}
		update := obj.DeepCopy()
		update.Status = want
		start := time.Now()
		_, err := w.client.ProjectcontourV1().HTTPProxies(k.Namespace).UpdateStatus(ctx, update, metav1.UpdateOptions{})
		w.metrics.duration.Observe(time.Since(start).Seconds())
		switch {
		case err == nil:
			w.metrics.writes.WithLabelValues(resultWritten).Inc()
			w.mu.Lock()
			// Not deleted meanwhile (nothing would clear it), and written
			// with the address still current.
			if w.desired[k] == ps && w.lb == lb {
				w.written[k] = *ps
			}
			w.mu.Unlock()
			log.WithField("status", want.CurrentStatus).WithField("generation", ps.Generation).Debug("wrote HTTPProxy status")
			return nil
		case apierrors.IsNotFound(err):
			w.metrics.writes.WithLabelValues(resultUnchanged).Inc()
			return nil
		case !apierrors.IsConflict(err):
			return fmt.Errorf("update status of %s: %w", k, err)
		}

		w.metrics.writes.WithLabelValues(resultConflict).Inc()
		conflicts++
		if conflicts >= maxConflictRetries {
			return fmt.Errorf("update status of %s: %d conflicts in a row: %w", k, conflicts, err)
		}
		log.WithField("attempt", conflicts).Debug("conflict writing HTTPProxy status; re-reading")
		if err := sleep(ctx, conflictBackoffBase<<(conflicts-1)); err != nil {
			return err
		}
		if obj, err = w.get(ctx, k); obj == nil {
			return err
		}
		if ps, lb, _, _ = w.lookup(k); ps == nil {
			return nil
		}
	}
}

// get reads k from the API server. It returns nil and no error if k is
// gone.
func (w *Writer) get(ctx context.Context, k types.NamespacedName) (*contourv1.HTTPProxy, error) {
	obj, err := w.client.ProjectcontourV1().HTTPProxies(k.Namespace).Get(ctx, k.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		w.metrics.writes.WithLabelValues(resultUnchanged).Inc()
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", k, err)
	}
	return obj, nil
}

// lookup returns the latest result for k, the address to show, and the
// last result written.
func (w *Writer) lookup(k types.NamespacedName) (ps *dag.ProxyStatus, lb *corev1.LoadBalancerStatus, lastWritten dag.ProxyStatus, wrote bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	lastWritten, wrote = w.written[k]
	return w.desired[k], w.lb, lastWritten, wrote
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type writerMetrics struct {
	writes   *prometheus.CounterVec
	duration prometheus.Histogram
	proxies  *prometheus.GaugeVec
	// counts backs proxies; guarded by the Writer's mu.
	counts map[string]int
}

func newWriterMetrics(reg prometheus.Registerer) (*writerMetrics, error) {
	m := &writerMetrics{
		counts: map[string]int{},
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace,
			Name:      "status_writes_total",
			Help:      "HTTPProxy status writes by result: written, unchanged (nothing to write), conflict (retried), failed (requeued).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metrics.Namespace,
			Name:      "status_write_duration_seconds",
			Help:      "Duration of one HTTPProxy status subresource update call.",
			Buckets:   prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		proxies: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: metrics.Namespace,
			Name:      "httpproxies",
			Help:      "HTTPProxies in the latest DAG by status; reported by the leader only.",
		}, []string{"status"}),
	}
	for _, r := range []string{resultWritten, resultUnchanged, resultConflict, resultFailed} {
		m.writes.WithLabelValues(r)
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
func (m *writerMetrics) setProxies(desired map[types.NamespacedName]*dag.ProxyStatus) {
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
func (m *writerMetrics) count(ps *dag.ProxyStatus, n int) {
	s := render(ps).currentStatus
	m.counts[s] += n
	m.proxies.WithLabelValues(s).Set(float64(m.counts[s]))
}
