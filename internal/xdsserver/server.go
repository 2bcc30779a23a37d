package xdsserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/xds"
)

// ServerConfig configures the xDS server.
type ServerConfig struct {
	// Listeners says where Envoy's own HTTP and HTTPS listeners bind.
	Listeners xds.ListenerConfig
	// TLS, when set, serves gRPC over mutual TLS; nil serves plaintext.
	TLS        *tls.Config
	Registerer prometheus.Registerer
	Log        logrus.FieldLogger
}

// Server turns each DAG into a snapshot and serves it to Envoys over ADS,
// both state-of-the-world and incremental. Until the first DAG arrives the
// cache holds Envoys' requests open without answering, so a restarting
// replica never hands an Envoy an empty configuration.
type Server struct {
	cfg     ServerConfig
	log     logrus.FieldLogger
	cache   *Cache
	metrics *serverMetrics
	// translator is used by OnChange only, which the controller calls
	// from its one event loop goroutine.
	translator *xds.Translator
	// consistency checks each snapshot's references; OnChange only, too.
	consistency xds.Checker
}

// NewServer returns a Server with an empty cache.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = logrus.StandardLogger()
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	m, err := newServerMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	tr, err := xds.NewTranslator(cfg.Listeners)
	if err != nil {
		return nil, err
	}
	log := cfg.Log.WithField("context", "xds")
	return &Server{cfg: cfg, log: log, cache: NewCache(log), metrics: m, translator: tr}, nil
}

// OnChange translates d and makes it the configuration every Envoy gets.
// It implements controller.Observer.
func (s *Server) OnChange(d *dag.DAG) {
	start := time.Now()
	snap, err := s.translator.Snapshot(d)
	if err != nil {
		// A resource that cannot be encoded is a bug in translation; keep
		// serving the last good snapshot rather than break every Envoy.
		s.log.WithError(err).Error("not serving a snapshot that failed to translate")
		s.metrics.snapshotErrors.Inc()
		return
	}
	if s.publish(snap) {
		s.metrics.snapshotDuration.Observe(time.Since(start).Seconds())
	}
}

// publish makes snap the configuration every Envoy gets, unless it is
// inconsistent: a route to a cluster it lacks, an EDS cluster without its
// ClusterLoadAssignment, a listener naming a route configuration or secret
// it lacks. Envoy would wait for the missing resource or reject the update,
// so the last good snapshot stays served and the refusal is counted and
// logged: it is a bug in translation. It reports whether snap is served.
func (s *Server) publish(snap *xds.Snapshot) bool {
	if err := s.consistency.Check(snap); err != nil {
		s.log.WithError(err).Error("not serving an inconsistent snapshot; keeping the last good one")
		s.metrics.snapshotsInconsistent.Inc()
		s.metrics.snapshotErrors.Inc()
		return false
	}
	if err := s.cache.SetSnapshot(snap); err != nil {
		s.log.WithError(err).Error("setting the xDS snapshot")
		s.metrics.snapshotErrors.Inc()
		return false
	}
	return true
}

// Serve answers xDS on ln until ctx is cancelled.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	opts := []grpc.ServerOption{
		// Envoys keep one stream open for hours; keepalives find dead
		// peers, and a generous stream limit fits 1,000 Envoys.
		grpc.MaxConcurrentStreams(1 << 20),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.ForceServerCodecV2(wireCodec{enc: s.cache.enc, sent: s.metrics.sentBytes, names: &nameLists{}}),
	}
	if s.cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.cfg.TLS)))
	}
	gs := grpc.NewServer(opts...)
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, newADSServer(ctx, s.cache, s.metrics.callbacks()))

	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("xds: %w", err)
	case <-ctx.Done():
	}
	// Streams to Envoy never end by themselves; GracefulStop would wait
	// forever. Envoy keeps its configuration and reconnects elsewhere.
	gs.Stop()
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("xds: %w", err)
	}
	return nil
}

// newADSServer is go-control-plane's xDS server over c. WithOrderedADS makes
// a state-of-the-world ADS stream use one response channel for all types,
// so responses go out in the order the cache sends them (xds.PushOrder);
// without it the server selects among one channel per type at random. The
// incremental server always uses one channel.
func newADSServer(ctx context.Context, c cachev3.Cache, cb serverv3.Callbacks) serverv3.Server {
	return serverv3.NewServer(ctx, c, cb, sotw.WithOrderedADS())
}
