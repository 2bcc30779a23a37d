// Package controller is the event loop of a replica: it watches the objects
// the DAG is built from, keeps them in a cache owned by one goroutine, and
// rebuilds the DAG after a short hold-off whenever a change can matter,
// handing each new DAG to the observers (xDS on every replica, status on
// the leader).
package controller

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourinformers "github.com/proxyctl/proxyctl/apis/generated/informers/externalversions"
	contourlisters "github.com/proxyctl/proxyctl/apis/generated/listers/projectcontour/v1"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/dag"
)

// Observer receives every DAG the controller builds, on the event loop
// goroutine. It must return quickly; slow work belongs on its own goroutine.
type Observer interface {
	OnChange(*dag.DAG)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(*dag.DAG)

// OnChange calls f.
func (f ObserverFunc) OnChange(d *dag.DAG) { f(d) }

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

// Config configures a Controller.
type Config struct {
	Kube    kubernetes.Interface
	Contour versioned.Interface
	// WatchNamespaces limits every informer to these namespaces; empty
	// watches the whole cluster.
	WatchNamespaces []string
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
	Observers  []Observer
	// ProxyObservers see every HTTPProxy event.
	ProxyObservers []ProxyObserver
	Registerer     prometheus.Registerer
	Log            logrus.FieldLogger
}

// Controller owns the informers, the cache and the rebuild loop.
type Controller struct {
	cfg     Config
	log     logrus.FieldLogger
	metrics *metrics
	events  chan event
	// builder is used by the event loop only. It reuses the previous
	// DAG's work for everything a change did not touch, and hands
	// observers the same pointers for unchanged parts.
	builder *dag.Builder

	informers []cache.SharedIndexInformer
	starters  []func(<-chan struct{})
	stoppers  []func()
	// proxies reads HTTPProxies from the informers' stores, by namespace
	// ("" when the whole cluster is watched).
	proxies map[string]contourlisters.HTTPProxyLister
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
	if cfg.Kube == nil || cfg.Contour == nil {
		return nil, errors.New("controller: Kubernetes and Contour clients are required")
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
	c := &Controller{
		cfg:     cfg,
		log:     cfg.Log.WithField("context", "controller"),
		metrics: m,
		events:  make(chan event, 1024),
		builder: dag.NewBuilder(cfg.DAG),
		proxies: map[string]contourlisters.HTTPProxyLister{},
	}
	namespaces := cfg.WatchNamespaces
	if len(namespaces) == 0 {
		namespaces = []string{""} // every namespace
	}
	for _, ns := range namespaces {
		kf := informers.NewSharedInformerFactoryWithOptions(cfg.Kube, 0, informers.WithNamespace(ns))
		cf := contourinformers.NewSharedInformerFactoryWithOptions(cfg.Contour, 0, contourinformers.WithNamespace(ns))
		proxies := cf.Projectcontour().V1().HTTPProxies()
		c.proxies[ns] = proxies.Lister()
		infs := []cache.SharedIndexInformer{
			proxies.Informer(),
			cf.Projectcontour().V1().TLSCertificateDelegations().Informer(),
			cf.Projectcontour().V1alpha1().ExtensionServices().Informer(),
			kf.Core().V1().Services().Informer(),
			kf.Discovery().V1().EndpointSlices().Informer(),
			kf.Core().V1().Secrets().Informer(),
		}
		for _, inf := range infs {
			if err := inf.SetTransform(trim); err != nil {
				return nil, fmt.Errorf("controller: set informer transform: %w", err)
			}
		}
		c.informers = append(c.informers, infs...)
		c.starters = append(c.starters, kf.Start, cf.Start)
		c.stoppers = append(c.stoppers, kf.Shutdown, cf.Shutdown)
	}
	return c, nil
}

// AddObserver adds an observer for the DAGs to come. Call it before Run:
// observers that need the controller themselves (the status writer reads
// objects through HTTPProxy) cannot be in Config.
func (c *Controller) AddObserver(o Observer) {
	c.cfg.Observers = append(c.cfg.Observers, o)
}

// AddProxyObserver adds an observer of HTTPProxy events; call it before
// Run, for the same reason as AddObserver.
func (c *Controller) AddProxyObserver(o ProxyObserver) {
	c.cfg.ProxyObservers = append(c.cfg.ProxyObservers, o)
}

// HTTPProxy returns the current object from the informer cache; safe to
// call from any goroutine. It returns a NotFound error for objects the
// controller does not watch.
func (c *Controller) HTTPProxy(namespace, name string) (*contourv1.HTTPProxy, error) {
	lister, ok := c.proxies[""]
	if !ok {
		lister = c.proxies[namespace]
	}
	if lister == nil {
		return nil, apierrors.NewNotFound(contourv1.Resource("httpproxies"), name)
	}
	return lister.HTTPProxies(namespace).Get(name)
}

// Ready reports nil once the caches have synced and the first DAG has been
// handed to the observers. Until then a replica must not serve Envoy.
func (c *Controller) Ready() error {
	if !c.built.Load() {
		return errors.New("informer caches not synced or first DAG not built yet")
	}
	return nil
}

// Run starts the informers and the event loop and blocks until ctx is
// cancelled (nil) or the caches cannot sync (an error).
func (c *Controller) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	syncedCh, stop, err := c.start(ctx)
	if err != nil {
		return err
	}
	// stop waits for the informer goroutines, after ctx is cancelled.
	defer func() {
		cancel()
		stop()
	}()
	return c.loop(ctx, syncedCh)
}

// start registers the event handlers and starts the informers. The
// returned channel receives one value once every handler registration has
// synced (nil), or an error if ctx ended first; stop waits for the
// informers' goroutines once ctx is cancelled.
func (c *Controller) start(ctx context.Context) (<-chan error, func(), error) {
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.observe(obj); c.enqueue(ctx, event{obj: obj}) },
		UpdateFunc: func(_, obj any) { c.observe(obj); c.enqueue(ctx, event{obj: obj}) },
		DeleteFunc: func(obj any) { c.enqueue(ctx, event{obj: obj, delete: true}) },
	}
	var synced []cache.InformerSynced
	for _, inf := range c.informers {
		reg, err := inf.AddEventHandler(handler)
		if err != nil {
			return nil, nil, fmt.Errorf("controller: add event handler: %w", err)
		}
		synced = append(synced, reg.HasSynced)
	}
	for _, start := range c.starters {
		start(ctx.Done())
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
	stop := func() {
		<-waited
		for _, stop := range c.stoppers {
			stop()
		}
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
