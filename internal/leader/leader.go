package leader

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// ErrLeadershipLost is returned by Run when this replica held the Lease and
// no longer does: it could not renew it before the renew deadline, or it
// found another holder in it.
var ErrLeadershipLost = errors.New("leadership lost")

// Config describes one election on a Lease.
type Config struct {
	// Client reads and writes the Lease.
	Client coordinationv1client.LeasesGetter
	// Namespace and Name identify the Lease.
	Namespace string
	Name      string
	// Identity names this replica in the Lease's holderIdentity.
	Identity string
	// LeaseDuration is how long a standby waits, from the last renewal it
	// saw, before it may take the Lease from a silent leader.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader keeps retrying a failed renewal
	// before it gives up leadership.
	RenewDeadline time.Duration
	// RetryPeriod is the interval between attempts to acquire or renew.
	RetryPeriod time.Duration
	// Log receives the election's transitions.
	Log logrus.FieldLogger
}

// Elector runs one replica's side of the election.
type Elector struct {
	identity string
	log      logrus.FieldLogger
	elector  *leaderelection.LeaderElector // nil when election is disabled

	elected     chan struct{}
	electedOnce sync.Once
	// checkEvery is how often Run looks for another holder in the Lease.
	checkEvery    time.Duration
	renewDeadline time.Duration
	lock          *resourcelock.LeaseLock
	leases        coordinationv1client.LeasesGetter
	namespace     string
	name          string
	// stopped is set once the election loop has ended: from then on this
	// replica does not lead, whatever the last Lease it read said.
	stopped atomic.Bool
	// taker is the other holder the Lease watch saw, once it saw one.
	taker atomic.Pointer[string]
}

// New validates cfg and returns an Elector that has not started yet.
func New(cfg Config) (*Elector, error) {
	if cfg.Client == nil {
		return nil, errors.New("leader: a Lease client is required")
	}
	if cfg.Namespace == "" || cfg.Name == "" {
		return nil, errors.New("leader: the Lease namespace and name are required")
	}
	if cfg.Identity == "" {
		return nil, errors.New("leader: an identity is required")
	}
	if err := validateTimings(cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryPeriod); err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = logrus.StandardLogger()
	}
	e := &Elector{
		identity: cfg.Identity,
		log:      log.WithField("context", "leader"),
		elected:  make(chan struct{}),
		// The Lease is read at most once a retry period; looking four
		// times as often adds little delay and costs nothing.
		checkEvery:    cfg.RetryPeriod / 4,
		renewDeadline: cfg.RenewDeadline,
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: cfg.Namespace, Name: cfg.Name},
		Client:     cfg.Client,
		LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
	}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:          lock,
		LeaseDuration: cfg.LeaseDuration,
		RenewDeadline: cfg.RenewDeadline,
		RetryPeriod:   cfg.RetryPeriod,
		// Not client-go's release: it also runs after a failed renewal,
		// spending up to another request timeout on a Lease that is no
		// longer ours while this replica still looks like the leader. Run
		// releases the Lease itself, and only on a clean shutdown.
		ReleaseOnCancel: false,
		Name:            cfg.Namespace + "/" + cfg.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { e.becomeLeader() },
			OnStoppedLeading: func() {},
			OnNewLeader: func(holder string) {
				e.log.WithField("holder", holder).Info("lease holder changed")
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("leader: %w", err)
	}
	e.elector = le
	e.lock = lock
	e.leases, e.namespace, e.name = cfg.Client, cfg.Namespace, cfg.Name
	return e, nil
}

// Disabled returns an Elector for a replica that leads without an election:
// its Elected channel is closed from the start.
func Disabled(identity string) *Elector {
	e := &Elector{identity: identity, log: logrus.StandardLogger(), elected: make(chan struct{})}
	e.becomeLeader()
	return e
}

func validateTimings(lease, renew, retry time.Duration) error {
	switch {
	case retry <= 0:
		return fmt.Errorf("leader: retry period must be positive, got %s", retry)
	case renew <= retry:
		return fmt.Errorf("leader: renew deadline (%s) must be longer than the retry period (%s)", renew, retry)
	case lease <= renew:
		return fmt.Errorf("leader: lease duration (%s) must be longer than the renew deadline (%s)", lease, renew)
	}
	return nil
}

func (e *Elector) becomeLeader() {
	e.electedOnce.Do(func() {
		e.log.WithField("identity", e.identity).Info("became leader")
		close(e.elected)
	})
}

// Identity is this replica's name in the election.
func (e *Elector) Identity() string { return e.identity }

// Elected is closed once this replica leads. It never reopens: a replica that
// loses leadership exits.
func (e *Elector) Elected() <-chan struct{} { return e.elected }

// Leading reports whether this replica holds the Lease now.
func (e *Elector) Leading() bool {
	select {
	case <-e.elected:
	default:
		return false
	}
	return e.elector == nil || (!e.stopped.Load() && e.elector.IsLeader())
}

// Holder is the identity in the Lease as this replica last read or wrote
// it; empty before the first attempt. Standbys read the Lease every retry
// period, so it names another process's identity when that process leads.
func (e *Elector) Holder() string {
	if e.elector == nil {
		return e.identity
	}
	if taker := e.taker.Load(); taker != nil {
		return *taker
	}
	return e.elector.GetLeader()
}

// Run takes part in the election until ctx is cancelled, which releases the
// Lease if held and returns nil, or until leadership is lost, which returns
// ErrLeadershipLost. With election disabled it just waits for ctx.
func (e *Elector) Run(ctx context.Context) error {
	if e.elector == nil {
		<-ctx.Done()
		return nil
	}
	electionCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.elector.Run(electionCtx)
		e.stopped.Store(true)
	}()

	// client-go keeps retrying a renewal until the renew deadline even when
	// it has already read the Lease and found another holder in it. Once
	// that is known there is nothing to wait for, and every moment longer
	// is a moment a deposed leader might still write status: stop at once.
	// Cancelling does not release the Lease, which is no longer ours.
	// A watch on the Lease learns of another holder within milliseconds of
	// its write, long before the next renewal would; the ticker is the
	// fallback when the watch is down.
	stolen := make(chan string, 1)
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		e.watchHolder(electionCtx, stolen)
	}()
	// Run owns the watch: whichever way it returns, the watch ends first.
	defer func() {
		cancel()
		<-watching
	}()
	ticker := time.NewTicker(e.checkEvery)
	defer ticker.Stop()
	deposed := false
	holder := ""
	for !deposed {
		select {
		case holder = <-stolen:
			deposed = true
		case <-done:
			if ctx.Err() != nil {
				return e.release()
			}
			return fmt.Errorf("%w: could not renew the lease before the renew deadline (%s)", ErrLeadershipLost, e.renewDeadline)
		case <-ticker.C:
			if deposed = e.deposed(); deposed {
				holder = e.elector.GetLeader()
			}
		}
	}
	e.stopped.Store(true)
	cancel()
	<-done
	return fmt.Errorf("%w: the lease is held by %q", ErrLeadershipLost, holder)
}

// release gives the Lease back after a clean shutdown, if this replica
// holds it, so that a standby takes over on its next retry instead of
// waiting out the lease duration. The update carries the Lease's
// resourceVersion, so it cannot overwrite a holder that took over since.
func (e *Elector) release() error {
	select {
	case <-e.elected:
	default:
		return nil // never led: nothing to give back
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.renewDeadline)
	defer cancel()
	record, _, err := e.lock.Get(ctx)
	if err != nil {
		return fmt.Errorf("leader: releasing the lease: %w", err)
	}
	if record.HolderIdentity != e.identity {
		return nil
	}
	now := metav1.NewTime(time.Now())
	if err := e.lock.Update(ctx, resourcelock.LeaderElectionRecord{
		LeaseDurationSeconds: 1,
		RenewTime:            now,
		AcquireTime:          now,
		LeaderTransitions:    record.LeaderTransitions,
	}); err != nil {
		return fmt.Errorf("leader: releasing the lease: %w", err)
	}
	e.log.Info("released the lease")
	return nil
}

// watchHolder watches the Lease and, once this replica leads, sends the
// first other holder it sees. It re-establishes the watch until ctx ends,
// and returns promptly once it has: it does not rely on the watch closing
// its channel when ctx ends (not every client's watch does).
func (e *Elector) watchHolder(ctx context.Context, stolen chan<- string) {
	retry := time.NewTimer(0)
	defer retry.Stop()
	for ctx.Err() == nil {
		w, err := e.leases.Leases(e.namespace).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + e.name})
		if err != nil {
			retry.Reset(e.checkEvery)
			select {
			case <-ctx.Done():
			case <-retry.C:
			}
			continue
		}
		holder, ok := e.otherHolder(ctx, w)
		w.Stop()
		if ok {
			e.taker.Store(&holder)
			e.stopped.Store(true) // stop reporting leadership at once
			stolen <- holder
			return
		}
	}
}

// otherHolder reads w until, this replica leading, it shows another holder
// (true), or until w ends or ctx is done (false).
func (e *Elector) otherHolder(ctx context.Context, w watch.Interface) (string, bool) {
	for {
		var ev watch.Event
		select {
		case <-ctx.Done():
			return "", false
		case next, open := <-w.ResultChan():
			if !open {
				return "", false
			}
			ev = next
		}
		lease, ok := ev.Object.(*coordinationv1.Lease)
		if !ok || ev.Type == watch.Deleted {
			continue
		}
		holder := ""
		if lease.Spec.HolderIdentity != nil {
			holder = *lease.Spec.HolderIdentity
		}
		select {
		case <-e.elected:
		default:
			continue // not leading yet: another holder is expected
		}
		if holder != "" && holder != e.identity {
			return holder, true
		}
	}
}

// deposed reports whether this replica led and has since read another
// holder in the Lease.
func (e *Elector) deposed() bool {
	select {
	case <-e.elected:
	default:
		return false
	}
	holder := e.elector.GetLeader()
	return holder != "" && holder != e.identity
}
