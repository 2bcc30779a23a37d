package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/proxyctl/proxyctl/internal/controller"
	"github.com/proxyctl/proxyctl/internal/dag"
)

// newController builds the event loop that feeds every DAG to observers.
func newController(s *serveContext, c *clients, reg prometheus.Registerer, log logrus.FieldLogger, observers ...controller.Observer) (*controller.Controller, error) {
	return controller.New(controller.Config{
		Kube:              c.kube,
		Contour:           c.contour,
		WatchNamespaces:   s.watchNamespaces,
		IngressClassNames: s.ingressClassNames,
		DAG: s.global.dagConfig(dag.Config{RootNamespaces: s.rootNamespaces, FallbackCertificate: s.fallbackKey,
			DefaultGlobalRateLimitPolicy: s.rateLimit.defaultPolicy(), GlobalExternalAuthorization: s.globalAuth}),
		Observers:  observers,
		Registerer: reg,
		Log:        log,
	})
}
