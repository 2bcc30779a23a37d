package main

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourinformers "github.com/proxyctl/proxyctl/apis/generated/informers/externalversions"
	contourlisters "github.com/proxyctl/proxyctl/apis/generated/listers/projectcontour/v1"
	contourlistersv1alpha1 "github.com/proxyctl/proxyctl/apis/generated/listers/projectcontour/v1alpha1"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
	"github.com/proxyctl/proxyctl/internal/controller"
	"github.com/proxyctl/proxyctl/internal/status"
)

// informerSet is every informer of a replica: a pair of factories (Kubernetes
// kinds, Contour kinds) per --watch-namespaces entry, or one pair for the
// whole cluster. The controller subscribes to the informers; the status
// writers read current objects through the same caches; run is the one
// owner that starts and stops them.
type informerSet struct {
	kube    []informers.SharedInformerFactory
	contour []contourinformers.SharedInformerFactory
	// controller has the informers of each factory pair.
	controller []controller.Informers
	// proxies and extensions read from the caches, by namespace ("" when
	// the whole cluster is watched).
	proxies    map[string]contourlisters.HTTPProxyLister
	extensions map[string]contourlistersv1alpha1.ExtensionServiceLister
}

// The status writers read current objects through an informerSet.
var (
	_ status.ProxyGetter     = (*informerSet)(nil)
	_ status.ExtensionGetter = (*informerSet)(nil)
)

// newInformerSet builds the informers of namespaces (every namespace when
// empty), with controller.Trim as their transform. Nothing is started.
func newInformerSet(kube kubernetes.Interface, contour versioned.Interface, namespaces []string) *informerSet {
	if len(namespaces) == 0 {
		namespaces = []string{""} // every namespace
	}
	s := &informerSet{
		proxies:    map[string]contourlisters.HTTPProxyLister{},
		extensions: map[string]contourlistersv1alpha1.ExtensionServiceLister{},
	}
	for _, ns := range namespaces {
		kf := informers.NewSharedInformerFactoryWithOptions(kube, 0,
			informers.WithNamespace(ns), informers.WithTransform(controller.Trim))
		cf := contourinformers.NewSharedInformerFactoryWithOptions(contour, 0,
			contourinformers.WithNamespace(ns), contourinformers.WithTransform(controller.Trim))
		proxies := cf.Projectcontour().V1().HTTPProxies()
		extensions := cf.Projectcontour().V1alpha1().ExtensionServices()
		// Asking for an informer registers it with its factory: all of
		// them exist before Start.
		s.controller = append(s.controller, controller.Informers{
			HTTPProxies:               proxies.Informer(),
			TLSCertificateDelegations: cf.Projectcontour().V1().TLSCertificateDelegations().Informer(),
			ExtensionServices:         extensions.Informer(),
			Services:                  kf.Core().V1().Services().Informer(),
			EndpointSlices:            kf.Discovery().V1().EndpointSlices().Informer(),
			Secrets:                   kf.Core().V1().Secrets().Informer(),
		})
		s.proxies[ns] = proxies.Lister()
		s.extensions[ns] = extensions.Lister()
		s.kube = append(s.kube, kf)
		s.contour = append(s.contour, cf)
	}
	return s
}

// run starts the informers and, once ctx is cancelled, shuts them down and
// waits for every one of their goroutines: the run group member that owns
// them. The controller waits for their caches itself.
func (s *informerSet) run(ctx context.Context) error {
	for i := range s.kube {
		s.kube[i].Start(ctx.Done())
		s.contour[i].Start(ctx.Done())
	}
	<-ctx.Done()
	for i := range s.kube {
		s.kube[i].Shutdown()
		s.contour[i].Shutdown()
	}
	return nil
}

// HTTPProxy returns the cached object; safe for concurrent use. An object
// in a namespace that is not watched is NotFound.
func (s *informerSet) HTTPProxy(namespace, name string) (*contourv1.HTTPProxy, error) {
	l, ok := lister(s.proxies, namespace)
	if !ok {
		return nil, apierrors.NewNotFound(contourv1.Resource("httpproxies"), name)
	}
	return l.HTTPProxies(namespace).Get(name)
}

// ExtensionService returns the cached object, as HTTPProxy does.
func (s *informerSet) ExtensionService(namespace, name string) (*contourv1alpha1.ExtensionService, error) {
	l, ok := lister(s.extensions, namespace)
	if !ok {
		return nil, apierrors.NewNotFound(contourv1alpha1.Resource("extensionservices"), name)
	}
	return l.ExtensionServices(namespace).Get(name)
}

// lister picks the lister whose cache holds namespace: the whole cluster's
// if that is watched, else the namespace's own; false if it is not watched.
func lister[L any](byNamespace map[string]L, namespace string) (L, bool) {
	if l, ok := byNamespace[""]; ok {
		return l, true
	}
	l, ok := byNamespace[namespace]
	return l, ok
}
