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
	objs := bl.objs.HTTPProxies
	before, kept := len(bl.proxies), 0
	for key, p := range objs {
		old, ok := bl.proxies[key]
		if ok {
			kept++
			if old.raw == p {
				continue
			}
		}
		info := bl.newProxyInfo(key, p)
		bl.proxies[key] = info
		bl.proxyChanged(key, old, info, ch)
	}
	if kept == before {
		return
	}
	for key, old := range bl.proxies {
		if _, ok := objs[key]; !ok {
			delete(bl.proxies, key)
			bl.proxyChanged(key, old, proxyInfo{}, ch)
		}
	}
}

// proxyChanged notes that proxy key went from old to info (zero when
// absent).
func (bl *Builder) proxyChanged(key types.NamespacedName, old, info proxyInfo, ch *changes) {
	ch.changed = append(ch.changed, depKey{depProxy, key})
	mark(&ch.status, key)
	from, to := old.fqdn, info.fqdn
	if to != "" {
		ch.roots = append(ch.roots, key)
	}
	if from == to {
		return
	}
	if from != "" {
		g := bl.groups[from]
		if i, ok := slices.BinarySearchFunc(g, key, compareName); ok {
			g = slices.Delete(g, i, i+1)
		}
		if len(g) == 0 {
			delete(bl.groups, from)
		} else {
			bl.groups[from] = g
		}
		mark(&ch.groups, from)
	}
	if to != "" {
		g := bl.groups[to]
		i, _ := slices.BinarySearchFunc(g, key, compareName)
		bl.groups[to] = slices.Insert(g, i, key)
		mark(&ch.groups, to)
	}
}

// syncObjects brings snap up to date with objs, calling changed for each
// key whose pointer differs, with the old and the new value (nil when
// absent, as for a nil value: the DAG reads both the same).
func syncObjects[V comparable](snap, objs map[types.NamespacedName]V, changed func(key types.NamespacedName, old, cur V)) {
	var zero V
	before, kept := len(snap), 0
	for key, v := range objs {
		old, ok := snap[key]
		if ok {
			kept++
			if old == v {
				continue
			}
		}
		snap[key] = v
		changed(key, old, v)
	}
	if kept == before {
		return
	}
	for key, old := range snap {
		if _, ok := objs[key]; !ok {
			delete(snap, key)
			changed(key, old, zero)
		}
	}
}

// syncServices and syncSecrets note the Services and Secrets that changed.
func (bl *Builder) syncServices(ch *changes) {
	syncObjects(bl.services, bl.objs.Services, func(key types.NamespacedName, _, _ *corev1.Service) {
		ch.changed = append(ch.changed, depKey{depService, key})
	})
}

func (bl *Builder) syncSecrets(ch *changes) {
	syncObjects(bl.secretObjs, bl.objs.Secrets, func(key types.NamespacedName, _, _ *corev1.Secret) {
		ch.changed = append(ch.changed, depKey{depSecret, key})
	})
}

// buildable returns the fqdn root key owns, or "" when it is not built:
// it is not a valid root, shares its fqdn, or defines nothing.
func (bl *Builder) buildable(key types.NamespacedName) string {
	info := bl.proxies[key]
	if info.fqdn == "" || info.nothing || len(bl.groups[info.fqdn]) != 1 {
		return ""
	}
	return info.fqdn
}

// syncSlices brings the index of EndpointSlices by Service up to date,
// noting the Services whose slices changed. Each Service's list is
// replaced, never changed in place, because memo entries and cached
// clusters hold the list they read.
func (bl *Builder) syncSlices(ch *changes) {
	var dirty map[types.NamespacedName]struct{}
	syncObjects(bl.slices, bl.objs.EndpointSlices, func(key types.NamespacedName, old, s *discoveryv1.EndpointSlice) {
		if svc, ok := sliceService(key, old); ok {
			delete(bl.sliceMembers[svc], key)
			mark(&dirty, svc)
		}
		if svc, ok := sliceService(key, s); ok {
			m := bl.sliceMembers[svc]
			if m == nil {
				m = map[types.NamespacedName]*discoveryv1.EndpointSlice{}
				bl.sliceMembers[svc] = m
			}
			m[key] = s
			mark(&dirty, svc)
		}
	})
	for svc := range dirty {
		ch.changed = append(ch.changed, depKey{depSlices, svc})
		m := bl.sliceMembers[svc]
		if len(m) == 0 {
			delete(bl.sliceMembers, svc)
			delete(bl.slicesBySvc, svc)
			continue
		}
		l := make([]sliceRef, 0, len(m))
		for k, s := range m {
			l = append(l, sliceRef{key: k, s: s})
		}
		slices.SortFunc(l, func(a, b sliceRef) int { return compareName(a.key, b.key) })
		bl.slicesBySvc[svc] = l
	}
}

// sliceService is the Service an EndpointSlice belongs to: its label's,
// in the slice's namespace.
func sliceService(key types.NamespacedName, s *discoveryv1.EndpointSlice) (types.NamespacedName, bool) {
	if s == nil {
		return types.NamespacedName{}, false
	}
	svc := s.Labels[discoveryv1.LabelServiceName]
	if svc == "" {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: key.Namespace, Name: svc}, true
}

// syncDelegations brings the index of delegated secrets up to date. There
// are few TLSCertificateDelegations and they rarely change: any change
// rebuilds the index, and the Secrets whose namespaces differ are noted.
func (bl *Builder) syncDelegations(ch *changes) {
	changed := false
	syncObjects(bl.delegationObjs, bl.objs.Delegations, func(_ types.NamespacedName, _, _ *contourv1.TLSCertificateDelegation) {
		changed = true
	})
	if !changed {
		return
	}
	idx := map[types.NamespacedName][]string{}
	for key, d := range bl.delegationObjs {
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
			ch.changed = append(ch.changed, depKey{depDelegation, sk})
		}
	}
	for sk := range bl.delegations {
		if _, ok := idx[sk]; !ok {
			ch.changed = append(ch.changed, depKey{depDelegation, sk})
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

// mark adds k to the set *m, making the set on first use.
func mark[K comparable](m *map[K]struct{}, k K) {
	if *m == nil {
		*m = map[K]struct{}{}
	}
	(*m)[k] = struct{}{}
}
