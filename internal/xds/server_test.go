package xds

import (
	"slices"
	"strings"
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// consistencyDAG uses every kind of reference a snapshot has: routes (HTTP,
// HTTPS, weighted, mirrored) to clusters, TCP proxies to clusters, EDS
// clusters to their endpoints, listeners to route configurations and
// secrets.
func consistencyDAG() *dag.DAG {
	a, b, c := upstream("ns", "a", 80), upstream("ns", "b", 80), upstream("ns", "c", 80)
	s := secret("ns", "tls")
	return build(
		hosts(vhost("plain.example.com", prefix("/", split(weight(a, 50), weight(b, 50)), mirror(c)))),
		tlsHost("secure.example.com", s, prefix("/", to(a))),
		tcpHost("tcp.example.com", s, weight(c, 1)),
	)
}

// without returns a copy of snap without the resource typ named name,
// versions recomputed: an inconsistent snapshot, as a translation bug
// would make it.
func without(t *testing.T, snap *Snapshot, typ, name string) *Snapshot {
	t.Helper()
	out := &Snapshot{refs: snap.refs}
	found := false
	for _, ts := range snap.Types {
		if ts.TypeURL == typ {
			ts = newTypeSnapshot(typ, slices.DeleteFunc(slices.Clone(ts.Resources), func(r Resource) bool {
				found = found || r.Name == name
				return r.Name == name
			}))
		}
		out.Types = append(out.Types, ts)
	}
	if !found {
		t.Fatalf("the snapshot has no %s %q to take away", typ, name)
	}
	return out
}

func TestSnapshotConsistentFindsMissingReferences(t *testing.T) {
	snap, err := newTestTranslator(t).Snapshot(consistencyDAG())
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Consistent(); err != nil {
		t.Fatalf("the translated snapshot: %v", err)
	}
	cases := map[string]struct {
		typ, name, want string
	}{
		"route to a missing cluster":      {resourcev3.ClusterType, "ns/b/80/" + settingsKey(upstream("ns", "b", 80)), `cluster "ns/b/80/`},
		"mirror to a missing cluster":     {resourcev3.ClusterType, "ns/c/80/" + settingsKey(upstream("ns", "c", 80)), `cluster "ns/c/80/`},
		"EDS cluster without endpoints":   {resourcev3.EndpointType, "ns/a/80/" + settingsKey(upstream("ns", "a", 80)), `ClusterLoadAssignment "ns/a/80/`},
		"scope without its routes":        {resourcev3.RouteType, httpRoutePrefix + "plain.example.com", `route configuration "http/plain.example.com"`},
		"TLS listener without its routes": {resourcev3.RouteType, httpsRoutePrefix + "secure.example.com", `route configuration "https/secure.example.com"`},
		"listener without its secret":     {resourcev3.SecretType, "ns/tls", `secret "ns/tls"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := without(t, snap, tc.typ, tc.name).Consistent()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Consistent() = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

// TestServerRefusesInconsistentSnapshot hands the server a DAG whose route
// sends to a cluster the DAG does not list, which translates into a
// snapshot with a route to a missing cluster. The server must keep serving
// the last good snapshot, count the refusal and log it.
func TestServerRefusesInconsistentSnapshot(t *testing.T) {
	log, hook := logtest.NewNullLogger()
	reg := prometheus.NewRegistry()
	srv, err := NewServer(ServerConfig{Listeners: testListenerConfig, Registerer: reg, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	good := consistencyDAG()
	srv.OnChange(good)
	served := srv.Version()
	if served == "" {
		t.Fatal("the consistent snapshot was not served")
	}

	bad := consistencyDAG()
	bad.HTTP = append(bad.HTTP, vhost("z.example.com", prefix("/", to(upstream("ns", "unlisted", 80)))))
	srv.OnChange(bad)

	if v := srv.Version(); v != served {
		t.Errorf("an inconsistent snapshot was served: version %s, want the last good %s", v, served)
	}
	if got := srv.cache.data(resourcev3.RouteType); got == nil || got.version != versionOfType(t, good, resourcev3.RouteType) {
		t.Errorf("the cache does not hold the last good route configurations")
	}
	if n := testutil.ToFloat64(srv.metrics.snapshotsInconsistent); n != 1 {
		t.Errorf("proxyctl_xds_snapshots_inconsistent_total = %v, want 1", n)
	}
	if n := testutil.ToFloat64(srv.metrics.snapshotErrors); n != 1 {
		t.Errorf("proxyctl_xds_snapshot_errors_total = %v, want 1", n)
	}
	var logged bool
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.ErrorLevel && strings.Contains(e.Message, "inconsistent snapshot") {
			if err, _ := e.Data[logrus.ErrorKey].(error); err != nil && strings.Contains(err.Error(), "ns/unlisted/80/") {
				logged = true
			}
		}
	}
	if !logged {
		t.Errorf("no error log naming the missing cluster; got %v", hook.AllEntries())
	}

	// The next consistent DAG is served again.
	srv.OnChange(consistencyDAG())
	if srv.Version() != served {
		t.Errorf("a consistent snapshot equal to the good one gave version %s, want %s", srv.Version(), served)
	}
	fixed := consistencyDAG()
	fixed.HTTP = append(fixed.HTTP, vhost("z.example.com", prefix("/", to(fixed.Clusters[0]))))
	srv.OnChange(fixed)
	if srv.Version() == served {
		t.Error("a new consistent snapshot was not served after a refused one")
	}
}

// versionOfType is the version d's snapshot has for typ.
func versionOfType(t *testing.T, d *dag.DAG, typ string) string {
	t.Helper()
	snap, err := newTestTranslator(t).Snapshot(d)
	if err != nil {
		t.Fatal(err)
	}
	return snap.Version(typ)
}

// TestConsistencyRechecksWhatMayHaveBroken: the server's checker skips the
// references it verified before, unless their targets lost a name since.
func TestConsistencyRechecksWhatMayHaveBroken(t *testing.T) {
	snap, err := newTestTranslator(t).Snapshot(consistencyDAG())
	if err != nil {
		t.Fatal(err)
	}
	var c consistency
	if err := c.check(snap); err != nil {
		t.Fatalf("the translated snapshot: %v", err)
	}
	b := "ns/b/80/" + settingsKey(upstream("ns", "b", 80))
	for name, tc := range map[string]struct {
		typ, name string
	}{
		"a cluster gone":     {resourcev3.ClusterType, b},
		"endpoints gone":     {resourcev3.EndpointType, b},
		"route config gone":  {resourcev3.RouteType, httpRoutePrefix + "plain.example.com"},
		"the secret is gone": {resourcev3.SecretType, "ns/tls"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := c.check(without(t, snap, tc.typ, tc.name)); err == nil || !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("check = %v, want an error naming %s", err, tc.name)
			}
			// Back to the consistent one: the references verified again.
			if err := c.check(snap); err != nil {
				t.Fatal(err)
			}
		})
	}
}
