package e2e

import (
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/test/cluster"
	"github.com/proxyctl/proxyctl/test/replica"
)

// TestFaultPartition cuts the leader alone off from the API server: its
// connections go through a TCP proxy of the test's, which then closes them
// all and refuses new ones. The leader exits within the renew deadline and
// a standby leads; its restarts cannot reach the API server until the
// partition heals, after which it rejoins as a standby.
func TestFaultPartition(t *testing.T) {
	var proxy *cluster.TCPProxy
	fs := newFaultStack(t, faultOptions{kubeconfig: func(c *cluster.Cluster) string {
		var err error
		if proxy, err = cluster.NewTCPProxy(c.APIServerAddr()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { proxy.Close() })
		path, err := c.KubeconfigVia("replica-0", proxy.Addr())
		if err != nil {
			t.Fatal(err)
		}
		return path
	}})

	var cut time.Time
	fs.run(t, fault{
		name:  "leader partitioned from the API server",
		bound: failoverBound,
		inject: func(t *testing.T, leader *replica.Supervisor) {
			if leader != fs.sups[0] {
				t.Fatalf("the leader is %s, not replica-0 behind the proxy", leader.Identity)
			}
			cut = time.Now()
			proxy.Cut()
		},
		check: func(t *testing.T, leader *replica.Supervisor) {
			if _, err := leader.WaitExits(1, faultRenew+faultRetry+faultSlack); err != nil {
				t.Fatalf("the partitioned leader is still running: %v", err)
			}
			exit := leader.Exits()[0]
			took := exit.At.Sub(cut)
			t.Logf("the partitioned leader exited with code %d %s after the cut (renew deadline %s)", exit.Code, took.Round(time.Millisecond), faultRenew)
			if took > faultRenew+faultRetry+faultSlack {
				t.Errorf("the partitioned leader exited %s after the cut, want within the renew deadline %s (+ retry, slack)", took, faultRenew)
			}
			if exit.Code <= 0 {
				t.Errorf("the partitioned leader exited with code %d, want non-zero", exit.Code)
			}
			h := fs.waitLeaseHolder(t, func(h string) bool { return h != leader.Identity && fs.sup(h) != nil }, time.Second)
			t.Logf("%s leads; healing the partition", h)
			proxy.Restore()
		},
	})
}
