package dag_test

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/dag/dagtest"
)

// FuzzBuild feeds Build the objects dagtest.Objects decodes (JSON or
// generated from the bytes) and checks its invariants.
func FuzzBuild(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, cfg := dagtest.Objects(data)
		d1 := dag.Build(objs, cfg)
		d2 := dag.Build(objs, cfg)
		if !gocmp.Equal(d1, d2) {
			t.Fatalf("Build is not deterministic:\n%s", gocmp.Diff(d1, d2))
		}
		checkInvariants(t, objs, d1)
	})
}

// FuzzIncremental feeds a long-lived Builder the sequence of object sets
// dagtest.Sequence decodes and checks, after every step, that it answers
// exactly what Build does from scratch; that its memo is consistent (see
// checkMemo); that a status equal to the
// previous one is the previous pointer; that a step changing nothing
// returns the previous DAG's parts; and, at the end, that no DAG changed
// after it was returned.
func FuzzIncremental(f *testing.F) {
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, []byte{dagtest.Separator}) }
	gen := []byte{5, 0, 0, 0, 1, 1, 2, 3, 1, 2, 0, 3, 1, 1, 2, 0, 1, 0, 0, 0, 2, 1, 3, 0, 1, 1, 0, 5, 2, 1, 1, 0, 4, 0, 0, 2, 2, 1}
	f.Add(join(gen, []byte{2, 0, 0, 1}, []byte{4, 0, 0, 0}, []byte{5, 0, 1}))
	f.Add(join(gen, append([]byte{'w'}, gen[1:]...), append([]byte{'w'}, gen...)))
	f.Add(join(gen, []byte{6, 2, 0, 0, 6, 5, 1, 0, 0, 0}, []byte{7, 1, 3}, []byte{8, 0, 1, 1}, []byte{0, 1}, []byte{4, 0, 0, 0, 4, 0, 1, 0}))
	f.Add(join(gen, []byte{9, 0}, []byte{10, 1}, []byte{1, 2}, []byte{11}, []byte{3, 1, 2, 0, 0, 1}))
	f.Add(join([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, []byte{2, 0, 2, 0}, []byte{2, 0, 3, 0, 0, 0}, []byte{2, 1, 5, 1, 2}, []byte{5, 0, 0}))
	f.Fuzz(func(t *testing.T, data []byte) {
		seq, cfg := dagtest.Sequence(data)
		bl := dag.NewBuilder(cfg)
		var got, want []*dag.DAG
		for i, objs := range seq {
			g := bl.Build(objs)
			w := dag.Build(objs, cfg)
			if !reflect.DeepEqual(w, g) {
				t.Fatalf("step %d: incremental build differs from a build from scratch (-scratch +incremental):\n%s", i, gocmp.Diff(w, g))
			}
			checkInvariants(t, objs, g)
			if err := dag.CheckMemo(bl, objs, g); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if i > 0 {
				checkShared(t, seq[i-1], objs, got[i-1], g)
			}
			got, want = append(got, g), append(want, w)
		}
		for i := range got {
			if !reflect.DeepEqual(want[i], got[i]) {
				t.Fatalf("the DAG of step %d changed after it was returned:\n%s", i, gocmp.Diff(want[i], got[i]))
			}
		}
	})
}

// checkShared checks what a Builder promises to share between the DAG
// prev built from before and the DAG cur built next from after.
func checkShared(t *testing.T, before, after *dag.Objects, prev, cur *dag.DAG) {
	t.Helper()
	for key, ps := range prev.Statuses {
		if q := cur.Statuses[key]; q != nil && q != ps && reflect.DeepEqual(ps, q) {
			t.Errorf("status of %s is equal to the previous one but a new pointer", key)
		}
	}
	if !sameObjects(before, after) {
		return
	}
	samePointers := func(what string, a, b any) {
		va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
		if va.Len() != vb.Len() {
			t.Errorf("unchanged objects: %s: %d, then %d", what, va.Len(), vb.Len())
			return
		}
		for i := 0; i < va.Len(); i++ {
			if va.Index(i).Pointer() != vb.Index(i).Pointer() {
				t.Errorf("unchanged objects: %s[%d] is a new pointer", what, i)
			}
		}
	}
	samePointers("HTTP", prev.HTTP, cur.HTTP)
	samePointers("HTTPS", prev.HTTPS, cur.HTTPS)
	samePointers("Clusters", prev.Clusters, cur.Clusters)
	samePointers("Secrets", prev.Secrets, cur.Secrets)
	for key, ps := range prev.Statuses {
		if cur.Statuses[key] != ps {
			t.Errorf("unchanged objects: status of %s is a new pointer", key)
		}
	}
}

// sameObjects reports whether a and b hold the same pointers under the
// same keys.
func sameObjects(a, b *dag.Objects) bool {
	return maps.Equal(a.HTTPProxies, b.HTTPProxies) && maps.Equal(a.Services, b.Services) &&
		maps.Equal(a.EndpointSlices, b.EndpointSlices) && maps.Equal(a.Secrets, b.Secrets) &&
		maps.Equal(a.Delegations, b.Delegations)
}

// checkInvariants asserts what consumers of a DAG rely on, as documented on
// the model types. It uses only the exported model, so it checks the order
// of routes against the documented contract rather than Build's own
// comparator.
func checkInvariants(t *testing.T, objs *dag.Objects, d *dag.DAG) {
	t.Helper()
	clusters := map[string]*dag.Cluster{}
	for i, c := range d.Clusters {
		if i > 0 && d.Clusters[i-1].Name >= c.Name {
			t.Errorf("clusters not sorted or not unique: %q, %q", d.Clusters[i-1].Name, c.Name)
		}
		if !slices.IsSortedFunc(c.Endpoints, func(a, b dag.Endpoint) int {
			return cmp.Or(strings.Compare(a.Address, b.Address), cmp.Compare(a.Port, b.Port))
		}) {
			t.Errorf("endpoints of %s not sorted", c.Name)
		}
		clusters[c.Name] = c
	}
	known := func(c *dag.Cluster, where string) {
		if c == nil || clusters[c.Name] != c {
			t.Errorf("%s refers to a cluster not in DAG.Clusters: %+v", where, c)
		}
	}
	checkRoutes := func(vh string, routes []*dag.Route) {
		if len(routes) == 0 {
			t.Errorf("virtual host %s has no routes", vh)
		}
		seen := map[string]bool{}
		for i, r := range routes {
			actions := 0
			if len(r.Clusters) > 0 {
				actions++
			}
			if r.Redirect != nil {
				actions++
			}
			if r.DirectResponse != nil {
				actions++
			}
			if actions != 1 {
				t.Errorf("%s: route %s has %d actions", vh, describe(r), actions)
			}
			for _, wc := range r.Clusters {
				known(wc.Cluster, vh)
			}
			if r.Mirror != nil {
				known(r.Mirror, vh)
			}
			if !slices.IsSortedFunc(r.HeaderMatches, func(a, b dag.HeaderMatch) int {
				return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.Kind, b.Kind), strings.Compare(a.Value, b.Value))
			}) || !slices.IsSortedFunc(r.QueryMatches, func(a, b dag.QueryMatch) int {
				return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.Kind, b.Kind), strings.Compare(a.Value, b.Value))
			}) {
				t.Errorf("%s: route %s matches not sorted", vh, describe(r))
			}
			if k := matchText(r); seen[k] {
				t.Errorf("%s: two routes match %s", vh, describe(r))
			} else {
				seen[k] = true
			}
			if i > 0 && !moreSpecific(routes[i-1], r) {
				t.Errorf("%s: routes out of order: %s before %s", vh, describe(routes[i-1]), describe(r))
			}
		}
	}
	for i, vh := range d.HTTP {
		if i > 0 && d.HTTP[i-1].Name >= vh.Name {
			t.Errorf("HTTP vhosts not sorted: %q, %q", d.HTTP[i-1].Name, vh.Name)
		}
		checkRoutes(vh.Name, vh.Routes)
	}
	secrets := map[string]*dag.Secret{}
	for i, s := range d.Secrets {
		if i > 0 && d.Secrets[i-1].Name >= s.Name {
			t.Errorf("secrets not sorted: %q, %q", d.Secrets[i-1].Name, s.Name)
		}
		secrets[s.Name] = s
	}
	for i, svh := range d.HTTPS {
		if i > 0 && d.HTTPS[i-1].Name >= svh.Name {
			t.Errorf("HTTPS vhosts not sorted: %q, %q", d.HTTPS[i-1].Name, svh.Name)
		}
		if svh.Passthrough != (svh.Secret == nil) {
			t.Errorf("%s: passthrough %t with secret %v", svh.Name, svh.Passthrough, svh.Secret)
		}
		if svh.Secret != nil && secrets[svh.Secret.Name] != svh.Secret {
			t.Errorf("%s: secret %s not in DAG.Secrets", svh.Name, svh.Secret.Name)
		}
		if svh.TCPProxy != nil {
			if len(svh.Routes) != 0 || len(svh.TCPProxy.Clusters) == 0 {
				t.Errorf("%s: tcpproxy with %d routes and %d clusters", svh.Name, len(svh.Routes), len(svh.TCPProxy.Clusters))
			}
			for _, wc := range svh.TCPProxy.Clusters {
				known(wc.Cluster, svh.Name)
			}
			continue
		}
		if svh.Passthrough {
			t.Errorf("%s: passthrough without tcpproxy", svh.Name)
		}
		checkRoutes(svh.Name, svh.Routes)
	}
	if len(d.Statuses) != len(objs.HTTPProxies) {
		t.Errorf("%d statuses for %d proxies", len(d.Statuses), len(objs.HTTPProxies))
	}
	for key, p := range objs.HTTPProxies {
		ps := d.Statuses[key]
		if ps == nil || ps.Proxy != key {
			t.Errorf("status of %s: %+v", key, ps)
			continue
		}
		// Only a proxy without a virtualhost can be orphaned: a root is
		// reached by definition.
		if ps.Orphaned && p != nil && p.Spec.VirtualHost != nil {
			t.Errorf("%s: a root reported orphaned", key)
		}
	}
	// Every route's owner is a known proxy.
	for _, vh := range d.HTTP {
		for _, r := range vh.Routes {
			if _, ok := objs.HTTPProxies[r.Owner]; !ok {
				t.Errorf("route %s owned by unknown %s", describe(r), r.Owner)
			}
		}
	}
}

// moreSpecific reports whether a may come before b in a virtual host:
// exact paths, then regular expressions, then prefixes; within a kind,
// longer paths first; for the same path, more header and query conditions
// first.
func moreSpecific(a, b *dag.Route) bool {
	rank := func(k dag.PathMatchKind) int {
		switch k {
		case dag.PathExact:
			return 0
		case dag.PathRegex:
			return 1
		default:
			return 2
		}
	}
	if ra, rb := rank(a.PathMatch.Kind), rank(b.PathMatch.Kind); ra != rb {
		return ra < rb
	}
	if la, lb := len(a.PathMatch.Value), len(b.PathMatch.Value); la != lb {
		return la > lb
	}
	if a.PathMatch.Value != b.PathMatch.Value {
		return true
	}
	return len(a.HeaderMatches)+len(a.QueryMatches) >= len(b.HeaderMatches)+len(b.QueryMatches)
}

// matchText is the match of r as text, equal for routes that match the
// same requests as written (header names are case-insensitive).
func matchText(r *dag.Route) string {
	var hs, qs []string
	for _, h := range r.HeaderMatches {
		h.Name = strings.ToLower(h.Name)
		hs = append(hs, fmt.Sprintf("%+v", h))
	}
	for _, q := range r.QueryMatches {
		qs = append(qs, fmt.Sprintf("%+v", q))
	}
	slices.Sort(hs)
	slices.Sort(qs)
	return fmt.Sprintf("%+v %q %q", r.PathMatch, hs, qs)
}

// describe renders a route's match and owner for failure messages.
func describe(r *dag.Route) string { return matchText(r) + " of " + r.Owner.String() }
