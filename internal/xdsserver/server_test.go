package xdsserver

import (
	"fmt"
	"strings"
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"k8s.io/apimachinery/pkg/types"

	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/xds"
)

// cluster is an EDS cluster with one endpoint.
func cluster(name string) *dag.Cluster {
	return &dag.Cluster{
		Name:      name,
		Service:   types.NamespacedName{Namespace: "ns", Name: "a"},
		Port:      80,
		Endpoints: []dag.Endpoint{{Address: "10.0.0.1", Port: 8080}},
	}
}

// routeTo is a virtual host for name whose one route forwards to c.
func routeTo(name string, c *dag.Cluster) *dag.VirtualHost {
	return &dag.VirtualHost{Name: name, Routes: []*dag.Route{{
		PathMatch: dag.PathMatch{Kind: dag.PathPrefix, Value: "/"},
		Clusters:  []*dag.WeightedCluster{{Cluster: c}},
	}}}
}

// testDAG has n virtual hosts, each routing to a cluster of its own, and
// one of them also over TLS: every type a snapshot serves.
func testDAG(n int) *dag.DAG {
	d := &dag.DAG{}
	for i := range n {
		c := cluster(fmt.Sprintf("ns/app%d/80/x", i))
		d.HTTP = append(d.HTTP, routeTo(fmt.Sprintf("app%d.example.com", i), c))
		d.Clusters = append(d.Clusters, c)
	}
	s := &dag.Secret{
		Name: "ns/tls",
		Cert: []byte("-----BEGIN CERTIFICATE-----\ntls\n-----END CERTIFICATE-----\n"),
		Key:  []byte("-----BEGIN PRIVATE KEY-----\ntls\n-----END PRIVATE KEY-----\n"),
	}
	d.HTTPS = []*dag.SecureVirtualHost{{VirtualHost: *d.HTTP[0], Secret: s}}
	d.Secrets = []*dag.Secret{s}
	return d
}

// snapshot is the Translator's snapshot of d.
func snapshot(t testing.TB, d *dag.DAG) *xds.Snapshot {
	t.Helper()
	tr, err := xds.NewTranslator(xds.ListenerConfig{HTTPPort: 8080, HTTPSPort: 8443})
	if err != nil {
		t.Fatal(err)
	}
	s, err := tr.Snapshot(d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// consistentDAG is one virtual host routing to a cluster it lists.
func consistentDAG() *dag.DAG {
	a := cluster("ns/a/80/x")
	return &dag.DAG{HTTP: []*dag.VirtualHost{routeTo("a.example.com", a)}, Clusters: []*dag.Cluster{a}}
}

// TestServerRefusesInconsistentSnapshot hands the server a DAG whose route
// sends to a cluster the DAG does not list, which translates into a
// snapshot with a route to a missing cluster. The server must keep serving
// the last good snapshot, count the refusal and log it.
func TestServerRefusesInconsistentSnapshot(t *testing.T) {
	log, hook := logtest.NewNullLogger()
	reg := prometheus.NewRegistry()
	srv, err := NewServer(ServerConfig{Listeners: xds.ListenerConfig{HTTPPort: 8080, HTTPSPort: 8443}, Registerer: reg, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	srv.OnChange(consistentDAG())
	served := servedVersions(srv)
	goodRoutes := srv.cache.data(resourcev3.RouteType).version
	if served == "" {
		t.Fatal("the consistent snapshot was not served")
	}

	bad := consistentDAG()
	bad.HTTP = append(bad.HTTP, routeTo("z.example.com", cluster("ns/unlisted/80/x")))
	srv.OnChange(bad)

	if v := servedVersions(srv); v != served {
		t.Errorf("an inconsistent snapshot was served: version %s, want the last good %s", v, served)
	}
	if got := srv.cache.data(resourcev3.RouteType); got == nil || got.version != goodRoutes {
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
	srv.OnChange(consistentDAG())
	if servedVersions(srv) != served {
		t.Errorf("a consistent snapshot equal to the good one gave version %s, want %s", servedVersions(srv), served)
	}
	fixed := consistentDAG()
	fixed.HTTP = append(fixed.HTTP, routeTo("z.example.com", fixed.Clusters[0]))
	srv.OnChange(fixed)
	if servedVersions(srv) == served {
		t.Error("a new consistent snapshot was not served after a refused one")
	}
}

// servedVersions is each type's version in srv's cache followed by "/",
// or "" before the first snapshot.
func servedVersions(srv *Server) string {
	out := ""
	for _, typ := range []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.SecretType} {
		if d := srv.cache.data(typ); d != nil {
			out += d.version + "/"
		}
	}
	return out
}
