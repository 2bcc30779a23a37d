package controller

import (
	"bytes"
	"maps"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
	"github.com/proxyctl/proxyctl/internal/dag"
)

// objectCache is the controller's copy of the watched objects. Only the
// event loop goroutine touches it. Each insert and remove reports whether
// the change can alter the DAG, so that objects nobody references (a Secret
// of another application, the EndpointSlices of an unrouted Service) and
// our own status writes do not cause rebuilds.
type objectCache struct {
	objs           *dag.Objects
	ingressClasses []string

	// refs counts what the cached HTTPProxies reference, kept current as
	// proxies come and go.
	refs references
	// fallback is the fallback certificate's Secret, which no proxy names
	// but the DAG reads: it always matters.
	fallback types.NamespacedName
}

// secretMatters reports whether the Secret k can change the DAG.
func (c *objectCache) secretMatters(k types.NamespacedName) bool {
	return c.refs.secret(k) || (c.fallback.Name != "" && k == c.fallback)
}

func newObjectCache(ingressClasses []string) *objectCache {
	return &objectCache{
		objs:           dag.NewObjects(),
		ingressClasses: ingressClasses,
		refs:           newReferences(),
	}
}

func key(namespace, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: namespace, Name: name}
}

// insert adds or replaces obj and reports whether a rebuild is needed.
//
// An update that changes nothing the DAG reads keeps the object already
// cached: dag.Builder treats a new pointer as a change, so keeping the old
// one lets it reuse the work for that object (our own status writes alone
// would otherwise make every proxy look new).
func (c *objectCache) insert(obj any) bool {
	switch o := obj.(type) {
	case *contourv1.HTTPProxy:
		k := key(o.Namespace, o.Name)
		if !classMatches(o, c.ingressClasses) {
			return c.remove(o)
		}
		// A status write leaves generation and annotations alone; ignoring
		// it stops our own writes from triggering rebuilds forever.
		if old, ok := c.objs.HTTPProxies[k]; ok && old.Generation == o.Generation && maps.Equal(old.Annotations, o.Annotations) {
			return false
		}
		c.refs.replace(c.objs.HTTPProxies[k], o)
		c.objs.HTTPProxies[k] = o
		return true
	case *contourv1.TLSCertificateDelegation:
		k := key(o.Namespace, o.Name)
		if old, ok := c.objs.Delegations[k]; ok && reflect.DeepEqual(old.Spec, o.Spec) {
			return false
		}
		c.objs.Delegations[k] = o
		return true
	case *contourv1alpha1.ExtensionService:
		k := key(o.Namespace, o.Name)
		// As for HTTPProxies: our own status writes change neither.
		if old, ok := c.objs.ExtensionServices[k]; ok && old.Generation == o.Generation && maps.Equal(old.Annotations, o.Annotations) {
			return false
		}
		c.refs.replaceExtension(c.objs.ExtensionServices[k], o)
		c.objs.ExtensionServices[k] = o
		return true
	case *corev1.Service:
		k := key(o.Namespace, o.Name)
		if old, ok := c.objs.Services[k]; ok && reflect.DeepEqual(old.Spec, o.Spec) && maps.Equal(old.Annotations, o.Annotations) {
			return false
		}
		c.objs.Services[k] = o
		return c.refs.service(k)
	case *discoveryv1.EndpointSlice:
		k := key(o.Namespace, o.Name)
		if old, ok := c.objs.EndpointSlices[k]; ok && old.ResourceVersion == o.ResourceVersion {
			return false
		}
		c.objs.EndpointSlices[k] = o
		return c.refs.service(sliceService(o))
	case *corev1.Secret:
		k := key(o.Namespace, o.Name)
		if !usableSecret(o) {
			// It may have been usable before (its type or keys changed).
			return c.remove(o)
		}
		if old, ok := c.objs.Secrets[k]; ok && old.Type == o.Type && reflect.DeepEqual(old.Data, o.Data) {
			return false
		}
		c.objs.Secrets[k] = o
		return c.secretMatters(k)
	}
	return false
}

// remove deletes obj and reports whether a rebuild is needed.
func (c *objectCache) remove(obj any) bool {
	switch o := obj.(type) {
	case *contourv1.HTTPProxy:
		k := key(o.Namespace, o.Name)
		c.refs.replace(c.objs.HTTPProxies[k], nil)
		return deleteKey(c.objs.HTTPProxies, k)
	case *contourv1.TLSCertificateDelegation:
		return deleteKey(c.objs.Delegations, key(o.Namespace, o.Name))
	case *contourv1alpha1.ExtensionService:
		k := key(o.Namespace, o.Name)
		c.refs.replaceExtension(c.objs.ExtensionServices[k], nil)
		return deleteKey(c.objs.ExtensionServices, k)
	case *corev1.Service:
		k := key(o.Namespace, o.Name)
		return deleteKey(c.objs.Services, k) && c.refs.service(k)
	case *discoveryv1.EndpointSlice:
		return deleteKey(c.objs.EndpointSlices, key(o.Namespace, o.Name)) && c.refs.service(sliceService(o))
	case *corev1.Secret:
		k := key(o.Namespace, o.Name)
		return deleteKey(c.objs.Secrets, k) && c.secretMatters(k)
	}
	return false
}

func deleteKey[V any](m map[types.NamespacedName]V, k types.NamespacedName) bool {
	_, ok := m[k]
	delete(m, k)
	return ok
}

// sliceService is the Service an EndpointSlice belongs to, as the DAG
// sees it; a slice of no Service names none.
func sliceService(s *discoveryv1.EndpointSlice) types.NamespacedName {
	svc, _ := dag.ServiceOfSlice(s)
	return svc
}

// usableSecret keeps only Secrets a virtual host could serve or validate
// with: TLS key pairs, CA bundles (ca.crt) and certificate revocation
// lists (crl.pem), the last two in Secrets of any type (Opaque, as
// Contour documents), and JWT key sets. Other Secrets (tokens, Helm
// releases) can be large and are never needed.
func usableSecret(s *corev1.Secret) bool {
	if s.Type == corev1.SecretTypeTLS {
		return true
	}
	_, hasCA := s.Data["ca.crt"]
	_, hasCRL := s.Data["crl.pem"]
	if hasCA || hasCRL {
		return true
	}
	return s.Type == corev1.SecretTypeOpaque && holdsJWKS(s.Data)
}

// holdsJWKS reports whether a value looks like a JSON Web Key Set (a JSON
// object with a "keys" member), which a JWT provider's localJWKS may name
// under any key. The DAG checks it properly; this only keeps the data of
// Secrets that could be one.
func holdsJWKS(data map[string][]byte) bool {
	for _, v := range data {
		v = bytes.TrimSpace(v)
		if len(v) > 0 && v[0] == '{' && bytes.Contains(v, []byte(`"keys"`)) {
			return true
		}
	}
	return false
}
