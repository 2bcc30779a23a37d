package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/test/cluster"
	"github.com/proxyctl/proxyctl/test/replica"
)

// Lease timings for the status tests: the defaults' proportions, shorter.
var statusLeaseArgs = []string{
	"--leader-election-lease-duration", "4s",
	"--leader-election-renew-deadline", "3s",
	"--leader-election-retry-period", "500ms",
}

const statusManifest = `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: good}
spec:
  virtualhost: {fqdn: good.example.com}
  routes: [{services: [{name: web, port: 80}]}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: broken}
spec:
  virtualhost: {fqdn: broken.example.com}
  routes: [{services: [{name: absent, port: 80}]}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: lonely-child}
spec:
  routes: [{services: [{name: web, port: 80}]}]
`

// statuses reads currentStatus and description of every proxy in ns.
func statuses(t *testing.T, c *cluster.Cluster, ns string) map[string][2]string {
	t.Helper()
	list, err := versioned.NewForConfigOrDie(c.RESTConfig()).ProjectcontourV1().HTTPProxies(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]string{}
	for _, p := range list.Items {
		out[p.Name] = [2]string{p.Status.CurrentStatus, p.Status.Description}
	}
	return out
}

// statusWriters returns the User-Agents of every status write to ns.
func statusWriters(t *testing.T, c *cluster.Cluster, ns string) []cluster.AuditEvent {
	t.Helper()
	events, err := c.AuditEvents()
	if err != nil {
		t.Fatal(err)
	}
	var writes []cluster.AuditEvent
	for _, e := range events {
		if r := e.ObjectRef; r != nil && r.Resource == "httpproxies" && r.Subresource == "status" && r.Namespace == ns &&
			(e.Verb == "update" || e.Verb == "patch") {
			writes = append(writes, e)
		}
	}
	return writes
}

// TestOnlyTheLeaderWritesStatus runs replicas while another process holds
// the Lease: they build and serve, but write no status. When the Lease is
// freed, the replica that wins writes every stale status at once; after
// the leader is killed, its successor takes over the writing. The audit log
// shows every status write came from the replica leading at that moment.
func TestOnlyTheLeaderWritesStatus(t *testing.T) {
	c := cluster.Start(t, cluster.WithAuditLog())
	ns := c.NewNamespace(t)
	ctx := context.Background()
	leases := c.Client.CoordinationV1().Leases(ns)
	if _, err := leases.Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "proxyctl-leader"},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: ptr.To("someone-else"), LeaseDurationSeconds: ptr.To[int32](3600),
			RenewTime: &metav1.MicroTime{Time: time.Now()},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	if _, err := c.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	bin := replica.Binary(t)
	logDir := t.TempDir()
	var rs []*replica.Replica
	for i := range 3 {
		rs = append(rs, replica.Start(t, replica.Options{
			Binary: bin, Kubeconfig: c.Kubeconfig, Identity: fmt.Sprintf("replica-%d", i),
			LeaseNamespace: ns, LogDir: logDir, Args: statusLeaseArgs,
		}))
	}
	out, err := c.KubectlInput(strings.NewReader(statusManifest), "apply", "-n", ns, "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	// Every replica is ready (synced, first DAG built) and has seen the
	// proxies: their DAG rebuild counters moved after the apply.
	for _, r := range rs {
		eventually(t, r.Identity+" ready", func() error {
			code, body, err := r.Get(ctx, "/readyz")
			if err != nil || code != 200 {
				return fmt.Errorf("/readyz %d %q %v", code, body, err)
			}
			return nil
		})
	}
	// Give standbys time they would need to write (several rebuild
	// hold-offs), then check that nobody wrote.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if w := statusWriters(t, c, ns); len(w) != 0 {
			t.Fatalf("a replica wrote status without holding the Lease: %s", w[0].UserAgent)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for name, s := range statuses(t, c, ns) {
		if s[0] != contourv1.StatusNotReconciled {
			t.Fatalf("%s shows %q while no replica leads", name, s[0])
		}
	}

	// Free the Lease: a replica wins and fixes every stale status.
	if err := leases.Delete(ctx, "proxyctl-leader", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	want := map[string][2]string{
		"good":         {contourv1.StatusValid, contourv1.DescriptionValid},
		"broken":       {contourv1.StatusInvalid, contourv1.MessageErrorPresent},
		"lonely-child": {contourv1.StatusOrphaned, contourv1.DescriptionOrphaned},
	}
	eventually(t, "statuses written by the new leader", func() error {
		if got := statuses(t, c, ns); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("statuses %v, want %v", got, want)
		}
		return nil
	})
	t.Logf("statuses correct %s after the Lease was freed", time.Since(freed))
	table, err := c.Kubectl("get", "httpproxy", "-n", ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubectl get httpproxy:\n%s", table)
	for _, line := range []string{"good.example.com", "Valid HTTPProxy", "invalid", "orphaned"} {
		if !strings.Contains(table, line) {
			t.Errorf("kubectl get httpproxy does not show %q", line)
		}
	}

	leader := currentLeader(t, rs)
	checkWritersLed(t, c, ns, leader.Identity)

	// Kill the leader; a successor takes over writing.
	leader.Kill()
	killed := time.Now()
	if out, err := c.KubectlInput(strings.NewReader(`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: after-failover}
spec:
  virtualhost: {fqdn: after.example.com}
  routes: [{services: [{name: web, port: 80}]}]
`), "apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	eventually(t, "status of a proxy created after the failover", func() error {
		if s := statuses(t, c, ns)["after-failover"]; s[0] != contourv1.StatusValid {
			return fmt.Errorf("after-failover shows %v", s)
		}
		return nil
	})
	took := time.Since(killed)
	t.Logf("a proxy created right after SIGKILL of the leader was valid after %s (lease 4s, retry 500ms)", took)
	if took > 4*time.Second+2*500*time.Millisecond+1500*time.Millisecond {
		t.Errorf("status after failover took %s, want within lease duration + retry period", took)
	}
	next := currentLeader(t, rs)
	checkWritersLed(t, c, ns, leader.Identity, next.Identity)
}

func currentLeader(t *testing.T, rs []*replica.Replica) *replica.Replica {
	t.Helper()
	var leader *replica.Replica
	eventually(t, "one leader", func() error {
		leader = nil
		for _, r := range rs {
			select {
			case <-r.Exited():
				continue
			default:
			}
			s, err := r.Leader(context.Background())
			if err != nil {
				return err
			}
			if s.Leader {
				if leader != nil {
					return fmt.Errorf("two leaders: %s and %s", leader.Identity, r.Identity)
				}
				leader = r
			}
		}
		if leader == nil {
			return fmt.Errorf("no leader")
		}
		return nil
	})
	return leader
}

// checkWritersLed fails unless every status write came from one of the
// identities that led, in order.
func checkWritersLed(t *testing.T, c *cluster.Cluster, ns string, leaders ...string) {
	t.Helper()
	writes := statusWriters(t, c, ns)
	if len(writes) == 0 {
		t.Fatal("the audit log shows no status write")
	}
	i := 0
	for _, w := range writes {
		for i < len(leaders) && !strings.Contains(w.UserAgent, "("+leaders[i]+")") {
			i++
		}
		if i == len(leaders) {
			t.Fatalf("status write by %q at %s, but the leaders were %v", w.UserAgent, w.RequestReceivedTimestamp.Time, leaders)
		}
	}
	t.Logf("%d status writes, all from the leader of the moment %v", len(writes), leaders)
}
