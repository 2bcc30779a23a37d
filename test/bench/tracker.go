package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	"github.com/proxyctl/proxyctl/apis/generated/informers/externalversions"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// proxyState is what the tracker knows of one HTTPProxy.
type proxyState struct {
	generation int64
	// upToDate: currentStatus is valid and the Valid condition is true for
	// the object's current generation.
	upToDate bool
	// seen is when the tracker saw the object in that state.
	seen time.Time
}

// tracker follows every HTTPProxy of a namespace through one informer (a
// watch, not a list per check) and counts those whose status is valid for
// their current generation.
type tracker struct {
	mu      sync.Mutex
	proxies map[string]proxyState
	valid   int
	changed chan struct{} // closed and replaced on every event
}

// startTracker starts the informer and waits for its cache to sync; it runs
// until ctx ends.
func startTracker(ctx context.Context, pc versioned.Interface, ns string) (*tracker, error) {
	t := &tracker{proxies: map[string]proxyState{}, changed: make(chan struct{})}
	factory := externalversions.NewSharedInformerFactoryWithOptions(pc, 0, externalversions.WithNamespace(ns))
	inf := factory.Projectcontour().V1().HTTPProxies().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { t.observe(obj) },
		UpdateFunc: func(_, obj any) { t.observe(obj) },
	}); err != nil {
		return nil, err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil, fmt.Errorf("httpproxy informer did not sync: %w", context.Cause(ctx))
	}
	return t, nil
}

func (t *tracker) observe(obj any) {
	p, ok := obj.(*contourv1.HTTPProxy)
	if !ok {
		return
	}
	now := time.Now()
	st := proxyState{generation: p.Generation, upToDate: validFor(p), seen: now}
	t.mu.Lock()
	defer t.mu.Unlock()
	key := p.Namespace + "/" + p.Name
	old, had := t.proxies[key]
	if had && old.upToDate == st.upToDate && old.generation == st.generation {
		return // keep the time it first got there
	}
	if had && old.upToDate {
		t.valid--
	}
	if st.upToDate {
		t.valid++
	}
	t.proxies[key] = st
	close(t.changed)
	t.changed = make(chan struct{})
}

// validFor says whether p's status is valid for p's current generation.
func validFor(p *contourv1.HTTPProxy) bool {
	if p.Status.CurrentStatus != contourv1.StatusValid {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == "Valid" {
			return c.Status == metav1.ConditionTrue && c.ObservedGeneration == p.Generation
		}
	}
	return false
}

// wait blocks until cond, called with the tracker locked, holds.
func (t *tracker) wait(ctx context.Context, cond func() bool) error {
	for {
		t.mu.Lock()
		ok, changed := cond(), t.changed
		t.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// waitAllValid waits until n proxies are valid for their generation and
// returns when the last of them got there.
func (t *tracker) waitAllValid(ctx context.Context, n int) (time.Time, error) {
	if err := t.wait(ctx, func() bool { return t.valid >= n }); err != nil {
		t.mu.Lock()
		defer t.mu.Unlock()
		return time.Time{}, fmt.Errorf("%d of %d HTTPProxies valid: %w", t.valid, n, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var last time.Time
	for _, st := range t.proxies {
		if st.seen.After(last) {
			last = st.seen
		}
	}
	return last, nil
}

// waitGeneration waits until the proxy key shows a valid status for
// generation and returns when the tracker saw it.
func (t *tracker) waitGeneration(ctx context.Context, key string, generation int64) (time.Time, error) {
	var at time.Time
	err := t.wait(ctx, func() bool {
		st := t.proxies[key]
		if st.generation >= generation && st.upToDate {
			at = st.seen
			return true
		}
		return false
	})
	return at, err
}
