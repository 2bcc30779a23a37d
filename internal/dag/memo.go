package dag

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// rootEntry is the memo of one root virtual host: everything processing
// the root read (deps) and everything it produced (its virtual hosts and
// the status events and reached marks it caused). A Build reuses it as it
// is while the root still owns fqdn and every dependency is unchanged;
// but for the dropped mark, it is never modified after it is made.
type rootEntry struct {
	key  types.NamespacedName
	fqdn string
	deps deps

	// http and https are the root's virtual hosts on each listener; nil
	// when the root serves nothing there.
	http  *VirtualHost
	https *SecureVirtualHost

	// touches are the proxies the root's processing recorded something
	// on, sorted by key: the errors and warnings in the order found, and
	// whether it reached them.
	touches []touch

	// clusters are the names of the clusters http and https refer to,
	// each once; secrets are the Secrets https serves (its certificate and
	// the fallback certificate), each once. Build counts references by
	// name, so the DAG lists exactly the clusters and secrets served
	// virtual hosts use.
	clusters []string
	secrets  []types.NamespacedName

	// dropped is set when the entry stops being its root's.
	dropped bool
}

// touch is what one root recorded on one proxy.
type touch struct {
	key     types.NamespacedName
	reached bool
	acc     statusAcc
}

// touchOf returns what e recorded on key, or nil.
func (e *rootEntry) touchOf(key types.NamespacedName) *touch {
	i, ok := slices.BinarySearchFunc(e.touches, key, func(t touch, k types.NamespacedName) int { return compareName(t.key, k) })
	if !ok {
		return nil
	}
	return &e.touches[i]
}

// deps are the inputs a root's processing read, each recorded with what it
// saw. Objects are immutable and replaced on change, so an input is
// unchanged exactly when its key maps to the same pointer (or is still
// absent); the memo holds the old pointers, so an address cannot be reused
// by a different object while an entry refers to it.
//
// Every entry standing after a Build is valid for that Build's input, and
// each Build drops every entry that read an input that changed since the
// previous one: so the entries standing are exactly the valid ones,
// without comparing each one's inputs on every Build.
type deps struct {
	proxies     []proxyDep
	services    []serviceDep
	slices      []slicesDep
	secrets     []secretDep
	delegations []delegationDep
	extensions  []extensionDep
}

// extensionDep is the cluster of one ExtensionService as read: nil when
// it did not exist or was invalid.
type extensionDep struct {
	key types.NamespacedName
	c   *ExtensionCluster
}

type proxyDep struct {
	key     types.NamespacedName
	p       *contourv1.HTTPProxy
	present bool // a nil value is present (an empty proxy), unlike a missing key
}

type serviceDep struct {
	key types.NamespacedName
	s   *corev1.Service // nil when absent: a nil value reads the same
}

// slicesDep is the EndpointSlices of one Service, as indexed by Build.
type slicesDep struct {
	svc    types.NamespacedName
	slices []sliceRef
}

type secretDep struct {
	key types.NamespacedName
	s   *corev1.Secret
}

// delegationDep is one question asked of the TLSCertificateDelegations:
// is secret delegated to namespace ns? Only the answer matters.
type delegationDep struct {
	q  delegationQuery
	ok bool
}

type delegationQuery struct {
	secret types.NamespacedName
	ns     string
}

// sliceRef is one EndpointSlice and its key in Objects.
type sliceRef struct {
	key types.NamespacedName
	s   *discoveryv1.EndpointSlice
}

func sameSlices(a, b []sliceRef) bool { return slices.Equal(a, b) }

// depKind is the kind of input a dependency is on.
type depKind uint8

const (
	depProxy      depKind = iota // an HTTPProxy, present or absent
	depService                   // a Service
	depSlices                    // the EndpointSlices of a Service
	depSecret                    // a Secret
	depDelegation                // the namespaces a Secret is delegated to
	depExtension                 // the cluster of an ExtensionService
)

// depKey names one input. Build finds the keys whose input changed, and
// through the entries' dependents, the entries that read them.
type depKey struct {
	kind depKind
	key  types.NamespacedName
}

// each calls f with the key of every dependency.
func (d *deps) each(f func(depKey)) {
	for _, x := range d.proxies {
		f(depKey{depProxy, x.key})
	}
	for _, x := range d.services {
		f(depKey{depService, x.key})
	}
	for _, x := range d.slices {
		f(depKey{depSlices, x.svc})
	}
	for _, x := range d.secrets {
		f(depKey{depSecret, x.key})
	}
	for _, x := range d.delegations {
		f(depKey{depDelegation, x.q.secret})
	}
	for _, x := range d.extensions {
		f(depKey{depExtension, x.key})
	}
}

// dependents are the entries that read one input. Most inputs are read by
// one root, so the first entry is kept inline. Dropped entries are removed
// lazily, once they are half the list, so dropping an entry does not
// search the lists of the popular inputs it read.
type dependents struct {
	first *rootEntry
	more  []*rootEntry
	dead  int
}

func (d *dependents) add(e *rootEntry) {
	if d.first == nil {
		d.first = e
		return
	}
	d.more = append(d.more, e)
}

func (d *dependents) each(f func(*rootEntry)) {
	if d.first != nil {
		f(d.first)
	}
	for _, e := range d.more {
		f(e)
	}
}

// dropped notes that one of the entries was dropped, and reports whether
// any entry is left.
func (d *dependents) dropped() bool {
	d.dead++
	n := len(d.more)
	if d.first != nil {
		n++
	}
	if 2*d.dead < n {
		return true
	}
	var live dependents
	d.each(func(e *rootEntry) {
		if !e.dropped {
			live.add(e)
		}
	})
	*d = live
	return d.first != nil
}

// proxySet is a set of proxy keys, sorted. Most sets have one key, kept
// inline: most proxies are reached by one root, most fqdns claimed by one.
// A set in a map is never empty.
type proxySet struct {
	one  types.NamespacedName
	many []types.NamespacedName // every key, once there are two
}

func (s proxySet) with(k types.NamespacedName) proxySet {
	if s.many == nil {
		if s.one == k {
			return s
		}
		a, b := s.one, k
		if compareName(b, a) < 0 {
			a, b = b, a
		}
		return proxySet{many: []types.NamespacedName{a, b}}
	}
	i, ok := slices.BinarySearchFunc(s.many, k, compareName)
	if !ok {
		s.many = slices.Insert(s.many, i, k)
	}
	return s
}

// without returns the set without k, and whether it is empty.
func (s proxySet) without(k types.NamespacedName) (proxySet, bool) {
	if s.many == nil {
		return s, s.one == k
	}
	if i, ok := slices.BinarySearchFunc(s.many, k, compareName); ok {
		s.many = slices.Delete(s.many, i, i+1)
	}
	if len(s.many) == 1 {
		return proxySet{one: s.many[0]}, false
	}
	return s, len(s.many) == 0
}

func (s proxySet) len() int {
	if s.many == nil {
		return 1
	}
	return len(s.many)
}

func (s proxySet) each(f func(types.NamespacedName)) {
	if s.many == nil {
		f(s.one)
		return
	}
	for _, k := range s.many {
		f(k)
	}
}

// valid reports whether every input e read is as it was, comparing
// pointers. Build does not call it: it finds the stale entries from the
// inputs that changed, and tests check that the two agree.
func (e *rootEntry) valid(bl *Builder, o *Objects) bool {
	for _, d := range e.deps.proxies {
		p, ok := o.HTTPProxies[d.key]
		if p != d.p || ok != d.present {
			return false
		}
	}
	for _, d := range e.deps.services {
		if o.Services[d.key] != d.s {
			return false
		}
	}
	for _, d := range e.deps.slices {
		if !sameSlices(bl.slicesBySvc[d.svc], d.slices) {
			return false
		}
	}
	for _, d := range e.deps.secrets {
		if o.Secrets[d.key] != d.s {
			return false
		}
	}
	for _, d := range e.deps.delegations {
		if bl.isDelegated(d.q.secret, d.q.ns) != d.ok {
			return false
		}
	}
	for _, d := range e.deps.extensions {
		var c *ExtensionCluster
		if x := bl.extensions[d.key]; x != nil {
			c = x.cluster
		}
		if c != d.c {
			return false
		}
	}
	return true
}

// record collects, while one root is processed, what it reads and causes.
type record struct {
	proxies     depList[types.NamespacedName, proxyDep]
	services    depList[types.NamespacedName, serviceDep]
	slices      depList[types.NamespacedName, slicesDep]
	secrets     depList[types.NamespacedName, secretDep]
	delegations depList[delegationQuery, delegationDep]
	extensions  depList[types.NamespacedName, extensionDep]

	touches []*touch
	index   map[types.NamespacedName]*touch // once touches is long

}

// smallList is how long a list is searched linearly before it gets a map:
// most roots read a handful of objects, and a map each would cost more
// than the scan.
const smallList = 16

// depList is a list of dependencies of one kind, each key once, in the
// order first read. Inputs do not change during a Build, so a second read
// of a key sees what the first did.
type depList[K comparable, D keyed[K]] struct {
	deps  []D
	index map[K]struct{}
}

// keyed is a dependency, which knows the key of what it read.
type keyed[K comparable] interface{ depOn() K }

func (d proxyDep) depOn() types.NamespacedName     { return d.key }
func (d serviceDep) depOn() types.NamespacedName   { return d.key }
func (d slicesDep) depOn() types.NamespacedName    { return d.svc }
func (d secretDep) depOn() types.NamespacedName    { return d.key }
func (d delegationDep) depOn() delegationQuery     { return d.q }
func (d extensionDep) depOn() types.NamespacedName { return d.key }

func (l *depList[K, D]) add(d D) {
	k := d.depOn()
	if l.index != nil {
		if _, ok := l.index[k]; ok {
			return
		}
		l.index[k] = struct{}{}
	} else {
		for _, x := range l.deps {
			if x.depOn() == k {
				return
			}
		}
		if len(l.deps) >= smallList {
			l.index = make(map[K]struct{}, 2*len(l.deps))
			for _, x := range l.deps {
				l.index[x.depOn()] = struct{}{}
			}
			l.index[k] = struct{}{}
		}
	}
	if l.deps == nil {
		// Most roots read a few of each kind: grow once, not three times.
		l.deps = make([]D, 0, 4)
	}
	l.deps = append(l.deps, d)
}

// touch returns the record of key, adding it on first use.
func (r *record) touch(key types.NamespacedName) *touch {
	if r.index != nil {
		if t := r.index[key]; t != nil {
			return t
		}
	} else {
		for _, t := range r.touches {
			if t.key == key {
				return t
			}
		}
	}
	t := &touch{key: key}
	r.touches = append(r.touches, t)
	if r.index != nil {
		r.index[key] = t
	} else if len(r.touches) > smallList {
		r.index = make(map[types.NamespacedName]*touch, 2*len(r.touches))
		for _, t := range r.touches {
			r.index[t.key] = t
		}
	}
	return t
}

// entry turns the record into the memo entry of root key for fqdn, with
// the virtual hosts the root produced.
func (r *record) entry(key types.NamespacedName, fqdn string, vh *VirtualHost, svh *SecureVirtualHost) *rootEntry {
	e := &rootEntry{
		key:  key,
		fqdn: fqdn,
		deps: deps{
			proxies:     r.proxies.deps,
			services:    r.services.deps,
			slices:      r.slices.deps,
			secrets:     r.secrets.deps,
			delegations: r.delegations.deps,
			extensions:  r.extensions.deps,
		},
		http:    vh,
		https:   svh,
		touches: make([]touch, len(r.touches)),
	}
	for i, t := range r.touches {
		e.touches[i] = *t
		// The entry is final: replaying it needs the conditions, not the
		// set that kept them unique.
		e.touches[i].acc.seen = nil
	}
	slices.SortFunc(e.touches, func(a, b touch) int { return compareName(a.key, b.key) })

	names := make([]string, 0, 4)
	addWeighted := func(wcs []*WeightedCluster) {
		for _, wc := range wcs {
			names = append(names, wc.Cluster.Name)
		}
	}
	addRoutes := func(routes []*Route) {
		for _, rt := range routes {
			addWeighted(rt.Clusters)
			if rt.Mirror != nil {
				names = append(names, rt.Mirror.Name)
			}
		}
	}
	if vh != nil {
		addRoutes(vh.Routes)
	}
	if svh != nil {
		addRoutes(svh.Routes)
		names = jwtClusters(names, svh)
		if svh.TCPProxy != nil {
			addWeighted(svh.TCPProxy.Clusters)
		}
		for _, s := range []*Secret{svh.Secret, svh.FallbackCertificate} {
			if s == nil {
				continue
			}
			// A Secret's Name is its key, "namespace/name"; neither part
			// can hold a '/'.
			ns, name, _ := strings.Cut(s.Name, "/")
			if k := (types.NamespacedName{Namespace: ns, Name: name}); !slices.Contains(e.secrets, k) {
				e.secrets = append(e.secrets, k)
			}
		}
	}
	slices.Sort(names)
	e.clusters = slices.Compact(names)
	return e
}
