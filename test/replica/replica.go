package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/internal/httpserver"
	"github.com/proxyctl/proxyctl/internal/testutil"
	"github.com/proxyctl/proxyctl/test/cluster"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary builds proxyctl once per test process, with the race detector so
// that the replicas' own data races fail the tests too, and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := cluster.FindRepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "proxyctl-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "proxyctl")
		cmd := exec.Command("go", "build", "-race", "-o", buildPath, "./cmd/proxyctl")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/proxyctl: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// Options describes one replica.
type Options struct {
	// Binary is the proxyctl executable (see Binary).
	Binary string
	// Kubeconfig points the replica at the API server.
	Kubeconfig string
	// Identity is passed as POD_NAME, as the Downward API would.
	Identity string
	// LeaseNamespace holds the leader Lease (POD_NAMESPACE).
	LeaseNamespace string
	// Args are extra `proxyctl serve` flags, e.g. the lease timings.
	Args []string
	// LogDir receives <identity>.log.
	LogDir string
	// HTTPPort and XDSPort fix the replica's ports, so that a restarted
	// replica comes back where it was; 0 picks free ones.
	HTTPPort, XDSPort int
}

// Replica is one running `proxyctl serve` process.
type Replica struct {
	Identity string
	// HTTPAddr is host:port of /healthz, /readyz, /metrics and /leader.
	HTTPAddr string
	// XDSAddr is host:port of the xDS (ADS) server.
	XDSAddr string
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result, readable once done is closed
}

// Start launches a replica and registers its cleanup with t: it is killed
// if still running, and its log is printed if the test failed.
func Start(t testing.TB, o Options) *Replica {
	t.Helper()
	r, err := Launch(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Kill()
		<-r.done
		if t.Failed() {
			if log, err := os.ReadFile(r.LogPath); err == nil {
				t.Logf("--- log of replica %s:\n%s", r.Identity, tail(string(log), 60))
			}
		}
	})
	return r
}

// Launch starts a replica without tying it to a test; the caller must Kill
// or Signal it and Wait.
func Launch(o Options) (*Replica, error) {
	ports, err := cluster.FreePorts(2)
	if err != nil {
		return nil, err
	}
	if o.HTTPPort != 0 {
		ports[0] = o.HTTPPort
	}
	if o.XDSPort != 0 {
		ports[1] = o.XDSPort
	}
	r := &Replica{
		Identity: o.Identity,
		HTTPAddr: "127.0.0.1:" + strconv.Itoa(ports[0]),
		XDSAddr:  "127.0.0.1:" + strconv.Itoa(ports[1]),
		LogPath:  filepath.Join(o.LogDir, o.Identity+".log"),
		done:     make(chan struct{}),
	}
	logFile, err := os.OpenFile(r.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	args := append([]string{"serve",
		"--kubeconfig", o.Kubeconfig,
		"--http-address", "127.0.0.1", "--http-port", strconv.Itoa(ports[0]),
		"--debug-address", "",
		"--xds-address", "127.0.0.1", "--xds-port", strconv.Itoa(ports[1]),
	}, o.Args...)
	if !slices.Contains(o.Args, "--xds-cert-file") {
		args = append(args, "--insecure")
	}
	r.cmd = exec.Command(o.Binary, args...)
	r.cmd.Env = append(os.Environ(), "POD_NAME="+o.Identity, "POD_NAMESPACE="+o.LeaseNamespace)
	r.cmd.Stdout = logFile
	r.cmd.Stderr = logFile
	r.cmd.SysProcAttr = testutil.SysProcAttr()
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start replica %s: %w", o.Identity, err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	return r, nil
}

// Signal sends sig to the replica.
func (r *Replica) Signal(sig syscall.Signal) error {
	return r.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL; it is a no-op once the replica has exited.
func (r *Replica) Kill() {
	select {
	case <-r.done:
	default:
		_ = r.cmd.Process.Kill()
	}
}

// Exited is closed once the process has exited.
func (r *Replica) Exited() <-chan struct{} { return r.done }

// Wait waits up to timeout for the process to exit and returns its exit
// code (-1 if killed by a signal).
func (r *Replica) Wait(timeout time.Duration) (int, error) {
	select {
	case <-r.done:
	default:
		// Only now start the clock: with a zero timeout the exit, if it
		// already happened, must win.
		select {
		case <-r.done:
		case <-time.After(timeout):
			return 0, fmt.Errorf("replica %s still running after %s", r.Identity, timeout)
		}
	}
	var exit *exec.ExitError
	if errors.As(r.err, &exit) {
		return exit.ExitCode(), nil
	}
	return 0, r.err
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

// Get fetches path from the replica's HTTP endpoints.
func (r *Replica) Get(ctx context.Context, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.HTTPAddr+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// Leader reads /leader.
func (r *Replica) Leader(ctx context.Context) (httpserver.LeaderStatus, error) {
	var s httpserver.LeaderStatus
	code, body, err := r.Get(ctx, "/leader")
	if err != nil {
		return s, err
	}
	if code != http.StatusOK {
		return s, fmt.Errorf("/leader answered %d: %s", code, body)
	}
	return s, json.Unmarshal([]byte(body), &s)
}

// Log returns the replica's log so far.
func (r *Replica) Log() string {
	data, _ := os.ReadFile(r.LogPath)
	return string(data)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
