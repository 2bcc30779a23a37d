package dag

import (
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// Build turns objs into the routing model and one status per HTTPProxy.
// It only reads objs, never panics, and returns equal results for equal
// inputs. A nil objs is treated as empty. It is NewBuilder(cfg).Build(objs):
// a long-lived Builder gives the same answer for less work.
func Build(objs *Objects, cfg Config) *DAG {
	return NewBuilder(cfg).Build(objs)
}

// Builder builds DAGs, reusing from its previous Build the work for every
// root whose inputs did not change.
//
// The contract that makes reuse safe: Build never modifies its input, and
// the caller never modifies an object once it is in Objects. A changed
// object is a new pointer under its key (informers deliver new objects);
// an update the DAG cannot see may keep the old pointer. So an input is
// unchanged exactly when its key maps to the same pointer as before, or is
// still absent. The maps of Objects themselves may be changed between
// builds, or be new maps.
//
// b.Build(objs) returns a DAG deeply equal to Build(objs, cfg) from
// scratch, whatever objects earlier builds saw. Every root virtual host
// (the proxy owning an fqdn) has one memo entry recording each input its
// processing read and everything it produced; an entry whose inputs are
// all unchanged is reused as it is, so the virtual hosts, routes, clusters
// and secrets of unchanged roots are the very pointers of the previous
// DAG, and so is the ProxyStatus of every proxy whose status is unchanged.
//
// A Builder is not safe for concurrent use. It keeps no goroutines and no
// state outside itself.
type Builder struct {
	cfg            Config
	rootNamespaces map[string]bool
	// The cluster-wide header policies, ready to merge; nil when empty.
	globalRequest, globalResponse *globalHeaders

	// objs is the input of the Build in progress, ch what it found
	// changed so far.
	objs *Objects
	ch   *changes

	// The inputs of the previous Build, and indexes of them, brought up
	// to date at the start of a Build.
	proxySnap      snapshot[*contourv1.HTTPProxy]
	proxies        map[types.NamespacedName]proxyInfo
	groups         map[string]proxySet // fqdn -> the valid roots claiming it
	services       snapshot[*corev1.Service]
	secretObjs     snapshot[*corev1.Secret]
	slices         snapshot[*discoveryv1.EndpointSlice]
	slicesBySvc    map[types.NamespacedName][]sliceRef // sorted by slice key; replaced, never changed
	delegationObjs snapshot[*contourv1.TLSCertificateDelegation]
	delegations    map[types.NamespacedName][]string // secret -> namespaces it is shared with
	// extensions are the ExtensionServices' memos.
	extensions map[types.NamespacedName]*extEntry

	// The memo: one entry per root built last time.
	roots  map[types.NamespacedName]*rootEntry
	byFQDN map[string]*rootEntry
	// touchers are, per proxy, the roots whose entry recorded something on
	// it: the statuses to work out again when an entry comes or goes.
	touchers map[types.NamespacedName]proxySet
	// dependents lists, per input, the entries that read it.
	dependents map[depKey]dependents

	// Shared results, counted by the entries whose output uses them, so
	// that every root refers to the same pointer for a name.
	clusters map[string]*clusterEntry
	secrets  map[types.NamespacedName]*secretEntry

	// Pure caches of computations with no other input than their key.
	hashes settingsHashes

	// endpoints caches, within one Build, the endpoints of a Service port.
	endpoints map[endpointsKey][]Endpoint

	prev *DAG
}

// NewBuilder returns a Builder for cfg with nothing built yet.
func NewBuilder(cfg Config) *Builder {
	cfg.RootNamespaces = slices.Clone(cfg.RootNamespaces)
	cfg.DefaultGlobalRateLimitPolicy = cfg.DefaultGlobalRateLimitPolicy.DeepCopy()
	cfg.GlobalExternalAuthorization = cfg.GlobalExternalAuthorization.DeepCopy()
	bl := &Builder{
		cfg:            cfg,
		rootNamespaces: map[string]bool{},
		proxySnap:      newSnapshot[*contourv1.HTTPProxy](),
		proxies:        map[types.NamespacedName]proxyInfo{},
		groups:         map[string]proxySet{},
		services:       newSnapshot[*corev1.Service](),
		secretObjs:     newSnapshot[*corev1.Secret](),
		slices:         newSnapshot[*discoveryv1.EndpointSlice](),
		slicesBySvc:    map[types.NamespacedName][]sliceRef{},
		delegationObjs: newSnapshot[*contourv1.TLSCertificateDelegation](),
		delegations:    map[types.NamespacedName][]string{},
		extensions:     map[types.NamespacedName]*extEntry{},
		roots:          map[types.NamespacedName]*rootEntry{},
		byFQDN:         map[string]*rootEntry{},
		touchers:       map[types.NamespacedName]proxySet{},
		dependents:     map[depKey]dependents{},
		clusters:       map[string]*clusterEntry{},
		secrets:        map[types.NamespacedName]*secretEntry{},
	}
	for _, ns := range cfg.RootNamespaces {
		bl.rootNamespaces[ns] = true
	}
	bl.globalRequest = newGlobalHeaders(cfg.RequestHeaders)
	bl.globalResponse = newGlobalHeaders(cfg.ResponseHeaders)
	return bl
}

// changes collects what one Build found different from the previous one.
type changes struct {
	// all is set on a first Build: everything is new, and nothing is
	// listed below but the roots to build.
	all bool
	// changed are the inputs that differ.
	changed []depKey
	// roots are the proxies that may have to be built: changed roots,
	// members of changed fqdn groups, roots whose entry was dropped.
	roots []types.NamespacedName
	// groups are the fqdns whose set of roots changed.
	groups map[string]struct{}
	// statusKeys are the proxies whose status must be worked out again.
	statusKeys map[types.NamespacedName]struct{}
	// The names whose virtual hosts, cluster or secret may differ.
	fqdns    map[string]struct{}
	clusters map[string]struct{}
	secrets  map[types.NamespacedName]struct{}
	// extensions are the ExtensionServices whose cluster or status may
	// differ.
	extensions map[types.NamespacedName]struct{}
}

// input notes a changed input. On a first Build no entry read one.
func (ch *changes) input(k depKey) {
	if !ch.all {
		ch.changed = append(ch.changed, k)
	}
}

// group notes an fqdn claimed by other roots than before. On a first
// Build every root is to be built anyway.
func (ch *changes) group(fqdn string) {
	if !ch.all {
		mark(&ch.groups, fqdn)
	}
}

func (ch *changes) status(k types.NamespacedName) {
	if !ch.all {
		mark(&ch.statusKeys, k)
	}
}

func (ch *changes) fqdn(name string) {
	if !ch.all {
		mark(&ch.fqdns, name)
	}
}

func (ch *changes) cluster(name string) {
	if !ch.all {
		mark(&ch.clusters, name)
	}
}

func (ch *changes) extension(k types.NamespacedName) {
	if !ch.all {
		mark(&ch.extensions, k)
	}
}

func (ch *changes) secret(k types.NamespacedName) {
	if !ch.all {
		mark(&ch.secrets, k)
	}
}

// Build turns objs into the routing model and one status per HTTPProxy,
// as Build(objs, cfg) does. A nil objs is treated as empty.
func (bl *Builder) Build(objs *Objects) *DAG {
	if objs == nil {
		objs = &Objects{}
	}
	ch := changes{all: bl.prev == nil}
	bl.objs, bl.ch = objs, &ch
	bl.syncProxies(&ch)
	bl.syncServices(&ch)
	bl.syncSlices(&ch)
	bl.syncSecrets(&ch)
	bl.syncDelegations(&ch)
	// After the Services, slices, Secrets and delegations they read, and
	// before the roots that read them.
	bl.syncExtensions(&ch)
	bl.buildRoots(&ch)
	d := bl.assemble(&ch)
	bl.objs, bl.ch, bl.endpoints = nil, nil, nil
	bl.hashes.rotate()
	return d
}

// buildRoots drops the entries of roots that read a changed input or are
// no longer built, then builds, in key order, every root without an entry.
func (bl *Builder) buildRoots(ch *changes) {
	for _, k := range ch.changed {
		d, ok := bl.dependents[k]
		if !ok {
			continue
		}
		// Every entry on the list read k: all go, and the list with them.
		delete(bl.dependents, k)
		d.each(func(e *rootEntry) {
			if !e.dropped {
				bl.drop(e, ch)
				ch.roots = append(ch.roots, e.key)
			}
		})
	}
	// A root is built when it alone claims its fqdn: a change of who
	// claims it decides for every claimant.
	for fqdn := range ch.groups {
		g, ok := bl.groups[fqdn]
		if !ok {
			continue
		}
		g.each(func(key types.NamespacedName) {
			ch.roots = append(ch.roots, key)
			ch.status(key)
			if e := bl.roots[key]; e != nil && bl.buildable(key) != e.fqdn {
				bl.drop(e, ch)
			}
		})
	}
	// Every stale entry is dropped before any root is built; the roots
	// are then built in key order, as a build from scratch builds them,
	// so that the first to make a shared cluster is the same root.
	slices.SortFunc(ch.roots, compareName)
	for _, key := range slices.Compact(ch.roots) {
		if _, ok := bl.roots[key]; ok {
			continue
		}
		if fqdn := bl.buildable(key); fqdn != "" {
			bl.add(bl.buildRoot(key, fqdn), ch)
		}
	}
}

// add makes e the entry of its root.
func (bl *Builder) add(e *rootEntry, ch *changes) {
	bl.roots[e.key] = e
	bl.byFQDN[e.fqdn] = e
	ch.fqdn(e.fqdn)
	for i := range e.touches {
		k := e.touches[i].key
		if s, ok := bl.touchers[k]; ok {
			bl.touchers[k] = s.with(e.key)
		} else {
			bl.touchers[k] = proxySet{one: e.key}
		}
		ch.status(k)
	}
	e.deps.each(func(k depKey) {
		d := bl.dependents[k]
		d.add(e)
		bl.dependents[k] = d
	})
	for _, name := range e.clusters {
		bl.clusters[name].refs++
		ch.cluster(name)
	}
	for _, k := range e.secrets {
		bl.secrets[k].refs++
		ch.secret(k)
	}
}

// drop removes the entry e and what it recorded.
func (bl *Builder) drop(e *rootEntry, ch *changes) {
	e.dropped = true
	e.deps.each(func(k depKey) {
		d, ok := bl.dependents[k]
		if !ok {
			return
		}
		if d.dropped() {
			bl.dependents[k] = d
		} else {
			delete(bl.dependents, k)
		}
	})
	delete(bl.roots, e.key)
	if bl.byFQDN[e.fqdn] == e {
		delete(bl.byFQDN, e.fqdn)
	}
	ch.fqdn(e.fqdn)
	for i := range e.touches {
		k := e.touches[i].key
		if s, empty := bl.touchers[k].without(e.key); empty {
			delete(bl.touchers, k)
		} else {
			bl.touchers[k] = s
		}
		ch.status(k)
	}
	for _, name := range e.clusters {
		bl.clusters[name].refs--
		ch.cluster(name)
	}
	for _, k := range e.secrets {
		bl.secrets[k].refs--
		ch.secret(k)
	}
}

// assemble makes the DAG: the previous one's lists with the changed
// names replaced, and its statuses with the changed proxies' replaced.
// Nothing of the previous DAG is modified.
func (bl *Builder) assemble(ch *changes) *DAG {
	prev := bl.prev
	if prev == nil {
		prev = &DAG{}
	}
	d := &DAG{}

	fqdns, clusterNames, secretKeys := sortedKeys(ch.fqdns, strings.Compare), sortedKeys(ch.clusters, strings.Compare), keys(ch.secrets)
	if ch.all {
		fqdns, clusterNames, secretKeys = sortedKeys(bl.byFQDN, strings.Compare), sortedKeys(bl.clusters, strings.Compare), keys(bl.secrets)
	}
	var http []update[*VirtualHost]
	var https []update[*SecureVirtualHost]
	for _, f := range fqdns {
		e := bl.byFQDN[f]
		var vh *VirtualHost
		var svh *SecureVirtualHost
		if e != nil {
			vh, svh = e.http, e.https
		}
		http = append(http, update[*VirtualHost]{f, vh})
		https = append(https, update[*SecureVirtualHost]{f, svh})
	}
	d.HTTP = applyUpdates(prev.HTTP, func(vh *VirtualHost) string { return vh.Name }, http)
	d.HTTPS = applyUpdates(prev.HTTPS, func(svh *SecureVirtualHost) string { return svh.Name }, https)

	var clusters []update[*Cluster]
	for _, name := range clusterNames {
		ce := bl.clusters[name]
		if ce == nil || ce.refs == 0 {
			delete(bl.clusters, name)
			clusters = append(clusters, update[*Cluster]{name, nil})
			continue
		}
		clusters = append(clusters, update[*Cluster]{name, ce.c})
	}
	d.Clusters = applyUpdates(prev.Clusters, func(c *Cluster) string { return c.Name }, clusters)

	var secrets []update[*Secret]
	for _, key := range secretKeys {
		se := bl.secrets[key]
		if se == nil || se.refs == 0 {
			delete(bl.secrets, key)
			secrets = append(secrets, update[*Secret]{key.String(), nil})
			continue
		}
		secrets = append(secrets, update[*Secret]{key.String(), se.sec})
	}
	slices.SortFunc(secrets, func(a, b update[*Secret]) int { return strings.Compare(a.name, b.name) })
	d.Secrets = applyUpdates(prev.Secrets, func(s *Secret) string { return s.Name }, secrets)

	d.Statuses = bl.statuses(prev.Statuses, ch)
	d.ExtensionClusters, d.ExtensionStatuses = prev.ExtensionClusters, prev.ExtensionStatuses
	if ch.all || len(ch.extensions) > 0 {
		d.ExtensionClusters, d.ExtensionStatuses = bl.extensionResults()
	}
	bl.prev = d
	return d
}

// statuses returns prev with the statuses of the changed proxies worked
// out again. A status equal to the previous one keeps its pointer,
// and prev itself is returned when no status differs.
func (bl *Builder) statuses(prev map[types.NamespacedName]*ProxyStatus, ch *changes) map[types.NamespacedName]*ProxyStatus {
	if ch.all {
		m := make(map[types.NamespacedName]*ProxyStatus, len(bl.proxies))
		for key, info := range bl.proxies {
			m[key] = bl.proxyStatus(key, info)
		}
		return m
	}
	var set []*ProxyStatus
	var del []types.NamespacedName
	for key := range ch.statusKeys {
		info, ok := bl.proxies[key]
		if !ok {
			if _, had := prev[key]; had {
				del = append(del, key)
			}
			continue
		}
		ps := bl.proxyStatus(key, info)
		if old := prev[key]; old == nil || !sameStatus(old, ps) {
			set = append(set, ps)
		}
	}
	if prev != nil && len(set) == 0 && len(del) == 0 {
		return prev
	}
	// The previous map is the previous DAG's: never written.
	m := maps.Clone(prev)
	if m == nil {
		m = make(map[types.NamespacedName]*ProxyStatus, len(set))
	}
	for _, key := range del {
		delete(m, key)
	}
	for _, ps := range set {
		m[ps.Proxy] = ps
	}
	return m
}

// update is the new value of the element called name in a list sorted by
// name; the zero value removes it.
type update[T comparable] struct {
	name string
	v    T
}

// applyUpdates returns old, sorted by name with each name once, with the
// updates (sorted by name, each name once) applied. It returns old itself
// when nothing changes, and nil rather than an empty list, as a build from
// scratch does.
func applyUpdates[T comparable](old []T, name func(T) string, ups []update[T]) []T {
	var zero T
	changed := false
	i := 0
	for _, u := range ups {
		i += sortSearch(old[i:], u.name, name)
		had := i < len(old) && name(old[i]) == u.name
		if (had && old[i] != u.v) || (!had && u.v != zero) {
			changed = true
			break
		}
	}
	if !changed {
		return old
	}
	out := make([]T, 0, len(old)+len(ups))
	i = 0
	for _, u := range ups {
		n := sortSearch(old[i:], u.name, name)
		out = append(out, old[i:i+n]...)
		i += n
		if i < len(old) && name(old[i]) == u.name {
			i++
		}
		if u.v != zero {
			out = append(out, u.v)
		}
	}
	out = append(out, old[i:]...)
	if len(out) == 0 {
		return nil
	}
	return out
}

// sortSearch returns how many elements of s, sorted by name, are named
// before n.
func sortSearch[T any](s []T, n string, name func(T) string) int {
	i, _ := slices.BinarySearchFunc(s, n, func(v T, n string) int { return strings.Compare(name(v), n) })
	return i
}

func keys[K comparable, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func sortedKeys[K comparable, V any](m map[K]V, cmp func(a, b K) int) []K {
	keys := keys(m)
	slices.SortFunc(keys, cmp)
	return keys
}

// extensionResults lists the ExtensionServices' clusters, sorted by name,
// and statuses. There are few ExtensionServices: the lists are made anew
// whenever one changes, from the memos' pointers.
func (bl *Builder) extensionResults() ([]*ExtensionCluster, map[types.NamespacedName]*ExtensionStatus) {
	var clusters []*ExtensionCluster
	var statuses map[types.NamespacedName]*ExtensionStatus
	for key, e := range bl.extensions {
		if statuses == nil {
			statuses = make(map[types.NamespacedName]*ExtensionStatus, len(bl.extensions))
		}
		statuses[key] = e.status
		if e.cluster != nil {
			clusters = append(clusters, e.cluster)
		}
	}
	slices.SortFunc(clusters, func(a, b *ExtensionCluster) int { return strings.Compare(a.Name, b.Name) })
	return clusters, statuses
}

// mark adds k to the set *m, making the set on first use.
func mark[K comparable](m *map[K]struct{}, k K) {
	if *m == nil {
		*m = map[K]struct{}{}
	}
	(*m)[k] = struct{}{}
}
