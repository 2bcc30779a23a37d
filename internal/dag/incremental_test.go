package dag

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// A step changes objects as the controller does: it replaces pointers and
// never modifies an object already in Objects.
type step struct {
	name string
	do   func(o *Objects)
}

// checkSequence builds initial and then each step's objects with one
// long-lived Builder, and checks every DAG against a build from scratch.
// At the end it checks that no DAG changed after it was returned.
func checkSequence(t *testing.T, cfg Config, o *Objects, steps ...step) []*DAG {
	t.Helper()
	bl := NewBuilder(cfg)
	type pair struct {
		name      string
		got, want *DAG
		snapshot  *DAG // a second build from scratch, compared at the end
	}
	var history []pair
	run := func(name string) {
		t.Helper()
		got := bl.Build(o)
		want := Build(o, cfg)
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%s: incremental build differs from a build from scratch (-scratch +incremental):\n%s", name, cmp.Diff(want, got))
		}
		if err := bl.checkMemo(o, got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		history = append(history, pair{name, got, want, Build(o, cfg)})
	}
	run("initial")
	for _, s := range steps {
		s.do(o)
		run(s.name)
	}
	var dags []*DAG
	for _, p := range history {
		if !reflect.DeepEqual(p.snapshot, p.got) {
			t.Errorf("the DAG of %q changed after it was returned:\n%s", p.name, cmp.Diff(p.snapshot, p.got))
		}
		dags = append(dags, p.got)
	}
	return dags
}

// checkMemo checks the Builder's invariants after a Build of o that
// returned d: the entries standing are exactly those of the roots built,
// each valid by pointer comparison, listed as dependents of what it read;
// and the shared clusters and secrets are those the DAG lists.
func (bl *Builder) checkMemo(o *Objects, d *DAG) error {
	for key, e := range bl.roots {
		if e.dropped || e.key != key {
			return fmt.Errorf("entry of %s: dropped %t, key %s", key, e.dropped, e.key)
		}
		if f := bl.buildable(key); f != e.fqdn {
			return fmt.Errorf("entry of %s for %q, but the root owns %q", key, e.fqdn, f)
		}
		if !e.deps.unchanged(bl, o) {
			return fmt.Errorf("entry of %s read an input that changed", key)
		}
		var err error
		e.deps.each(func(k depKey) {
			d := bl.dependents[k]
			found := false
			d.each(func(x *rootEntry) { found = found || x == e })
			if !found {
				err = fmt.Errorf("entry of %s is not a dependent of %v", key, k)
			}
		})
		if err != nil {
			return err
		}
		if bl.byFQDN[e.fqdn] != e {
			return fmt.Errorf("entry of %s is not the one of fqdn %q", key, e.fqdn)
		}
	}
	touches := 0
	for _, e := range bl.roots {
		touches += len(e.touches)
	}
	for key, roots := range bl.touchers {
		var err error
		roots.each(func(root types.NamespacedName) {
			touches--
			if e := bl.roots[root]; e == nil || e.touchOf(key) == nil {
				err = fmt.Errorf("%s listed as touched by %s, which did not", key, root)
			}
		})
		if err != nil {
			return err
		}
	}
	if touches != 0 {
		return fmt.Errorf("touchers miss %d of the proxies entries recorded something on", touches)
	}
	for key := range o.HTTPProxies {
		if f := bl.buildable(key); f != "" && bl.roots[key] == nil {
			return fmt.Errorf("root %s owns %q but has no entry", key, f)
		}
	}
	refs := map[string]int{}
	secrets := map[types.NamespacedName]int{}
	for _, e := range bl.roots {
		for _, n := range e.clusters {
			refs[n]++
		}
		for _, k := range e.secrets {
			secrets[k]++
		}
	}
	if len(refs) != len(bl.clusters) || len(refs) != len(d.Clusters) {
		return fmt.Errorf("%d clusters used, %d shared, %d in the DAG", len(refs), len(bl.clusters), len(d.Clusters))
	}
	for _, c := range d.Clusters {
		ce := bl.clusters[c.Name]
		if ce == nil || ce.c != c || ce.refs != refs[c.Name] {
			return fmt.Errorf("cluster %s: shared %+v, used %d times", c.Name, ce, refs[c.Name])
		}
	}
	if len(secrets) != len(bl.secrets) || len(secrets) != len(d.Secrets) {
		return fmt.Errorf("%d secrets used, %d shared, %d in the DAG", len(secrets), len(bl.secrets), len(d.Secrets))
	}
	for key, n := range secrets {
		if se := bl.secrets[key]; se == nil || se.refs != n {
			return fmt.Errorf("secret %s: shared %+v, used %d times", key, se, n)
		}
	}
	return nil
}

// Edits that follow the contract: a changed object is a copy.

func editProxy(ns, name string, f func(p *contourv1.HTTPProxy)) func(o *Objects) {
	return func(o *Objects) {
		p := o.HTTPProxies[nn(ns, name)].DeepCopy()
		f(p)
		o.HTTPProxies[nn(ns, name)] = p
	}
}

func editService(ns, name string, f func(s *corev1.Service)) func(o *Objects) {
	return func(o *Objects) {
		s := o.Services[nn(ns, name)].DeepCopy()
		f(s)
		o.Services[nn(ns, name)] = s
	}
}

func editSlice(ns, name string, f func(s *discoveryv1.EndpointSlice)) func(o *Objects) {
	return func(o *Objects) {
		s := o.EndpointSlices[nn(ns, name)].DeepCopy()
		f(s)
		o.EndpointSlices[nn(ns, name)] = s
	}
}

// put adds or replaces objects.
func put(objs ...any) func(o *Objects) {
	return func(o *Objects) {
		n := objects(objs...)
		for k, v := range n.HTTPProxies {
			o.HTTPProxies[k] = v
		}
		for k, v := range n.Services {
			o.Services[k] = v
		}
		for k, v := range n.EndpointSlices {
			o.EndpointSlices[k] = v
		}
		for k, v := range n.Secrets {
			o.Secrets[k] = v
		}
		for k, v := range n.Delegations {
			o.Delegations[k] = v
		}
	}
}

// delProxy, delService and delSlice remove an object.
func delProxy(ns, name string) func(o *Objects) {
	return func(o *Objects) { delete(o.HTTPProxies, nn(ns, name)) }
}

func delService(ns, name string) func(o *Objects) {
	return func(o *Objects) { delete(o.Services, nn(ns, name)) }
}

func delSlice(ns, name string) func(o *Objects) {
	return func(o *Objects) { delete(o.EndpointSlices, nn(ns, name)) }
}

func both(fs ...func(o *Objects)) func(o *Objects) {
	return func(o *Objects) {
		for _, f := range fs {
			f(o)
		}
	}
}

// world is two roots sharing a child (which has a duplicate route, so it
// has an error per virtual host), a TLS root with a delegated secret, a
// tcpproxy root including a child, and their services.
func world(t testing.TB) *Objects {
	tcp := child("default", "db")
	tcp.Spec.VirtualHost = &contourv1.VirtualHost{Fqdn: "db.com", TLS: &contourv1.TLS{Passthrough: true}}
	tcp.Spec.TCPProxy = &contourv1.TCPProxy{Include: &contourv1.TCPProxyInclude{Name: "db-child"}}
	tcpChild := child("default", "db-child")
	tcpChild.Spec.TCPProxy = &contourv1.TCPProxy{Services: []contourv1.Service{svcRef("db", 5432)}}
	return objects(
		withIncludes(root("default", "r1", "one.com", route("/", svcRef("kuard", 8080))), include("shared", "", "/s")),
		withIncludes(root("default", "r2", "two.com", route("/", svcRef("kuard", 8080))), include("shared", "", "/t")),
		child("default", "shared", route("/", svcRef("kuard", 8080)), route("/", svcRef("kuard", 8080)), route("/x", svcRef("other", 80))),
		withTLS(root("default", "tls", "tls.com", route("/", svcRef("kuard", 8080))), "certs/wild"),
		tcp, tcpChild,
		child("default", "orphan", route("/", svcRef("kuard", 8080))),
		tlsSecret(t, "certs", "wild"), delegation("certs", "d", "wild", "default"),
		service("default", "kuard", 8080), service("default", "other", 80), service("default", "db", 5432),
		endpointSlice("default", "kuard-1", "kuard", "", 8080, "10.0.0.1", "10.0.0.2"),
		endpointSlice("default", "db-1", "db", "", 5432, "10.0.1.1"),
	)
}

func TestIncremental(t *testing.T) {
	prefix := func(p string) func(*contourv1.HTTPProxy) {
		return func(hp *contourv1.HTTPProxy) {
			hp.Spec.Routes[0].Conditions = []contourv1.MatchCondition{{Prefix: p}}
		}
	}
	fqdn := func(f string) func(*contourv1.HTTPProxy) {
		return func(hp *contourv1.HTTPProxy) { hp.Spec.VirtualHost.Fqdn = f }
	}
	tests := map[string]struct {
		cfg   Config
		steps []step
	}{
		"nothing changes": {steps: []step{{"same", func(*Objects) {}}, {"same again", func(*Objects) {}}}},
		"root changed": {steps: []step{
			{"prefix", editProxy("default", "r1", prefix("/v2"))},
			{"prefix back", editProxy("default", "r1", prefix("/"))},
			{"same content, new pointer", editProxy("default", "r1", func(*contourv1.HTTPProxy) {})},
			{"route broken", editProxy("default", "r1", prefix("nope"))},
			{"tls root's route", editProxy("default", "tls", prefix("/secure"))},
		}},
		"child changed": {steps: []step{
			{"duplicate route removed", editProxy("default", "shared", func(p *contourv1.HTTPProxy) { p.Spec.Routes = p.Spec.Routes[1:] })},
			{"broken route added", editProxy("default", "shared", func(p *contourv1.HTTPProxy) {
				p.Spec.Routes = append(p.Spec.Routes, route("bad", svcRef("kuard", 8080)))
			})},
			{"becomes empty", editProxy("default", "shared", func(p *contourv1.HTTPProxy) { p.Spec.Routes = nil })},
			{"becomes a root", editProxy("default", "shared", func(p *contourv1.HTTPProxy) {
				p.Spec.Routes = []contourv1.Route{route("/", svcRef("kuard", 8080))}
				p.Spec.VirtualHost = &contourv1.VirtualHost{Fqdn: "shared.com"}
			})},
		}},
		"include added and removed": {steps: []step{
			{"include of a missing child", editProxy("default", "r1", func(p *contourv1.HTTPProxy) {
				p.Spec.Includes = append(p.Spec.Includes, include("late", "", "/late"))
			})},
			{"child appears", put(child("default", "late", route("/", svcRef("kuard", 8080))))},
			{"orphan included", editProxy("default", "r2", func(p *contourv1.HTTPProxy) {
				p.Spec.Includes = append(p.Spec.Includes, include("orphan", "", "/o"))
			})},
			{"includes removed", editProxy("default", "r1", func(p *contourv1.HTTPProxy) { p.Spec.Includes = nil })},
			{"child deleted", delProxy("default", "late")},
		}},
		"service added, deleted, port changed": {steps: []step{
			{"route to a missing service", editProxy("default", "r2", func(p *contourv1.HTTPProxy) {
				p.Spec.Routes = append(p.Spec.Routes, route("/late", svcRef("late", 80)))
			})},
			{"service appears", put(service("default", "late", 80))},
			{"port changes", put(service("default", "late", 81))},
			{"port back", put(service("default", "late", 80))},
			{"annotated", editService("default", "late", func(s *corev1.Service) {
				s.Annotations = map[string]string{"projectcontour.io/upstream-protocol.h2c": "80"}
			})},
			{"label only", editService("default", "late", func(s *corev1.Service) { s.Labels = map[string]string{"a": "b"} })},
			{"shared service deleted", delService("default", "kuard")},
			{"shared service back", put(service("default", "kuard", 8080))},
			{"service deleted", delService("default", "late")},
			{"tcpproxy service deleted", delService("default", "db")},
		}},
		"endpoint slices": {steps: []step{
			{"addresses change", editSlice("default", "kuard-1", func(s *discoveryv1.EndpointSlice) {
				s.Endpoints[0].Addresses = []string{"10.0.0.9"}
			})},
			{"slice added", put(endpointSlice("default", "kuard-2", "kuard", "", 8080, "10.0.0.3"))},
			{"slice of a service nobody uses", put(endpointSlice("default", "x-1", "x", "", 80, "10.9.0.1"))},
			{"slice of other added", put(endpointSlice("default", "other-1", "other", "", 80, "10.0.2.1"))},
			{"slice moves to other", editSlice("default", "kuard-2", func(s *discoveryv1.EndpointSlice) {
				s.Labels[discoveryv1.LabelServiceName] = "other"
			})},
			{"slice removed", delSlice("default", "kuard-1")},
			{"nil slice", func(o *Objects) { o.EndpointSlices[nn("default", "kuard-1")] = nil }},
			{"all removed", both(delSlice("default", "kuard-1"), delSlice("default", "kuard-2"), delSlice("default", "other-1"), delSlice("default", "db-1"))},
			{"back", put(endpointSlice("default", "kuard-1", "kuard", "", 8080, "10.0.0.1"))},
		}},
		"secret and delegation": {steps: []step{
			{"secret's key broken", func(o *Objects) {
				s := o.Secrets[nn("certs", "wild")].DeepCopy()
				s.Data[corev1.TLSPrivateKeyKey] = []byte("not a key")
				o.Secrets[nn("certs", "wild")] = s
			}},
			{"secret fixed", put(tlsSecret(t, "certs", "wild"))},
			{"second TLS root on the same secret", put(withTLS(root("default", "tls2", "tls2.com", route("/", svcRef("kuard", 8080))), "certs/wild"))},
			{"delegated elsewhere", put(delegation("certs", "d", "wild", "other"))},
			{"delegated everywhere", put(delegation("certs", "d", "wild", "*"))},
			{"unrelated delegation", put(delegation("certs", "e", "other-secret", "default"))},
			{"delegation deleted", func(o *Objects) { delete(o.Delegations, nn("certs", "d")) }},
			{"delegation back", put(delegation("certs", "d", "wild", "default"))},
			{"secret deleted", func(o *Objects) { delete(o.Secrets, nn("certs", "wild")) }},
			{"secret back", put(tlsSecret(t, "certs", "wild"))},
			{"one TLS root goes", delProxy("default", "tls")},
		}},
		"duplicate fqdn appearing and disappearing": {steps: []step{
			{"duplicate appears", put(root("other", "r3", "one.com", route("/", svcRef("kuard", 8080))))},
			{"third claimant", put(root("other", "r4", "ONE.com", route("/", svcRef("kuard", 8080))))},
			{"one claimant leaves", delProxy("other", "r4")},
			{"duplicate goes elsewhere", editProxy("other", "r3", fqdn("three.com"))},
			{"and comes back", editProxy("other", "r3", fqdn("one.com"))},
			{"first root goes", delProxy("default", "r1")},
			{"duplicate of a tcpproxy", put(root("other", "r5", "db.com", route("/", svcRef("kuard", 8080))))},
			{"which loses its routes", editProxy("other", "r5", func(p *contourv1.HTTPProxy) { p.Spec.Routes = nil })},
			{"and goes", delProxy("other", "r5")},
		}},
		"the oldest claimant of an fqdn serves it": {steps: []step{
			{"an older claimant appears", put(createdAt(root("other", "r3", "one.com", route("/old", svcRef("kuard", 8080))), -1))},
			{"a newer one appears", put(createdAt(root("other", "r4", "one.com", route("/new", svcRef("kuard", 8080))), 5))},
			{"the oldest goes", delProxy("other", "r3")},
			{"the first root is made again, now the newest", both(delProxy("default", "r1"),
				put(createdAt(root("default", "r1", "one.com", route("/", svcRef("kuard", 8080))), 9)))},
			{"same name created again, earlier", editProxy("default", "r1", func(p *contourv1.HTTPProxy) { p.CreationTimestamp = metav1.Unix(-5, 0) })},
		}},
		"child included by two roots, one root goes": {steps: []step{
			{"first root goes", delProxy("default", "r1")},
			{"it comes back", put(withIncludes(root("default", "r1", "one.com", route("/", svcRef("kuard", 8080))), include("shared", "", "/s")))},
			{"second root includes elsewhere", editProxy("default", "r2", func(p *contourv1.HTTPProxy) { p.Spec.Includes[0].Conditions[0].Prefix = "/u" })},
			{"both go", both(delProxy("default", "r1"), delProxy("default", "r2"))},
		}},
		"cycle appearing": {steps: []step{
			{"shared includes a child that includes it", both(
				editProxy("default", "shared", func(p *contourv1.HTTPProxy) { p.Spec.Includes = []contourv1.Include{include("loop", "", "/l")} }),
				put(withIncludes(child("default", "loop", route("/", svcRef("kuard", 8080))), include("shared", "", "/back"))),
			)},
			{"shared includes itself", editProxy("default", "shared", func(p *contourv1.HTTPProxy) {
				p.Spec.Includes = append(p.Spec.Includes, include("shared", "", "/self"))
			})},
			{"tcpproxy cycle", editProxy("default", "db-child", func(p *contourv1.HTTPProxy) {
				p.Spec.TCPProxy = &contourv1.TCPProxy{Include: &contourv1.TCPProxyInclude{Name: "db-child"}}
			})},
			{"cycle broken", editProxy("default", "loop", func(p *contourv1.HTTPProxy) { p.Spec.Includes = nil })},
		}},
		"proxies deleted": {steps: []step{
			{"shared child", delProxy("default", "shared")},
			{"tcpproxy child", delProxy("default", "db-child")},
			{"nil value", func(o *Objects) { o.HTTPProxies[nn("default", "shared")] = nil }},
			{"a root", delProxy("default", "r2")},
			{"everything", func(o *Objects) { clear(o.HTTPProxies) }},
			{"all back", func(o *Objects) {
				for k, v := range world(t).HTTPProxies {
					o.HTTPProxies[k] = v
				}
			}},
		}},
		"root namespaces": {
			cfg: Config{RootNamespaces: []string{"default", "roots"}},
			steps: []step{
				{"root outside", put(root("other", "r3", "three.com", route("/", svcRef("kuard", 8080))))},
				{"root inside claims its fqdn", put(root("roots", "r4", "three.com", route("/", svcRef("kuard", 8080))))},
				{"root outside changes", editProxy("other", "r3", fqdn("one.com"))},
				{"root inside duplicates", editProxy("roots", "r4", fqdn("one.com"))},
				{"root outside goes", delProxy("other", "r3")},
			},
		},
		"many children and errors": {steps: []step{
			{"root with many broken routes and children", func(o *Objects) {
				r := root("default", "big", "big.com")
				for i := 0; i < 3*smallList; i++ {
					r.Spec.Routes = append(r.Spec.Routes, route(fmt.Sprintf("bad%d", i), svcRef("kuard", 8080)))
					r.Spec.Routes = append(r.Spec.Routes, route(fmt.Sprintf("/missing%d", i), svcRef(fmt.Sprintf("missing%d", i), 80)))
					c := child("default", fmt.Sprintf("c%d", i), route("/", svcRef("kuard", 8080)), route("/", svcRef("kuard", 8080)))
					o.HTTPProxies[nn("default", c.Name)] = c
					withIncludes(r, include(c.Name, "", fmt.Sprintf("/c%d", i)), include(c.Name, "", fmt.Sprintf("/d%d", i)))
				}
				o.HTTPProxies[nn("default", "big")] = r
			}},
			{"one child changes", editProxy("default", "c7", func(p *contourv1.HTTPProxy) { p.Spec.Routes = p.Spec.Routes[1:] })},
			{"a missing service appears", put(service("default", "missing3", 80))},
			{"the root goes", delProxy("default", "big")},
		}},
		"new maps, same objects": {steps: []step{
			{"copied maps", func(o *Objects) {
				n := world(t)
				*o = Objects{HTTPProxies: n.HTTPProxies, Services: n.Services, EndpointSlices: n.EndpointSlices, Secrets: n.Secrets, Delegations: n.Delegations}
			}},
			{"nil maps", func(o *Objects) { *o = Objects{} }},
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			checkSequence(t, tc.cfg, world(t), tc.steps...)
		})
	}
}

// TestIncrementalFanOut changes a world whose includes fan out and back
// in past the budget of include visits (see TestIncludeFanOut).
func TestIncrementalFanOut(t *testing.T) {
	o := objects(withIncludes(root("default", "root", "example.com"), include("p00", "", "/a"), include("p00", "", "/b")),
		withIncludes(root("default", "other", "other.com"), include("p30", "", "/o")))
	const depth = 40
	for i := 0; i < depth; i++ {
		p := child("default", "p"+itoa(i), route("/", svcRef("kuard", 8080)))
		if i+1 < depth {
			withIncludes(p, include("p"+itoa(i+1), "", "/a"), include("p"+itoa(i+1), "", "/b"))
		}
		o.HTTPProxies[nn("default", p.Name)] = p
	}
	checkSequence(t, Config{}, o,
		step{"deep child changes", editProxy("default", "p35", func(p *contourv1.HTTPProxy) { p.Spec.Routes[0].Conditions = []contourv1.MatchCondition{{Prefix: "/x"}} })},
		step{"middle child goes", delProxy("default", "p20")},
		step{"first root goes", delProxy("default", "root")},
	)
}

// TestIncrementalNil builds nothing after something.
func TestIncrementalNil(t *testing.T) {
	bl := NewBuilder(Config{})
	bl.Build(world(t))
	diff(t, Build(nil, Config{}), bl.Build(nil))
	diff(t, Build(world(t), Config{}), bl.Build(world(t)))
}

// TestIncrementalPointers checks that what did not change is the previous
// DAG's, pointer for pointer.
func TestIncrementalPointers(t *testing.T) {
	o := world(t)
	bl := NewBuilder(Config{})
	d1 := bl.Build(o)
	editProxy("default", "r1", func(p *contourv1.HTTPProxy) {
		p.Spec.Routes[0].Conditions = []contourv1.MatchCondition{{Prefix: "/v2"}}
	})(o)
	d2 := bl.Build(o)

	vhosts := func(d *DAG) map[string]any {
		m := map[string]any{}
		for _, vh := range d.HTTP {
			m["http "+vh.Name] = vh
		}
		for _, svh := range d.HTTPS {
			m["https "+svh.Name] = svh
		}
		return m
	}
	v1, v2 := vhosts(d1), vhosts(d2)
	if len(v1) != len(v2) {
		t.Fatalf("%d vhosts, then %d", len(v1), len(v2))
	}
	for name, vh := range v1 {
		changed := name == "http one.com"
		if same := v2[name] == vh; same == changed {
			t.Errorf("%s: same pointer %t", name, same)
		}
	}
	diff(t, d1.Clusters, d2.Clusters)
	for i := range d1.Clusters {
		if d1.Clusters[i] != d2.Clusters[i] {
			t.Errorf("cluster %s is a new pointer", d1.Clusters[i].Name)
		}
	}
	for i := range d1.Secrets {
		if d1.Secrets[i] != d2.Secrets[i] {
			t.Errorf("secret %s is a new pointer", d1.Secrets[i].Name)
		}
	}
	// The rebuilt root's routes share the clusters of the others.
	for _, r := range httpVhost(d2, "one.com").Routes {
		for _, wc := range r.Clusters {
			if findCluster(d2, wc.Cluster.Service.Namespace, wc.Cluster.Service.Name, wc.Cluster.Port) != wc.Cluster {
				t.Errorf("route of one.com uses a cluster not in the DAG")
			}
		}
	}
	// Every status is equal, so every status is the previous pointer,
	// the changed root's and the shared child's included.
	for key, ps := range d1.Statuses {
		if d2.Statuses[key] != ps {
			t.Errorf("status of %s is a new pointer", key)
		}
	}

	// A status that differs is a new pointer; the others are not.
	o.HTTPProxies[nn("default", "r1")] = withIncludes(root("default", "r1", "one.com", route("bad", svcRef("kuard", 8080))), include("shared", "", "/s"))
	d3 := bl.Build(o)
	for key, ps := range d2.Statuses {
		if changed := key == nn("default", "r1"); (d3.Statuses[key] == ps) == changed {
			t.Errorf("status of %s: same pointer %t", key, !changed)
		}
	}
	// An unchanged build returns the same parts.
	d4 := bl.Build(o)
	if reflect.ValueOf(d4.Statuses).Pointer() != reflect.ValueOf(d3.Statuses).Pointer() {
		t.Errorf("unchanged build made a new status map")
	}
	if &d4.HTTP[0] != &d3.HTTP[0] || &d4.Clusters[0] != &d3.Clusters[0] {
		t.Errorf("unchanged build made new lists")
	}
}

func httpVhost(d *DAG, fqdn string) *VirtualHost {
	for _, vh := range d.HTTP {
		if vh.Name == fqdn {
			return vh
		}
	}
	return nil
}
