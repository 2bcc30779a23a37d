package dag

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// fqdnPattern is the CRD's pattern for virtualhost.fqdn.
var fqdnPattern = regexp.MustCompile(`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// The Builder keeps, across builds, indexes of its inputs that it brings up
// to date at the start of each Build by comparing pointers: a pass over
// each map, but no allocation or validation for what did not change.

// proxyInfo is what one HTTPProxy says by itself, with no other object
// read: whether it defines anything, and whether it may own its fqdn. It
// is worked out again only when the proxy's pointer changes, so the
// fqdn's regular expression runs once per version of a proxy.
type proxyInfo struct {
	raw *contourv1.HTTPProxy // as in Objects; nil for a nil value
	p   *contourv1.HTTPProxy // never nil: an empty proxy for a nil value

	nothing bool       // NothingDefined
	rootErr *Condition // root namespace or fqdn error
	// fqdn is the normalized fqdn of a root that may own it (the
	// namespace allows roots, the fqdn is valid); else empty.
	fqdn string
}

func (bl *Builder) newProxyInfo(key types.NamespacedName, raw *contourv1.HTTPProxy) proxyInfo {
	p := raw
	if p == nil {
		p = &contourv1.HTTPProxy{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	}
	info := proxyInfo{raw: raw, p: p}
	s := p.Spec
	info.nothing = len(s.Routes) == 0 && len(s.Includes) == 0 && s.TCPProxy == nil
	vh := s.VirtualHost
	if vh == nil {
		return info
	}
	bad := func(condType, reason, format string, args ...any) proxyInfo {
		info.rootErr = &Condition{Type: condType, Reason: reason, Message: fmt.Sprintf(format, args...)}
		return info
	}
	if len(bl.rootNamespaces) > 0 && !bl.rootNamespaces[key.Namespace] {
		return bad(contourv1.ConditionTypeRootNamespaceError, contourv1.ReasonRootProxyNotAllowedInNamespace,
			"root HTTPProxy cannot be defined in namespace %q; root namespaces are %s",
			key.Namespace, strings.Join(bl.cfg.RootNamespaces, ", "))
	}
	fqdn := strings.ToLower(strings.TrimSpace(vh.Fqdn))
	if fqdn == "" {
		return bad(contourv1.ConditionTypeVirtualHostError, contourv1.ReasonFQDNNotSpecified,
			"virtualhost.fqdn must be specified")
	}
	if len(fqdn) > 253 || !fqdnPattern.MatchString(fqdn) {
		return bad(contourv1.ConditionTypeVirtualHostError, "FQDNNotValid",
			"virtualhost.fqdn %q is not a valid host name (a \"*.\" prefix is the only wildcard allowed)", vh.Fqdn)
	}
	info.fqdn = fqdn
	return info
}

// syncProxies brings the proxy infos and fqdn groups up to date.
func (bl *Builder) syncProxies(ch *changes) {
	if len(bl.proxies) == 0 && len(bl.roots) == 0 {
		// Nothing indexed yet: make room for everything at once.
		n := len(bl.objs.HTTPProxies)
		bl.proxies = make(map[types.NamespacedName]proxyInfo, n)
		bl.touchers = make(map[types.NamespacedName]proxySet, n)
		bl.dependents = make(map[depKey]dependents, 3*n)
	}
	bl.proxySnap.sync(bl.objs.HTTPProxies, func(key types.NamespacedName, _, p *contourv1.HTTPProxy, present bool) {
		old := bl.proxies[key]
		var info proxyInfo
		if present {
			info = bl.newProxyInfo(key, p)
			bl.proxies[key] = info
		} else {
			delete(bl.proxies, key)
		}
		bl.proxyChanged(key, old, info, ch)
	})
}

// proxyChanged notes that proxy key went from old to info (zero when
// absent).
func (bl *Builder) proxyChanged(key types.NamespacedName, old, info proxyInfo, ch *changes) {
	ch.input(depKey{depProxy, key})
	ch.status(key)
	from, to := old.fqdn, info.fqdn
	if to != "" {
		ch.roots = append(ch.roots, key)
	}
	if from == to {
		// The oldest claimant owns an fqdn: a new creation time (the
		// same name deleted and created again) may change the owner.
		if to != "" && !old.p.CreationTimestamp.Equal(&info.p.CreationTimestamp) {
			ch.group(to)
		}
		return
	}
	if from != "" {
		if g, empty := bl.groups[from].without(key); empty {
			delete(bl.groups, from)
		} else {
			bl.groups[from] = g
		}
		ch.group(from)
	}
	if to != "" {
		if g, ok := bl.groups[to]; ok {
			bl.groups[to] = g.with(key)
		} else {
			bl.groups[to] = proxySet{one: key}
		}
		ch.group(to)
	}
}

// snapshot is the objects of one kind the previous Build saw, by key and
// by pointer: the pass over the objects of a Build looks each one up by
// pointer, which is cheaper than by name, the more so when the names are
// spread over a large heap.
type snapshot[V comparable] struct {
	byKey map[types.NamespacedName]V
	byPtr map[V]types.NamespacedName // non-nil values; one key each
}

func newSnapshot[V comparable]() snapshot[V] {
	return snapshot[V]{byKey: map[types.NamespacedName]V{}, byPtr: map[V]types.NamespacedName{}}
}

// sync brings the snapshot up to date with objs, calling changed for each
// key whose value differs, with the old and the new value and whether the
// key is still present. A nil value is a value.
func (s *snapshot[V]) sync(objs map[types.NamespacedName]V, changed func(key types.NamespacedName, old, cur V, present bool)) {
	var zero V
	if len(s.byKey) == 0 && len(objs) > 0 {
		// A first Build: make room for everything at once.
		s.byKey = make(map[types.NamespacedName]V, len(objs))
		s.byPtr = make(map[V]types.NamespacedName, len(objs))
	}
	before, kept := len(s.byKey), 0
	for key, v := range objs {
		if v != zero {
			if k, ok := s.byPtr[v]; ok && k == key {
				kept++
				continue
			}
		}
		old, had := s.byKey[key]
		if had {
			kept++
			if old == v {
				if v != zero {
					// The same object under a second key.
					s.byPtr[v] = key
				}
				continue
			}
			if old != zero && s.byPtr[old] == key {
				delete(s.byPtr, old)
			}
		}
		s.byKey[key] = v
		if v != zero {
			s.byPtr[v] = key
		}
		changed(key, old, v, true)
	}
	if kept == before {
		return
	}
	for key, old := range s.byKey {
		if _, ok := objs[key]; ok {
			continue
		}
		delete(s.byKey, key)
		if old != zero && s.byPtr[old] == key {
			delete(s.byPtr, old)
		}
		changed(key, old, zero, false)
	}
}

// syncServices and syncSecrets note the Services and Secrets that changed.
func (bl *Builder) syncServices(ch *changes) {
	bl.services.sync(bl.objs.Services, func(key types.NamespacedName, _, _ *corev1.Service, _ bool) {
		ch.input(depKey{depService, key})
	})
}

func (bl *Builder) syncSecrets(ch *changes) {
	bl.secretObjs.sync(bl.objs.Secrets, func(key types.NamespacedName, _, _ *corev1.Secret, _ bool) {
		ch.input(depKey{depSecret, key})
	})
}

// buildable returns the fqdn root key owns, or "" when it is not built:
// it is not a valid root, another root owns its fqdn, or it defines
// nothing.
func (bl *Builder) buildable(key types.NamespacedName) string {
	info := bl.proxies[key]
	if info.fqdn == "" || info.nothing || bl.owner(info.fqdn) != key {
		return ""
	}
	return info.fqdn
}

// owner is the root that serves fqdn among those claiming it: the one
// created first, by name when created in the same second. A proxy that
// claims an fqdn already served is the one in error, so a newcomer can
// never take a working site away from its owner (every replica sees the
// same creation times, so all agree). It returns the zero key when no
// root claims fqdn.
func (bl *Builder) owner(fqdn string) types.NamespacedName {
	g, ok := bl.groups[fqdn]
	if !ok {
		return types.NamespacedName{}
	}
	if g.len() == 1 {
		return g.one
	}
	var best types.NamespacedName
	var bestTime *metav1.Time
	g.each(func(k types.NamespacedName) {
		// Keys come in order, so the first of a second wins ties.
		if t := &bl.proxies[k].p.CreationTimestamp; bestTime == nil || t.Before(bestTime) {
			best, bestTime = k, t
		}
	})
	return best
}

// syncSlices brings the index of EndpointSlices by Service up to date,
// noting the Services whose slices changed. Each Service's list is
// replaced, never changed in place, because memo entries and cached
// clusters hold the list they read.
func (bl *Builder) syncSlices(ch *changes) {
	// edits are, per Service, the slices that left it (nil) or changed.
	var edits map[types.NamespacedName][]sliceRef
	edit := func(svc types.NamespacedName, ref sliceRef) {
		if edits == nil {
			edits = map[types.NamespacedName][]sliceRef{}
		}
		edits[svc] = append(edits[svc], ref)
	}
	bl.slices.sync(bl.objs.EndpointSlices, func(key types.NamespacedName, old, s *discoveryv1.EndpointSlice, _ bool) {
		if svc, ok := ServiceOfSlice(old); ok {
			edit(svc, sliceRef{key: key})
		}
		if svc, ok := ServiceOfSlice(s); ok {
			edit(svc, sliceRef{key: key, s: s})
		}
	})
	for svc, refs := range edits {
		ch.input(depKey{depSlices, svc})
		// A slice replaced within the Service is in refs twice: removed,
		// then added.
		l := slices.Clone(bl.slicesBySvc[svc])
		for _, ref := range refs {
			i, found := slices.BinarySearchFunc(l, ref.key, func(r sliceRef, k types.NamespacedName) int { return compareName(r.key, k) })
			switch {
			case ref.s == nil && found:
				l = slices.Delete(l, i, i+1)
			case ref.s != nil && found:
				l[i] = ref
			case ref.s != nil:
				l = slices.Insert(l, i, ref)
			}
		}
		if len(l) == 0 {
			delete(bl.slicesBySvc, svc)
		} else {
			bl.slicesBySvc[svc] = l
		}
	}
}

// sliceRef is one EndpointSlice and its key in Objects.
type sliceRef struct {
	key types.NamespacedName
	s   *discoveryv1.EndpointSlice
}

func sameSlices(a, b []sliceRef) bool { return slices.Equal(a, b) }

// ServiceOfSlice is the Service an EndpointSlice belongs to: its label's,
// in the slice's namespace. A nil slice or one without the label belongs
// to none. The controller asks it too, to know whether a slice matters.
func ServiceOfSlice(s *discoveryv1.EndpointSlice) (types.NamespacedName, bool) {
	if s == nil {
		return types.NamespacedName{}, false
	}
	svc := s.Labels[discoveryv1.LabelServiceName]
	if svc == "" {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: s.Namespace, Name: svc}, true
}

// syncDelegations brings the index of delegated secrets up to date. There
// are few TLSCertificateDelegations and they rarely change: any change
// rebuilds the index, and the Secrets whose namespaces differ are noted.
func (bl *Builder) syncDelegations(ch *changes) {
	changed := false
	bl.delegationObjs.sync(bl.objs.Delegations, func(types.NamespacedName, *contourv1.TLSCertificateDelegation, *contourv1.TLSCertificateDelegation, bool) {
		changed = true
	})
	if !changed {
		return
	}
	idx := map[types.NamespacedName][]string{}
	for key, d := range bl.delegationObjs.byKey {
		if d == nil {
			continue
		}
		for _, cd := range d.Spec.Delegations {
			sk := types.NamespacedName{Namespace: key.Namespace, Name: cd.SecretName}
			idx[sk] = append(idx[sk], cd.TargetNamespaces...)
		}
	}
	for sk, l := range idx {
		slices.Sort(l)
		idx[sk] = slices.Compact(l)
		if !slices.Equal(idx[sk], bl.delegations[sk]) {
			ch.input(depKey{depDelegation, sk})
		}
	}
	for sk := range bl.delegations {
		if _, ok := idx[sk]; !ok {
			ch.input(depKey{depDelegation, sk})
		}
	}
	bl.delegations = idx
}

// isDelegated reports whether secret is shared with namespace ns.
func (bl *Builder) isDelegated(secret types.NamespacedName, ns string) bool {
	for _, t := range bl.delegations[secret] {
		if t == ns || t == "*" {
			return true
		}
	}
	return false
}
