package election

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/internal/httpserver"
	"github.com/proxyctl/proxyctl/test/replica"
)

// Short lease timings keep the suite fast; the relations between them are
// the same as the defaults' (15s/10s/2s).
const (
	leaseDuration = 4 * time.Second
	renewDeadline = 3 * time.Second
	retryPeriod   = 500 * time.Millisecond
	leaseName     = "proxyctl-leader"
)

var leaseArgs = []string{
	"--leader-election-lease-duration", leaseDuration.String(),
	"--leader-election-renew-deadline", renewDeadline.String(),
	"--leader-election-retry-period", retryPeriod.String(),
	"--leader-election-resource-name", leaseName,
}

// startReplicas starts n replicas named replica-0.. on the Lease in ns.
func startReplicas(t *testing.T, ns string, n int) []*replica.Replica {
	t.Helper()
	bin := replica.Binary(t)
	logDir := t.TempDir()
	rs := make([]*replica.Replica, n)
	for i := range rs {
		rs[i] = replica.Start(t, replica.Options{
			Binary:         bin,
			Kubeconfig:     kube.Kubeconfig,
			Identity:       fmt.Sprintf("replica-%d", i),
			LeaseNamespace: ns,
			Args:           leaseArgs,
			LogDir:         logDir,
		})
	}
	return rs
}

func running(rs []*replica.Replica) []*replica.Replica {
	var out []*replica.Replica
	for _, r := range rs {
		select {
		case <-r.Exited():
		default:
			out = append(out, r)
		}
	}
	return out
}

// leaders asks every running replica who leads. It returns the replicas that
// say they lead, and an error if any replica did not answer.
func leaders(ctx context.Context, rs []*replica.Replica) ([]*replica.Replica, map[string]httpserver.LeaderStatus, error) {
	var leading []*replica.Replica
	seen := map[string]httpserver.LeaderStatus{}
	for _, r := range running(rs) {
		s, err := r.Leader(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", r.Identity, err)
		}
		seen[r.Identity] = s
		if s.Leader {
			leading = append(leading, r)
		}
	}
	return leading, seen, nil
}

// waitForSettledLeader polls until exactly one running replica leads, other
// than any named in exclude, and every running replica names it as holder.
// It fails the test if two replicas ever claim to lead at once.
func waitForSettledLeader(t *testing.T, rs []*replica.Replica, timeout time.Duration, exclude ...string) (*replica.Replica, time.Duration) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	var last map[string]httpserver.LeaderStatus
	for time.Since(start) < timeout {
		leading, seen, err := leaders(ctx, rs)
		if err == nil {
			last = seen
			if len(leading) > 1 {
				t.Fatalf("more than one leader at once: %v", seen)
			}
			if len(leading) == 1 && !contains(exclude, leading[0].Identity) && allName(seen, leading[0].Identity) {
				return leading[0], time.Since(start)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no settled leader within %s; last answers: %v", timeout, last)
	return nil, 0
}

func allName(seen map[string]httpserver.LeaderStatus, holder string) bool {
	for _, s := range seen {
		if s.Holder != holder {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
