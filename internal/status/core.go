package status

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"

	"github.com/proxyctl/proxyctl/internal/metrics"
)

// Bounds of the conflict retry inside one attempt at a key: after
// maxConflictRetries conflicts in a row the key goes back to the queue with
// the rate limiter's backoff.
const (
	maxConflictRetries  = 5
	conflictBackoffBase = 10 * time.Millisecond
)

// Backoff of a key whose write failed for another reason than a conflict.
const (
	retryBase = 50 * time.Millisecond
	retryMax  = 60 * time.Second
)

// Results counted by proxyctl_status_writes_total.
const (
	resultWritten   = "written"   // the status was written
	resultUnchanged = "unchanged" // nothing to write: up to date, gone, or a newer generation
	resultConflict  = "conflict"  // one write answered Conflict (retried)
	resultFailed    = "failed"    // the key was requeued after an error
)

// target is what one kind of object supplies to the writer core: how to
// read an object, what status it should show (render), whether it shows it
// (compare), and how to write it. R is what decides an object's status
// (the DAG's result for it, and anything else such as the Envoy Service's
// address); O is the object.
type target[O, R any] interface {
	// result is the latest R for k; false when there is none (the object
	// left the DAG).
	result(k types.NamespacedName) (R, bool)
	// cached reads k as the informer's cache shows it (shared, never
	// modified); a NotFound error when it does not exist.
	cached(k types.NamespacedName) (O, error)
	// fresh reads k from the API server.
	fresh(ctx context.Context, k types.NamespacedName) (O, error)
	// behind reports whether obj, read from the cache, may predate our own
	// last write of r, in which case the API server is asked before
	// writing again: writing against a stale resourceVersion only earns a
	// conflict.
	behind(k types.NamespacedName, r R, obj O) bool
	// upToDate reports whether obj needs no write for r: it shows r
	// already (transition times aside), or it is of a newer generation
	// than r was computed from.
	upToDate(r R, obj O) bool
	// desired is a copy of obj that shows r; now is the transition time
	// of a condition whose status flips.
	desired(r R, obj O, now metav1.Time) O
	// updateStatus writes obj through the status subresource.
	updateStatus(ctx context.Context, obj O) error
	// wrote records that r was written for k.
	wrote(k types.NamespacedName, r R)
}

// coreConfig is what every writer core needs; the fields mean what they do
// in Config.
type coreConfig struct {
	kind         string // the object's kind, in log messages: "HTTPProxy"
	logField     string // the log field naming the object: "httpproxy"
	elected      <-chan struct{}
	stillLeading func() bool
	workers      int
	log          logrus.FieldLogger
	clock        func() time.Time
	metrics      *writeMetrics
}

// core is the machinery both status writers share: it waits for
// leadership, owns the work queue and the workers, and brings one key at a
// time in line with its latest result, retrying conflicts at once with a
// fresh read and other failures with the rate limiter's backoff.
//
// The queue is client-go's rate-limited workqueue: a key added while it
// waits is queued once, a key added while a worker holds it is queued again
// when the worker is done (so no key is written by two workers at once, and
// the last addition is always seen), and a retry waits in the queue's own
// delay heap. Run creates the queue once leading and shuts it down before
// it returns, after joining its workers: no worker, no retry and no write
// outlives Run.
type core[O, R any] struct {
	coreConfig
	target  target[O, R]
	limiter workqueue.TypedRateLimiter[types.NamespacedName]
	// work is nil until Run leads.
	work atomic.Pointer[workQueue]
}

// workQueue is the queue of one Run and the count behind Pending.
type workQueue struct {
	q    workqueue.TypedRateLimitingInterface[types.NamespacedName]
	fifo *countingFIFO
}

func newWorkQueue(limiter workqueue.TypedRateLimiter[types.NamespacedName]) *workQueue {
	fifo := newCountingFIFO()
	q := workqueue.NewTypedRateLimitingQueueWithConfig(limiter, workqueue.TypedRateLimitingQueueConfig[types.NamespacedName]{
		DelayingQueue: workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[types.NamespacedName]{
			Queue: workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[types.NamespacedName]{Queue: fifo}),
		}),
	})
	return &workQueue{q: q, fifo: fifo}
}

func newCore[O, R any](cfg coreConfig, t target[O, R]) *core[O, R] {
	if cfg.workers <= 0 {
		cfg.workers = 1
	}
	if cfg.log == nil {
		l := logrus.New()
		l.Out = discard{}
		cfg.log = l
	}
	if cfg.clock == nil {
		cfg.clock = time.Now
	}
	if cfg.metrics == nil {
		cfg.metrics = newWriteMetrics()
	}
	return &core[O, R]{
		coreConfig: cfg,
		target:     t,
		limiter:    workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](retryBase, retryMax),
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// run waits for leadership, creates the queue, calls lead (which marks the
// kind as leading and queues whatever is stale), then runs the workers
// until ctx ends. It returns nil when ctx ends, once every worker has
// returned and the queue is shut down.
func (c *core[O, R]) run(ctx context.Context, lead func()) error {
	select {
	case <-ctx.Done():
		return nil
	case <-c.elected:
	}
	// Made here, not in the constructor: the queue starts its delay loop
	// at once, and only Run can stop it.
	wq := newWorkQueue(c.limiter)
	c.work.Store(wq)
	lead()

	var wg sync.WaitGroup
	for range c.workers {
		wg.Go(func() { c.worker(ctx, wq) })
	}
	<-ctx.Done()
	// Workers empty the queue without writing (ctx is done), then Get
	// tells them to return; the delay heap and its goroutine stop here.
	wq.q.ShutDown()
	wg.Wait()
	// Retries still waiting will never land: the next leader writes what
	// is left.
	wq.fifo.dropRetries()
	return nil
}

// add queues k; it does nothing before leading or after Run.
func (c *core[O, R]) add(k types.NamespacedName) {
	if wq := c.work.Load(); wq != nil {
		wq.q.Add(k)
	}
}

// pending is the number of keys queued, held by a worker, or waiting to be
// retried.
func (c *core[O, R]) pending() int {
	if wq := c.work.Load(); wq != nil {
		return wq.fifo.pending()
	}
	return 0
}

func (c *core[O, R]) worker(ctx context.Context, wq *workQueue) {
	for {
		k, shutdown := wq.q.Get()
		if shutdown {
			return
		}
		c.process(ctx, wq, k)
	}
}

func (c *core[O, R]) process(ctx context.Context, wq *workQueue, k types.NamespacedName) {
	// Done may queue k again; only then does it stop counting as held.
	defer wq.fifo.finished()
	defer wq.q.Done(k)
	if ctx.Err() != nil {
		return // shutting down: the next leader writes what is left
	}
	err := c.sync(ctx, k)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		c.metrics.writes.WithLabelValues(resultFailed).Inc()
		delay := c.limiter.When(k)
		c.log.WithError(err).WithField(c.logField, k.String()).WithField("retry_in", delay).
			Errorf("writing %s status failed", c.kind)
		wq.fifo.retry(k)
		wq.q.AddAfter(k, delay)
	default:
		c.limiter.Forget(k)
	}
}

// sync brings one object's status in line with the latest result for it.
func (c *core[O, R]) sync(ctx context.Context, k types.NamespacedName) error {
	log := c.log.WithField(c.logField, k.String())
	r, ok := c.target.result(k)
	if !ok {
		return nil // no longer in the DAG: deleted
	}
	obj, err := c.target.cached(k)
	if apierrors.IsNotFound(err) {
		c.metrics.writes.WithLabelValues(resultUnchanged).Inc()
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", k, err)
	}
	if c.target.behind(k, r, obj) {
		if obj, ok, err = c.fresh(ctx, k); !ok {
			return err
		}
	}

	for conflicts := 0; ; {
		if c.target.upToDate(r, obj) {
			c.metrics.writes.WithLabelValues(resultUnchanged).Inc()
			return nil
		}
		if c.stillLeading != nil && !c.stillLeading() {
			log.Debug("not writing: this replica no longer leads")
			return nil
		}
		update := c.target.desired(r, obj, metav1.NewTime(c.clock()))
		start := time.Now()
		err := c.target.updateStatus(ctx, update)
		c.metrics.duration.Observe(time.Since(start).Seconds())
		switch {
		case err == nil:
			c.metrics.writes.WithLabelValues(resultWritten).Inc()
			c.target.wrote(k, r)
			log.Debugf("wrote %s status", c.kind)
			return nil
		case apierrors.IsNotFound(err):
			c.metrics.writes.WithLabelValues(resultUnchanged).Inc()
			return nil
		case !apierrors.IsConflict(err):
			return fmt.Errorf("update status of %s: %w", k, err)
		}

		c.metrics.writes.WithLabelValues(resultConflict).Inc()
		conflicts++
		if conflicts >= maxConflictRetries {
			return fmt.Errorf("update status of %s: %d conflicts in a row: %w", k, conflicts, err)
		}
		log.WithField("attempt", conflicts).Debugf("conflict writing %s status; re-reading", c.kind)
		if err := sleep(ctx, conflictBackoffBase<<(conflicts-1)); err != nil {
			return err
		}
		// The cache may be behind our own last write: ask the API server.
		if obj, ok, err = c.fresh(ctx, k); !ok {
			return err
		}
		if r, ok = c.target.result(k); !ok {
			return nil
		}
	}
}

// fresh reads k from the API server; ok is false when k is gone (counted
// as unchanged) or on error.
func (c *core[O, R]) fresh(ctx context.Context, k types.NamespacedName) (obj O, ok bool, err error) {
	obj, err = c.target.fresh(ctx, k)
	if apierrors.IsNotFound(err) {
		c.metrics.writes.WithLabelValues(resultUnchanged).Inc()
		return obj, false, nil
	}
	if err != nil {
		return obj, false, fmt.Errorf("get %s: %w", k, err)
	}
	return obj, true, nil
}

// sleep waits d, or until ctx ends. Its timer is stopped either way.
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

// countingFIFO is the workqueue's FIFO (client-go calls Push, Pop and Len
// under the queue's lock) that also keeps one count of the keys queued,
// held by a worker, or waiting to be retried, so that pending never reads
// zero in the instant between Get and the worker's bookkeeping: a key
// moves from queued to held inside Pop.
type countingFIFO struct {
	items []types.NamespacedName
	n     atomic.Int64

	mu       sync.Mutex // guards retrying; taken inside the queue's lock
	retrying map[types.NamespacedName]bool
}

var _ workqueue.Queue[types.NamespacedName] = (*countingFIFO)(nil)

func newCountingFIFO() *countingFIFO {
	return &countingFIFO{retrying: map[types.NamespacedName]bool{}}
}

func (f *countingFIFO) Touch(types.NamespacedName) {}

func (f *countingFIFO) Push(k types.NamespacedName) {
	f.items = append(f.items, k)
	f.n.Add(1)
}

func (f *countingFIFO) Len() int { return len(f.items) }

// Pop hands k to a worker: it stays counted until finished. A retry of k
// waiting in the delay heap is served by this very Pop.
func (f *countingFIFO) Pop() types.NamespacedName {
	k := f.items[0]
	f.items[0] = types.NamespacedName{}
	f.items = f.items[1:]
	f.mu.Lock()
	if f.retrying[k] {
		delete(f.retrying, k)
		f.n.Add(-1)
	}
	f.mu.Unlock()
	return k
}

// finished is called once per Pop, after the queue's Done.
func (f *countingFIFO) finished() { f.n.Add(-1) }

// retry counts k as pending until it is popped again.
func (f *countingFIFO) retry(k types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.retrying[k] {
		f.retrying[k] = true
		f.n.Add(1)
	}
}

// dropRetries forgets the retries that will never land, the queue shut
// down.
func (f *countingFIFO) dropRetries() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n.Add(-int64(len(f.retrying)))
	clear(f.retrying)
}

func (f *countingFIFO) pending() int { return int(f.n.Load()) }

// writeMetrics count what a core does; the HTTPProxy writer registers
// them.
type writeMetrics struct {
	writes   *prometheus.CounterVec
	duration prometheus.Histogram
}

func newWriteMetrics() *writeMetrics {
	m := &writeMetrics{
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
	}
	for _, r := range []string{resultWritten, resultUnchanged, resultConflict, resultFailed} {
		m.writes.WithLabelValues(r)
	}
	return m
}
