package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/proxyctl/proxyctl/internal/controller"
	"github.com/proxyctl/proxyctl/internal/dag"
)

// newController builds the event loop that feeds every DAG to observers,
// in their order, and every HTTPProxy event to proxyObservers. It
// subscribes to w's informers; w.run starts them.
func newController(s *serveContext, infs *informerSet, reg prometheus.Registerer, log logrus.FieldLogger, observers []controller.Observer, proxyObservers []controller.ProxyObserver) (*controller.Controller, error) {
	return controller.New(controller.Config{
		Informers:         infs.controller,
		IngressClassNames: s.ingressClassNames,
		DAG: s.global.dagConfig(dag.Config{RootNamespaces: s.rootNamespaces, FallbackCertificate: s.fallbackKey,
			DefaultGlobalRateLimitPolicy: s.rateLimit.defaultPolicy(), GlobalExternalAuthorization: s.globalAuth}),
		Observers:      observers,
		ProxyObservers: proxyObservers,
		Registerer:     reg,
		Log:            log,
	})
}
