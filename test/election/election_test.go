package election

import (
	"context"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// slack absorbs process scheduling on a loaded two-core CI machine.
const slack = 1500 * time.Millisecond

func TestExactlyOneReplicaLeads(t *testing.T) {
	ns := kube.NewNamespace(t)
	rs := startReplicas(t, ns, 3)
	leader, took := waitForSettledLeader(t, rs, 30*time.Second)
	t.Logf("%s leads, %s after start", leader.Identity, took)

	// Watch a while longer: leadership must stay with one replica.
	ctx := context.Background()
	deadline := time.Now().Add(3 * retryPeriod)
	for time.Now().Before(deadline) {
		leading, seen, err := leaders(ctx, rs)
		if err != nil {
			t.Fatal(err)
		}
		if len(leading) != 1 || leading[0] != leader {
			t.Fatalf("leadership moved or split without a fault: %v", seen)
		}
		time.Sleep(50 * time.Millisecond)
	}

	lease, err := kube.Client.CoordinationV1().Leases(ns).Get(ctx, leaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ptr.Deref(lease.Spec.HolderIdentity, ""); got != leader.Identity {
		t.Fatalf("Lease holder = %q, /leader says %q", got, leader.Identity)
	}
	for _, r := range rs {
		want := "proxyctl_leader 0"
		if r == leader {
			want = "proxyctl_leader 1"
		}
		if _, body, err := r.Get(ctx, "/metrics"); err != nil || !strings.Contains(body, want) {
			t.Errorf("%s /metrics lacks %q (err %v)", r.Identity, want, err)
		}
	}
}

// A replica that cannot lead, because another process holds the Lease, is
// still live, ready and observable, and names that holder.
func TestStandbyAnswersWhileAnotherHolds(t *testing.T) {
	ns := kube.NewNamespace(t)
	ctx := context.Background()
	_, err := kube.Client.CoordinationV1().Leases(ns).Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: leaseName},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To("someone-else"),
			LeaseDurationSeconds: ptr.To[int32](3600),
			AcquireTime:          &metav1.MicroTime{Time: time.Now()},
			RenewTime:            &metav1.MicroTime{Time: time.Now()},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := startReplicas(t, ns, 1)[0]

	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := r.Leader(ctx)
		if err == nil && s.Holder == "someone-else" {
			if s.Leader || s.Identity != "replica-0" {
				t.Fatalf("/leader = %+v", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/leader never named the other holder (last: %+v, %v)", s, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Ready once its caches synced and it built its first DAG: a standby
	// serves Envoy as well as the leader does.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, body, err := r.Get(ctx, path)
			if err == nil && code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %d %q, %v; want 200", path, code, body, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if _, body, _ := r.Get(ctx, "/metrics"); !strings.Contains(body, "proxyctl_leader 0") {
		t.Error("standby's leader gauge is not 0")
	}
}

func TestSIGKILLOfLeaderFailsOver(t *testing.T) {
	ns := kube.NewNamespace(t)
	rs := startReplicas(t, ns, 3)
	old, _ := waitForSettledLeader(t, rs, 30*time.Second)

	old.Kill()
	killed := time.Now()
	next, _ := waitForSettledLeader(t, rs, leaseDuration+retryPeriod+10*time.Second, old.Identity)
	took := time.Since(killed)
	t.Logf("SIGKILL of %s: %s leads after %s (lease %s, retry %s)", old.Identity, next.Identity, took, leaseDuration, retryPeriod)
	// client-go's standby starts the lease clock when it observes the last
	// renewal, up to one jittered retry (2.2 retry periods) after it
	// happened, and notices the expiry on its next jittered retry: at worst
	// the lease duration plus 4.4 retry periods.
	if max := leaseDuration + retryPeriod*44/10 + slack; took > max {
		t.Fatalf("failover took %s, want at most %s", took, max)
	}
}

func TestSIGTERMOfLeaderReleasesTheLease(t *testing.T) {
	ns := kube.NewNamespace(t)
	rs := startReplicas(t, ns, 3)
	old, _ := waitForSettledLeader(t, rs, 30*time.Second)

	if err := old.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	termed := time.Now()
	code, err := old.Wait(renewDeadline + 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("SIGTERM: exit code %d, want 0", code)
	}
	next, _ := waitForSettledLeader(t, rs, leaseDuration+10*time.Second, old.Identity)
	took := time.Since(termed)
	t.Logf("SIGTERM of %s: %s leads after %s (retry %s)", old.Identity, next.Identity, took, retryPeriod)
	// The released Lease is free at once: the next retry of a standby takes it.
	if max := retryPeriod*22/10 + slack; took > max {
		t.Fatalf("failover after SIGTERM took %s, want about one retry period (at most %s)", took, max)
	}
}

// When another holder takes the Lease the leader must stop writing: it
// exits non-zero within the renew deadline, and says why.
func TestLeaseTakenByAnotherHolderEndsLeader(t *testing.T) {
	ns := kube.NewNamespace(t)
	rs := startReplicas(t, ns, 2)
	old, _ := waitForSettledLeader(t, rs, 30*time.Second)

	ctx := context.Background()
	leases := kube.Client.CoordinationV1().Leases(ns)
	var stolen time.Time
	for attempt := 0; ; attempt++ {
		lease, err := leases.Get(ctx, leaseName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		now := metav1.NewMicroTime(time.Now())
		lease.Spec.HolderIdentity = ptr.To("thief")
		lease.Spec.LeaseDurationSeconds = ptr.To[int32](3600)
		lease.Spec.AcquireTime, lease.Spec.RenewTime = &now, &now
		if _, err = leases.Update(ctx, lease, metav1.UpdateOptions{}); err == nil {
			stolen = time.Now()
			break
		}
		if attempt == 10 {
			t.Fatalf("could not take the Lease: %v", err)
		}
	}

	code, err := old.Wait(renewDeadline + retryPeriod*3 + 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(stolen)
	t.Logf("Lease taken from %s: it exited with code %d after %s (renew deadline %s)", old.Identity, code, took, renewDeadline)
	if code == 0 {
		t.Fatal("a replica that lost leadership exited 0; want non-zero")
	}
	// The leader reads the Lease at its next renewal, at most one retry
	// period later, finds the other holder and exits at once, well within
	// the renew deadline.
	if max := renewDeadline; took > max {
		t.Fatalf("deposed leader took %s to exit, want at most %s", took, max)
	}
	if !strings.Contains(old.Log(), "leadership lost") {
		t.Fatalf("deposed leader's log does not say why it exited:\n%s", old.Log())
	}
	// The thief's Lease is respected: nobody else claims to lead.
	leading, seen, err := leaders(ctx, rs)
	if err != nil || len(leading) != 0 {
		t.Fatalf("after the Lease was taken: leaders %v, answers %v, err %v", leading, seen, err)
	}
}
