package status

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
)

// TestShutDownStopsDelayedAdditions: a retry waiting in a timer is owned by
// the queue; shutDown stops it, so nothing of the queue outlives it.
func TestShutDownStopsDelayedAdditions(t *testing.T) {
	q := newQueue()
	q.addAfter(types.NamespacedName{Namespace: "ns", Name: "later"}, time.Hour)
	q.addAfter(types.NamespacedName{Namespace: "ns", Name: "soon"}, time.Nanosecond)
	q.shutDown()
	if n := q.len(); n != 0 {
		t.Fatalf("%d delayed additions outlive shutDown", n)
	}
	q.addAfter(types.NamespacedName{Namespace: "ns", Name: "after"}, time.Nanosecond)
	if n := q.len(); n != 0 {
		t.Fatalf("an addition after shutDown is pending: len %d", n)
	}
}

// TestRunLeavesNoGoroutineNorTimer: a Writer stopped while a failed write
// waits for its retry leaves no goroutine and no timer behind.
func TestRunLeavesNoGoroutineNorTimer(t *testing.T) {
	h := newHarness(t, 2, proxy("p", 1, notReconciled()))
	h.client.PrependReactor("update", "httpproxies", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		return true, nil, apierrors.NewInternalError(errors.New("etcd is sad"))
	})
	// A long first retry: it is still waiting when the Writer stops.
	for range 10 {
		h.w.limiter.When(key("p"))
	}
	close(h.elected)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.w.Run(ctx) }()
	h.w.OnChange(dagOf(named("p", valid(1))))
	eventually(t, "a failed write waiting for its retry", func() bool {
		h.w.queue.mu.Lock()
		defer h.w.queue.mu.Unlock()
		return h.counter("failed") == 1 && len(h.w.queue.processing) == 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := h.w.Pending(); n != 0 {
		t.Errorf("Pending() = %d after Run returned, want 0: a retry timer outlived it", n)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		left := statusGoroutines()
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left after Run returned, the first:\n%s", len(left), left[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// statusGoroutines returns the stacks of the goroutines running code of
// this package, tests aside.
func statusGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "proxyctl/internal/status.") && !strings.Contains(g, "testing.tRunner") {
			out = append(out, g)
		}
	}
	return out
}
