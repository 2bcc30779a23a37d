package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/proxyctl/proxyctl/test/cluster"
	"github.com/proxyctl/proxyctl/test/envoy"
	"github.com/proxyctl/proxyctl/test/netns"
)

// Lease timings: shorter than the defaults (15s/10s/2s) so that killing the
// leader shows a new one within seconds; the proportions are the same.
var leaseArgs = []string{
	"--leader-election-lease-duration", "8s",
	"--leader-election-renew-deadline", "6s",
	"--leader-election-retry-period", "1s",
}

const replicas = 3

// demo holds everything the demo starts, so cleanup can stop it.
type demo struct {
	dir                 string
	httpPort, httpsPort int
	started             time.Time

	root     string // the repository
	proxyctl string // bin/proxyctl
	kube     *cluster.Cluster
	net      *netns.NS
	backends []*backendServer
	fleet    *fleet
	balancer *balancer
	envoy    *envoy.Envoy
}

// stepError names the step that failed.
type stepError struct {
	step string
	err  error
}

func (e stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e stepError) Unwrap() error { return e.err }

func (d *demo) logDir() string { return filepath.Join(d.dir, "logs") }

// step prints progress and runs f, naming the step if it fails.
func (d *demo) step(n int, what string, f func() error) error {
	fmt.Printf("[%d/7] %s ...", n, what)
	start := time.Now()
	if err := f(); err != nil {
		fmt.Println(" failed")
		return stepError{step: what, err: err}
	}
	fmt.Printf(" done (%.1fs)\n", time.Since(start).Seconds())
	return nil
}

func (d *demo) run(ctx context.Context, exitAfterReady bool) error {
	root, err := cluster.FindRepoRoot()
	if err != nil {
		return err
	}
	d.root = root
	d.proxyctl = filepath.Join(root, "bin", "proxyctl")
	if _, err := os.Stat(filepath.Join(d.dir, "kubeconfig")); err == nil {
		return fmt.Errorf("%s exists: is another demo running? Stop it, or remove %s", d.dir, d.dir)
	}
	if err := os.MkdirAll(d.logDir(), 0o755); err != nil {
		return err
	}

	steps := []struct {
		what string
		f    func() error
	}{
		{"starting the control plane (etcd, kube-apiserver, CRDs)", d.startControlPlane},
		{"generating xDS mutual TLS certificates (proxyctl certgen)", d.certgen},
		{"starting sample backends in a network namespace", d.startBackends},
		{"applying sample Services, EndpointSlices and HTTPProxies", d.applySamples},
		{fmt.Sprintf("starting %d proxyctl replicas with leader election", replicas), d.startReplicas},
		{"starting Envoy (bootstrapped by proxyctl bootstrap)", d.startEnvoy},
		{"waiting for the first 200 through Envoy", d.waitForFirst200},
	}
	for i, s := range steps {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := d.step(i+1, s.what, s.f); err != nil {
			return err
		}
	}
	fmt.Printf("\nFirst 200 through Envoy %.1fs after the demo started.\n", time.Since(d.started).Seconds())
	d.printHelp()
	if exitAfterReady {
		return nil
	}
	d.liveView(ctx)
	return nil
}

func (d *demo) startControlPlane() error {
	c, err := cluster.New(cluster.Options{})
	if err != nil {
		return err
	}
	d.kube = c
	data, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d.dir, "kubeconfig"), data, 0o600)
}

func (d *demo) certDir() string { return filepath.Join(d.dir, "certs") }

func (d *demo) certgen() error {
	out, err := exec.Command(d.proxyctl, "certgen", "--output-dir", d.certDir()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

func (d *demo) startEnvoy() error {
	d.balancer = newBalancer(d.fleet.xdsAddrs())
	if err := d.balancer.start(); err != nil {
		return fmt.Errorf("xDS service: %w", err)
	}
	e, err := envoy.New(envoy.Options{
		XDSAddress: "127.0.0.1",
		XDSPort:    d.balancer.port(),
		CAFile:     filepath.Join(d.certDir(), "ca.crt"),
		CertFile:   filepath.Join(d.certDir(), "envoy.crt"),
		KeyFile:    filepath.Join(d.certDir(), "envoy.key"),
		NodeID:     "demo-envoy",
		Proxyctl:   d.proxyctl,
		Dir:        d.logDir(),
	})
	if err != nil {
		return err
	}
	d.envoy = e
	return e.WaitReady(90 * time.Second)
}

var loopback = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 3 * time.Second}

func (d *demo) waitForFirst200() error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(d.httpPort)+"/", nil)
		req.Host = "demo.example.com"
		resp, err := loopback.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo.example.com never answered 200: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cleanup stops everything in the reverse order of starting. The working
// directory is removed after a clean run and kept after a failure, for its
// logs.
func (d *demo) cleanup(removeDir bool) error {
	var errs []error
	if d.envoy != nil {
		errs = append(errs, d.envoy.Stop())
	}
	if d.balancer != nil {
		d.balancer.stop()
	}
	if d.fleet != nil {
		d.fleet.stop()
	}
	for _, b := range d.backends {
		b.stop()
	}
	if d.net != nil {
		errs = append(errs, d.net.Close())
	}
	if d.kube != nil {
		errs = append(errs, d.kube.Stop())
	}
	if removeDir {
		errs = append(errs, os.RemoveAll(d.dir))
	}
	return errors.Join(errs...)
}
