package e2e

import (
	"syscall"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/test/replica"
)

// TestFaultLeader kills the leader, whose xDS server Envoy is connected
// to, then stops the next leader cleanly. Envoy keeps serving its last
// configuration while the killed replica is away (longer than the lease,
// as after kubelet's back-off); a standby takes over the status writes within the failover bound after SIGKILL, and within about
// one retry period after SIGTERM, which releases the Lease.
func TestFaultLeader(t *testing.T) {
	fs := newFaultStack(t, faultOptions{envoyOnLeader: true})

	fs.run(t, fault{
		name:  "SIGKILL leader",
		bound: failoverBound,
		inject: func(t *testing.T, leader *replica.Supervisor) {
			// Back after longer than the lease, as after kubelet's
			// back-off: a standby has to take over. Restarted at once,
			// the leader would renew its own Lease (same identity).
			leader.SetRestartDelay(faultLease + faultRenew)
			leader.Current().Kill()
		},
		check: func(t *testing.T, leader *replica.Supervisor) {
			leader.SetRestartDelay(faultRestartDelay)
			if exits := leader.Exits(); len(exits) != 1 || exits[0].Code != -1 {
				t.Errorf("%s exits: %+v, want one, by SIGKILL", leader.Identity, exits)
			}
		},
	})

	fs.run(t, fault{
		name: "SIGTERM leader",
		// The Lease is released: a standby acquires it at its next try,
		// one retry period with client-go's jitter of up to 1.2 of it.
		bound: 22*faultRetry/10 + faultSlack,
		inject: func(t *testing.T, leader *replica.Supervisor) {
			if err := leader.Current().Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		},
		check: func(t *testing.T, leader *replica.Supervisor) {
			if _, err := leader.WaitExits(1, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if exit := leader.Exits()[len(leader.Exits())-1]; exit.Code != 0 {
				t.Errorf("%s exited with code %d after SIGTERM, want 0", leader.Identity, exit.Code)
			}
		},
	})
}
