package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/test/envoy"
	"github.com/proxyctl/proxyctl/test/netns"
)

// The real Envoy phase: one bin/envoy, connected to the first replica
// beside the simulated Envoys, holding the configuration of all N proxies
// plus one more, "real", whose Service is a backend on loopback. It
// measures what the simulated Envoys cannot: how long a real Envoy takes to
// load the configuration and to apply one change, the CPU Envoy spends per
// change, and whether requests through it keep succeeding during a burst
// of changes.

const (
	realName = "real"
	realFQDN = "real.bench.example.com"
)

// RealEnvoy is the real Envoy phase's figures.
type RealEnvoy struct {
	// Delta says whether Envoy used the incremental protocol.
	Delta bool `json:"delta"`
	// FullSeconds: from Envoy's start until it routes to the real proxy
	// with every cluster loaded.
	FullSeconds float64 `json:"fullSeconds"`
	// Apply: from the update of the real proxy (a new route) to the first
	// 200 from that route through Envoy, K times.
	Apply Summary `json:"apply"`
	// BytesPerChange is what the servers sent per stream for one change,
	// during Apply: (sum of proxyctl_xds_sent_bytes_total) / changes /
	// streams.
	BytesPerChange float64 `json:"bytesPerChange"`
	// CPUPerChangeMS is Envoy's CPU time (user+system) during the burst,
	// per change.
	CPUPerChangeMS float64 `json:"cpuPerChangeMS"`
	// Burst: the changes made, requests sent through Envoy meanwhile and
	// those that did not answer 200, and how long until Envoy had them all.
	BurstChanges  int     `json:"burstChanges"`
	BurstRequests int64   `json:"burstRequests"`
	BurstFailures int64   `json:"burstFailures"`
	BurstSeconds  float64 `json:"burstSeconds"`
	// FirstFailure describes the first failed request, if any.
	FirstFailure string `json:"firstFailure,omitempty"`
}

// realEnvoy runs the phase. listenerPort is the HTTP listener the replicas
// tell Envoy to open.
func (r *run) realEnvoy(ctx context.Context, track *tracker, listenerPort int) error {
	res := &RealEnvoy{Delta: r.cfg.Delta}
	r.res.RealEnvoy = res

	backend, err := startBackend()
	if err != nil {
		return err
	}
	r.defer_(backend.close)
	gen, err := r.createReal(ctx, backend.ip, backend.port)
	if err != nil {
		return err
	}
	if _, err := track.waitGeneration(r.phase(ctx), r.ns+"/"+realName, gen); err != nil {
		return fmt.Errorf("proxy %s never valid: %w", realName, err)
	}

	host, port, err := net.SplitHostPort(r.replicas[0].XDSAddr)
	if err != nil {
		return err
	}
	xdsPort, _ := strconv.Atoi(port)
	p, err := startProbe(res, host, xdsPort, listenerPort, r.cfg.PhaseTimeout, r.logf)
	if err != nil {
		return err
	}
	r.defer_(func() {
		if r.failed {
			r.logf("envoy log:\n%s", p.e.LogTail(30))
		}
		p.stop()
	})
	if err := p.full(ctx); err != nil {
		return err
	}
	// Single changes: a new route on the real proxy each time.
	sent := func() (float64, error) { return r.sentBytes(ctx) }
	if err := p.applies(ctx, min(r.cfg.Changes, 10), r.addRealRoute, sent, r.cfg.Envoys+1); err != nil {
		return err
	}
	// The burst: BurstChanges other proxies change one after another.
	client := r.proxies.ProjectcontourV1().HTTPProxies(r.ns)
	return p.burst(ctx, r.cfg.BurstChanges, func(c int) error {
		i := c % r.cfg.Proxies
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			hp, err := client.Get(ctx, proxyName(i), metav1.GetOptions{})
			if err != nil {
				return err
			}
			hp.Spec.Routes[0].Conditions = []contourv1.MatchCondition{{Prefix: fmt.Sprintf("/burst-%d-%d", c, time.Now().UnixNano())}}
			_, err = client.Update(ctx, hp, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			return fmt.Errorf("burst change %d: %w", c, err)
		}
		return nil
	}, r.addRealRoute)
}

// probe measures one real Envoy the same way in both runs; only how a
// change reaches proxyctl differs (through the API server, or handed to
// the xDS server as a DAG).
type probe struct {
	res     *RealEnvoy
	e       *envoy.Envoy
	dir     string
	began   time.Time
	timeout time.Duration
	logf    func(format string, args ...any)
	// get sends GET path to the real proxy through Envoy's HTTP listener.
	get    func(ctx context.Context, path string) (int, error)
	client *http.Client
}

// startProbe starts bin/envoy against the xDS server at xdsHost:xdsPort;
// the configuration it gets opens its HTTP listener on listenerPort.
func startProbe(res *RealEnvoy, xdsHost string, xdsPort, listenerPort int, timeout time.Duration, logf func(string, ...any)) (*probe, error) {
	dir, err := os.MkdirTemp("", "proxyctl-bench-envoy-")
	if err != nil {
		return nil, err
	}
	p := &probe{res: res, dir: dir, began: time.Now(), timeout: timeout, logf: logf,
		client: &http.Client{Timeout: 5 * time.Second}}
	p.e, err = envoy.New(envoy.Options{
		XDSAddress: xdsHost, XDSPort: xdsPort, Delta: res.Delta, Dir: dir, NodeID: "bench-real-envoy",
		LogLevel: "warn", StartTimeout: timeout,
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start envoy: %w", err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", listenerPort)
	p.get = func(ctx context.Context, path string) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+path, nil)
		if err != nil {
			return 0, err
		}
		req.Host = realFQDN
		resp, err := p.client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	return p, nil
}

func (p *probe) stop() {
	_ = p.e.Stop()
	_ = os.RemoveAll(p.dir)
}

// waitOK waits, at most a phase, until path answers 200 through Envoy.
func (p *probe) waitOK(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	for {
		if code, err := p.get(ctx, path); err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("envoy never answered 200 for %s: %w", path, context.Cause(ctx))
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// full waits until Envoy routes to the real proxy with every cluster
// loaded.
func (p *probe) full(ctx context.Context) error {
	if err := p.waitOK(ctx, "/"); err != nil {
		return fmt.Errorf("%w\n%s", err, p.e.LogTail(20))
	}
	p.res.FullSeconds = time.Since(p.began).Seconds()
	p.logf("real Envoy (delta %v) routes through the full config %.2fs after its start", p.res.Delta, p.res.FullSeconds)
	return nil
}

// applies adds k routes to the real proxy, one at a time, each once the
// one before answers through Envoy. sent is the bytes the servers sent so
// far, over streams streams.
func (p *probe) applies(ctx context.Context, k int, addRoute func(context.Context, string) error, sent func() (float64, error), streams int) error {
	before, err := sent()
	if err != nil {
		return err
	}
	var applies []time.Duration
	for c := range k {
		path := fmt.Sprintf("/apply-%d", c)
		t0 := time.Now()
		if err := addRoute(ctx, path); err != nil {
			return err
		}
		if err := p.waitOK(ctx, path); err != nil {
			return err
		}
		applies = append(applies, time.Since(t0))
	}
	after, err := sent()
	if err != nil {
		return err
	}
	p.res.Apply = summarize(applies)
	p.res.BytesPerChange = (after - before) / float64(k) / float64(streams)
	p.logf("real Envoy: %d changes applied p50 %s max %s; %s per stream per change", k,
		fmtDur(p.res.Apply.P50), fmtDur(p.res.Apply.Max), fmtBytes(p.res.BytesPerChange))
	return nil
}

// burst sends requests through Envoy from two goroutines all along while
// n changes are made one after another (change(c), other proxies), then a
// route on the real proxy; it measures until that route answers, Envoy's
// CPU time meanwhile, and the requests that did not answer 200.
func (p *probe) burst(ctx context.Context, n int, change func(c int) error, addRoute func(context.Context, string) error) error {
	var sent, failed atomic.Int64
	var firstFailure atomic.Value
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stopTraffic()
		wg.Wait()
	}()
	for range 2 {
		wg.Go(func() {
			for trafficCtx.Err() == nil {
				code, err := p.get(trafficCtx, "/")
				if trafficCtx.Err() != nil {
					return
				}
				sent.Add(1)
				if err != nil || code != http.StatusOK {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %v", code, err))
				}
			}
		})
	}
	cpu0, err := processCPU(p.e.Pid())
	if err != nil {
		return err
	}
	t0 := time.Now()
	for c := range n {
		if err := change(c); err != nil {
			return err
		}
	}
	err = addRoute(ctx, "/burst-done")
	if err == nil {
		err = p.waitOK(ctx, "/burst-done")
	}
	p.res.BurstSeconds = time.Since(t0).Seconds()
	cpu1, cerr := processCPU(p.e.Pid())
	stopTraffic()
	wg.Wait()
	if err = errors.Join(err, cerr); err != nil {
		return err
	}
	res := p.res
	res.BurstChanges = n
	res.BurstRequests, res.BurstFailures = sent.Load(), failed.Load()
	if f, ok := firstFailure.Load().(string); ok {
		res.FirstFailure = f
	}
	res.CPUPerChangeMS = (cpu1 - cpu0) * 1000 / float64(n+1)
	p.logf("real Envoy burst: %d changes in %.2fs, %d requests, %d not 200; Envoy CPU %.1f ms per change",
		n, res.BurstSeconds, res.BurstRequests, res.BurstFailures, res.CPUPerChangeMS)
	return nil
}

// createReal creates the real proxy, its Service and an EndpointSlice on
// the backend at ip:port, and returns the proxy's generation.
func (r *run) createReal(ctx context.Context, ip string, port int) (int64, error) {
	if _, err := r.kube.CoreV1().Services(r.ns).Create(ctx, headlessService(realName), metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	if _, err := r.kube.DiscoveryV1().EndpointSlices(r.ns).Create(ctx, backendSlice(realName, ip, int32(port)), metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	p := benchProxy(realName, realFQDN, realName)
	created, err := r.proxies.ProjectcontourV1().HTTPProxies(r.ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		return 0, err
	}
	return created.Generation, nil
}

// addRealRoute adds an exact route path to the real proxy.
func (r *run) addRealRoute(ctx context.Context, path string) error {
	client := r.proxies.ProjectcontourV1().HTTPProxies(r.ns)
	// The status writer updates the object too: retry conflicts.
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := client.Get(ctx, realName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		p.Spec.Routes = append(p.Spec.Routes, contourv1.Route{
			Conditions: []contourv1.MatchCondition{{Exact: path}},
			Services:   []contourv1.Service{{Name: realName, Port: 80}},
		})
		_, err = client.Update(ctx, p, metav1.UpdateOptions{})
		return err
	})
}

// sentBytes sums proxyctl_xds_sent_bytes_total over every replica.
func (r *run) sentBytes(ctx context.Context) (float64, error) {
	total := 0.0
	for _, rep := range r.replicas {
		code, body, err := rep.Get(ctx, "/metrics")
		if err != nil || code != http.StatusOK {
			return 0, fmt.Errorf("%s /metrics: %d %v", rep.Identity, code, err)
		}
		m, err := parseMetrics(strings.NewReader(body))
		if err != nil {
			return 0, err
		}
		total += m.sum(metricSentBytes)
	}
	return total, nil
}

// processCPU is a process's user+system CPU time in seconds.
func processCPU(pid int) (float64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// Fields after the command, which is in parentheses and may hold
	// spaces: utime and stime are the 12th and 13th.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (ut + st) / 100, nil // USER_HZ is 100 on Linux
}

// backend answers 200 inside a network namespace of its own (the API
// server refuses loopback endpoints), which Envoy reaches over a veth pair.
type backend struct {
	ns   *netns.NS
	srv  *http.Server
	ip   string
	port int
}

func startBackend() (*backend, error) {
	ns, err := netns.Create()
	if err != nil {
		return nil, fmt.Errorf("network namespace for the backend (needs root): %w", err)
	}
	ln, err := ns.Listen("tcp", net.JoinHostPort(ns.IP(), "0"))
	if err != nil {
		return nil, errors.Join(err, ns.Close())
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &backend{ns: ns, srv: srv, ip: ns.IP(), port: ln.Addr().(*net.TCPAddr).Port}, nil
}

func (b *backend) close() {
	_ = b.srv.Close()
	_ = b.ns.Close()
}
