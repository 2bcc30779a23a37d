package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"k8s.io/apimachinery/pkg/types"

	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/xds"
	"github.com/proxyctl/proxyctl/internal/xdsserver"
	"github.com/proxyctl/proxyctl/test/cluster"
)

// The direct run (proxyctl-bench --direct) measures the xDS side alone: no
// API server, no replicas, no status. It builds a DAG of N proxies in
// process, serves it with one xdsserver.Server, connects C simulated Envoys and
// one real Envoy, and changes one proxy at a time by handing the server a
// DAG in which only that virtual host is new, as the incremental DAG
// builder does. What it measures is what a change costs on the wire and in
// Envoy, without the API server, which on a busy machine takes minutes to
// store 30,000 objects.

// DirectConfig says what to run.
type DirectConfig struct {
	Proxies, Envoys, Changes, BurstChanges int
	Delta                                  bool
	Log                                    io.Writer
	PhaseTimeout                           time.Duration
}

// DirectResult is one direct run's figures.
type DirectResult struct {
	Timestamp time.Time    `json:"timestamp"`
	Commit    string       `json:"commit"`
	Config    DirectConfig `json:"config"`
	// SimulatedFullSeconds: until every simulated Envoy held the full
	// configuration, from the first snapshot.
	SimulatedFullSeconds float64 `json:"simulatedFullSeconds"`
	// ChangeEnvoys: one change until every simulated Envoy held it.
	ChangeEnvoys Summary `json:"changeEnvoys"`
	// ChangeBytesPerStream is what the server sent per stream for one
	// change.
	ChangeBytesPerStream float64   `json:"changeBytesPerStream"`
	RealEnvoy            RealEnvoy `json:"realEnvoy"`
}

// RunDirect runs the direct benchmark.
func RunDirect(ctx context.Context, cfg DirectConfig) (*DirectResult, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.PhaseTimeout <= 0 {
		cfg.PhaseTimeout = 5 * time.Minute
	}
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Log, "bench: "+format+"\n", args...) }
	res := &DirectResult{Timestamp: time.Now().UTC(), Config: cfg}
	res.Config.Log = nil
	if root, err := cluster.FindRepoRoot(); err == nil {
		res.Commit = newResult(Config{RepoRoot: root}).Commit
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	be, err := startBackend()
	if err != nil {
		return nil, err
	}
	defer be.close()
	ports, err := cluster.FreePorts(2)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	log := logrus.New()
	log.SetOutput(io.Discard)
	srv, err := xdsserver.NewServer(xdsserver.ServerConfig{
		Listeners:  xds.ListenerConfig{HTTPAddress: "127.0.0.1", HTTPPort: uint32(ports[0]), HTTPSAddress: "127.0.0.1", HTTPSPort: uint32(ports[1])},
		Registerer: reg, Log: log,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-errc }()
	addr := ln.Addr().String()

	w := newWorld(cfg.Proxies, be.ip, uint32(be.port))
	began := time.Now()
	srv.OnChange(w.dag())
	logf("DAG of %d proxies served", cfg.Proxies)

	fl, err := dialFleet(ctx, "envoy", cfg.Envoys, []string{addr})
	if err != nil {
		return nil, err
	}
	defer fl.close()
	phase := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, cfg.PhaseTimeout) }
	pctx, pcancel := phase()
	_, at, err := fl.waitFull(pctx, cfg.Proxies, []byte(fqdn(cfg.Proxies-1)))
	pcancel()
	if err != nil {
		return nil, fmt.Errorf("simulated envoys: %w", err)
	}
	res.SimulatedFullSeconds = at.Sub(began).Seconds()
	logf("%d simulated Envoys hold the full config after %.2fs", cfg.Envoys, res.SimulatedFullSeconds)

	byType := func() map[string]float64 {
		out := map[string]float64{}
		mfs, err := reg.Gather()
		if err != nil {
			return out
		}
		for _, mf := range mfs {
			if mf.GetName() == metricSentBytes {
				for _, m := range mf.GetMetric() {
					for _, l := range m.GetLabel() {
						out[l.GetValue()] += m.GetCounter().GetValue()
					}
				}
			}
		}
		return out
	}
	sent := func() float64 {
		total := 0.0
		for _, v := range byType() {
			total += v
		}
		return total
	}
	since := func(prev map[string]float64) string {
		out := ""
		for typ, v := range byType() {
			if d := v - prev[typ]; d > 0 {
				out += fmt.Sprintf(" %s=%s", typ, fmtBytes(d))
			}
		}
		return out
	}

	// Simulated Envoys: one proxy's prefix at a time.
	b0 := sent()
	var toEnvoys []time.Duration
	for c := range cfg.Changes {
		prefix := fmt.Sprintf("/bench-change-%d-%d", c, time.Now().UnixNano())
		t0 := time.Now()
		srv.OnChange(w.change(c*cfg.Proxies/max(cfg.Changes, 1), prefix))
		pctx, pcancel := phase()
		at, err := fl.waitRoute(pctx, []byte(prefix))
		pcancel()
		if err != nil {
			return nil, fmt.Errorf("change %d: %w", c, err)
		}
		last := t0
		for _, t := range at {
			if t.After(last) {
				last = t
			}
		}
		toEnvoys = append(toEnvoys, last.Sub(t0))
	}
	res.ChangeEnvoys = summarize(toEnvoys)
	res.ChangeBytesPerStream = (sent() - b0) / float64(max(cfg.Changes, 1)) / float64(cfg.Envoys)
	logf("%d changes: at all simulated Envoys p50 %s; %s per stream per change", cfg.Changes,
		fmtDur(res.ChangeEnvoys.P50), fmtBytes(res.ChangeBytesPerStream))

	// The real Envoy.
	re := &res.RealEnvoy
	re.Delta = cfg.Delta
	_, port, _ := net.SplitHostPort(addr)
	xdsPort, _ := strconv.Atoi(port)
	p, err := startProbe(re, "127.0.0.1", xdsPort, ports[0], cfg.PhaseTimeout, logf)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	if err := p.full(ctx); err != nil {
		return nil, err
	}
	addRoute := func(_ context.Context, path string) error {
		srv.OnChange(w.realRoute(path))
		return nil
	}
	types0 := byType()
	sentBytes := func() (float64, error) { return sent(), nil }
	if err := p.applies(ctx, min(cfg.Changes, 10), addRoute, sentBytes, cfg.Envoys+1); err != nil {
		return nil, err
	}
	logf("sent during the changes to the real Envoy, by type:%s", since(types0))
	err = p.burst(ctx, cfg.BurstChanges, func(c int) error {
		// As fast as the API server would let changes in: one per DAG.
		srv.OnChange(w.change(c%cfg.Proxies, fmt.Sprintf("/burst-%d-%d", c, time.Now().UnixNano())))
		return nil
	}, addRoute)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// world is the DAG of the direct run: proxy i is fqdn(i) routing "/" (or
// its changed prefix) to its own Service, and the real proxy routes to the
// backend. A change makes new pointers for the changed virtual host only,
// as dag.Builder does.
type world struct {
	vhosts   []*dag.VirtualHost
	clusters []*dag.Cluster
	real     *dag.VirtualHost
	realC    *dag.Cluster
}

func newWorld(n int, ip string, port uint32) *world {
	w := &world{}
	for i := range n {
		c := &dag.Cluster{
			Name:      fmt.Sprintf("bench/%s/80/da39a3ee5e", serviceName(i)),
			Service:   types.NamespacedName{Namespace: "bench", Name: serviceName(i)},
			Port:      80,
			Endpoints: []dag.Endpoint{{Address: endpointAddress(i), Port: backendPort}},
		}
		w.clusters = append(w.clusters, c)
		w.vhosts = append(w.vhosts, directVhost(fqdn(i), c, "/"))
	}
	w.realC = &dag.Cluster{
		Name:      "bench/real/80/da39a3ee5e",
		Service:   types.NamespacedName{Namespace: "bench", Name: realName},
		Port:      80,
		Endpoints: []dag.Endpoint{{Address: ip, Port: port}},
	}
	w.real = directVhost(realFQDN, w.realC, "/")
	return w
}

func directVhost(name string, c *dag.Cluster, prefix string) *dag.VirtualHost {
	return &dag.VirtualHost{Name: name, Routes: []*dag.Route{{
		PathMatch: dag.PathMatch{Kind: dag.PathPrefix, Value: prefix},
		Clusters:  []*dag.WeightedCluster{{Cluster: c}},
	}}}
}

func (w *world) dag() *dag.DAG {
	http := make([]*dag.VirtualHost, 0, len(w.vhosts)+1)
	http = append(http, w.vhosts...)
	http = append(http, w.real)
	clusters := make([]*dag.Cluster, 0, len(w.clusters)+1)
	clusters = append(clusters, w.clusters...)
	clusters = append(clusters, w.realC)
	return &dag.DAG{HTTP: http, Clusters: clusters}
}

// change gives proxy i the route prefix and returns the new DAG.
func (w *world) change(i int, prefix string) *dag.DAG {
	w.vhosts[i] = directVhost(fqdn(i), w.clusters[i], prefix)
	return w.dag()
}

// realRoute adds an exact route path to the real proxy and returns the new
// DAG.
func (w *world) realRoute(path string) *dag.DAG {
	vh := &dag.VirtualHost{Name: realFQDN, Routes: append([]*dag.Route{{
		PathMatch: dag.PathMatch{Kind: dag.PathExact, Value: path},
		Clusters:  []*dag.WeightedCluster{{Cluster: w.realC}},
	}}, w.real.Routes...)}
	w.real = vh
	return w.dag()
}
