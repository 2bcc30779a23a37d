package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"
)

// startEtcd starts a single-member etcd on loopback.
func (c *Cluster) startEtcd(clientPort, peerPort int) error {
	c.etcdURL = fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	args := []string{
		"--name=proxyctl-test",
		"--data-dir=" + filepath.Join(c.dir, "etcd"),
		"--listen-client-urls=" + c.etcdURL,
		"--advertise-client-urls=" + c.etcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=proxyctl-test=" + peerURL,
		"--initial-cluster-state=new",
		// The data is thrown away with the cluster.
		"--unsafe-no-fsync",
		"--log-level=warn",
	}
	// ETCD_* variables would be read as flags.
	p, err := startProcess("etcd", c.bins.etcd, args, childEnv([]string{"ETCD_"}), filepath.Join(c.logDir, "etcd.log"))
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.etcd = p
	c.mu.Unlock()
	return nil
}

// waitForEtcd waits until etcd is healthy.
func (c *Cluster) waitForEtcd() error {
	c.mu.Lock()
	p := c.etcd
	c.mu.Unlock()
	return poll(c.opts.StartTimeout, p, "etcd to become healthy", c.etcdHealthy)
}

// etcdHealthy reports whether etcd has a leader and serves reads.
func (c *Cluster) etcdHealthy(ctx context.Context) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.etcdURL+"/health", nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err
	}
	var health struct {
		Health string `json:"health"`
	}
	return resp.StatusCode == http.StatusOK && json.Unmarshal(body, &health) == nil && health.Health == "true", nil
}

// pollInterval is how often readiness conditions are checked.
const pollInterval = 25 * time.Millisecond

// poll calls cond every pollInterval until it returns true, proc (if not
// nil) exits, or timeout passes. Each call of cond gets a context bounded by
// the time left. An error from cond does not stop the polling; the last one
// is reported if the time runs out.
func poll(timeout time.Duration, proc *process, what string, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	var lastErr error
	for {
		attemptCtx, attemptCancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := cond(attemptCtx)
		attemptCancel()
		if ok {
			return nil
		}
		if err != nil {
			lastErr = err
		}
		if proc != nil {
			if exited, err := proc.exited(); exited {
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("waiting for %s: gave up after %v; last error: %w", what, timeout, lastErr)
			}
			return fmt.Errorf("waiting for %s: gave up after %v", what, timeout)
		case <-ticker.C:
		case <-procDone(proc):
		}
	}
}

// procDone returns a channel closed when proc exits; nil (never ready) for a
// nil proc.
func procDone(proc *process) <-chan struct{} {
	if proc == nil {
		return nil
	}
	return proc.done
}
