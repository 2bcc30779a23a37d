package xds

import (
	"bytes"
	"regexp"
	"testing"

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

// Version and Versions are test helpers: the server reads the types'
// versions itself.

// Version returns the version of typeURL, or "" for a type not served.
func (s *Snapshot) Version(typeURL string) string {
	if t := s.Type(typeURL); t != nil {
		return t.Version
	}
	return ""
}

// Versions is every type's version, for logs and tests.
func (s *Snapshot) Versions() map[string]string {
	out := make(map[string]string, len(s.Types))
	for _, t := range s.Types {
		out[t.TypeURL] = t.Version
	}
	return out
}

func versions(t *testing.T, r Resources) map[string]string {
	t.Helper()
	s, err := NewSnapshot(r)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, u := range typeURLs {
		out[u] = s.Version(u)
	}
	return out
}

// TestSnapshotConsistent: every fixture's translation is consistent (every
// route configuration a listener names and every ClusterLoadAssignment a
// cluster names is present, and nothing else, as go-control-plane's
// Snapshot.Consistent checks it), and its Snapshot has every type in
// PushOrder, each resource once, sorted, holding the resource's deterministic
// encoding, with hex versions.
func TestSnapshotConsistent(t *testing.T) {
	hexVersion := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for _, name := range sortedNames() {
		t.Run(name, func(t *testing.T) {
			r := Translate(fixtures()[name], testListenerConfig)
			check := &cache.Snapshot{}
			check.Resources[types.Listener] = cache.NewResources("", asResources(r.Listeners))
			check.Resources[types.Route] = cache.NewResources("", asResources(r.Routes))
			check.Resources[types.ScopedRoute] = cache.NewResources("", asResources(r.ScopedRoutes))
			check.Resources[types.Cluster] = cache.NewResources("", asResources(r.Clusters))
			check.Resources[types.Endpoint] = cache.NewResources("", asResources(r.Endpoints))
			check.Resources[types.Secret] = cache.NewResources("", asResources(r.Secrets))
			if err := check.Consistent(); err != nil {
				t.Fatal(err)
			}
			s, err := NewSnapshot(r)
			if err != nil {
				t.Fatal(err)
			}
			var order []string
			for _, ts := range s.Types {
				order = append(order, ts.TypeURL)
			}
			if diff := cmp.Diff(PushOrder, order); diff != "" {
				t.Errorf("types not in PushOrder (-want +got):\n%s", diff)
			}
			byType := map[string][]types.Resource{
				resource.ListenerType: asResources(r.Listeners),
				resource.RouteType:    asResources(r.Routes),
				resource.ClusterType:  asResources(r.Clusters),
				resource.EndpointType: asResources(r.Endpoints),
				resource.SecretType:   asResources(r.Secrets),
			}
			for _, u := range typeURLs {
				ts := s.Type(u)
				if ts == nil {
					t.Errorf("%s: not in the snapshot", u)
					continue
				}
				if got, want := len(ts.Resources), len(byType[u]); got != want {
					t.Errorf("%s: %d resources in the snapshot, want %d", u, got, want)
					continue
				}
				if v := s.Version(u); !hexVersion.MatchString(v) {
					t.Errorf("%s: version %q is not 16 hex digits", u, v)
				}
				for i, res := range ts.Resources {
					if i > 0 && ts.Resources[i-1].Name >= res.Name {
						t.Errorf("%s: %q after %q: not sorted, or duplicated", u, res.Name, ts.Resources[i-1].Name)
					}
					m := byType[u][i]
					want, err := marshal(m)
					if err != nil {
						t.Fatal(err)
					}
					if res.Name != cache.GetResourceName(m) || !bytes.Equal(res.Value, want) {
						t.Errorf("%s: resource %d is %q, not the encoding of %q", u, i, res.Name, cache.GetResourceName(m))
					}
					if !hexVersion.MatchString(res.Version) {
						t.Errorf("%s %s: version %q is not 16 hex digits", u, res.Name, res.Version)
					}
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
				t.Fatalf("NewSnapshot succeeded (%d listeners); want an inconsistency error", len(s.Type(resource.ListenerType).Resources))
			}
		})
	}
}
