package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/proxyctl/proxyctl/internal/rungroup"
	"github.com/proxyctl/proxyctl/internal/xdsserver"
)

// addXDSServer binds the xDS listener and adds the server to the group.
// Every replica serves xDS; the server answers nothing until the controller
// hands it the first DAG.
func addXDSServer(g *rungroup.Group, s *serveContext, reg prometheus.Registerer, log logrus.FieldLogger) (*xdsserver.Server, error) {
	var tlsConfig *tls.Config
	if !s.xds.insecure {
		var err error
		if tlsConfig, err = xdsserver.ServerTLSConfig(s.xds.caFile, s.xds.certFile, s.xds.keyFile); err != nil {
			return nil, err
		}
	}
	srv, err := xdsserver.NewServer(xdsserver.ServerConfig{
		Listeners:  s.listenerConfig(),
		TLS:        tlsConfig,
		Registerer: reg,
		Log:        log,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(s.xds.address, strconv.Itoa(s.xds.port)))
	if err != nil {
		return nil, fmt.Errorf("xds listener: %w", err)
	}
	log.WithFields(logrus.Fields{"address": ln.Addr().String(), "mtls": tlsConfig != nil}).Info("serving xDS (ADS)")
	g.Add("xds server", func(ctx context.Context) error { return srv.Serve(ctx, ln) })
	return srv, nil
}
