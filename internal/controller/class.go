package controller

import (
	"slices"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// Annotations that name an HTTPProxy's ingress class on objects written
// before spec.ingressClassName existed.
const (
	classAnnotation       = "projectcontour.io/ingress.class"
	legacyClassAnnotation = "kubernetes.io/ingress.class"
	// defaultClass is what Contour serves when no class is configured, so
	// that manifests written for Contour keep working unchanged.
	defaultClass = "contour"
)

// proxyClass returns the ingress class an HTTPProxy asks for, or "". As in
// Contour, an annotation takes precedence over spec.ingressClassName, and
// of the two annotations the first present counts
// (projectcontour.io/ingress.class, then kubernetes.io/ingress.class), even
// when empty; an empty annotation leaves the choice to the spec.
func proxyClass(p *contourv1.HTTPProxy) string {
	if c := annotatedClass(p.Annotations); c != "" {
		return c
	}
	return p.Spec.IngressClassName
}

func annotatedClass(a map[string]string) string {
	if c, ok := a[classAnnotation]; ok {
		return c
	}
	return a[legacyClassAnnotation]
}

// classMatches reports whether this controller serves p. With classes
// configured, only objects of one of them; without, objects that name no
// class or Contour's default class. Anything else belongs to another
// controller and is ignored completely: not served, and no status.
func classMatches(p *contourv1.HTTPProxy, configured []string) bool {
	class := proxyClass(p)
	if len(configured) == 0 {
		return class == "" || class == defaultClass
	}
	return slices.Contains(configured, class)
}
