package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/proxyctl/proxyctl/internal/shutdown"
)

// shutdownManagerContext holds the flags of `proxyctl envoy shutdown-manager`.
type shutdownManagerContext struct {
	servePort          int
	readyFile          string
	readyCheckInterval time.Duration
}

// shutdownContext holds the flags of `proxyctl envoy shutdown`.
type shutdownContext struct {
	cfg       shutdown.Config
	logFormat string
}

// registerEnvoy registers `proxyctl envoy shutdown-manager` and `proxyctl
// envoy shutdown`, with Contour's flags and defaults (the admin address is
// where `proxyctl bootstrap` puts Envoy's admin interface).
func registerEnvoy(app *kingpin.Application) (mgrCmd, shutdownCmd *kingpin.CmdClause, mgr *shutdownManagerContext, sd *shutdownContext) {
	envoy := app.Command("envoy", "Helpers that run beside Envoy.")

	mgr = &shutdownManagerContext{}
	mgrCmd = envoy.Command("shutdown-manager", "Serve /shutdown for Envoy's preStop hook: it answers once `proxyctl envoy shutdown` has drained Envoy.")
	mgrCmd.Flag("serve-port", "Port to serve /healthz and /shutdown on.").Default(strconv.Itoa(shutdown.DefaultServePort)).IntVar(&mgr.servePort)
	mgrCmd.Flag("ready-file", "File whose existence means the drain is done.").Default(shutdown.DefaultReadyFile).StringVar(&mgr.readyFile)
	mgrCmd.Flag("ready-check-interval", "How often /shutdown looks for the ready file.").Default(shutdown.DefaultReadyCheckInterval.String()).DurationVar(&mgr.readyCheckInterval)

	sd = &shutdownContext{}
	shutdownCmd = envoy.Command("shutdown", "Fail Envoy's health checks, drain its listeners, wait until few connections are open, then write the ready file (the shutdown manager's preStop hook).")
	shutdownCmd.Flag("admin-address", "Envoy's admin interface, host:port.").Default(shutdown.DefaultAdminAddress).StringVar(&sd.cfg.AdminAddress)
	shutdownCmd.Flag("check-delay", "Time to wait after starting the drain before counting open connections.").Default("0s").DurationVar(&sd.cfg.CheckDelay)
	shutdownCmd.Flag("check-interval", "Time between two counts of open connections.").Default(shutdown.DefaultCheckInterval.String()).DurationVar(&sd.cfg.CheckInterval)
	shutdownCmd.Flag("drain-delay", "Time to wait before draining Envoy.").Default("0s").DurationVar(&sd.cfg.DrainDelay)
	shutdownCmd.Flag("min-open-connections", "Stop waiting once at most this many connections are open.").Default("0").IntVar(&sd.cfg.MinOpenConnections)
	shutdownCmd.Flag("ready-file", "File to write when the drain is done.").Default(shutdown.DefaultReadyFile).StringVar(&sd.cfg.ReadyFile)
	shutdownCmd.Flag("log-format", "Log format: text or json.").Default("text").EnumVar(&sd.logFormat, "text", "json")
	return mgrCmd, shutdownCmd, mgr, sd
}

// run drains Envoy. SIGTERM or SIGINT (the kubelet ending the hook at the
// grace period) stops the wait.
func (s *shutdownContext) run() error {
	if s.cfg.CheckInterval <= 0 {
		return usagef("--check-interval must be positive, not %v", s.cfg.CheckInterval)
	}
	if s.cfg.MinOpenConnections < 0 {
		return usagef("--min-open-connections must not be negative, not %d", s.cfg.MinOpenConnections)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	s.cfg.Log = newLogger(s.logFormat, false).WithField("context", "shutdown")
	return shutdown.Drain(ctx, s.cfg)
}

// run serves the shutdown manager until SIGTERM or SIGINT.
func (m *shutdownManagerContext) run() error {
	if m.readyCheckInterval <= 0 {
		return usagef("--ready-check-interval must be positive, not %v", m.readyCheckInterval)
	}
	log := newLogger("text", false).WithField("context", "shutdown-manager")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv := &http.Server{
		Addr:              net.JoinHostPort("", strconv.Itoa(m.servePort)),
		Handler:           shutdown.Handler(m.readyFile, m.readyCheckInterval, log),
		ReadHeaderTimeout: 5 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.WithField("address", srv.Addr).Info("serving /healthz and /shutdown")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
