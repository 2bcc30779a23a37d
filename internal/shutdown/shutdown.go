package shutdown

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// Defaults, Contour's.
const (
	DefaultAdminAddress       = "127.0.0.1:9001"
	DefaultCheckInterval      = 5 * time.Second
	DefaultReadyFile          = "/admin/ok"
	DefaultReadyCheckInterval = time.Second
	DefaultServePort          = 8090
)

// ignoredPrefixes are HTTP connection managers whose connections are not
// client traffic: Envoy's own admin interface, and the names Contour skips
// for its stats and health listeners.
var ignoredPrefixes = map[string]bool{
	"admin": true, "envoy-admin": true, "stats": true, "health": true, "stats-health": true,
}

// statsPath asks for the open downstream connections of every HTTP
// connection manager, one `http.<prefix>.downstream_cx_active: N` a line.
var statsPath = "/stats?filter=" + url.QueryEscape(`^http\..*\.downstream_cx_active$`)

// Config is what Drain needs.
type Config struct {
	// AdminAddress is Envoy's admin interface, host:port.
	AdminAddress string
	// DrainDelay is waited before anything is asked of Envoy.
	DrainDelay time.Duration
	// CheckDelay is waited after the drain starts and before the first
	// count of open connections. Envoy keeps accepting connections for
	// its drain time (--drain-time-s); a delay at least that long means
	// a count of zero cannot be followed by a new connection.
	CheckDelay time.Duration
	// CheckInterval is the time between two counts.
	CheckInterval time.Duration
	// MinOpenConnections: Drain returns once at most this many client
	// connections are open.
	MinOpenConnections int
	// ReadyFile, when set, is created once the drain is done, for the
	// shutdown manager's /shutdown endpoint.
	ReadyFile string
	// Client talks to the admin interface; a client with a timeout when nil.
	Client *http.Client
	Log    logrus.FieldLogger
}

// Drain fails Envoy's health checks, drains its inbound listeners
// gracefully, then counts open client connections every CheckInterval
// until at most MinOpenConnections remain, and writes ReadyFile. It
// returns ctx's error if ctx ends first (the pod's grace period is the
// deadline; the kubelet kills the hook after it).
func Drain(ctx context.Context, c Config) error {
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	}
	if c.Log == nil {
		c.Log = logrus.New()
	}
	if c.CheckInterval <= 0 {
		return fmt.Errorf("check interval must be positive, not %v", c.CheckInterval)
	}
	base := "http://" + c.AdminAddress
	if err := wait(ctx, c.DrainDelay); err != nil {
		return err
	}
	// Failing health checks first makes /ready answer 503, so load
	// balancers and the readiness probe stop sending new clients here.
	c.Log.Info("failing Envoy's health checks")
	if err := retry(ctx, func() error { return post(ctx, c.Client, base+"/healthcheck/fail") }); err != nil {
		return err
	}
	// inbound_only leaves the listeners Envoy uses to reach upstreams
	// alone; graceful keeps accepting during the drain time and asks
	// clients to go (Connection: close, GOAWAY) before the listeners close.
	c.Log.Info("draining Envoy's listeners")
	if err := retry(ctx, func() error { return post(ctx, c.Client, base+"/drain_listeners?inbound_only&graceful") }); err != nil {
		return err
	}
	if err := wait(ctx, c.CheckDelay); err != nil {
		return err
	}
	for {
		open, err := OpenConnections(ctx, c.Client, base)
		if err != nil {
			// Envoy may be busy: count again rather than stop the drain.
			c.Log.WithError(err).Warn("counting open connections")
		} else {
			log := c.Log.WithField("open_connections", open).WithField("min_connections", c.MinOpenConnections)
			if open <= c.MinOpenConnections {
				log.Info("few enough open connections, Envoy may stop")
				if c.ReadyFile == "" {
					return nil
				}
				return os.WriteFile(c.ReadyFile, nil, 0o644)
			}
			log.Info("waiting for open connections to close")
		}
		if err := wait(ctx, c.CheckInterval); err != nil {
			return err
		}
	}
}

// OpenConnections sums the open downstream connections of Envoy's HTTP
// connection managers, leaving out admin's.
func OpenConnections(ctx context.Context, client *http.Client, adminURL string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, adminURL+statsPath, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", statsPath, resp.Status)
	}
	return parseOpenConnections(resp.Body)
}

// parseOpenConnections reads Envoy's text stats, `name: value` a line.
func parseOpenConnections(r io.Reader) (int, error) {
	sum := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), ": ")
		if !ok {
			continue
		}
		prefix, ok := strings.CutPrefix(name, "http.")
		if !ok {
			continue
		}
		prefix, ok = strings.CutSuffix(prefix, ".downstream_cx_active")
		if !ok || ignoredPrefixes[prefix] {
			continue
		}
		n, err := strconv.Atoi(value)
		if err != nil {
			return 0, fmt.Errorf("stat %s: %w", name, err)
		}
		sum += n
	}
	return sum, sc.Err()
}

func post(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}

// retry tries four times, 200ms apart and five times longer each time (as
// Contour does), for an Envoy that is slow to answer.
func retry(ctx context.Context, f func() error) error {
	delay := 200 * time.Millisecond
	var errs []error
	for attempt := 0; attempt < 4; attempt++ {
		err := f()
		if err == nil {
			return nil
		}
		errs = append(errs, err)
		if attempt == 3 {
			break
		}
		if err := wait(ctx, delay); err != nil {
			return errors.Join(append(errs, err)...)
		}
		delay *= 5
	}
	return errors.Join(errs...)
}

func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
