package controller

import (
	"maps"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/dag"
)

// objectCache is the controller's copy of the watched objects. Only the
// event loop goroutine touches it. Each insert and remove reports whether
// the change can alter the DAG, so that objects nobody references (a Secret
// of another application, the EndpointSlices of an unrouted Service) and
// our own status writes do not cause rebuilds.
type objectCache struct {
	objs         *dag.Objects
	ingressClass string

	// References from the cached HTTPProxies, recomputed before each build.
	services map[types.NamespacedName]bool
	secrets  map[types.NamespacedName]bool
}

func newObjectCache(ingressClass string) *objectCache {
	return &objectCache{
		objs:         dag.NewObjects(),
		ingressClass: ingressClass,
		services:     map[types.NamespacedName]bool{},
		secrets:      map[types.NamespacedName]bool{},
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
		if !classMatches(o, c.ingressClass) {
			return c.remove(o)
		}
		// A status write leaves generation and annotations alone; ignoring
		// it stops our own writes from triggering rebuilds forever.
		if old, ok := c.objs.HTTPProxies[k]; ok && old.Generation == o.Generation && maps.Equal(old.Annotations, o.Annotations) {
			return false
		}
		c.objs.HTTPProxies[k] = o
		return true
	case *contourv1.TLSCertificateDelegation:
		k := key(o.Namespace, o.Name)
		if old, ok := c.objs.Delegations[k]; ok && reflect.DeepEqual(old.Spec, o.Spec) {
			return false
		}
		c.objs.Delegations[k] = o
		return true
	case *corev1.Service:
		k := key(o.Namespace, o.Name)
		if old, ok := c.objs.Services[k]; ok && reflect.DeepEqual(old.Spec, o.Spec) && maps.Equal(old.Annotations, o.Annotations) {
			return false
		}
		c.objs.Services[k] = o
		return c.services[k]
	case *discoveryv1.EndpointSlice:
		k := key(o.Namespace, o.Name)
		if old, ok := c.objs.EndpointSlices[k]; ok && old.ResourceVersion == o.ResourceVersion {
			return false
		}
		c.objs.EndpointSlices[k] = o
		return c.services[sliceService(o)]
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
		return c.secrets[k]
	}
	return false
}

// remove deletes obj and reports whether a rebuild is needed.
func (c *objectCache) remove(obj any) bool {
	switch o := obj.(type) {
	case *contourv1.HTTPProxy:
		return deleteKey(c.objs.HTTPProxies, key(o.Namespace, o.Name))
	case *contourv1.TLSCertificateDelegation:
		return deleteKey(c.objs.Delegations, key(o.Namespace, o.Name))
	case *corev1.Service:
		k := key(o.Namespace, o.Name)
		return deleteKey(c.objs.Services, k) && c.services[k]
	case *discoveryv1.EndpointSlice:
		return deleteKey(c.objs.EndpointSlices, key(o.Namespace, o.Name)) && c.services[sliceService(o)]
	case *corev1.Secret:
		k := key(o.Namespace, o.Name)
		return deleteKey(c.objs.Secrets, k) && c.secrets[k]
	}
	return false
}

func deleteKey[V any](m map[types.NamespacedName]V, k types.NamespacedName) bool {
	_, ok := m[k]
	delete(m, k)
	return ok
}

// sliceService is the Service an EndpointSlice belongs to.
func sliceService(s *discoveryv1.EndpointSlice) types.NamespacedName {
	return key(s.Namespace, s.Labels[discoveryv1.LabelServiceName])
}

// usableSecret keeps only Secrets a virtual host could serve or validate
// with: TLS key pairs and CA bundles. Other Secrets (tokens, Helm releases)
// can be large and are never needed.
func usableSecret(s *corev1.Secret) bool {
	if s.Type == corev1.SecretTypeTLS {
		return true
	}
	_, hasCA := s.Data["ca.crt"]
	return hasCA
}

// updateReferences recomputes which Services and Secrets the cached
// HTTPProxies name. A proxy that starts referencing an object triggers a
// rebuild itself, so the sets only need to be current after each build.
func (c *objectCache) updateReferences() {
	clear(c.services)
	clear(c.secrets)
	for _, p := range c.objs.HTTPProxies {
		for _, r := range p.Spec.Routes {
			for _, s := range r.Services {
				c.services[key(p.Namespace, s.Name)] = true
			}
		}
		if tcp := p.Spec.TCPProxy; tcp != nil {
			for _, s := range tcp.Services {
				c.services[key(p.Namespace, s.Name)] = true
			}
		}
		vh := p.Spec.VirtualHost
		if vh == nil || vh.TLS == nil {
			continue
		}
		c.addSecretRef(p.Namespace, vh.TLS.SecretName)
		if v := vh.TLS.ClientValidation; v != nil {
			c.addSecretRef(p.Namespace, v.CACertificate)
			c.addSecretRef(p.Namespace, v.CertificateRevocationList)
		}
	}
}

// addSecretRef records a reference written "name" (the proxy's namespace)
// or "namespace/name" (delegated).
func (c *objectCache) addSecretRef(namespace, ref string) {
	if ref == "" {
		return
	}
	if ns, name, ok := strings.Cut(ref, "/"); ok {
		c.secrets[key(ns, name)] = true
		return
	}
	c.secrets[key(namespace, ref)] = true
}
