package xds

import (
	"context"
	"regexp"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cache "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/proxyctl/proxyctl/internal/dag"
)

var typeURLs = []string{
	resource.ListenerType, resource.RouteType, resource.ClusterType, resource.EndpointType, resource.SecretType,
}

func versions(t *testing.T, r Resources) map[string]string {
	t.Helper()
	s, err := NewSnapshot(r)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, u := range typeURLs {
		out[u] = s.GetVersion(u)
	}
	return out
}

func TestSnapshotConsistent(t *testing.T) {
	hexVersion := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for _, name := range sortedNames() {
		t.Run(name, func(t *testing.T) {
			r := Translate(fixtures()[name], testListenerConfig)
			s, err := NewSnapshot(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Consistent(); err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{
				resource.ListenerType: len(r.Listeners),
				resource.RouteType:    len(r.Routes),
				resource.ClusterType:  len(r.Clusters),
				resource.EndpointType: len(r.Endpoints),
				resource.SecretType:   len(r.Secrets),
			}
			for _, u := range typeURLs {
				if got := len(s.GetResources(u)); got != counts[u] {
					t.Errorf("%s: %d resources in the snapshot, want %d", u, got, counts[u])
				}
				if v := s.GetVersion(u); !hexVersion.MatchString(v) {
					t.Errorf("%s: version %q is not 16 hex digits", u, v)
				}
			}
		})
	}
}

// TestDeterministic: two translations of equal DAGs (built separately, as
// two replicas would) give equal resources and equal versions.
func TestDeterministic(t *testing.T) {
	for _, name := range sortedNames() {
		t.Run(name, func(t *testing.T) {
			a := Translate(fixtures()[name], testListenerConfig)
			b := Translate(fixtures()[name], testListenerConfig)
			if diff := cmp.Diff(a, b, protocmp.Transform()); diff != "" {
				t.Fatalf("translations differ (-first +second):\n%s", diff)
			}
			if diff := cmp.Diff(versions(t, a), versions(t, b)); diff != "" {
				t.Fatalf("versions differ (-first +second):\n%s", diff)
			}
		})
	}
}

// TestVersionPerType: a change of one kind of resource changes that type's
// version only, so Envoy is not pushed the others again.
func TestVersionPerType(t *testing.T) {
	tests := map[string]struct {
		change  func(d *dag.DAG)
		changed []string
	}{
		"endpoint added": {
			change: func(d *dag.DAG) {
				d.Clusters[0].Endpoints = append(d.Clusters[0].Endpoints, dag.Endpoint{Address: "10.0.0.9", Port: 80})
			},
			changed: []string{resource.EndpointType},
		},
		"certificate renewed": {
			change:  func(d *dag.DAG) { d.Secrets[0].Cert = []byte("renewed") },
			changed: []string{resource.SecretType},
		},
		"route added": {
			change: func(d *dag.DAG) {
				d.HTTP[0].Routes = append([]*dag.Route{exact("/new", direct(404, ""))}, d.HTTP[0].Routes...)
			},
			changed: []string{resource.RouteType},
		},
		"cluster protocol": {
			change:  func(d *dag.DAG) { d.Clusters[0].Protocol = dag.ProtocolH2C },
			changed: []string{resource.ClusterType},
		},
		"tls version": {
			change:  func(d *dag.DAG) { d.HTTPS[0].MinTLSVersion = "1.3" },
			changed: []string{resource.ListenerType},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := versions(t, Translate(fixtures()["tls-redirect"], testListenerConfig))
			d := fixtures()["tls-redirect"]
			tc.change(d)
			after := versions(t, Translate(d, testListenerConfig))
			want := map[string]bool{}
			for _, u := range tc.changed {
				want[u] = true
			}
			for _, u := range typeURLs {
				if got := before[u] != after[u]; got != want[u] {
					t.Errorf("%s: version changed = %v, want %v", u, got, want[u])
				}
			}
		})
	}
}

func TestNewSnapshotInconsistent(t *testing.T) {
	tests := map[string]func(r *Resources){
		"route configuration missing": func(r *Resources) { r.Routes = r.Routes[1:] },
		"endpoints missing":           func(r *Resources) { r.Endpoints = r.Endpoints[1:] },
		"extra route configuration": func(r *Resources) {
			r.Listeners = []*listener.Listener{r.Listeners[0]} // drop ingress_https
		},
	}
	for name, breakIt := range tests {
		t.Run(name, func(t *testing.T) {
			r := Translate(fixtures()["tls-redirect"], testListenerConfig)
			breakIt(&r)
			if s, err := NewSnapshot(r); err == nil {
				t.Fatalf("NewSnapshot succeeded (%d listeners); want an inconsistency error", len(s.Resources[types.Listener].Items))
			}
		})
	}
}

func TestAllNodesSharesOneSnapshot(t *testing.T) {
	c := cache.NewSnapshotCache(true, AllNodes{}, nil)
	s, err := NewSnapshot(Translate(fixtures()["http-basic"], testListenerConfig))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetSnapshot(context.Background(), SnapshotKey, s); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"envoy-a", "envoy-b"} {
		got, err := c.GetSnapshot(AllNodes{}.ID(&core.Node{Id: id}))
		if err != nil || got != s {
			t.Errorf("node %s: snapshot %p, %v; want the one set", id, got, err)
		}
	}
}
