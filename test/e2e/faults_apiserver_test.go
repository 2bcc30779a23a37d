package e2e

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/test/replica"
	"github.com/proxyctl/proxyctl/test/xdsclient"
)

// TestFaultAPIServerDown kills the API server (SIGKILL: a graceful stop
// waits ~15s for its watches to drain) for longer than the lease duration,
// then starts it again. The leader, unable to renew, exits as
// designed and its supervisor restarts it; the standbys keep running and
// serving xDS from their caches (Envoy, connected to one, stays connected
// and serves; simulated Envoys on both see no change); once the API server
// is back, status catches up: a proxy created then, and one whose missing
// Service is created then, become valid.
// reflectorRetryBound is how late, after the API server returns from an
// outage of under 12s (the first four reflector waits take at least
// 0.8+1.6+3.2+6.4s), a reflector's next try may come: twice the 6.4s base.
const reflectorRetryBound = 2 * 6400 * time.Millisecond

func TestFaultAPIServerDown(t *testing.T) {
	fs := newFaultStack(t, faultOptions{})
	// Invalid until its Service appears, after the outage.
	fs.createProxy(t, "waiting", "waiting.example.com", "late")
	fs.waitStatus(t, "waiting", "invalid", 30*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		standbys  []*replica.Supervisor
		observers []*xdsclient.Client
		pids      map[string]int
		down      time.Duration
	)
	fs.run(t, fault{
		name: "API server down",
		// From the moment the API server is ready again. The election
		// retries every retry period, but client-go's reflectors back off
		// while the API server is away (0.8s, doubling, each wait jittered
		// up to 2×): in a ~7s outage a wait of base 6.4s may begin just
		// before the API server returns and last 12.8s after. A standby
		// whose reflectors are that late may then still have to win a
		// whole failover.
		bound: reflectorRetryBound + failoverBound,
		inject: func(t *testing.T, leader *replica.Supervisor) {
			pids = fs.pids()
			for _, s := range fs.sups {
				if s != leader {
					standbys = append(standbys, s)
					o := dialObserver(t, ctx, s.XDSAddr, "observer-"+s.Identity)
					if err := o.WaitFor(ctx, complete(1)); err != nil {
						t.Fatalf("observer of %s: %v", s.Identity, err)
					}
					observers = append(observers, o)
				}
			}
			before := observers[0].Versions()
			stopped := time.Now()
			if err := fs.c.KillAPIServer(); err != nil {
				t.Fatal(err)
			}
			t.Logf("API server killed in %s", time.Since(stopped).Round(time.Millisecond))
			// The leader cannot renew: it exits. (How soon is the
			// partition fault's business; here nobody else can lead.)
			if _, err := leader.WaitExits(1, 30*time.Second); err != nil {
				t.Fatal(err)
			}
			exit := leader.Exits()[0]
			t.Logf("the leader %s exited with code %d %s after the API server stopped (renew deadline %s)",
				leader.Identity, exit.Code, exit.At.Sub(stopped).Round(time.Millisecond), faultRenew)
			if exit.Code <= 0 {
				t.Errorf("the leader exited with code %d, want non-zero", exit.Code)
			}
			// Down for longer than the lease too; meanwhile the standbys
			// serve from their caches.
			eventually(t, "the standbys serving through the outage", func() error {
				if d := time.Since(stopped); d < faultLease+faultRetry {
					return fmt.Errorf("down for %s only", d.Round(time.Millisecond))
				}
				return nil
			})
			for i, s := range standbys {
				if n := len(s.Exits()); n != 0 {
					t.Errorf("standby %s exited %d times while the API server was down: %+v", s.Identity, n, s.Exits())
				}
				if v := observers[i].Versions(); !maps.Equal(v, before) {
					t.Errorf("standby %s serves %v during the outage, before %v", s.Identity, v, before)
				}
			}
			if s := updateStats(t, fs.envoy); s["control_plane.connected_state"] != 1 {
				t.Errorf("Envoy lost its xDS stream to standby %s during the outage", fs.envoyOn.Identity)
			}
			if err := fs.c.StartAPIServer(); err != nil {
				t.Fatal(err)
			}
			down = time.Since(stopped)
		},
		check: func(t *testing.T, leader *replica.Supervisor) {
			fs.service(t, "late", "b")
			took := fs.waitValid(t, "waiting", failoverBound+2*faultLease)
			eventually(t, "waiting.example.com through Envoy", fs.expect(t, "waiting.example.com", "/", 200, "b"))
			t.Logf("API server down %s; a Service created after it returned made its proxy valid after %s; the leader %s exited %d times (restarts while the API server was down included)",
				down.Round(time.Millisecond), took.Round(time.Millisecond), leader.Identity, len(leader.Exits()))
			for _, s := range standbys {
				if p := s.Current().Pid(); p != pids[s.Identity] {
					t.Errorf("standby %s was restarted (pid %d, was %d)", s.Identity, p, pids[s.Identity])
				}
			}
		},
	})
}
