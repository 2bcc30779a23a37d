package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/proxyctl/proxyctl/internal/httpserver"
	"github.com/proxyctl/proxyctl/internal/leader"
	"github.com/proxyctl/proxyctl/internal/rungroup"
)

// addHTTPServers binds the operational and debug listeners now, so a port
// conflict fails start-up, and adds their servers to the group.
func addHTTPServers(g *rungroup.Group, s *serveContext, reg *prometheus.Registry, elector *leader.Elector, ready func() error, dagDump http.Handler, log logrus.FieldLogger) error {
	addr := net.JoinHostPort(s.httpAddress, strconv.Itoa(s.httpPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("health and metrics listener: %w", err)
	}
	log.WithField("address", ln.Addr().String()).Info("serving /healthz, /readyz, /metrics and /leader")
	endpoints := httpserver.Endpoints{Gatherer: reg, Leader: elector, Ready: ready}.Handler()
	g.Add("http server", func(ctx context.Context) error { return httpserver.Serve(ctx, ln, endpoints) })

	if s.debugAddress == "" {
		return nil
	}
	dln, err := net.Listen("tcp", s.debugAddress)
	if err != nil {
		ln.Close()
		return fmt.Errorf("debug listener: %w", err)
	}
	log.WithField("address", dln.Addr().String()).Info("serving pprof and /debug/dag")
	g.Add("debug server", func(ctx context.Context) error { return httpserver.Serve(ctx, dln, httpserver.DebugHandler(dagDump)) })
	return nil
}
