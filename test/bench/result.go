package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary describes a set of durations, in seconds.
type Summary struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// summarize takes nearest-rank percentiles.
func summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)].Seconds()
	}
	return Summary{Count: len(s), P50: rank(0.5), P99: rank(0.99), Max: s[len(s)-1].Seconds()}
}

// Result is one run's figures; it is stored as one JSON line.
type Result struct {
	Timestamp time.Time `json:"timestamp"`
	Commit    string    `json:"commit"`
	Dirty     bool      `json:"dirty,omitempty"`
	GoVersion string    `json:"goVersion"`
	Cores     int       `json:"cores"`
	CPUModel  string    `json:"cpuModel,omitempty"`
	Config    Config    `json:"config"`

	// CreateSeconds: from the first create sent to the last returned.
	CreateSeconds float64 `json:"createSeconds"`
	// AllValidSeconds: from the last create returning until every
	// HTTPProxy's status is valid for its generation.
	AllValidSeconds float64 `json:"allValidSeconds"`
	// AllEnvoysSeconds: from the last create returning until every
	// simulated Envoy holds all N clusters, endpoints and virtual hosts.
	AllEnvoysSeconds float64 `json:"allEnvoysSeconds"`
	// Status writes by the leader while the N proxies became valid.
	StatusWritesPerProxy float64 `json:"statusWritesPerProxy"`
	StatusConflicts      float64 `json:"statusConflicts"`
	StatusFailures       float64 `json:"statusFailures"`
	// One change (a route's prefix): to valid status for the new
	// generation, and to every Envoy.
	ChangeValid  Summary `json:"changeValid"`
	ChangeEnvoys Summary `json:"changeEnvoys"`
	// ChangeBytesPerEnvoy is what the replicas sent per simulated Envoy
	// for one change (proxyctl_xds_sent_bytes_total).
	ChangeBytesPerEnvoy float64 `json:"changeBytesPerEnvoy"`
	// C fresh Envoys connecting at once until each holds the full config.
	FreshEnvoys Summary `json:"freshEnvoys"`
	LeaderRSSMB float64 `json:"leaderRSSMB"`
	// From the leader's proxyctl_dag_rebuild_duration_seconds: all
	// rebuilds of the run, and those the single changes caused.
	DAGRebuilds        float64 `json:"dagRebuilds"`
	DAGRebuildMeanMS   float64 `json:"dagRebuildMeanMS"`
	DAGRebuildP50MS    float64 `json:"dagRebuildP50MS"`
	DAGRebuildChangeMS float64 `json:"dagRebuildChangeMS"`
	// RealEnvoy is the real Envoy phase, when run.
	RealEnvoy *RealEnvoy `json:"realEnvoy,omitempty"`
	// CPU says where the machine's time went.
	CPU CPU `json:"cpu"`
}

func newResult(cfg Config) *Result {
	r := &Result{
		Timestamp: time.Now().UTC(),
		GoVersion: runtime.Version(),
		Cores:     runtime.NumCPU(),
		CPUModel:  cpuModel(),
		Config:    cfg,
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = cfg.RepoRoot
		out, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	r.Commit = git("rev-parse", "HEAD")
	r.Dirty = git("status", "--porcelain", "--untracked-files=no") != ""
	return r
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// ms turns seconds into milliseconds; no observation (NaN) gives 0.
func ms(seconds float64) float64 {
	if math.IsNaN(seconds) || math.IsInf(seconds, 0) {
		return 0
	}
	return seconds * 1000
}

// realRow reads a figure of the real Envoy phase, "-" when it did not run.
func realRow(f func(*RealEnvoy) string) func(*Result) string {
	return func(r *Result) string {
		if r.RealEnvoy == nil {
			return "-"
		}
		return f(r.RealEnvoy)
	}
}

// fmtBytes prints a byte count the way a person reads it.
func fmtBytes(b float64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f kB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

// fmtDur prints seconds the way a person reads them.
func fmtDur(seconds float64) string {
	switch {
	case seconds < 1:
		return fmt.Sprintf("%.0f ms", seconds*1000)
	default:
		return fmt.Sprintf("%.2f s", seconds)
	}
}

// row is one line of the table: how to read the figure from a Result and
// the target for it, if any, at the run's size.
type row struct {
	name   string
	value  func(*Result) string
	target func(n int) (string, func(*Result) bool)
}

// targets of issue 4, by number of proxies (default flags, 2 cores).
func atMost(n int, limits map[int]float64, unit string, get func(*Result) float64) (string, func(*Result) bool) {
	limit, ok := limits[n]
	if !ok {
		return "", nil
	}
	text := fmt.Sprintf("≤ %g%s", limit, unit)
	if unit == " s" && limit < 1 {
		text = fmt.Sprintf("≤ %g ms", limit*1000)
	}
	return text, func(r *Result) bool { return get(r) <= limit }
}

var rows = []row{
	{"create 3N objects", func(r *Result) string {
		return fmt.Sprintf("%s (%.0f/s)", fmtDur(r.CreateSeconds), float64(3*r.Config.Proxies)/r.CreateSeconds)
	}, nil},
	{"all valid after last create", func(r *Result) string { return fmtDur(r.AllValidSeconds) },
		func(n int) (string, func(*Result) bool) {
			return atMost(n, map[int]float64{1000: 1, 10000: 10}, " s", func(r *Result) float64 { return r.AllValidSeconds })
		}},
	{"all Envoys full config after last create", func(r *Result) string { return fmtDur(r.AllEnvoysSeconds) }, nil},
	{"status writes per proxy", func(r *Result) string { return fmt.Sprintf("%.3f", r.StatusWritesPerProxy) },
		func(int) (string, func(*Result) bool) {
			return "≤ 1.05", func(r *Result) bool { return r.StatusWritesPerProxy <= 1.05 }
		}},
	{"status conflicts / failures", func(r *Result) string {
		return fmt.Sprintf("%.0f / %.0f", r.StatusConflicts, r.StatusFailures)
	}, nil},
	{"change → valid p50", func(r *Result) string { return fmtDur(r.ChangeValid.P50) },
		func(n int) (string, func(*Result) bool) {
			return atMost(n, map[int]float64{1000: 0.05, 10000: 0.3}, " s", func(r *Result) float64 { return r.ChangeValid.P50 })
		}},
	{"change → valid p99", func(r *Result) string { return fmtDur(r.ChangeValid.P99) }, nil},
	{"change → all Envoys p50", func(r *Result) string { return fmtDur(r.ChangeEnvoys.P50) },
		func(n int) (string, func(*Result) bool) {
			return atMost(n, map[int]float64{1000: 0.1, 10000: 0.3}, " s", func(r *Result) float64 { return r.ChangeEnvoys.P50 })
		}},
	{"change → all Envoys p99", func(r *Result) string { return fmtDur(r.ChangeEnvoys.P99) }, nil},
	{"change: bytes sent per Envoy", func(r *Result) string { return fmtBytes(r.ChangeBytesPerEnvoy) },
		func(n int) (string, func(*Result) bool) {
			return atMost(n, map[int]float64{10000: 20000}, " B", func(r *Result) float64 { return r.ChangeBytesPerEnvoy })
		}},
	{"real Envoy: full config after start", realRow(func(e *RealEnvoy) string { return fmtDur(e.FullSeconds) }), nil},
	{"real Envoy: change applied p50 / max", realRow(func(e *RealEnvoy) string {
		return fmtDur(e.Apply.P50) + " / " + fmtDur(e.Apply.Max)
	}), nil},
	{"real Envoy: bytes per stream per change", realRow(func(e *RealEnvoy) string { return fmtBytes(e.BytesPerChange) }), nil},
	{"real Envoy: CPU per change", realRow(func(e *RealEnvoy) string { return fmt.Sprintf("%.1f ms", e.CPUPerChangeMS) }), nil},
	{"real Envoy: burst requests not 200", realRow(func(e *RealEnvoy) string {
		return fmt.Sprintf("%d of %d (%d changes in %s)", e.BurstFailures, e.BurstRequests, e.BurstChanges, fmtDur(e.BurstSeconds))
	}), nil},
	{"fresh Envoys full config p50", func(r *Result) string { return fmtDur(r.FreshEnvoys.P50) },
		func(n int) (string, func(*Result) bool) {
			return atMost(n, map[int]float64{1000: 0.3}, " s", func(r *Result) float64 { return r.FreshEnvoys.P50 })
		}},
	{"fresh Envoys full config p99", func(r *Result) string { return fmtDur(r.FreshEnvoys.P99) }, nil},
	{"fresh Envoys full config max", func(r *Result) string { return fmtDur(r.FreshEnvoys.Max) }, nil},
	{"leader RSS", func(r *Result) string { return fmt.Sprintf("%.0f MB", r.LeaderRSSMB) },
		func(n int) (string, func(*Result) bool) {
			return atMost(n, map[int]float64{1000: 100}, " MB", func(r *Result) float64 { return r.LeaderRSSMB })
		}},
	{"DAG rebuilds (count)", func(r *Result) string { return fmt.Sprintf("%.0f", r.DAGRebuilds) }, nil},
	{"DAG rebuild mean / p50", func(r *Result) string {
		return fmt.Sprintf("%.1f / %.1f ms", r.DAGRebuildMeanMS, r.DAGRebuildP50MS)
	}, nil},
	{"DAG rebuild per change (mean)", func(r *Result) string { return fmt.Sprintf("%.1f ms", r.DAGRebuildChangeMS) }, nil},
	{"CPU s: leader/others/apiserver/harness", func(r *Result) string {
		return fmt.Sprintf("%.0f/%.0f/%.0f/%.0f in %.0f s", r.CPU.Leader, r.CPU.Followers, r.CPU.APIServer, r.CPU.Harness, r.CPU.WallSeconds)
	}, nil},
}

// WriteTable prints the figures next to issue 4's targets, and the previous
// run's when prev is not nil.
func (r *Result) WriteTable(w io.Writer, prev *Result) error {
	fmt.Fprintf(w, "proxyctl bench: N=%d proxies, C=%d Envoys, R=%d replicas, K=%d changes; %d cores, commit %.12s%s\n\n",
		r.Config.Proxies, r.Config.Envoys, r.Config.Replicas, r.Config.Changes, r.Cores, r.Commit, map[bool]string{true: "+dirty"}[r.Dirty])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "metric\tvalue\ttarget\t"
	if prev != nil {
		header += fmt.Sprintf("previous (%s, %.12s)\t", prev.Timestamp.Local().Format("Jan 2 15:04"), prev.Commit)
	}
	fmt.Fprintln(tw, header)
	for _, row := range rows {
		target := ""
		if row.target != nil {
			text, ok := row.target(r.Config.Proxies)
			if ok != nil {
				verdict := "MISS"
				if ok(r) {
					verdict = "ok"
				}
				target = text + " " + verdict
			}
		}
		line := row.name + "\t" + row.value(r) + "\t" + target + "\t"
		if prev != nil {
			line += row.value(prev) + "\t"
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

// Append adds r as one JSON line to path, creating the file and its
// directory.
func (r *Result) Append(path string) error { return AppendJSON(path, r) }

// AppendJSON adds v as one JSON line to path, creating the file and its
// directory.
func AppendJSON(path string, v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	return errors.Join(err, f.Close())
}

// Previous returns the latest result in path of a run of the same size as
// cfg (proxies, envoys, replicas), else the latest of any size, else nil.
// Lines that do not parse are skipped.
func Previous(path string, cfg Config) (*Result, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var latest, same *Result
	s := bufio.NewScanner(bytes.NewReader(data))
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		var r Result
		if json.Unmarshal(s.Bytes(), &r) != nil {
			continue
		}
		latest = &r
		if r.Config.Proxies == cfg.Proxies && r.Config.Envoys == cfg.Envoys && r.Config.Replicas == cfg.Replicas {
			same = &r
		}
	}
	if same != nil {
		return same, s.Err()
	}
	return latest, s.Err()
}
