package xds

import (
	"slices"
	"strings"
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

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
			ts = NewTypeSnapshot(typ, slices.DeleteFunc(slices.Clone(ts.Resources), func(r Resource) bool {
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
	var c Checker
	if err := c.Check(snap); err != nil {
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
			if err := c.Check(without(t, snap, tc.typ, tc.name)); err == nil || !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("check = %v, want an error naming %s", err, tc.name)
			}
			// Back to the consistent one: the references verified again.
			if err := c.Check(snap); err != nil {
				t.Fatal(err)
			}
		})
	}
}
