package xds

import (
	"slices"
	"strings"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// The common change, one proxy or one EndpointSlice added, edited or
// removed, gives a DAG whose lists are the lists before with a few
// entries new, changed or gone (dag.Builder shares the rest, pointer for
// pointer). For such a DAG the Translator makes only the new parts and
// edits the previous snapshot's types by name, updating their versions by
// digest: the cost is one pointer comparison per DAG entry and one copy of
// each changed type's resource list, plus O(changed) encodings, instead of
// memo lookups, name comparisons, sorting and hashing of every resource.
// What this cannot patch takes the full path of Snapshot: a secure
// virtual host or an ExtensionService changed, a wildcard host added or
// removed, hosts sharing a scope, names not in lower case, lists not
// sorted. Either way the snapshot is exactly NewSnapshot(Translate(d)).

// maxIncremental bounds the changed entries a patch takes: beyond it the
// full path, which visits everything once, costs about the same.
const maxIncremental = 64

// incremental returns d's snapshot patched from the previous one, and
// false when d is not a change it can patch.
func (t *Translator) incremental(d *dag.DAG) (*Snapshot, bool, error) {
	prev := &t.prev
	if prev.snap == nil || !prev.sorted || !prev.oneEach {
		return nil, false, nil
	}
	if !samePointers(prev.in.HTTPS, d.HTTPS) || !samePointers(prev.in.ExtensionClusters, d.ExtensionClusters) {
		return nil, false, nil
	}
	vhosts, ok := diffSorted(prev.in.HTTP, d.HTTP, func(vh *dag.VirtualHost) string { return vh.Name })
	if !ok {
		return nil, false, nil
	}
	clusters, ok := diffSorted(prev.in.Clusters, d.Clusters, func(c *dag.Cluster) string { return c.Name })
	if !ok {
		return nil, false, nil
	}
	secrets, ok := diffSorted(prev.in.Secrets, d.Secrets, func(s *dag.Secret) string { return s.Name })
	if !ok || len(vhosts)+len(clusters)+len(secrets) > maxIncremental {
		return nil, false, nil
	}

	// Make the new parts; the memos keep them (and the full path's sweep
	// drops them if the patch gives up below).
	p := patch{edits: map[string]map[string]*Resource{}}
	for _, c := range vhosts {
		var was vhostPart
		if c.old != nil {
			if c.new == nil && strings.HasPrefix(c.old.Name, "*.") {
				return nil, false, nil // the wildcard parents change
			}
			if was, ok = t.vhosts.peek(c.old); !ok {
				return nil, false, nil
			}
			p.remove(resourcev3.RouteType, was.route.Name)
			p.remove(resourcev3.ScopedRouteType, was.scope.Name)
			p.forget = append(p.forget, func() { t.vhosts.forget(c.old) })
		}
		var part vhostPart
		if c.new != nil {
			key := scopeKey(c.new.Name, prev.wild)
			// A new name must be its own scope key, not a wildcard's nor
			// under one, and keep the keys in name order (all lower case).
			if c.old == nil && (key != c.new.Name || strings.HasPrefix(key, "*.") || !prev.lower) {
				return nil, false, nil
			}
			var err error
			if part, err = t.vhostFor(c.new, key); err != nil {
				return nil, false, err
			}
			p.put(resourcev3.RouteType, part.route)
			p.put(resourcev3.ScopedRouteType, part.scope)
		}
		p.swap(was.refs, part.refs)
		p.swap(was.scopeRefs, part.scopeRefs)
	}
	for _, c := range clusters {
		var was, part clusterParts
		if c.old != nil {
			if was, ok = t.clusters.peek(c.old); !ok {
				return nil, false, nil
			}
			p.remove(resourcev3.ClusterType, was.cluster.Name)
			if was.endpoints.Name != "" {
				p.remove(resourcev3.EndpointType, was.endpoints.Name)
			}
			p.forget = append(p.forget, func() { t.clusters.forget(c.old) })
		}
		if c.new != nil {
			var err error
			part, err = t.clusters.get(c.new, func() (clusterParts, error) { return clusterResources(c.new, t.cfg) })
			if err != nil {
				return nil, false, err
			}
			p.put(resourcev3.ClusterType, part.cluster)
			if part.endpoints.Name != "" {
				p.put(resourcev3.EndpointType, part.endpoints)
			}
		}
		p.swap(was.refs, part.refs)
	}
	for _, c := range secrets {
		if c.old != nil {
			was, ok := t.secrets.peek(c.old)
			if !ok {
				return nil, false, nil
			}
			p.remove(resourcev3.SecretType, was.Name)
			p.forget = append(p.forget, func() { t.secrets.forget(c.old) })
		}
		if c.new != nil {
			r, err := t.secrets.get(c.new, func() (Resource, error) { return encode(envoySecret(c.new)) })
			if err != nil {
				return nil, false, err
			}
			p.put(resourcev3.SecretType, r)
		}
	}

	next := *prev
	next.in = dag.DAG{HTTP: d.HTTP, HTTPS: d.HTTPS, Clusters: d.Clusters, Secrets: d.Secrets, ExtensionClusters: d.ExtensionClusters}
	next.digests = make(map[string]digest, len(prev.digests))
	snap := &Snapshot{Types: make([]TypeSnapshot, len(prev.snap.Types))}
	for i, ts := range prev.snap.Types {
		dg := prev.digests[ts.TypeURL]
		if edits := p.edits[ts.TypeURL]; len(edits) > 0 {
			if ts, ok = editType(ts, &dg, edits); !ok {
				return nil, false, nil // removing a name the type lacks
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
	t.patched++
	return snap, true, nil
}

// patch is what an incremental snapshot changes.
type patch struct {
	// edits are, per type and name, the new resource, or nil for one
	// removed.
	edits map[string]map[string]*Resource
	// drop and keep are the references of the parts replaced and of
	// those replacing them.
	drop, keep []*refs
	// forget drops the replaced parts from the memos, once the patch is
	// made.
	forget []func()
}

func (p *patch) typ(typeURL string) map[string]*Resource {
	m := p.edits[typeURL]
	if m == nil {
		m = map[string]*Resource{}
		p.edits[typeURL] = m
	}
	return m
}

// remove removes the resource name, unless put puts one of that name
// (in any order).
func (p *patch) remove(typeURL, name string) {
	m := p.typ(typeURL)
	if _, ok := m[name]; !ok {
		m[name] = nil
	}
}

func (p *patch) put(typeURL string, r Resource) { p.typ(typeURL)[r.Name] = &r }

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

// editType returns ts with edits made (a resource put in place of the
// one of its name, or added in name order; a nil one removed) and dg
// updated; ts itself when nothing differs, so an unchanged type keeps its
// very resources; false when a name to remove is not in ts.
func editType(ts TypeSnapshot, dg *digest, edits map[string]*Resource) (TypeSnapshot, bool) {
	names := make([]string, 0, len(edits))
	for name := range edits {
		names = append(names, name)
	}
	slices.Sort(names)
	old := ts.Resources
	find := func(name string) (int, bool) {
		return slices.BinarySearchFunc(old, name, func(x Resource, name string) int { return strings.Compare(x.Name, name) })
	}
	// Most edits of an unchanged type put back the same resource (a
	// host's scope when its routes change): then nothing is copied.
	if !slices.ContainsFunc(names, func(name string) bool {
		i, found := find(name)
		return !found || edits[name] == nil || old[i].Version != edits[name].Version
	}) {
		return ts, true
	}
	out := make([]Resource, 0, len(old)+len(names))
	changed := false
	pos := 0
	for _, name := range names {
		i, found := slices.BinarySearchFunc(old[pos:], name, func(x Resource, name string) int { return strings.Compare(x.Name, name) })
		i += pos
		out = append(out, old[pos:i]...)
		r := edits[name]
		switch {
		case found && r == nil:
			dg.sub(old[i])
			changed = true
		case found && old[i].Version == r.Version:
			out = append(out, old[i])
		case found:
			dg.sub(old[i])
			dg.add(*r)
			out = append(out, *r)
			changed = true
		case r == nil:
			return ts, false
		default:
			dg.add(*r)
			out = append(out, *r)
			changed = true
		}
		pos = i
		if found {
			pos++
		}
	}
	if !changed {
		return ts, true
	}
	out = append(out, old[pos:]...)
	return TypeSnapshot{TypeURL: ts.TypeURL, Version: dg.version(len(out)), Resources: out}, true
}

// change is one entry of a DAG list that is new (old nil), gone (new nil)
// or replaced.
type change[T any] struct{ old, new *T }

// diffSorted returns what differs between prev, strictly sorted by name,
// and next, walking both in order and comparing pointers, and names only
// where the pointers differ; false if next is not strictly sorted or
// differs in more than maxIncremental entries.
func diffSorted[T any](prev, next []*T, name func(*T) string) ([]change[T], bool) {
	var out []change[T]
	i, j := 0, 0
	matched := false // whether next[j-1] was prev's own entry
	for i < len(prev) || j < len(next) {
		if i < len(prev) && j < len(next) && prev[i] == next[j] {
			// Two entries of prev in a row are in order; an entry after a
			// new one must be checked.
			if j > 0 && !matched && name(next[j-1]) >= name(next[j]) {
				return nil, false
			}
			i, j, matched = i+1, j+1, true
			continue
		}
		if len(out) == maxIncremental || j < len(next) && next[j] == nil {
			return nil, false
		}
		var cmp int
		switch {
		case j == len(next):
			cmp = 1 // prev[i] is gone
		case i == len(prev):
			cmp = -1 // next[j] is new
		default:
			cmp = strings.Compare(name(next[j]), name(prev[i]))
		}
		if cmp > 0 {
			out = append(out, change[T]{old: prev[i]})
			i++
			continue
		}
		if j > 0 && name(next[j-1]) >= name(next[j]) {
			return nil, false
		}
		if cmp == 0 {
			out = append(out, change[T]{old: prev[i], new: next[j]})
			i++
		} else {
			out = append(out, change[T]{new: next[j]})
		}
		j, matched = j+1, false
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
