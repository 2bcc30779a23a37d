package main

import (
	"context"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/proxyctl/proxyctl/internal/rungroup"
)

// addressSink is told the Envoy Service's status.loadBalancer: the status
// writer, which shows it on every HTTPProxy.
type addressSink interface {
	SetLoadBalancer(corev1.LoadBalancerStatus)
}

// addEnvoyServiceWatch watches the one Envoy Service named by
// --envoy-service-name/--envoy-service-namespace, as Contour does, and
// tells sink its address after the first sync and on every change. It
// watches that object only (a field selector on its name), whatever
// --watch-namespaces says: the controller's Service cache is for backends.
// An empty name adds nothing, and loadBalancer stays untouched.
func addEnvoyServiceWatch(group *rungroup.Group, s *serveContext, kube kubernetes.Interface, sink addressSink, log logrus.FieldLogger) {
	ns, name := s.envoyService.namespace, s.envoyService.name
	log = log.WithField("context", "envoy-service").WithField("service", ns+"/"+name)
	if name == "" {
		log.Info("no --envoy-service-name: HTTPProxy status.loadBalancer is not written")
		return
	}
	group.Add("envoy service watch", func(ctx context.Context) error {
		factory := informers.NewSharedInformerFactoryWithOptions(kube, 0,
			informers.WithNamespace(ns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) {
				o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
			}))
		services := factory.Core().V1().Services()
		lister := services.Lister().Services(ns)
		publish := func() {
			// The lister reads the informer's store: its only error is
			// NotFound, and a Service that does not exist has no address.
			var lb corev1.LoadBalancerStatus
			if svc, err := lister.Get(name); err == nil {
				lb = svc.Status.LoadBalancer
			}
			sink.SetLoadBalancer(lb)
		}
		if _, err := services.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { publish() },
			UpdateFunc: func(any, any) { publish() },
			DeleteFunc: func(any) { publish() },
		}); err != nil {
			return err
		}
		factory.Start(ctx.Done())
		defer factory.Shutdown()
		if !cache.WaitForCacheSync(ctx.Done(), services.Informer().HasSynced) {
			return nil // stopped before the first list
		}
		// A Service that does not exist sends no event: say so once synced.
		publish()
		<-ctx.Done()
		return nil
	})
}
