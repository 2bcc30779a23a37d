package status

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// queue is a deduplicating work queue of proxy keys. A key added while it
// waits is queued once; a key added while a worker holds it is queued again
// when the worker is done, so it is never processed by two workers at once
// and the last addition is always seen. Delayed additions (retries) count as
// pending until they land.
type queue struct {
	mu         sync.Mutex
	cond       *sync.Cond
	items      []types.NamespacedName // dirty and not processing, FIFO
	dirty      map[types.NamespacedName]bool
	processing map[types.NamespacedName]bool
	// timers are the pending delayed additions; shutDown stops them, and
	// fired counts the callbacks that may still be running, so that no
	// timer and no callback outlives shutDown.
	timers   map[*time.Timer]struct{}
	fired    sync.WaitGroup
	shutdown bool
}

func newQueue() *queue {
	q := &queue{
		dirty:      map[types.NamespacedName]bool{},
		processing: map[types.NamespacedName]bool{},
		timers:     map[*time.Timer]struct{}{},
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *queue) add(k types.NamespacedName) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(k)
}

func (q *queue) addLocked(k types.NamespacedName) {
	if q.shutdown || q.dirty[k] {
		return
	}
	q.dirty[k] = true
	if q.processing[k] {
		return
	}
	q.items = append(q.items, k)
	q.cond.Signal()
}

// addAfter adds k once d has passed.
func (q *queue) addAfter(k types.NamespacedName, d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	q.fired.Add(1)
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		defer q.fired.Done()
		q.mu.Lock()
		defer q.mu.Unlock()
		if _, pending := q.timers[t]; !pending {
			return // shutDown stopped it too late
		}
		delete(q.timers, t)
		q.addLocked(k)
	})
	q.timers[t] = struct{}{}
}

// get blocks until a key is available and hands it to the caller, who
// must call done with it. ok is false once the queue is shut down.
func (q *queue) get() (k types.NamespacedName, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if q.shutdown {
		return k, false
	}
	k = q.items[0]
	q.items[0] = types.NamespacedName{}
	q.items = q.items[1:]
	delete(q.dirty, k)
	q.processing[k] = true
	return k, true
}

func (q *queue) done(k types.NamespacedName) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, k)
	if q.dirty[k] && !q.shutdown {
		q.items = append(q.items, k)
		q.cond.Signal()
	}
}

// len is the number of keys queued, being processed or waiting to be
// retried.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) + len(q.processing) + len(q.timers)
}

// shutDown wakes every get, stops the delayed additions and returns once
// no callback of theirs is running.
func (q *queue) shutDown() {
	q.mu.Lock()
	q.shutdown = true
	q.cond.Broadcast()
	for t := range q.timers {
		if t.Stop() {
			q.fired.Done() // its callback will never run
		}
		delete(q.timers, t)
	}
	q.mu.Unlock()
	// A callback that had fired already is waiting for mu, or done.
	q.fired.Wait()
}
