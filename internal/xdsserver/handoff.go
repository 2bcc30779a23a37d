package xdsserver

import (
	"context"
	"sync"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// Handoff is the Server's observer for the controller: OnChange only
// hands the DAG over, and Run translates and serves it on a goroutine of
// its own, the latest DAG first: a DAG that a newer one replaced while a
// translation ran is skipped, as the newer one holds all of its changes.
//
// The controller's event loop calls its observers one after another and
// applies no event while they run. Translating there made every DAG wait
// for the translation of the one before: during a create storm of 10,000
// proxies the loop spent 65 to 80 % of its time in the xDS server's
// OnChange (its push duration), so an HTTPProxy's status waited for
// translations it has nothing to do with, longer the more the machine was
// loaded (see test/bench/RESULTS.md). Envoys still get every change, in
// order, as soon as one translation is free.
type Handoff struct {
	s     *Server
	mu    sync.Mutex
	next  *dag.DAG // guarded by mu
	ready chan struct{}
}

// Handoff returns the observer that translates on Run's goroutine.
func (s *Server) Handoff() *Handoff {
	return &Handoff{s: s, ready: make(chan struct{}, 1)}
}

// OnChange hands d to Run without waiting. It implements
// controller.Observer.
func (h *Handoff) OnChange(d *dag.DAG) {
	h.mu.Lock()
	h.next = d
	h.mu.Unlock()
	select {
	case h.ready <- struct{}{}:
	default: // Run is signalled already; it will take d.
	}
}

// Run translates and serves each DAG handed over, until ctx ends.
func (h *Handoff) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.ready:
			h.mu.Lock()
			d := h.next
			h.next = nil
			h.mu.Unlock()
			if d != nil {
				h.s.OnChange(d)
			}
		}
	}
}
