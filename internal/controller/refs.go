package controller

import (
	"strings"

	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
)

// references counts, per Service and Secret, the cached HTTPProxies that
// name it, so that an event for an object nobody names causes no rebuild.
// The counts change with each proxy insert and remove, instead of being
// recounted over every proxy before each build.
type references struct {
	services map[types.NamespacedName]int
	secrets  map[types.NamespacedName]int
}

func newReferences() references {
	return references{services: map[types.NamespacedName]int{}, secrets: map[types.NamespacedName]int{}}
}

func (r references) service(k types.NamespacedName) bool { return r.services[k] > 0 }
func (r references) secret(k types.NamespacedName) bool  { return r.secrets[k] > 0 }

// replace moves the counts from prev's references to next's; either may
// be nil.
func (r references) replace(prev, next *contourv1.HTTPProxy) {
	if prev != nil {
		eachReference(prev, func(m refKind, k types.NamespacedName) { r.add(m, k, -1) })
	}
	if next != nil {
		eachReference(next, func(m refKind, k types.NamespacedName) { r.add(m, k, +1) })
	}
}

// replaceExtension moves the counts from prev's references (its Services
// and CA Secret) to next's; either may be nil.
func (r references) replaceExtension(prev, next *contourv1alpha1.ExtensionService) {
	each := func(e *contourv1alpha1.ExtensionService, n int) {
		for _, s := range e.Spec.Services {
			r.add(serviceRef, key(e.Namespace, s.Name), n)
		}
		if v := e.Spec.UpstreamValidation; v != nil && v.CACertificate != "" {
			if ns, name, ok := strings.Cut(v.CACertificate, "/"); ok {
				r.add(secretRef, key(ns, name), n)
			} else {
				r.add(secretRef, key(e.Namespace, v.CACertificate), n)
			}
		}
	}
	if prev != nil {
		each(prev, -1)
	}
	if next != nil {
		each(next, +1)
	}
}

type refKind int

const (
	serviceRef refKind = iota
	secretRef
)

func (r references) add(kind refKind, k types.NamespacedName, n int) {
	m := r.services
	if kind == secretRef {
		m = r.secrets
	}
	if m[k] += n; m[k] <= 0 {
		delete(m, k)
	}
}

// eachReference calls f for each Service and Secret p names, once per
// mention (counts stay balanced because insert and remove see the same
// object).
func eachReference(p *contourv1.HTTPProxy, f func(refKind, types.NamespacedName)) {
	secret := func(ref string) {
		if ref == "" {
			return
		}
		// "name" is in the proxy's namespace, "namespace/name" delegated.
		if ns, name, ok := strings.Cut(ref, "/"); ok {
			f(secretRef, key(ns, name))
			return
		}
		f(secretRef, key(p.Namespace, ref))
	}
	service := func(s *contourv1.Service) {
		f(serviceRef, key(p.Namespace, s.Name))
		if v := s.UpstreamValidation; v != nil {
			secret(v.CACertificate)
		}
	}
	for i := range p.Spec.Routes {
		for j := range p.Spec.Routes[i].Services {
			service(&p.Spec.Routes[i].Services[j])
		}
	}
	if tcp := p.Spec.TCPProxy; tcp != nil {
		for i := range tcp.Services {
			service(&tcp.Services[i])
		}
	}
	vh := p.Spec.VirtualHost
	if vh == nil || vh.TLS == nil {
		return
	}
	secret(vh.TLS.SecretName)
	if v := vh.TLS.ClientValidation; v != nil {
		secret(v.CACertificate)
		secret(v.CertificateRevocationList)
	}
	for _, jp := range vh.JWTProviders {
		// A local key set is always in the proxy's namespace.
		if n := jp.LocalJWKS.SecretName; n != "" {
			f(secretRef, key(p.Namespace, n))
		}
		if v := jp.RemoteJWKS.UpstreamValidation; v != nil {
			secret(v.CACertificate)
		}
	}
}
