package dag

import (
	corev1 "k8s.io/api/core/v1"
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

// rootBuild is the processing of one root virtual host. It reads the
// inputs only through the methods below, which record each read in rec,
// and records every error and reached mark in rec too, so that the root's
// memo entry is complete: what it read decides when the entry can be
// reused, what it recorded is what reusing it replays.
type rootBuild struct {
	bl  *Builder
	rec record

	// templates are the proxies validated for this root. They are not
	// shared with other roots: a root using another's template would not
	// have made the reads, nor recorded the errors, itself.
	templates map[types.NamespacedName]*proxyTemplate

	http  *VirtualHost
	https *SecureVirtualHost
}

// buildRoot processes root key, which owns fqdn, and returns its memo.
func (bl *Builder) buildRoot(key types.NamespacedName, fqdn string) *rootEntry {
	b := &rootBuild{bl: bl}
	b.buildVhost(key, fqdn)
	return b.rec.entry(key, fqdn, b.http, b.https)
}

// proxy returns the HTTPProxy key and whether it exists. A nil value in
// Objects exists, as an empty proxy.
func (b *rootBuild) proxy(key types.NamespacedName) (*contourv1.HTTPProxy, bool) {
	info, ok := b.bl.proxies[key]
	b.rec.proxies.add(proxyDep{key: key, p: info.raw, present: ok})
	if !ok {
		return nil, false
	}
	return info.p, true
}

// service returns the Service named key, or nil.
func (b *rootBuild) service(key types.NamespacedName) *corev1.Service {
	s := b.bl.objs.Services[key]
	b.rec.services.add(serviceDep{key: key, s: s})
	return s
}

// endpointSlices returns the EndpointSlices of Service svc, sorted by key.
func (b *rootBuild) endpointSlices(svc types.NamespacedName) []sliceRef {
	l := b.bl.slicesBySvc[svc]
	b.rec.slices.add(slicesDep{svc: svc, slices: l})
	return l
}

// secret returns the Secret named key, or nil.
func (b *rootBuild) secret(key types.NamespacedName) *corev1.Secret {
	s := b.bl.objs.Secrets[key]
	b.rec.secrets.add(secretDep{key: key, s: s})
	return s
}

// delegated reports whether a TLSCertificateDelegation in the secret's
// namespace shares it with namespace ns (or with every namespace, "*").
func (b *rootBuild) delegated(secret types.NamespacedName, ns string) bool {
	ok := b.bl.isDelegated(secret, ns)
	b.rec.delegations.add(delegationDep{q: delegationQuery{secret: secret, ns: ns}, ok: ok})
	return ok
}

func compareName(a, b types.NamespacedName) int {
	switch {
	case a.Namespace < b.Namespace:
		return -1
	case a.Namespace > b.Namespace:
		return 1
	case a.Name < b.Name:
		return -1
	case a.Name > b.Name:
		return 1
	}
	return 0
}
