package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/test/cluster"
	"github.com/proxyctl/proxyctl/test/replica"
)

// Config says what to run. The zero value of a field means its default.
type Config struct {
	// Replicas is R, the proxyctl replicas (default 3).
	Replicas int `json:"replicas"`
	// Envoys is C, the simulated Envoys connected throughout, spread over
	// the replicas; as many fresh ones connect at the end (default 50).
	Envoys int `json:"envoys"`
	// Proxies is N, the HTTPProxies created, each with a Service and an
	// EndpointSlice (default 1000).
	Proxies int `json:"proxies"`
	// Changes is K, the single changes timed one after another (default 20).
	Changes int `json:"changes"`
	// Workers create objects concurrently (default 32).
	Workers int `json:"workers"`
	// QPS and Burst limit the harness's own client (default 2000 and 4000).
	QPS   float32 `json:"qps"`
	Burst int     `json:"burst"`
	// ServeArgs are extra `proxyctl serve` flags for every replica.
	ServeArgs []string `json:"serveArgs,omitempty"`
	// RealEnvoy runs the real Envoy phase (realenvoy.go) after the
	// simulated one; Delta makes that Envoy use incremental xDS.
	// BurstChanges is the number of changes of its burst (default 100).
	RealEnvoy    bool `json:"realEnvoy,omitempty"`
	Delta        bool `json:"delta,omitempty"`
	BurstChanges int  `json:"burstChanges,omitempty"`
	// Pprof serves pprof on each replica's --debug-address (loopback) and
	// logs the addresses.
	Pprof bool `json:"pprof,omitempty"`

	// Binary is a proxyctl executable to run; empty builds ./cmd/proxyctl
	// without the race detector.
	Binary string `json:"-"`
	// RepoRoot is the proxyctl checkout; default: found from the working
	// directory.
	RepoRoot string `json:"-"`
	// LogDir keeps the replicas' logs; empty uses a temporary directory,
	// removed unless the run fails.
	LogDir string `json:"-"`
	// Log receives progress lines; nil discards them.
	Log io.Writer `json:"-"`
	// PhaseTimeout bounds each waiting phase (default 5 minutes).
	PhaseTimeout time.Duration `json:"-"`
}

func (c *Config) complete() error {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Replicas, 3)
	def(&c.Envoys, 50)
	def(&c.Proxies, 1000)
	def(&c.Workers, 32)
	def(&c.Burst, 4000)
	def(&c.BurstChanges, 100)
	if c.Changes < 0 {
		return errors.New("changes must not be negative")
	}
	if c.Changes == 0 {
		c.Changes = 20
	}
	if c.QPS <= 0 {
		c.QPS = 2000
	}
	if c.PhaseTimeout <= 0 {
		c.PhaseTimeout = 5 * time.Minute
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.RepoRoot == "" {
		root, err := cluster.FindRepoRoot()
		if err != nil {
			return err
		}
		c.RepoRoot = root
	}
	return nil
}

// run is one benchmark in progress and what it has started, stopped in
// reverse order by stop.
type run struct {
	cfg      Config
	res      *Result
	cleanups []func()
	failed   bool

	cluster  *cluster.Cluster
	kube     kubernetes.Interface
	proxies  versioned.Interface
	ns       string
	replicas []*replica.Replica
	leader   *replica.Replica
	// listenerPort is the HTTP listener the replicas configure, free on
	// this machine for the real Envoy.
	listenerPort int
}

func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Log, "bench: "+format+"\n", args...)
}

func (r *run) defer_(f func()) { r.cleanups = append(r.cleanups, f) }

func (r *run) stop() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// Run runs the benchmark. Everything it starts (control plane, replicas,
// clients) is stopped before it returns, also when ctx is cancelled.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.complete(); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, res: newResult(cfg)}
	defer r.stop()
	err := r.run(ctx)
	if err != nil {
		r.failed = true
		return nil, err
	}
	return r.res, nil
}

func (r *run) run(ctx context.Context) error {
	if err := r.startControlPlane(); err != nil {
		return err
	}
	if err := r.startReplicas(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	r.defer_(cancel) // stops the informer and the clients' streams

	addrs := make([]string, len(r.replicas))
	for i, rep := range r.replicas {
		addrs[i] = rep.XDSAddr
	}
	envoys, err := dialFleet(ctx, "envoy", r.cfg.Envoys, addrs)
	if err != nil {
		return fmt.Errorf("connect simulated envoys: %w", err)
	}
	r.defer_(envoys.close)
	r.logf("%d simulated Envoys connected over %d replicas", len(envoys), len(addrs))

	track, err := startTracker(ctx, r.proxies, r.ns)
	if err != nil {
		return err
	}
	before, err := r.leaderMetrics(ctx)
	if err != nil {
		return err
	}
	cpuBefore, err := r.cpu(ctx)
	if err != nil {
		return err
	}

	// Create: N Services, EndpointSlices and HTTPProxies.
	n := r.cfg.Proxies
	r.logf("creating %d HTTPProxies, Services and EndpointSlices with %d workers", n, r.cfg.Workers)
	began := time.Now()
	var lat createLatency
	lastCreate, err := createAll(r.phase(ctx), r.kube, r.proxies, r.ns, n, r.cfg.Workers, &lat)
	if err != nil {
		return err
	}
	r.res.CreateSeconds = lastCreate.Sub(began).Seconds()
	r.logf("created %d objects in %.2fs; %s", 3*n, r.res.CreateSeconds, &lat)

	allValid, err := track.waitAllValid(r.phase(ctx), n)
	if err != nil {
		return err
	}
	r.res.AllValidSeconds = max(allValid.Sub(lastCreate), 0).Seconds()
	r.logf("all %d valid %.3fs after the last create", n, r.res.AllValidSeconds)

	_, atEnvoys, err := envoys.waitFull(r.phase(ctx), n, []byte(fqdn(n-1)))
	if err != nil {
		return fmt.Errorf("envoys never got the full config: %w", err)
	}
	r.res.AllEnvoysSeconds = max(atEnvoys.Sub(lastCreate), 0).Seconds()
	r.logf("all %d Envoys hold the full config %.3fs after the last create", len(envoys), r.res.AllEnvoysSeconds)

	after, err := r.settledMetrics(ctx)
	if err != nil {
		return err
	}
	delta := func(result string) float64 {
		return after.get(metricStatusWrites, "result", result) - before.get(metricStatusWrites, "result", result)
	}
	r.res.StatusWritesPerProxy = delta("written") / float64(n)
	r.res.StatusConflicts = delta("conflict")
	r.res.StatusFailures = delta("failed")

	if err := r.changes(ctx, track, envoys); err != nil {
		return err
	}

	final, err := r.leaderMetrics(ctx)
	if err != nil {
		return err
	}
	r.res.LeaderRSSMB = final.get(metricRSS) / (1 << 20)
	rebuilds := final.histogram(metricRebuildSeconds)
	r.res.DAGRebuilds = rebuilds.count
	r.res.DAGRebuildMeanMS = ms(rebuilds.mean())
	r.res.DAGRebuildP50MS = ms(rebuilds.quantile(0.5))

	if err := r.freshEnvoys(ctx, envoys, addrs); err != nil {
		return err
	}
	if r.cfg.RealEnvoy {
		if err := r.realEnvoy(ctx, track, r.listenerPort); err != nil {
			return fmt.Errorf("real envoy: %w", err)
		}
	}
	cpuAfter, err := r.cpu(ctx)
	if err != nil {
		return err
	}
	r.res.CPU = cpuAfter.since(cpuBefore)
	return nil
}

// changes times K single changes, one after another.
func (r *run) changes(ctx context.Context, track *tracker, envoys fleet) error {
	before, err := r.leaderMetrics(ctx)
	if err != nil {
		return err
	}
	bytesBefore, err := r.sentBytes(ctx)
	if err != nil {
		return err
	}
	n, k := r.cfg.Proxies, r.cfg.Changes
	var toValid, toEnvoys []time.Duration
	for c := range k {
		i := c * n / k
		valid, all, err := r.change(r.phase(ctx), track, envoys, i, c)
		if err != nil {
			return fmt.Errorf("change %d (proxy %d): %w", c, i, err)
		}
		toValid, toEnvoys = append(toValid, valid), append(toEnvoys, all)
	}
	after, err := r.leaderMetrics(ctx)
	if err != nil {
		return err
	}
	bytesAfter, err := r.sentBytes(ctx)
	if err != nil {
		return err
	}
	r.res.ChangeBytesPerEnvoy = (bytesAfter - bytesBefore) / float64(k) / float64(len(envoys))
	r.res.ChangeValid = summarize(toValid)
	r.res.ChangeEnvoys = summarize(toEnvoys)
	r.res.DAGRebuildChangeMS = ms(after.histogram(metricRebuildSeconds).sub(before.histogram(metricRebuildSeconds)).mean())
	r.logf("%d changes: valid p50 %s p99 %s; at all Envoys p50 %s p99 %s", k,
		fmtDur(r.res.ChangeValid.P50), fmtDur(r.res.ChangeValid.P99), fmtDur(r.res.ChangeEnvoys.P50), fmtDur(r.res.ChangeEnvoys.P99))
	return nil
}

// change moves proxy i's route to a new prefix and returns how long until
// its status was valid for the new generation and until every Envoy held a
// route configuration with the new prefix, both from just before the update
// was sent.
func (r *run) change(ctx context.Context, track *tracker, envoys fleet, i, c int) (time.Duration, time.Duration, error) {
	client := r.proxies.ProjectcontourV1().HTTPProxies(r.ns)
	p, err := client.Get(ctx, proxyName(i), metav1.GetOptions{})
	if err != nil {
		return 0, 0, err
	}
	prefix := fmt.Sprintf("/bench-change-%d-%d", c, time.Now().UnixNano())
	p.Spec.Routes[0].Conditions = []contourv1.MatchCondition{{Prefix: prefix}}
	began := time.Now()
	updated, err := client.Update(ctx, p, metav1.UpdateOptions{})
	if err != nil {
		return 0, 0, err
	}
	type result struct {
		at  []time.Time
		err error
	}
	envoysDone := make(chan result, 1)
	go func() {
		at, err := envoys.waitRoute(ctx, []byte(prefix))
		envoysDone <- result{at, err}
	}()
	validAt, err := track.waitGeneration(ctx, r.ns+"/"+proxyName(i), updated.Generation)
	if err != nil {
		return 0, 0, fmt.Errorf("status for generation %d: %w", updated.Generation, err)
	}
	res := <-envoysDone
	if res.err != nil {
		return 0, 0, fmt.Errorf("envoys never got prefix %s: %w", prefix, res.err)
	}
	var last time.Time
	for _, t := range res.at {
		if t.After(last) {
			last = t
		}
	}
	return validAt.Sub(began), last.Sub(began), nil
}

// freshEnvoys connects C new Envoys at once and times each until it holds
// the configuration the others hold.
func (r *run) freshEnvoys(ctx context.Context, envoys fleet, addrs []string) error {
	want := maxVersions(envoys)
	if err := envoys.waitVersions(ctx, want); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.PhaseTimeout)
	defer cancel()
	began := time.Now()
	fresh, err := dialFleet(ctx, "fresh-envoy", r.cfg.Envoys, addrs)
	if err != nil {
		return fmt.Errorf("connect fresh envoys: %w", err)
	}
	defer fresh.close()
	at, err := fresh.waitExact(ctx, want)
	if err != nil {
		return fmt.Errorf("fresh envoys never got the full config: %w", err)
	}
	durs := make([]time.Duration, len(at))
	for i, t := range at {
		durs[i] = t.Sub(began)
	}
	r.res.FreshEnvoys = summarize(durs)
	r.logf("%d fresh Envoys: full config p50 %s p99 %s max %s", len(fresh),
		fmtDur(r.res.FreshEnvoys.P50), fmtDur(r.res.FreshEnvoys.P99), fmtDur(r.res.FreshEnvoys.Max))
	return nil
}

// phase bounds one waiting phase.
func (r *run) phase(ctx context.Context) context.Context {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.PhaseTimeout)
	r.defer_(cancel)
	return ctx
}

func (r *run) startControlPlane() error {
	began := time.Now()
	c, err := cluster.New(cluster.Options{RepoRoot: r.cfg.RepoRoot})
	if err != nil {
		return err
	}
	r.cluster = c
	r.defer_(func() {
		if r.failed {
			_ = c.DumpLogs(r.cfg.Log, 20)
		}
		if err := c.Stop(); err != nil {
			r.logf("stop control plane: %v", err)
		}
	})
	r.logf("control plane %s ready in %s", c.Host, time.Since(began).Round(time.Millisecond))

	cfg := c.RESTConfig()
	cfg.QPS, cfg.Burst = r.cfg.QPS, r.cfg.Burst
	cfg.UserAgent = "proxyctl-bench"
	cfg.WarningHandler = rest.NoWarnings{}
	// Built-in types travel as protobuf, as kubectl and controllers send them.
	kcfg := rest.CopyConfig(cfg)
	kcfg.ContentType = "application/vnd.kubernetes.protobuf"
	if r.kube, err = kubernetes.NewForConfig(kcfg); err != nil {
		return err
	}
	if r.proxies, err = versioned.NewForConfig(cfg); err != nil {
		return err
	}
	ns, err := r.kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-"},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	r.ns = ns.Name
	return nil
}

// startReplicas builds proxyctl (without -race) unless given a binary,
// starts the replicas and waits until they are ready and agree on a leader.
func (r *run) startReplicas(ctx context.Context) error {
	tmp, err := os.MkdirTemp("", "proxyctl-bench-")
	if err != nil {
		return err
	}
	r.defer_(func() { _ = os.RemoveAll(tmp) })
	bin := r.cfg.Binary
	if bin == "" {
		bin = filepath.Join(tmp, "proxyctl")
		began := time.Now()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/proxyctl")
		cmd.Dir = r.cfg.RepoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/proxyctl: %w\n%s", err, out)
		}
		r.logf("built proxyctl in %s", time.Since(began).Round(time.Millisecond))
	}
	logDir := r.cfg.LogDir
	if logDir == "" {
		if logDir, err = os.MkdirTemp("", "proxyctl-bench-logs-"); err != nil {
			return err
		}
		r.defer_(func() {
			if r.failed {
				r.logf("replica logs kept in %s", logDir)
				return
			}
			_ = os.RemoveAll(logDir)
		})
	} else if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	ports, err := cluster.FreePorts(2)
	if err != nil {
		return err
	}
	r.listenerPort = ports[0]
	for i := range r.cfg.Replicas {
		args := append([]string{"--leader-election-resource-name", "proxyctl-bench",
			"--envoy-http-port", strconv.Itoa(ports[0]), "--envoy-https-port", strconv.Itoa(ports[1])}, r.cfg.ServeArgs...)
		repBin := bin
		if r.cfg.Pprof {
			ports, err := cluster.FreePorts(1)
			if err != nil {
				return err
			}
			addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
			if repBin, err = withDebugAddress(tmp, i, bin, addr); err != nil {
				return err
			}
			r.logf("replica-%d pprof: http://%s/debug/pprof/", i, addr)
		}
		rep, err := replica.Launch(replica.Options{
			Binary:         repBin,
			Kubeconfig:     r.cluster.Kubeconfig,
			Identity:       fmt.Sprintf("replica-%d", i),
			LeaseNamespace: r.ns,
			Args:           args,
			LogDir:         logDir,
		})
		if err != nil {
			return err
		}
		r.replicas = append(r.replicas, rep)
		r.defer_(func() { stopReplica(rep) })
	}
	began := time.Now()
	if err := r.waitLeader(r.phase(ctx)); err != nil {
		return err
	}
	r.logf("%d replicas ready, %s leads (%s)", len(r.replicas), r.leader.Identity, time.Since(began).Round(time.Millisecond))
	return nil
}

// withDebugAddress writes a wrapper that runs bin with pprof on addr:
// replica.Launch passes --debug-address "" itself, and the flag cannot be
// given twice, so the wrapper drops Launch's and adds its own. It execs, so
// signals reach proxyctl.
func withDebugAddress(dir string, i int, bin, addr string) (string, error) {
	script := `#!/usr/bin/env bash
args=(); skip=0
for a in "$@"; do
  if ((skip)); then skip=0; continue; fi
  if [[ $a == --debug-address ]]; then skip=1; continue; fi
  args+=("$a")
done
exec ` + strconv.Quote(bin) + ` "${args[@]}" --debug-address ` + strconv.Quote(addr) + "\n"
	path := filepath.Join(dir, fmt.Sprintf("proxyctl-pprof-%d", i))
	return path, os.WriteFile(path, []byte(script), 0o755)
}

// stopReplica asks a replica to stop (it releases the Lease) and kills it if
// it has not exited soon after.
func stopReplica(rep *replica.Replica) {
	_ = rep.Signal(syscall.SIGTERM)
	if _, err := rep.Wait(5 * time.Second); err != nil {
		rep.Kill()
		_, _ = rep.Wait(5 * time.Second)
	}
}

// waitLeader polls until every replica is ready and exactly one leads, named
// as holder by all.
func (r *run) waitLeader(ctx context.Context) error {
	var last string
	for {
		leader, why := r.settled(ctx)
		if leader != nil {
			r.leader = leader
			return nil
		}
		last = why
		for _, rep := range r.replicas {
			select {
			case <-rep.Exited():
				return fmt.Errorf("replica %s exited:\n%s", rep.Identity, tail(rep.Log(), 20))
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replicas not ready with one leader (%s): %w", last, context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (r *run) settled(ctx context.Context) (*replica.Replica, string) {
	var leader *replica.Replica
	holders := map[string]bool{}
	for _, rep := range r.replicas {
		code, _, err := rep.Get(ctx, "/readyz")
		if err != nil || code != 200 {
			return nil, fmt.Sprintf("%s not ready (%d, %v)", rep.Identity, code, err)
		}
		s, err := rep.Leader(ctx)
		if err != nil {
			return nil, err.Error()
		}
		holders[s.Holder] = true
		if s.Leader {
			if leader != nil {
				return nil, "two replicas lead"
			}
			leader = rep
		}
	}
	if leader == nil || len(holders) != 1 || !holders[leader.Identity] {
		return nil, fmt.Sprintf("no agreed leader (holders %v)", holders)
	}
	return leader, ""
}

// leaderMetrics scrapes the leader's /metrics.
func (r *run) leaderMetrics(ctx context.Context) (metrics, error) {
	code, body, err := r.leader.Get(ctx, "/metrics")
	if err != nil {
		return nil, fmt.Errorf("leader /metrics: %w", err)
	}
	if code != 200 {
		return nil, fmt.Errorf("leader /metrics answered %d", code)
	}
	return parseMetrics(strings.NewReader(body))
}

// settledMetrics scrapes the leader until its status write counters have
// not moved for half a second (the writer has finished), up to 10 seconds.
func (r *run) settledMetrics(ctx context.Context) (metrics, error) {
	key := func(m metrics) string {
		return fmt.Sprint(m.get(metricStatusWrites, "result", "written"), m.get(metricStatusWrites, "result", "conflict"),
			m.get(metricStatusWrites, "result", "failed"), m.get(metricRebuilds))
	}
	deadline := time.Now().Add(10 * time.Second)
	prev, err := r.leaderMetrics(ctx)
	for err == nil {
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(500 * time.Millisecond):
		}
		var m metrics
		if m, err = r.leaderMetrics(ctx); err == nil {
			if key(m) == key(prev) || time.Now().After(deadline) {
				return m, nil
			}
			prev = m
		}
	}
	return nil, err
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
