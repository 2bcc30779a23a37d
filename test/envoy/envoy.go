package envoy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/internal/bootstrap"
	"github.com/proxyctl/proxyctl/internal/testutil"
	"github.com/proxyctl/proxyctl/test/cluster"
)

const (
	// DefaultStartTimeout bounds waiting for the admin interface.
	DefaultStartTimeout = 30 * time.Second
	stopGrace           = 10 * time.Second
	tailLines           = 50
	startAttempts       = 3
)

// Options describe an Envoy to start.
type Options struct {
	// XDSAddress and XDSPort are where the xDS server listens; the address
	// must be on loopback or in a network namespace of the test.
	XDSAddress string
	XDSPort    int
	// Delta makes Envoy use the incremental xDS protocol.
	Delta bool
	// CAFile, CertFile and KeyFile turn on mutual TLS towards the xDS server.
	CAFile, CertFile, KeyFile string
	// NodeID is the node id Envoy sends; "envoy" by default.
	NodeID string
	// LogLevel is Envoy's --log-level; info by default.
	LogLevel string
	// Concurrency is the number of worker threads; 2 by default, which is
	// plenty for tests and keeps many Envoys cheap.
	Concurrency int
	// Args are extra command line arguments.
	Args []string
	// Proxyctl, when set, is the proxyctl binary whose `bootstrap` command
	// writes the bootstrap, exactly as a user would; otherwise the harness
	// writes it with internal/bootstrap directly.
	Proxyctl string
	// Dir is where the bootstrap and the log go; New needs it, Start uses a
	// temporary directory of the test if it is empty.
	Dir string
	// StartTimeout bounds waiting for the admin interface;
	// DefaultStartTimeout by default.
	StartTimeout time.Duration
}

// Envoy is a running Envoy.
type Envoy struct {
	bin           string
	bootstrapPath string
	logPath       string
	adminPort     int
	cmd           *exec.Cmd
	done          chan struct{} // closed once the process has exited and been reaped
	err           error         // Wait's result, readable after done is closed
	client        *http.Client
}

// Binary returns the path of bin/envoy in the repository, or an error that
// says how to install it.
func Binary() (string, error) {
	root, err := cluster.FindRepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "bin", "envoy")
	info, err := os.Stat(bin) // follows the symlink to the real binary
	if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("no Envoy at %s: run `make envoy` (hack/install-envoy.sh) to install it", bin)
	}
	return bin, nil
}

// Validate runs `envoy --mode validate` on a bootstrap file and returns its
// output if Envoy rejects it.
func Validate(bootstrapPath string) error {
	bin, err := Binary()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "--mode", "validate", "-c", bootstrapPath, "--log-level", "warn", "--disable-hot-restart")
	cmd.SysProcAttr = testutil.SysProcAttr()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("envoy --mode validate %s: %v\n%s", bootstrapPath, err, out)
	}
	return nil
}

// Start starts an Envoy for the test, waits until its admin interface
// answers and stops it when the test ends, logging the tail of its log if
// the test failed. Call WaitReady to wait for its initial configuration.
// A missing bin/envoy fails the test: run `make envoy`.
func Start(t testing.TB, opts Options) *Envoy {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.NodeID == "" {
		opts.NodeID = "envoy"
	}
	e, err := New(opts)
	if err != nil {
		t.Fatalf("start Envoy: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("----- Envoy log %s (last %d lines) -----\n%s", e.logPath, tailLines, e.LogTail(tailLines))
		}
		if err := e.Stop(); err != nil {
			t.Errorf("stop Envoy: %v", err)
		}
	})
	return e
}

// New starts an Envoy and waits until its admin interface answers. The
// caller must Stop it.
func New(opts Options) (*Envoy, error) {
	if opts.Dir == "" {
		return nil, errors.New("envoy: Options.Dir is empty")
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "info"
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 2
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.NodeID == "" {
		opts.NodeID = "envoy"
	}
	if ip := net.ParseIP(opts.XDSAddress); opts.XDSAddress != "" && ip == nil {
		return nil, fmt.Errorf("envoy: xDS address %q is not an IP address", opts.XDSAddress)
	}
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	// A port picked as free can be taken before Envoy binds it; then try
	// another.
	for attempt := 1; ; attempt++ {
		e, err := start(bin, opts)
		if err == nil || !errors.Is(err, errPortInUse) || attempt == startAttempts {
			return e, err
		}
	}
}

var errPortInUse = errors.New("admin port already in use")

func start(bin string, opts Options) (*Envoy, error) {
	ports, err := cluster.FreePorts(1)
	if err != nil {
		return nil, err
	}
	e := &Envoy{
		bin:           bin,
		adminPort:     ports[0],
		bootstrapPath: filepath.Join(opts.Dir, fmt.Sprintf("envoy-%d.json", ports[0])),
		logPath:       filepath.Join(opts.Dir, fmt.Sprintf("envoy-%d.log", ports[0])),
		done:          make(chan struct{}),
		// No proxy from the environment: admin traffic stays on loopback.
		client: &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second},
	}
	bo := bootstrap.Options{
		NodeID:       opts.NodeID,
		XDSAddress:   opts.XDSAddress,
		XDSPort:      opts.XDSPort,
		Delta:        opts.Delta,
		AdminAddress: "127.0.0.1",
		AdminPort:    e.adminPort,
		CAFile:       opts.CAFile,
		CertFile:     opts.CertFile,
		KeyFile:      opts.KeyFile,
		// Tests want a dead xDS server noticed quickly.
		ConnectTimeout: time.Second,
	}
	if opts.Proxyctl != "" {
		err = writeBootstrapWithCLI(opts.Proxyctl, e.bootstrapPath, bo)
	} else {
		err = writeBootstrap(e.bootstrapPath, bo)
	}
	if err != nil {
		return nil, fmt.Errorf("write bootstrap: %w", err)
	}

	logFile, err := os.OpenFile(e.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	args := append([]string{
		"-c", e.bootstrapPath,
		// Hot restart shares memory between Envoys of one base id; tests
		// never hot-restart, and without it, and with a base id of their
		// own, any number of Envoys run side by side.
		"--disable-hot-restart",
		"--base-id", strconv.Itoa(e.adminPort),
		"--log-level", opts.LogLevel,
		"--concurrency", strconv.Itoa(opts.Concurrency),
		// Stop at once on SIGTERM instead of draining listeners.
		"--drain-time-s", "1",
		"--drain-strategy", "immediate",
	}, opts.Args...)
	fmt.Fprintf(logFile, "=== %s envoy: %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	e.cmd = exec.Command(bin, args...)
	e.cmd.Stdout = logFile
	e.cmd.Stderr = logFile
	e.cmd.SysProcAttr = testutil.SysProcAttr()
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		e.err = e.cmd.Wait()
		close(e.done)
	}()
	if err := e.WaitAdminUp(opts.StartTimeout); err != nil {
		_ = e.Stop()
		if bytes.Contains(e.readLog(), []byte("ddress already in use")) {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return nil, fmt.Errorf("%w\n----- %s -----\n%s", err, e.logPath, e.LogTail(tailLines))
	}
	return e, nil
}

// AdminPort returns the loopback port of the admin interface.
func (e *Envoy) AdminPort() int { return e.adminPort }

// AdminURL returns the base URL of the admin interface.
func (e *Envoy) AdminURL() string { return fmt.Sprintf("http://127.0.0.1:%d", e.adminPort) }

// LogPath is the file Envoy's stdout and stderr go to (its access log
// lines too, when they are written to stdout).
func (e *Envoy) LogPath() string { return e.logPath }

// Pid returns Envoy's process id.
func (e *Envoy) Pid() int { return e.cmd.Process.Pid }

// WaitAdminUp waits until the admin interface answers, whatever Envoy's
// state.
func (e *Envoy) WaitAdminUp(timeout time.Duration) error {
	return e.poll(timeout, "admin interface up", func(ctx context.Context) (bool, error) {
		_, _, err := e.get(ctx, "/ready")
		return err == nil, nil
	})
}

// WaitReady waits until /ready answers 200: Envoy has received its initial
// configuration (clusters and listeners) from the xDS server. Before that it
// answers 503.
func (e *Envoy) WaitReady(timeout time.Duration) error {
	var last string
	err := e.poll(timeout, "Envoy ready", func(ctx context.Context) (bool, error) {
		code, body, err := e.get(ctx, "/ready")
		if err != nil {
			if ctx.Err() == nil { // keep the last answer, not the timeout
				last = err.Error()
			}
			return false, nil
		}
		last = fmt.Sprintf("%d %s", code, strings.TrimSpace(string(body)))
		return code == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("%w (last /ready: %s)", err, last)
	}
	return nil
}

// poll calls cond every 50ms until it is true, it fails, Envoy exits or the
// timeout passes.
func (e *Envoy) poll(timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-e.done:
			return fmt.Errorf("%s: Envoy exited: %v (log: %s)", what, e.err, e.logPath)
		case <-ctx.Done():
			return fmt.Errorf("%s: not after %v", what, timeout)
		case <-tick.C:
		}
	}
}

// get fetches path from the admin interface.
func (e *Envoy) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.AdminURL()+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// Admin fetches path (with its query) from the admin interface and fails
// unless it answers 200.
func (e *Envoy) Admin(path string) ([]byte, error) {
	code, body, err := e.get(context.Background(), path)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return body, fmt.Errorf("admin %s: status %d: %s", path, code, bytes.TrimSpace(body))
	}
	return body, nil
}

// ConfigDump returns /config_dump (JSON), with EDS endpoints included.
func (e *Envoy) ConfigDump() ([]byte, error) { return e.Admin("/config_dump?include_eds") }

// Stats returns the counters and gauges of /stats?format=json by name.
func (e *Envoy) Stats() (map[string]int64, error) {
	body, err := e.Admin("/stats?format=json")
	if err != nil {
		return nil, err
	}
	var doc struct {
		Stats []struct {
			Name  *string          `json:"name"`
			Value *json.RawMessage `json:"value"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("admin /stats: %w", err)
	}
	stats := make(map[string]int64, len(doc.Stats))
	for _, s := range doc.Stats {
		if s.Name == nil || s.Value == nil { // histograms
			continue
		}
		var v int64
		if err := json.Unmarshal(*s.Value, &v); err != nil {
			continue // text readouts
		}
		stats[*s.Name] = v
	}
	return stats, nil
}

// StatsText returns /stats in Envoy's text format, optionally filtered by a
// regular expression.
func (e *Envoy) StatsText(filter string) (string, error) {
	path := "/stats"
	if filter != "" {
		path += "?filter=" + filter
	}
	body, err := e.Admin(path)
	return string(body), err
}

// Stop sends SIGTERM to Envoy's process group, then SIGKILL if it has not
// exited after a grace period, and waits for it. Stopping twice is fine.
func (e *Envoy) Stop() error {
	return testutil.StopGroup("envoy", e.Pid(), e.done, stopGrace)
}

func (e *Envoy) readLog() []byte {
	data, _ := os.ReadFile(e.logPath)
	return data
}

// LogTail returns the last n lines of Envoy's log.
func (e *Envoy) LogTail(n int) string {
	lines := strings.Split(strings.TrimRight(string(e.readLog()), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func writeBootstrap(path string, o bootstrap.Options) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = bootstrap.Write(f, o)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeBootstrapWithCLI runs `proxyctl bootstrap` with the flags a user
// would pass.
func writeBootstrapWithCLI(proxyctl, path string, o bootstrap.Options) error {
	args := []string{"bootstrap", path,
		"--xds-address", o.XDSAddress, "--xds-port", strconv.Itoa(o.XDSPort),
		"--admin-address", o.AdminAddress, "--admin-port", strconv.Itoa(o.AdminPort),
	}
	if o.NodeID != "" {
		args = append(args, "--node-id", o.NodeID)
	}
	if o.Delta {
		args = append(args, "--xds-delta")
	}
	if o.CAFile != "" {
		args = append(args, "--xds-ca-file", o.CAFile, "--xds-cert-file", o.CertFile, "--xds-key-file", o.KeyFile)
	}
	out, err := exec.Command(proxyctl, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", proxyctl, strings.Join(args, " "), err, out)
	}
	return nil
}
