package xds

import (
	"bytes"

	"testing"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tcpproxy "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/dag/dagtest"
)

// FuzzSnapshot builds a DAG from the input format of dag's FuzzBuild
// (dagtest.Objects) and checks that its translation makes a snapshot Envoy
// accepts: consistent, valid under the protoc-gen-validate rules, with
// stable versions, and with no route or tcp_proxy naming a missing cluster.
func FuzzSnapshot(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := dag.Build(dagtest.Objects(data))
		lc := fuzzListenerConfig(data)
		r := Translate(d, lc)
		s, err := NewSnapshot(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range allResources(r) {
			checkMessage(t, resourceLabel(m), m.ProtoReflect())
		}
		if diff := cmp.Diff(versions(t, r), versions(t, Translate(d, lc))); diff != "" {
			t.Errorf("versions of two translations of one DAG differ (-first +second):\n%s", diff)
		}

		clusters := map[string]bool{}
		for _, c := range s.Type(resource.ClusterType).Resources {
			clusters[c.Name] = true
		}
		known := func(where, name string) {
			if _, ok := clusters[name]; !ok {
				t.Errorf("%s names cluster %q, not in the snapshot", where, name)
			}
		}
		for _, rc := range r.Routes {
			for _, vh := range rc.GetVirtualHosts() {
				for _, rt := range vh.GetRoutes() {
					a := rt.GetRoute()
					if a == nil {
						continue
					}
					where := rc.GetName() + "/" + vh.GetName() + "/" + rt.GetName()
					switch cs := a.GetClusterSpecifier().(type) {
					case *route.RouteAction_Cluster:
						known(where, cs.Cluster)
					case *route.RouteAction_WeightedClusters:
						for _, wc := range cs.WeightedClusters.GetClusters() {
							known(where, wc.GetName())
						}
					default:
						t.Errorf("%s: route action with cluster specifier %T", where, cs)
					}
					for _, m := range a.GetRequestMirrorPolicies() {
						known(where+" mirror", m.GetCluster())
					}
				}
			}
		}
		for _, l := range r.Listeners {
			for _, fc := range l.GetFilterChains() {
				for _, f := range fc.GetFilters() {
					checkTCPProxy(t, l, f, known)
				}
			}
		}
	})
}

// fuzzListenerConfig is testListenerConfig, with a global rate limit
// service for inputs of odd length.
func fuzzListenerConfig(data []byte) ListenerConfig {
	switch len(data) % 3 {
	case 1:
		// Every listener setting changed.
		return settingsListenerConfig()
	case 2:
		return goldenListenerConfigs["global-rate-limit-service"]
	}
	return testListenerConfig
}

// checkTCPProxy calls known for each cluster a tcp_proxy filter f names.
func checkTCPProxy(t *testing.T, l *listener.Listener, f *listener.Filter, known func(where, name string)) {
	t.Helper()
	tc := f.GetTypedConfig()
	if tc == nil || !tc.MessageIs((*tcpproxy.TcpProxy)(nil)) {
		return
	}
	var p tcpproxy.TcpProxy
	if err := tc.UnmarshalTo(&p); err != nil {
		t.Errorf("listener %s: unpack tcp_proxy: %v", l.GetName(), err)
		return
	}
	where := "listener " + l.GetName() + " tcp_proxy " + p.GetStatPrefix()
	switch cs := p.GetClusterSpecifier().(type) {
	case *tcpproxy.TcpProxy_Cluster:
		known(where, cs.Cluster)
	case *tcpproxy.TcpProxy_WeightedClusters:
		for _, wc := range cs.WeightedClusters.GetClusters() {
			known(where, wc.GetName())
		}
	default:
		t.Errorf("%s: cluster specifier %T", where, cs)
	}
}

// FuzzTranslator runs one dag.Builder and one Translator over a sequence of
// object sets (dagtest.Sequence, as dag's FuzzIncremental), as a replica
// does, and checks every snapshot against the reference
// NewSnapshot(Translate(d)): the memo must never serve a stale part, and
// every snapshot must pass the consistency checks.
func FuzzTranslator(f *testing.F) {
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, []byte{dagtest.Separator}) }
	gen := []byte{5, 0, 0, 0, 1, 1, 2, 3, 1, 2, 0, 3, 1, 1, 2, 0, 1, 0, 0, 0, 2, 1, 3, 0, 1, 1, 0, 5, 2, 1, 1, 0, 4, 0, 0, 2, 2, 1}
	f.Add(join(gen, []byte{2, 0, 0, 1}, []byte{4, 0, 0, 0}, []byte{5, 0, 1}))
	f.Add(join(gen, []byte{6, 2, 0, 0, 6, 5, 1, 0, 0, 0}, []byte{7, 1, 3}, []byte{8, 0, 1, 1}, []byte{0, 1}))
	f.Add(join([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, []byte{2, 0, 2, 0}, []byte{2, 1, 5, 1, 2}))
	f.Fuzz(func(t *testing.T, data []byte) {
		seq, cfg := dagtest.Sequence(data)
		bl := dag.NewBuilder(cfg)
		lc := fuzzListenerConfig(data)
		tr, err := NewTranslator(lc)
		if err != nil {
			t.Fatal(err)
		}
		var served Checker // the server's incremental check
		for i, objs := range seq {
			d := bl.Build(objs)
			want, err := NewSnapshot(Translate(d, lc))
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			got, err := tr.Snapshot(d)
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if diff := cmp.Diff(want.Types, got.Types); diff != "" {
				t.Fatalf("step %d: Translator snapshot differs from NewSnapshot(Translate) (-want +got):\n%s", i, diff)
			}
			if err := got.Consistent(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if err := served.Check(got); err != nil {
				t.Fatalf("step %d: the server's check: %v", i, err)
			}
		}
	})
}
