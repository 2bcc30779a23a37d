package xds

import (
	"slices"
	"strings"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// The common change, one proxy or one EndpointSlice edited, gives a DAG
// whose lists have the same names at the same places as the DAG before,
// and a few new pointers among them (dag.Builder shares the rest). For
// such a DAG the Translator makes only the changed parts and patches the
// previous snapshot's types in place of the changed resources (found by
// binary search), updating the types' versions by digest: the cost is
// one pointer comparison per DAG entry, then O(changed) encodings and
// O(log n) per changed resource, instead of memo lookups, name
// comparisons, sorting and hashing of every resource. Any other change
// (a host or cluster added or removed, a secure virtual host or an
// ExtensionService changed, wildcard scopes) takes the full path of
// Snapshot. Either way the snapshot is exactly NewSnapshot(Translate(d)).

// maxIncremental bounds the changed entries a patch takes: beyond it the
// full path, which visits everything once, costs about the same.
const maxIncremental = 64

// incremental returns d's snapshot patched from the previous one, and
// false when d is not an in-place change of the previous DAG.
func (t *Translator) incremental(d *dag.DAG) (*Snapshot, bool, error) {
	prev := &t.prev
	if prev.snap == nil || !prev.sorted || !prev.oneEach {
		return nil, false, nil
	}
	if !samePointers(prev.in.HTTPS, d.HTTPS) || !samePointers(prev.in.ExtensionClusters, d.ExtensionClusters) {
		return nil, false, nil
	}
	vhosts, ok := changedInPlace(prev.in.HTTP, d.HTTP, func(vh *dag.VirtualHost) string { return vh.Name })
	if !ok {
		return nil, false, nil
	}
	clusters, ok := changedInPlace(prev.in.Clusters, d.Clusters, func(c *dag.Cluster) string { return c.Name })
	if !ok {
		return nil, false, nil
	}
	secrets, ok := changedInPlace(prev.in.Secrets, d.Secrets, func(s *dag.Secret) string { return s.Name })
	if !ok || len(vhosts)+len(clusters)+len(secrets) > maxIncremental {
		return nil, false, nil
	}

	// Make the changed parts; the memos keep them (and the full path's
	// sweep would drop them if the patch fails below).
	p := patch{byType: map[string][]Resource{}}
	for _, i := range vhosts {
		old, vh := prev.in.HTTP[i], d.HTTP[i]
		was, ok := t.vhosts.peek(old)
		if !ok {
			return nil, false, nil
		}
		part, err := t.vhostFor(vh, scopeKey(vh.Name, prev.wild))
		if err != nil {
			return nil, false, err
		}
		p.add(resourcev3.RouteType, part.route)
		p.swap(was.refs, part.refs)
		p.swap(was.scopeRefs, part.scopeRefs)
		p.forget = append(p.forget, func() { t.vhosts.forget(old) })
	}
	for _, i := range clusters {
		old, c := prev.in.Clusters[i], d.Clusters[i]
		was, ok := t.clusters.peek(old)
		if !ok {
			return nil, false, nil
		}
		part, err := t.clusters.get(c, func() (clusterParts, error) { return clusterResources(c, t.cfg.ConnectTimeout) })
		if err != nil {
			return nil, false, err
		}
		if (was.endpoints.Name == "") != (part.endpoints.Name == "") {
			return nil, false, nil // endpoints come or go: names change
		}
		p.add(resourcev3.ClusterType, part.cluster)
		if part.endpoints.Name != "" {
			p.add(resourcev3.EndpointType, part.endpoints)
		}
		p.swap(was.refs, part.refs)
		p.forget = append(p.forget, func() { t.clusters.forget(old) })
	}
	for _, i := range secrets {
		old, s := prev.in.Secrets[i], d.Secrets[i]
		r, err := t.secrets.get(s, func() (Resource, error) { return encode(envoySecret(s)) })
		if err != nil {
			return nil, false, err
		}
		p.add(resourcev3.SecretType, r)
		p.forget = append(p.forget, func() { t.secrets.forget(old) })
	}

	next := *prev
	next.in = dag.DAG{HTTP: d.HTTP, HTTPS: d.HTTPS, Clusters: d.Clusters, Secrets: d.Secrets, ExtensionClusters: d.ExtensionClusters}
	next.digests = make(map[string]digest, len(prev.digests))
	snap := &Snapshot{Types: make([]TypeSnapshot, len(prev.snap.Types))}
	for i, ts := range prev.snap.Types {
		dg := prev.digests[ts.TypeURL]
		if repl := p.byType[ts.TypeURL]; len(repl) > 0 {
			if ts, ok = patchType(ts, &dg, repl); !ok {
				return nil, false, nil // a name the type lacks: not in place after all
			}
		}
		snap.Types[i], next.digests[ts.TypeURL] = ts, dg
	}
	snap.refs = p.refs(prev.snap.refs)
	next.snap, next.refs = snap, snap.refs
	for _, f := range p.forget {
		f()
	}
	t.prev = next
	return snap, true, nil
}

// patch is what an incremental snapshot replaces.
type patch struct {
	// byType are the new resources of each type, replacing those of the
	// same names.
	byType map[string][]Resource
	// drop and keep are the references of the parts replaced and of
	// those replacing them.
	drop, keep []*refs
	// forget drops the replaced parts from the memos, once the patch is
	// made.
	forget []func()
}

func (p *patch) add(typeURL string, r Resource) { p.byType[typeURL] = append(p.byType[typeURL], r) }

func (p *patch) swap(old, new *refs) {
	if old != nil {
		p.drop = append(p.drop, old)
	}
	if new != nil && !new.empty() {
		p.keep = append(p.keep, new)
	}
}

// refs returns prev without the references dropped, plus those kept: a
// snapshot's references are checked in any order. A kept one takes a
// dropped one's place, so the copy is one move and no rebuilding.
func (p *patch) refs(prev []*refs) []*refs {
	if len(p.drop) == 0 && len(p.keep) == 0 {
		return prev
	}
	out := slices.Clone(prev)
	keep := p.keep
	for _, d := range p.drop {
		i := slices.Index(out, d)
		switch {
		case i < 0:
			// Never listed (a part without references).
		case len(keep) > 0:
			out[i], keep = keep[0], keep[1:]
		default:
			out[i] = out[len(out)-1]
			out = out[:len(out)-1]
		}
	}
	return append(out, keep...)
}

// patchType returns ts with each resource of repl in place of the one of
// the same name, and dg updated; ts itself when nothing differs, so an
// unchanged type keeps its very resources; false when ts lacks a name.
func patchType(ts TypeSnapshot, dg *digest, repl []Resource) (TypeSnapshot, bool) {
	var out []Resource
	for _, r := range repl {
		i, found := slices.BinarySearchFunc(ts.Resources, r.Name, func(x Resource, name string) int { return strings.Compare(x.Name, name) })
		if !found {
			return ts, false
		}
		old := ts.Resources[i]
		if old.Version == r.Version {
			continue
		}
		if out == nil {
			out = slices.Clone(ts.Resources)
		}
		dg.sub(old)
		dg.add(r)
		out[i] = r
	}
	if out == nil {
		return ts, true
	}
	return TypeSnapshot{TypeURL: ts.TypeURL, Version: dg.version(len(out)), Resources: out}, true
}

// changedInPlace returns the indexes at which next holds another pointer
// than prev, and false unless next has prev's length and, at each of
// those indexes, an entry of the same name: then next is as sorted as
// prev.
func changedInPlace[T any](prev, next []*T, name func(*T) string) ([]int, bool) {
	if len(prev) != len(next) {
		return nil, false
	}
	var out []int
	for i, v := range next {
		if v == prev[i] {
			continue
		}
		if v == nil || prev[i] == nil || name(v) != name(prev[i]) || len(out) == maxIncremental {
			return nil, false
		}
		out = append(out, i)
	}
	return out, true
}

func samePointers[T any](a, b []*T) bool {
	return slices.Equal(a, b)
}

// strictlySorted reports whether s is sorted by name without duplicates
// or nil entries.
func strictlySorted[T any](s []*T, name func(*T) string) bool {
	for i, v := range s {
		if v == nil || i > 0 && name(s[i-1]) >= name(v) {
			return false
		}
	}
	return true
}
