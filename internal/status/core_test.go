package status

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// TestRunLeavesNothingRunning: a Writer stopped while a failed write waits
// for its retry leaves no goroutine (its workers, the queue's delay loop)
// and no pending retry behind.
func TestRunLeavesNothingRunning(t *testing.T) {
	h := newHarness(t, 2, proxy("p", 1, notReconciled()))
	h.client.PrependReactor("update", "httpproxies", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		return true, nil, apierrors.NewInternalError(errors.New("etcd is sad"))
	})
	// A long first retry: it is still waiting when the Writer stops.
	for range 10 {
		h.w.core.limiter.When(key("p"))
	}
	close(h.elected)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.w.Run(ctx) }()
	h.w.OnChange(dagOf(named("p", valid(1))))
	// Pending counts the retry alone once the worker has let go of p.
	eventually(t, "a failed write waiting for its retry", func() bool {
		return h.counter("failed") == 1 && h.w.Pending() == 1
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := h.w.Pending(); n != 0 {
		t.Errorf("Pending() = %d after Run returned, want 0: a retry outlived it", n)
	}
	waitForNoWriterGoroutine(t)
}

// TestNothingIsWrittenAfterRunReturns: a Writer stopped in the middle of
// writing many statuses, with writes in flight and failed ones waiting for
// their retry, waits for the writes in flight and makes no status update
// call once Run has returned.
func TestNothingIsWrittenAfterRunReturns(t *testing.T) {
	const n, workers = 100, 4
	var objs []k8sruntime.Object
	var results []*dag.ProxyStatus
	for i := range n {
		name := fmt.Sprintf("p-%03d", i)
		objs = append(objs, proxy(name, 1, notReconciled()))
		results = append(results, named(name, valid(1)))
	}
	h := newHarness(t, workers, objs...)
	var calls, blocked atomic.Int64
	release := make(chan struct{})
	h.client.PrependReactor("update", "httpproxies", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		if a.GetSubresource() != "status" {
			return false, nil, nil
		}
		c := calls.Add(1)
		if c > n/4 {
			// From here on every write hangs until released (the fake
			// client runs one reactor at a time: the other workers
			// wait for it inside their own update call).
			blocked.Add(1)
			<-release
		}
		// Every third call fails: its key waits in the delay heap.
		if c%3 == 0 {
			return true, nil, apierrors.NewInternalError(errors.New("etcd is sad"))
		}
		return false, nil, nil
	})
	close(h.elected)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.w.Run(ctx) }()
	h.w.OnChange(dagOf(results...))
	eventually(t, "a write in flight, retries waiting", func() bool {
		return blocked.Load() == 1 && h.counter("failed") >= 2
	})
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned with writes still in flight")
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	atReturn := calls.Load()
	waitForNoWriterGoroutine(t)
	// With no goroutine of the Writer or of its queue left, nothing can
	// call the API any more: the count is final.
	if got := calls.Load(); got != atReturn {
		t.Errorf("%d status update calls after Run returned", got-atReturn)
	}
	if atReturn < n/4+1 || atReturn > n/4+workers {
		t.Errorf("%d status update calls, want %d before the stop and at most one per worker in flight", atReturn, n/4)
	}
}

// TestPendingCountsQueuedHeldAndRetried follows one key through the
// queue's life: queued, held by a worker (queued again meanwhile), done,
// retried, popped again.
func TestPendingCountsQueuedHeldAndRetried(t *testing.T) {
	h := newHarness(t, 1)
	if n := h.w.Pending(); n != 0 {
		t.Fatalf("Pending() = %d before leading", n)
	}
	h.w.core.add(key("p")) // not leading: nothing is queued
	// Run's workers would take the keys; drive the queue by hand instead.
	c := h.w.core
	wq := newWorkQueue(c.limiter)
	defer wq.q.ShutDown()
	c.work.Store(wq)
	fifo := wq.fifo

	want := func(what string, n int) {
		t.Helper()
		if got := h.w.Pending(); got != n {
			t.Errorf("%s: Pending() = %d, want %d", what, got, n)
		}
	}
	c.add(key("p"))
	c.add(key("p"))
	want("queued twice", 1)
	k, _ := wq.q.Get()
	want("held", 1)
	c.add(k) // counted as held until Done queues it again
	want("held and queued again", 1)
	wq.q.Done(k)
	fifo.finished()
	want("queued again after Done", 1)
	k, _ = wq.q.Get()
	fifo.retry(k)
	wq.q.Done(k)
	fifo.finished()
	want("waiting for its retry", 1)
	wq.q.AddAfter(k, time.Millisecond)
	eventually(t, "the retry to land", func() bool { return wq.q.Len() == 1 })
	k, _ = wq.q.Get()
	want("retry held", 1)
	wq.q.Done(k)
	fifo.finished()
	want("done", 0)
	fifo.retry(k)
	fifo.dropRetries()
	want("retries dropped", 0)
}

// waitForNoWriterGoroutine waits until no goroutine runs code of this
// package (tests aside) or of client-go's workqueue.
func waitForNoWriterGoroutine(t *testing.T) {
	t.Helper()
	var left []string
	ok := func() bool {
		left = writerGoroutines()
		return len(left) == 0
	}
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left after Run returned, the first:\n%s", len(left), left[0])
		}
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond) // polling, bounded by the deadline above
	}
}

// writerGoroutines returns the stacks of the goroutines running code of
// this package, tests aside, or of client-go's workqueue.
func writerGoroutines() []string {
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
		if strings.Contains(g, "testing.tRunner") {
			continue
		}
		if strings.Contains(g, "proxyctl/internal/status.") || strings.Contains(g, "k8s.io/client-go/util/workqueue.") {
			out = append(out, g)
		}
	}
	return out
}
