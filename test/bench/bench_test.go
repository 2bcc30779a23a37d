package bench

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunTiny runs the whole harness at a tiny size, so `make test` keeps
// `make bench` working: every figure must be there and plausible.
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane and replicas")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var log bytes.Buffer
	cfg := Config{Replicas: 2, Envoys: 3, Proxies: 20, Changes: 2, Log: &log, PhaseTimeout: time.Minute}
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	t.Logf("progress:\n%s", log.String())

	// Timings are positive and below the phase timeout.
	for name, s := range map[string]float64{
		"create":              res.CreateSeconds,
		"change valid p50":    res.ChangeValid.P50,
		"change valid p99":    res.ChangeValid.P99,
		"change envoys p50":   res.ChangeEnvoys.P50,
		"change envoys p99":   res.ChangeEnvoys.P99,
		"fresh envoys p50":    res.FreshEnvoys.P50,
		"fresh envoys p99":    res.FreshEnvoys.P99,
		"fresh envoys max":    res.FreshEnvoys.Max,
		"dag rebuild mean ms": res.DAGRebuildMeanMS / 1000,
		"dag rebuild p50 ms":  res.DAGRebuildP50MS / 1000,
		"dag change ms":       res.DAGRebuildChangeMS / 1000,
	} {
		if !(s > 0 && s < 60) {
			t.Errorf("%s = %v, want in (0, 60) s", name, s)
		}
	}
	for name, s := range map[string]float64{"all valid": res.AllValidSeconds, "all envoys": res.AllEnvoysSeconds} {
		if !(s >= 0 && s < 60) {
			t.Errorf("%s = %v s, want in [0, 60)", name, s)
		}
	}
	if res.ChangeValid.Count != 2 || res.ChangeEnvoys.Count != 2 || res.FreshEnvoys.Count != 3 {
		t.Errorf("counts: change %d/%d, fresh %d; want 2/2, 3", res.ChangeValid.Count, res.ChangeEnvoys.Count, res.FreshEnvoys.Count)
	}
	if res.ChangeValid.P50 > res.ChangeValid.P99 || res.FreshEnvoys.P99 > res.FreshEnvoys.Max {
		t.Errorf("percentiles out of order: %+v %+v", res.ChangeValid, res.FreshEnvoys)
	}
	// Each proxy is written at least once (it starts without status) and
	// rarely more.
	if res.StatusWritesPerProxy < 1 || res.StatusWritesPerProxy > 2 {
		t.Errorf("status writes per proxy = %v, want in [1, 2]", res.StatusWritesPerProxy)
	}
	if res.StatusFailures != 0 || res.StatusConflicts < 0 {
		t.Errorf("status conflicts %v, failures %v", res.StatusConflicts, res.StatusFailures)
	}
	if res.LeaderRSSMB < 5 || res.LeaderRSSMB > 2000 {
		t.Errorf("leader RSS = %v MB", res.LeaderRSSMB)
	}
	if res.DAGRebuilds < 1 {
		t.Errorf("DAG rebuilds = %v", res.DAGRebuilds)
	}
	if res.Cores < 1 || res.GoVersion == "" || res.Timestamp.IsZero() || res.Config.Proxies != 20 {
		t.Errorf("run description incomplete: %+v", res)
	}

	// The result survives the results file and prints.
	path := filepath.Join(t.TempDir(), "results.jsonl")
	if err := res.Append(path); err != nil {
		t.Fatal(err)
	}
	prev, err := Previous(path, res.Config)
	if err != nil || prev == nil || prev.AllValidSeconds != res.AllValidSeconds || prev.ChangeEnvoys != res.ChangeEnvoys {
		t.Fatalf("Previous = %+v, %v; want the run just appended", prev, err)
	}
	var table bytes.Buffer
	if err := res.WriteTable(&table, prev); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"all valid after last create", "status writes per proxy", "≤ 1.05", "previous"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP proxyctl_status_writes_total HTTPProxy status writes by result.
# TYPE proxyctl_status_writes_total counter
proxyctl_status_writes_total{result="conflict"} 2
proxyctl_status_writes_total{result="written"} 1000
proxyctl_build_info{commit="a\"b",version="v1"} 1
process_resident_memory_bytes 6.5536e+07
proxyctl_dag_rebuild_duration_seconds_bucket{le="0.001"} 1
proxyctl_dag_rebuild_duration_seconds_bucket{le="0.002"} 3
proxyctl_dag_rebuild_duration_seconds_bucket{le="0.004"} 4
proxyctl_dag_rebuild_duration_seconds_bucket{le="+Inf"} 4
proxyctl_dag_rebuild_duration_seconds_sum 0.006
proxyctl_dag_rebuild_duration_seconds_count 4
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.get(metricStatusWrites, "result", "written"); got != 1000 {
		t.Errorf("written = %v", got)
	}
	if got := m.get(metricStatusWrites, "result", "failed"); got != 0 {
		t.Errorf("missing series = %v, want 0", got)
	}
	if _, ok := m.value("proxyctl_build_info", "commit", `a"b`); !ok {
		t.Error("escaped label value not parsed")
	}
	if got := m.get(metricRSS); got != 65536000 {
		t.Errorf("rss = %v", got)
	}
	h := m.histogram(metricRebuildSeconds)
	if h.count != 4 || h.mean() != 0.0015 {
		t.Errorf("histogram count %v mean %v", h.count, h.mean())
	}
	// Rank 2 of 4 falls halfway through the (0.001, 0.002] bucket.
	if got := h.quantile(0.5); math.Abs(got-0.0015) > 1e-12 {
		t.Errorf("p50 = %v, want 0.0015", got)
	}
	if got := h.sub(h); got.count != 0 || !math.IsNaN(got.mean()) {
		t.Errorf("empty difference: %+v", got)
	}
	if _, err := parseMetrics(strings.NewReader("x{a=\"b} 1\n")); err == nil {
		t.Error("unterminated label accepted")
	}
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := summarize(ds)
	want := Summary{Count: 100, P50: 0.05, P99: 0.099, Max: 0.1}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
	if got := summarize(nil); got != (Summary{}) {
		t.Errorf("summarize(nil) = %+v", got)
	}
}

func TestTargets(t *testing.T) {
	r := &Result{Config: Config{Proxies: 1000}, AllValidSeconds: 1.5, StatusWritesPerProxy: 1, CreateSeconds: 1}
	var out bytes.Buffer
	if err := r.WriteTable(&out, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"≤ 1 s MISS", "≤ 1.05 ok", "≤ 50 ms", "≤ 100 MB"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
