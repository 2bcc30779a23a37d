package controller

import contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"

// Annotations that name an HTTPProxy's ingress class on objects written
// before spec.ingressClassName existed.
const (
	classAnnotation       = "projectcontour.io/ingress.class"
	legacyClassAnnotation = "kubernetes.io/ingress.class"
	// defaultClass is what Contour serves when no class is configured, so
	// that manifests written for Contour keep working unchanged.
	defaultClass = "contour"
)

// proxyClass returns the ingress class an HTTPProxy asks for, or "".
func proxyClass(p *contourv1.HTTPProxy) string {
	if p.Spec.IngressClassName != "" {
		return p.Spec.IngressClassName
	}
	if c := p.Annotations[classAnnotation]; c != "" {
		return c
	}
	return p.Annotations[legacyClassAnnotation]
}

// classMatches reports whether this controller serves p. With a class
// configured, only objects of that class; without one, objects that name no
// class or Contour's default class. Anything else belongs to another
// controller and is ignored completely.
func classMatches(p *contourv1.HTTPProxy, configured string) bool {
	class := proxyClass(p)
	if configured != "" {
		return class == configured
	}
	return class == "" || class == defaultClass
}
