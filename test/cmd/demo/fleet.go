package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/proxyctl/proxyctl/test/cluster"
	"github.com/proxyctl/proxyctl/test/replica"
)

// fleet runs the replicas and, like Kubernetes, starts a replica again when
// it exits: a replica that loses leadership exits by design.
type fleet struct {
	mu       sync.Mutex
	opts     []replica.Options
	current  []*replica.Replica
	restarts []int
	stopping bool
	wg       sync.WaitGroup
}

func (d *demo) startReplicas() error {
	ports, err := cluster.FreePorts(2 * replicas)
	if err != nil {
		return err
	}
	args := append([]string{
		"--xds-ca-file", filepath.Join(d.certDir(), "ca.crt"),
		"--xds-cert-file", filepath.Join(d.certDir(), "proxyctl.crt"),
		"--xds-key-file", filepath.Join(d.certDir(), "proxyctl.key"),
		"--envoy-address", "127.0.0.1",
		"--envoy-http-port", strconv.Itoa(d.httpPort),
		"--envoy-https-port", strconv.Itoa(d.httpsPort),
	}, leaseArgs...)
	f := &fleet{}
	for i := range replicas {
		f.opts = append(f.opts, replica.Options{
			Binary: d.proxyctl, Kubeconfig: d.kube.Kubeconfig,
			Identity: fmt.Sprintf("proxyctl-%d", i), LeaseNamespace: "proxyctl",
			Args: args, LogDir: d.logDir(),
			HTTPPort: ports[2*i], XDSPort: ports[2*i+1],
		})
	}
	f.current = make([]*replica.Replica, replicas)
	f.restarts = make([]int, replicas)
	d.fleet = f
	for i := range replicas {
		if err := f.launch(i); err != nil {
			return err
		}
	}
	return f.waitReady(90 * time.Second)
}

func (f *fleet) launch(i int) error {
	r, err := replica.Launch(f.opts[i])
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.current[i] = r
	f.mu.Unlock()
	f.wg.Add(1)
	go f.supervise(i, r)
	return nil
}

// supervise restarts replica i when it exits, unless the demo is stopping.
func (f *fleet) supervise(i int, r *replica.Replica) {
	defer f.wg.Done()
	<-r.Exited()
	code, _ := r.Wait(0)
	f.mu.Lock()
	stopping := f.stopping
	if !stopping {
		f.restarts[i]++
	}
	f.mu.Unlock()
	if stopping {
		return
	}
	fmt.Printf("\n  %s exited (code %d); starting it again, as Kubernetes would. Log: %s\n", r.Identity, code, r.LogPath)
	time.Sleep(time.Second) // a restart back-off, and time for the old process's ports to free
	if err := f.launch(i); err != nil {
		fmt.Printf("  could not restart %s: %v\n", r.Identity, err)
	}
}

func (f *fleet) replicas() []*replica.Replica {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*replica.Replica(nil), f.current...)
}

func (f *fleet) xdsAddrs() []string {
	var out []string
	for _, o := range f.opts {
		out = append(out, net.JoinHostPort("127.0.0.1", strconv.Itoa(o.XDSPort)))
	}
	return out
}

func (f *fleet) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, r := range f.replicas() {
		for {
			code, body, err := r.Get(context.Background(), "/readyz")
			if err == nil && code == 200 {
				break
			}
			select {
			case <-r.Exited():
				return fmt.Errorf("%s exited; see %s", r.Identity, r.LogPath)
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not ready: %d %q %v; see %s", r.Identity, code, body, err, r.LogPath)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// stop ends every replica with SIGTERM (releasing the Lease) and waits.
func (f *fleet) stop() {
	f.mu.Lock()
	f.stopping = true
	current := append([]*replica.Replica(nil), f.current...)
	f.mu.Unlock()
	for _, r := range current {
		if r != nil {
			_ = r.Signal(syscall.SIGTERM)
		}
	}
	for _, r := range current {
		if r != nil {
			if _, err := r.Wait(15 * time.Second); err != nil {
				r.Kill()
			}
		}
	}
	f.wg.Wait()
}

func writeFile(dir, name string, data []byte) error {
	return os.WriteFile(filepath.Join(dir, name), data, 0o644)
}
