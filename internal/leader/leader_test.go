package leader

import (
	"context"
	"errors"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/proxyctl/proxyctl/internal/testutil"
)

const (
	ns   = "proxyctl"
	name = "proxyctl-leader"
)

func newElector(t *testing.T, client *fake.Clientset, identity string) *Elector {
	t.Helper()
	log, _ := test.NewNullLogger()
	e, err := New(Config{
		Client:        client.CoordinationV1(),
		Namespace:     ns,
		Name:          name,
		Identity:      identity,
		LeaseDuration: 3 * time.Second,
		RenewDeadline: 2 * time.Second,
		RetryPeriod:   100 * time.Millisecond,
		Log:           log,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func lease(t *testing.T, client *fake.Clientset) *coordinationv1.Lease {
	t.Helper()
	l, err := client.CoordinationV1().Leases(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestElectedClosesAndCancelReleasesLease(t *testing.T) {
	client := fake.NewClientset()
	e := newElector(t, client, "replica-a")
	if e.Leading() {
		t.Fatal("leading before Run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()

	select {
	case <-e.Elected():
	case <-time.After(5 * time.Second):
		t.Fatal("not elected")
	}
	if !e.Leading() || e.Holder() != "replica-a" {
		t.Fatalf("Leading()=%v Holder()=%q, want true, replica-a", e.Leading(), e.Holder())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	if got := ptr.Deref(lease(t, client).Spec.HolderIdentity, ""); got != "" {
		t.Fatalf("lease holder after clean shutdown = %q, want released", got)
	}
}

func TestLeaseTakenByAnotherHolderEndsRun(t *testing.T) {
	client, steal := stealableLease(t)
	e := newElector(t, client, "replica-a")
	done := make(chan error, 1)
	go func() { done <- e.Run(context.Background()) }()
	<-e.Elected()

	steal()
	select {
	case err := <-done:
		if !errors.Is(err, ErrLeadershipLost) {
			t.Fatalf("Run = %v, want ErrLeadershipLost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the lease was taken")
	}
	if e.Leading() {
		t.Fatal("still Leading() after losing the lease")
	}
	if e.Holder() != "thief" {
		t.Fatalf("Holder() = %q, want thief", e.Holder())
	}
}

func TestStandbySeesOtherHolder(t *testing.T) {
	client := fake.NewClientset(&coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To("someone-else"),
			LeaseDurationSeconds: ptr.To[int32](60),
			RenewTime:            &metav1.MicroTime{Time: time.Now()},
		},
	})
	e := newElector(t, client, "replica-b")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	testutil.Eventually(t, 5*time.Second, "the standby to read the holder", func() bool { return e.Holder() == "someone-else" })
	if e.Leading() {
		t.Fatal("standby claims to lead")
	}
	select {
	case <-e.Elected():
		t.Fatal("standby elected while the lease is held")
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}

func TestDisabledIsElectedAtOnce(t *testing.T) {
	e := Disabled("solo")
	select {
	case <-e.Elected():
	default:
		t.Fatal("Elected not closed with election disabled")
	}
	if !e.Leading() || e.Holder() != "solo" {
		t.Fatalf("Leading()=%v Holder()=%q", e.Leading(), e.Holder())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestNewRejectsBadTimings(t *testing.T) {
	client := fake.NewClientset()
	for name, c := range map[string]struct {
		lease, renew, retry time.Duration
		want                string
	}{
		"renew not below lease": {15 * time.Second, 15 * time.Second, 2 * time.Second, "lease duration"},
		"retry not below renew": {15 * time.Second, 2 * time.Second, 2 * time.Second, "renew deadline"},
		"zero retry":            {15 * time.Second, 10 * time.Second, 0, "retry period"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(Config{
				Client: client.CoordinationV1(), Namespace: ns, Name: name, Identity: "x",
				LeaseDuration: c.lease, RenewDeadline: c.renew, RetryPeriod: c.retry,
				Log: logrus.New(),
			})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New() error = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestIdentity(t *testing.T) {
	got, err := Identity("pod-7", nil)
	if err != nil || got != "pod-7" {
		t.Fatalf("Identity(pod-7) = %q, %v", got, err)
	}
	host := func() (string, error) { return "node1", nil }
	a, _ := Identity("", host)
	b, _ := Identity("", host)
	if !strings.HasPrefix(a, "node1-") || a == b {
		t.Fatalf("hostname identities %q and %q should share the host and differ", a, b)
	}
}

// ourGoroutines returns the stacks of the goroutines, other than the
// tests', running code of this package.
func ourGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := goruntime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i > 0 && strings.Contains(g, "proxyctl/internal/leader.") && !strings.Contains(g, "testing.tRunner") {
			out = append(out, g)
		}
	}
	return out
}

// checkNoGoroutines fails unless every goroutine of this package has ended
// by a short deadline; one that is still there by then is never joined.
func checkNoGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		left := ourGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left after Run returned, the first:\n%s", len(left), left[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRunLeavesNoGoroutine: whichever way Run returns (cancelled, or
// deposed), it has stopped what it started, the Lease watch included.
func TestRunLeavesNoGoroutine(t *testing.T) {
	t.Run("cancelled", func(t *testing.T) {
		client := fake.NewClientset()
		e := newElector(t, client, "replica-a")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		<-e.Elected()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		checkNoGoroutines(t)
	})
	t.Run("deposed", func(t *testing.T) {
		client, steal := stealableLease(t)
		e := newElector(t, client, "replica-a")
		done := make(chan error, 1)
		go func() { done <- e.Run(context.Background()) }()
		<-e.Elected()
		steal()
		if err := <-done; !errors.Is(err, ErrLeadershipLost) {
			t.Fatalf("Run = %v, want ErrLeadershipLost", err)
		}
		checkNoGoroutines(t)
	})
}

// stealableLease returns a fake client and steal, which gives the Lease to
// "thief". The fake clientset ignores resourceVersion, so once the Lease is
// stolen replica-a's writes are made to conflict, as a real API server's
// would.
func stealableLease(t *testing.T) (*fake.Clientset, func()) {
	client := fake.NewClientset()
	var stolen atomic.Bool
	client.PrependReactor("update", "leases", func(action k8stesting.Action) (bool, runtime.Object, error) {
		l := action.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease)
		if stolen.Load() && ptr.Deref(l.Spec.HolderIdentity, "") == "replica-a" {
			return true, nil, apierrors.NewConflict(coordinationv1.Resource("leases"), name, errors.New("stale"))
		}
		return false, nil, nil
	})
	steal := func() {
		t.Helper()
		l := lease(t, client)
		l.Spec.HolderIdentity = ptr.To("thief")
		l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
		l.Spec.LeaseDurationSeconds = ptr.To[int32](60)
		if _, err := client.CoordinationV1().Leases(ns).Update(context.Background(), l, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		stolen.Store(true)
	}
	return client, steal
}
