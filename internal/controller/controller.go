package controller

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"k8s.io/client-go/tools/cache"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/dag"
)

// Observer receives every DAG the controller builds, on the event loop
// goroutine. It must return quickly; slow work belongs on its own goroutine.
type Observer interface {
	OnChange(*dag.DAG)
}

// ProxyObserver is told of every HTTPProxy the informers deliver (added or
// updated), on the informer's goroutine, before the event loop sees it and
// including the status-only updates the loop ignores. It must return
// quickly.
type ProxyObserver interface {
	OnProxy(*contourv1.HTTPProxy)
}

// Defaults for the hold-off: long enough to batch a burst of events from
// one apply, short enough that a single change reaches Envoy and status
// within milliseconds.
const (
	DefaultHoldOff    = 10 * time.Millisecond
	DefaultMaxHoldOff = 100 * time.Millisecond
)

// Informers are the informers of one watched namespace, or of the whole
// cluster, one for each kind the DAG is built from. Whoever builds them
// applies Trim, starts them and shuts them down (cmd/proxyctl's run group);
// the controller only subscribes to them, in Run.
type Informers struct {
	HTTPProxies               cache.SharedInformer
	TLSCertificateDelegations cache.SharedInformer
	ExtensionServices         cache.SharedInformer
	Services                  cache.SharedInformer
	EndpointSlices            cache.SharedInformer
	Secrets                   cache.SharedInformer
}

// all returns the informers in a fixed order, or an error naming the first
// one missing: a kind left out would silently never reach the DAG.
func (i Informers) all() ([]cache.SharedInformer, error) {
	named := []struct {
		name string
		inf  cache.SharedInformer
	}{
		{"HTTPProxies", i.HTTPProxies},
		{"TLSCertificateDelegations", i.TLSCertificateDelegations},
		{"ExtensionServices", i.ExtensionServices},
		{"Services", i.Services},
		{"EndpointSlices", i.EndpointSlices},
		{"Secrets", i.Secrets},
	}
	infs := make([]cache.SharedInformer, 0, len(named))
	for _, n := range named {
		if n.inf == nil {
			return nil, fmt.Errorf("the %s informer is missing", n.name)
		}
		infs = append(infs, n.inf)
	}
	return infs, nil
}

// Config configures a Controller.
type Config struct {
	// Informers feed the cache: one set per watched namespace, or one set
	// for the whole cluster. The first DAG waits until every one of them
	// has synced and delivered its initial list.
	Informers []Informers
	// IngressClassNames select the HTTPProxies this controller serves: those
	// of one of these classes; when empty, those with no class or
	// Contour's default class.
	IngressClassNames []string
	// DAG is passed to every dag.Build.
	DAG dag.Config
	// HoldOff is the quiet time after the last event before a rebuild;
	// MaxHoldOff bounds the delay of the first pending event in a burst.
	HoldOff    time.Duration
	MaxHoldOff time.Duration
	// Observers receive every DAG, in this order.
	Observers []Observer
	// ProxyObservers see every HTTPProxy event.
	ProxyObservers []ProxyObserver
	Registerer     prometheus.Registerer
	Log            logrus.FieldLogger
}

// Controller owns the cache and the rebuild loop; it subscribes to
// informers it is given and never starts or stops them.
type Controller struct {
	cfg     Config
	log     logrus.FieldLogger
	metrics *metrics
	events  chan event
	// builder is used by the event loop only. It reuses the previous
	// DAG's work for everything a change did not touch, and hands
	// observers the same pointers for unchanged parts.
	builder *dag.Builder

	informers []cache.SharedInformer
	// built is set once the first DAG, from synced caches, went to the
	// observers.
	built atomic.Bool
}

type event struct {
	obj    any
	delete bool
}

// New returns a Controller; Run starts it.
func New(cfg Config) (*Controller, error) {
	if len(cfg.Informers) == 0 {
		return nil, errors.New("controller: no informers")
	}
	var informers []cache.SharedInformer
	for n, set := range cfg.Informers {
		infs, err := set.all()
		if err != nil {
			return nil, fmt.Errorf("controller: informer set %d: %w", n, err)
		}
		informers = append(informers, infs...)
	}
	if cfg.HoldOff <= 0 {
		cfg.HoldOff = DefaultHoldOff
	}
	if cfg.MaxHoldOff < cfg.HoldOff {
		cfg.MaxHoldOff = max(DefaultMaxHoldOff, cfg.HoldOff)
	}
	if cfg.Log == nil {
		cfg.Log = logrus.StandardLogger()
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Controller{
		cfg:       cfg,
		log:       cfg.Log.WithField("context", "controller"),
		metrics:   m,
		events:    make(chan event, 1024),
		builder:   dag.NewBuilder(cfg.DAG),
		informers: informers,
	}, nil
}

// Ready reports nil once the caches have synced and the first DAG has been
// handed to the observers. Until then a replica must not serve Envoy.
func (c *Controller) Ready() error {
	if !c.built.Load() {
		return errors.New("informer caches not synced or first DAG not built yet")
	}
	return nil
}

// Run subscribes to the informers and runs the event loop. It blocks
// until ctx is cancelled (nil) or the subscriptions cannot sync (an
// error). The informers are started by their owner, before or after Run
// begins: a subscription to a running informer is first handed what its
// cache holds. When Run returns, no handler of the controller is running
// any more and none will be called again.
func (c *Controller) Run(ctx context.Context) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	syncedCh, stop, err := c.start(ctx)
	// stop unsubscribes and waits for the handlers, which return once ctx
	// is cancelled.
	defer func() {
		cancel()
		err = errors.Join(err, stop())
	}()
	if err != nil {
		return err
	}
	return c.loop(ctx, syncedCh)
}

// start subscribes to the informers. The returned channel receives one
// value once every subscription has synced (nil), or an error if ctx ended
// first. stop, to be called once ctx is cancelled and even when start
// failed, waits for the goroutine that waits for the sync, removes the
// subscriptions and waits until no handler runs.
func (c *Controller) start(ctx context.Context) (<-chan error, func() error, error) {
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.observe(obj); c.enqueue(ctx, event{obj: obj}) },
		UpdateFunc: func(_, obj any) { c.observe(obj); c.enqueue(ctx, event{obj: obj}) },
		DeleteFunc: func(obj any) { c.enqueue(ctx, event{obj: obj, delete: true}) },
	}
	type subscription struct {
		inf cache.SharedInformer
		reg cache.ResourceEventHandlerRegistration
	}
	var subs []subscription
	unsubscribe := func() error {
		var errs []error
		for _, s := range subs {
			if err := cache.ShutDownEventHandler(s.inf, s.reg); err != nil {
				errs = append(errs, fmt.Errorf("controller: remove event handler: %w", err))
			}
		}
		return errors.Join(errs...)
	}
	var synced []cache.InformerSynced
	for _, inf := range c.informers {
		reg, err := inf.AddEventHandler(handler)
		if err != nil {
			return nil, unsubscribe, fmt.Errorf("controller: add event handler: %w", err)
		}
		subs = append(subs, subscription{inf, reg})
		synced = append(synced, reg.HasSynced)
	}
	syncedCh := make(chan error, 1)
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		if !cache.WaitForCacheSync(ctx.Done(), synced...) {
			syncedCh <- errors.New("controller: informer caches did not sync")
			return
		}
		syncedCh <- nil
	}()
	stop := func() error {
		<-waited
		return unsubscribe()
	}
	return syncedCh, stop, nil
}

// observe tells the proxy observers of an HTTPProxy event.
func (c *Controller) observe(obj any) {
	if p, ok := obj.(*contourv1.HTTPProxy); ok {
		for _, o := range c.cfg.ProxyObservers {
			o.OnProxy(p)
		}
	}
}

// enqueue hands an informer event to the event loop. Informer callbacks
// never touch the cache themselves.
func (c *Controller) enqueue(ctx context.Context, e event) {
	if tomb, ok := e.obj.(cache.DeletedFinalStateUnknown); ok {
		e.obj = tomb.Obj
	}
	select {
	case c.events <- e:
	case <-ctx.Done():
	}
}

// loop is the only goroutine that touches the cache. It applies events,
// and rebuilds once no event has arrived for HoldOff, or MaxHoldOff after
// the first pending event, whichever is sooner. Nothing is built before the
// caches have synced and every object of the initial lists is applied, so
// observers never see a partial view.
func (c *Controller) loop(ctx context.Context, syncedCh <-chan error) error {
	objects := newObjectCache(c.cfg.IngressClassNames)
	objects.fallback = c.cfg.DAG.FallbackCertificate
	synced := false
	pending := false
	var firstPending time.Time
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	schedule := func() {
		now := time.Now()
		if !pending {
			pending, firstPending = true, now
		}
		wait := min(c.cfg.HoldOff, c.cfg.MaxHoldOff-now.Sub(firstPending))
		timer.Reset(max(wait, 0))
	}
	build := func() {
		pending = false
		c.rebuild(objects)
	}

	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-syncedCh:
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			// A registration reports synced once its handler has returned
			// for every object of the initial list, that is once the
			// object is in c.events, not once this loop applied it. Every
			// initial object is therefore applied already or buffered
			// now: apply what is buffered before the first build, or the
			// first DAG (and the first xDS answer, and a new leader's
			// status writes) would miss objects that exist.
			for n := len(c.events); n > 0; n-- {
				c.apply(objects, <-c.events)
			}
			synced = true
			c.log.Info("informer caches synced; building the first DAG")
			build()
		case e := <-c.events:
			if c.apply(objects, e) && synced {
				schedule()
			}
		case <-timer.C:
			if pending {
				build()
			}
		}
	}
}

// apply counts e and applies it to objects, reporting whether it can
// change the DAG.
func (c *Controller) apply(objects *objectCache, e event) bool {
	c.metrics.events.Inc()
	return objects.apply(e)
}

func (o *objectCache) apply(e event) bool {
	if e.delete {
		return o.remove(e.obj)
	}
	return o.insert(e.obj)
}

func (c *Controller) rebuild(objects *objectCache) {
	start := time.Now()
	d := c.builder.Build(objects.objs)
	took := time.Since(start)
	c.metrics.observeRebuild(start, took)
	c.log.WithFields(logrus.Fields{"took": took, "proxies": len(objects.objs.HTTPProxies)}).Debug("DAG rebuilt")
	for _, o := range c.cfg.Observers {
		o.OnChange(d)
	}
	c.built.Store(true)
}
