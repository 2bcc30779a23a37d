package e2e

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/proxyctl/proxyctl/test/replica"
)

// TestFaultLeaseForeignHolder writes a foreign holder into the Lease under
// the leader. The leader learns it from its watch on the Lease within
// milliseconds, stops writing status and exits non-zero; the replicas take
// the Lease once the foreign holder's expires. The audit check of the
// fault harness requires that no status write came from a replica that did
// not hold the Lease at that moment.
func TestFaultLeaseForeignHolder(t *testing.T) {
	fs := newFaultStack(t, faultOptions{})
	leases := fs.c.Client.CoordinationV1().Leases(fs.ns)
	ctx := context.Background()
	const intruder = "intruder"
	var exitsBefore int
	fs.run(t, fault{
		name:  "Lease taken by a foreign holder",
		bound: failoverBound,
		inject: func(t *testing.T, leader *replica.Supervisor) {
			exitsBefore = len(leader.Exits())
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				l, err := leases.Get(ctx, leaseName, metav1.GetOptions{})
				if err != nil {
					return err
				}
				now := metav1.NewMicroTime(time.Now())
				l.Spec.HolderIdentity = ptr.To(intruder)
				l.Spec.LeaseDurationSeconds = ptr.To(int32(faultLease / time.Second))
				l.Spec.AcquireTime, l.Spec.RenewTime = &now, &now
				l.Spec.LeaseTransitions = ptr.To(ptr.Deref(l.Spec.LeaseTransitions, 0) + 1)
				_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		},
		check: func(t *testing.T, leader *replica.Supervisor) {
			if _, err := leader.WaitExits(exitsBefore+1, 10*time.Second); err != nil {
				t.Fatalf("the deposed leader did not exit: %v", err)
			}
			if exit := leader.Exits()[exitsBefore]; exit.Code <= 0 {
				t.Errorf("the deposed leader %s exited with code %d, want non-zero", leader.Identity, exit.Code)
			}
			// The replicas take the Lease once the intruder's expires.
			fs.waitLeaseHolder(t, func(h string) bool { return fs.sup(h) != nil }, failoverBound)
		},
	})
}
