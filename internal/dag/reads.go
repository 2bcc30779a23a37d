package dag

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// reads is how the processing of one root virtual host, or of one
// ExtensionService, reads the Builder's inputs: every read goes through
// its methods, which record the key read and what was seen. What was read
// decides when the memo entry made from the processing can be reused
// (see deps.unchanged); so a processing must never look at an input but
// through these methods.
type reads struct {
	bl *Builder

	proxies     depList[types.NamespacedName, proxyDep]
	services    depList[types.NamespacedName, serviceDep]
	slices      depList[types.NamespacedName, slicesDep]
	secrets     depList[types.NamespacedName, secretDep]
	delegations depList[delegationQuery, delegationDep]
	extensions  depList[types.NamespacedName, extensionDep]
}

// proxy returns the HTTPProxy key and whether it exists. A nil value in
// Objects exists, as an empty proxy.
func (r *reads) proxy(key types.NamespacedName) (*contourv1.HTTPProxy, bool) {
	info, ok := r.bl.proxies[key]
	r.proxies.add(proxyDep{key: key, p: info.raw, present: ok})
	if !ok {
		return nil, false
	}
	return info.p, true
}

// service returns the Service named key, or nil.
func (r *reads) service(key types.NamespacedName) *corev1.Service {
	s := r.bl.objs.Services[key]
	r.services.add(serviceDep{key: key, s: s})
	return s
}

// endpointSlices returns the EndpointSlices of Service svc, sorted by key.
func (r *reads) endpointSlices(svc types.NamespacedName) []sliceRef {
	l := r.bl.slicesBySvc[svc]
	r.slices.add(slicesDep{svc: svc, slices: l})
	return l
}

// secret returns the Secret named key, or nil.
func (r *reads) secret(key types.NamespacedName) *corev1.Secret {
	s := r.bl.objs.Secrets[key]
	r.secrets.add(secretDep{key: key, s: s})
	return s
}

// delegated reports whether a TLSCertificateDelegation in the secret's
// namespace shares it with namespace ns (or with every namespace, "*").
func (r *reads) delegated(secret types.NamespacedName, ns string) bool {
	ok := r.bl.isDelegated(secret, ns)
	r.delegations.add(delegationDep{q: delegationQuery{secret: secret, ns: ns}, ok: ok})
	return ok
}

// extensionCluster returns the cluster of ExtensionService key, nil when
// it does not exist or is invalid.
func (r *reads) extensionCluster(key types.NamespacedName) *ExtensionCluster {
	var c *ExtensionCluster
	if e := r.bl.extensions[key]; e != nil {
		c = e.cluster
	}
	r.extensions.add(extensionDep{key: key, c: c})
	return c
}

// deps returns what was read, for a memo entry.
func (r *reads) deps() deps {
	return deps{
		proxies:     r.proxies.deps,
		services:    r.services.deps,
		slices:      r.slices.deps,
		secrets:     r.secrets.deps,
		delegations: r.delegations.deps,
		extensions:  r.extensions.deps,
	}
}

// deps are the inputs a processing read, each recorded with what it saw.
// Objects are immutable and replaced on change, so an input is unchanged
// exactly when its key maps to the same pointer (or is still absent); the
// memo holds the old pointers, so an address cannot be reused by a
// different object while an entry refers to it.
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

// extensionDep is the cluster of one ExtensionService as read: nil when
// it did not exist or was invalid.
type extensionDep struct {
	key types.NamespacedName
	c   *ExtensionCluster
}

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

// unchanged reports whether every input read is as it was in o, whose
// indexes bl holds, comparing pointers. Build calls it for the few
// ExtensionServices only: it finds the stale root entries from the inputs
// that changed, and tests check that the two agree.
func (d *deps) unchanged(bl *Builder, o *Objects) bool {
	for _, x := range d.proxies {
		p, ok := o.HTTPProxies[x.key]
		if p != x.p || ok != x.present {
			return false
		}
	}
	for _, x := range d.services {
		if o.Services[x.key] != x.s {
			return false
		}
	}
	for _, x := range d.slices {
		if !sameSlices(bl.slicesBySvc[x.svc], x.slices) {
			return false
		}
	}
	for _, x := range d.secrets {
		if o.Secrets[x.key] != x.s {
			return false
		}
	}
	for _, x := range d.delegations {
		if bl.isDelegated(x.q.secret, x.q.ns) != x.ok {
			return false
		}
	}
	for _, x := range d.extensions {
		var c *ExtensionCluster
		if e := bl.extensions[x.key]; e != nil {
			c = e.cluster
		}
		if c != x.c {
			return false
		}
	}
	return true
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
