package xds

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// checkTranslator asserts that tr's snapshot of d is exactly the reference
// NewSnapshot(Translate(d)): same resources, bytes and versions.
func checkTranslator(t *testing.T, tr *Translator, d *dag.DAG) *Snapshot {
	t.Helper()
	return checkTranslatorWith(t, tr, d, testListenerConfig)
}

// checkTranslatorWith is checkTranslator for a Translator made for cfg.
func checkTranslatorWith(t *testing.T, tr *Translator, d *dag.DAG, cfg ListenerConfig) *Snapshot {
	t.Helper()
	want, err := NewSnapshot(Translate(d, cfg))
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr.Snapshot(d)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Types, got.Types); diff != "" {
		t.Fatalf("Translator snapshot differs from NewSnapshot(Translate) (-want +got):\n%s", diff)
	}
	if err := got.Consistent(); err != nil {
		t.Fatalf("Translator snapshot: %v", err)
	}
	return got
}

func newTestTranslator(t testing.TB) *Translator {
	t.Helper()
	tr, err := NewTranslator(testListenerConfig)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestTranslatorMatchesTranslate runs one Translator over every fixture, in
// order and back, so each snapshot is made from a memo full of another
// DAG's parts.
func TestTranslatorMatchesTranslate(t *testing.T) {
	tr := newTestTranslator(t)
	names := sortedNames()
	all := append(slices.Clone(names), names...)
	slices.Reverse(all[len(names):])
	fx := fixtures()
	for _, name := range all {
		t.Run(name, func(t *testing.T) { checkTranslator(t, tr, fx[name]) })
	}
	checkTranslator(t, tr, nil)
	checkTranslator(t, tr, &dag.DAG{})
}

// TestTranslatorSharedParts changes one part of a DAG at a time, as
// dag.Builder does, sharing every other pointer with the DAG before.
func TestTranslatorSharedParts(t *testing.T) {
	tr := newTestTranslator(t)
	d := benchDAG(50)
	first := checkTranslator(t, tr, d)

	steps := map[string]func(d dag.DAG) dag.DAG{
		"one virtual host's route changed": func(d dag.DAG) dag.DAG {
			d.HTTP = slices.Clone(d.HTTP)
			vh := *d.HTTP[7]
			vh.Routes = append(slices.Clone(vh.Routes), prefix("/new", to(upstream("ns7", "web", 80))))
			d.HTTP[7] = &vh
			return d
		},
		"a virtual host removed": func(d dag.DAG) dag.DAG {
			d.HTTP = slices.Delete(slices.Clone(d.HTTP), 3, 4)
			return d
		},
		"a cluster's endpoints changed": func(d dag.DAG) dag.DAG {
			d.Clusters = slices.Clone(d.Clusters)
			c := *d.Clusters[5]
			c.Endpoints = append(slices.Clone(c.Endpoints), dag.Endpoint{Address: "10.9.9.9", Port: 8080})
			d.Clusters[5] = &c
			return d
		},
		"a secure virtual host removed": func(d dag.DAG) dag.DAG {
			d.HTTPS = slices.Delete(slices.Clone(d.HTTPS), 0, 1)
			return d
		},
		"every secure virtual host removed": func(d dag.DAG) dag.DAG {
			d.HTTPS, d.Secrets = nil, nil
			return d
		},
	}
	for name, change := range steps {
		t.Run(name, func(t *testing.T) {
			next := change(*d)
			snap := checkTranslator(t, tr, &next)
			changed := 0
			for i := range snap.Types {
				if snap.Types[i].Version != first.Types[i].Version {
					changed++
				}
			}
			if changed == 0 {
				t.Errorf("no type changed version")
			}
			// And back: the memo still gives the first DAG's bytes.
			back := checkTranslator(t, tr, d)
			if diff := cmp.Diff(first.Versions(), back.Versions()); diff != "" {
				t.Errorf("versions after going back differ (-first +back):\n%s", diff)
			}
		})
	}
}

// TestTranslatorReusesUnchangedTypes: a DAG whose clusters are the same
// pointers gives the very same cluster and endpoint resources (nothing is
// marshalled again, and the serving cache pushes nothing).
func TestTranslatorReusesUnchangedTypes(t *testing.T) {
	tr := newTestTranslator(t)
	d := benchDAG(20)
	a := checkTranslator(t, tr, d)
	next := *d
	next.HTTP = slices.Clone(d.HTTP)
	vh := *next.HTTP[0]
	vh.Routes = vh.Routes[:1]
	next.HTTP[0] = &vh
	b := checkTranslator(t, tr, &next)
	for _, url := range PushOrder {
		same := a.Version(url) == b.Version(url)
		if want := url != routeTypeURL(); same != want {
			t.Errorf("%s: version unchanged = %v, want %v", url, same, want)
		}
	}
	ca, cb := a.Type(clusterTypeURL()).Resources, b.Type(clusterTypeURL()).Resources
	if &ca[0].Value[0] != &cb[0].Value[0] {
		t.Errorf("an unchanged cluster was marshalled again")
	}

	// The same DAG twice reuses the whole route configuration, and must
	// keep every virtual host's part for the next change all the same.
	before, _ := tr.vhosts.get(d.HTTP[1], nil)
	checkTranslator(t, tr, d)
	checkTranslator(t, tr, d)
	if n := len(tr.vhosts.m); n != len(d.HTTP) {
		t.Fatalf("memo holds %d virtual hosts after unchanged translations, want %d", n, len(d.HTTP))
	}
	if after, _ := tr.vhosts.get(d.HTTP[1], nil); &after.enc[0] != &before.enc[0] {
		t.Errorf("an unchanged virtual host was marshalled again")
	}
}

func routeTypeURL() string   { return PushOrder[4] }
func clusterTypeURL() string { return PushOrder[0] }

// TestSplice: head + elements + tail is proto.Marshal's deterministic
// encoding of the whole message, for both messages the Translator
// assembles.
func TestSplice(t *testing.T) {
	vhs := []*route.VirtualHost{virtualHost(vhost("a.example.com", prefix("/", to(upstream("ns", "a", 80))))),
		virtualHost(vhost("b.example.com", prefix("/b", to(upstream("ns", "b", 80)))))}
	rc := routeConfiguration(httpRoutePrefix+"a.example.com", nil)
	head, tail, err := around(rc, "virtual_hosts")
	if err != nil {
		t.Fatal(err)
	}
	var parts [][]byte
	for _, vh := range vhs {
		b, err := marshal(vh)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, b)
	}
	rc.VirtualHosts = vhs
	want, err := marshal(rc)
	if err != nil {
		t.Fatal(err)
	}
	if got := splice(head, tail, routeConfigurationVirtualHosts, parts); !slices.Equal(got, want) {
		t.Errorf("spliced route configuration differs from its marshalled form")
	}

	if _, _, err := around(rc, "virtual_hosts"); err == nil {
		t.Errorf("around accepted a message whose repeated field is set")
	}
	if _, _, err := around(&listener.Listener{}, "name"); err == nil {
		t.Errorf("around accepted a field that is not a repeated message")
	}
	var l listener.Listener
	if _, _, err := around(proto.Clone(&l), "filter_chains"); err != nil {
		t.Errorf("around(empty listener): %v", err)
	}
}

// BenchmarkTranslatorChange: one virtual host changed in a DAG of n, the
// rest shared, as after one HTTPProxy edit.
func BenchmarkTranslatorChange(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("vhosts=%d", n), func(b *testing.B) {
			d := benchDAG(n)
			alt := *d
			alt.HTTP = slices.Clone(d.HTTP)
			vh := *alt.HTTP[n/2]
			vh.Routes = vh.Routes[:1]
			alt.HTTP[n/2] = &vh
			benchmarkAlternating(b, d, &alt)
		})
	}
}

// benchmarkAlternating times a Translator given d and alt in turn, after
// d once: each operation is one change between the two.
func benchmarkAlternating(b *testing.B, d, alt *dag.DAG) {
	tr := newTestTranslator(b)
	if _, err := tr.Snapshot(d); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		next := d
		if i%2 == 0 {
			next = alt
		}
		i++
		if _, err := tr.Snapshot(next); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTranslatorFallback changes which hosts enable the fallback
// certificate, and the certificate, sharing every other pointer: the
// fallback chain and route configuration must follow.
func TestTranslatorFallback(t *testing.T) {
	tr := newTestTranslator(t)
	d := fixtures()["tls-fallback"]
	checkTranslator(t, tr, d)
	withHosts := func(d *dag.DAG, i int, vh *dag.SecureVirtualHost) *dag.DAG {
		n := *d
		n.HTTPS = slices.Clone(d.HTTPS)
		n.HTTPS[i] = vh
		return &n
	}
	without := *d.HTTPS[0]
	without.FallbackCertificate = nil
	d1 := withHosts(d, 0, &without)
	checkTranslator(t, tr, d1)
	other := *d1.HTTPS[1]
	other.FallbackCertificate = secret("certs", "other-fallback")
	d2 := withHosts(d1, 1, &other)
	d2.Secrets = append(slices.Clone(d2.Secrets), other.FallbackCertificate)
	slices.SortFunc(d2.Secrets, func(a, b *dag.Secret) int { return strings.Compare(a.Name, b.Name) })
	checkTranslator(t, tr, d2)
	none := *d2.HTTPS[1]
	none.FallbackCertificate = nil
	checkTranslator(t, tr, withHosts(d2, 1, &none))
	checkTranslator(t, tr, d)
}
