package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
)

// The table is min / median / max over several runs: Summarize
// reads the last runs of one size from a results file and prints that,
// so that `make bench` run n times gives it without copying numbers by
// hand.

// metricRow is one row of a summary: a name and the value of a run, false
// when the run has none.
type metricRow[R any] struct {
	name string
	get  func(*R) (float64, bool)
	fmt  func(float64) string
}

func always[R any](f func(*R) float64) func(*R) (float64, bool) {
	return func(r *R) (float64, bool) { return f(r), true }
}

func withRealEnvoy[R any](real func(*R) *RealEnvoy, f func(*RealEnvoy) float64) func(*R) (float64, bool) {
	return func(r *R) (float64, bool) {
		if re := real(r); re != nil && re.FullSeconds > 0 {
			return f(re), true
		}
		return 0, false
	}
}

var fullRows = []metricRow[Result]{
	{"all valid after last create", always(func(r *Result) float64 { return r.AllValidSeconds }), fmtDur},
	{"change → all Envoys p50", always(func(r *Result) float64 { return r.ChangeEnvoys.P50 }), fmtDur},
	{"change: bytes sent per Envoy", always(func(r *Result) float64 { return r.ChangeBytesPerEnvoy }), fmtBytes},
	{"change → valid p50", always(func(r *Result) float64 { return r.ChangeValid.P50 }), fmtDur},
	{"all Envoys full config after last create", always(func(r *Result) float64 { return r.AllEnvoysSeconds }), fmtDur},
	{"leader RSS (MB)", always(func(r *Result) float64 { return r.LeaderRSSMB }), func(v float64) string { return fmt.Sprintf("%.0f", v) }},
	{"real Envoy: change applied p50", withRealEnvoy(func(r *Result) *RealEnvoy { return r.RealEnvoy }, func(re *RealEnvoy) float64 { return re.Apply.P50 }), fmtDur},
	{"real Envoy: bytes per stream per change", withRealEnvoy(func(r *Result) *RealEnvoy { return r.RealEnvoy }, func(re *RealEnvoy) float64 { return re.BytesPerChange }), fmtBytes},
	{"real Envoy: burst requests not 200", withRealEnvoy(func(r *Result) *RealEnvoy { return r.RealEnvoy }, func(re *RealEnvoy) float64 { return float64(re.BurstFailures) }), func(v float64) string { return fmt.Sprintf("%.0f", v) }},
}

var directRows = []metricRow[DirectResult]{
	{"change → all simulated Envoys p50", always(func(r *DirectResult) float64 { return r.ChangeEnvoys.P50 }), fmtDur},
	{"change: bytes sent per stream", always(func(r *DirectResult) float64 { return r.ChangeBytesPerStream }), fmtBytes},
	{"simulated Envoys hold the full config", always(func(r *DirectResult) float64 { return r.SimulatedFullSeconds }), fmtDur},
	{"real Envoy: change applied p50", withRealEnvoy(func(r *DirectResult) *RealEnvoy { return &r.RealEnvoy }, func(re *RealEnvoy) float64 { return re.Apply.P50 }), fmtDur},
	{"real Envoy: bytes per stream per change", withRealEnvoy(func(r *DirectResult) *RealEnvoy { return &r.RealEnvoy }, func(re *RealEnvoy) float64 { return re.BytesPerChange }), fmtBytes},
	{"real Envoy: CPU per change (ms)", withRealEnvoy(func(r *DirectResult) *RealEnvoy { return &r.RealEnvoy }, func(re *RealEnvoy) float64 { return re.CPUPerChangeMS }), func(v float64) string { return fmt.Sprintf("%.1f", v) }},
}

// Summarize prints min / median / max of the last n runs in path (a
// results file of Run, or of RunDirect when direct) with cfg's proxies,
// Envoys (and replicas, for Run), and the commits they ran.
func Summarize(w io.Writer, path string, cfg Config, direct bool, n int) error {
	if direct {
		runs, err := lastRuns(path, n, func(r *DirectResult) bool {
			return r.Config.Proxies == cfg.Proxies && r.Config.Envoys == cfg.Envoys && r.Config.Delta == cfg.Delta
		})
		if err != nil {
			return err
		}
		return writeSummary(w, runs, directRows, func(r *DirectResult) string { return r.Commit },
			fmt.Sprintf("direct, N=%d, C=%d, delta %v", cfg.Proxies, cfg.Envoys, cfg.Delta))
	}
	runs, err := lastRuns(path, n, func(r *Result) bool {
		return r.Config.Proxies == cfg.Proxies && r.Config.Envoys == cfg.Envoys && r.Config.Replicas == cfg.Replicas
	})
	if err != nil {
		return err
	}
	return writeSummary(w, runs, fullRows, func(r *Result) string { return r.Commit },
		fmt.Sprintf("full stack, N=%d, C=%d, R=%d", cfg.Proxies, cfg.Envoys, cfg.Replicas))
}

// lastRuns returns the last n results in path that match, oldest first.
func lastRuns[R any](path string, n int, match func(*R) bool) ([]*R, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*R
	s := bufio.NewScanner(bytes.NewReader(data))
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		r := new(R)
		if json.Unmarshal(s.Bytes(), r) != nil || !match(r) {
			continue
		}
		out = append(out, r)
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, s.Err()
}

func writeSummary[R any](w io.Writer, runs []*R, rows []metricRow[R], commit func(*R) string, what string) error {
	if len(runs) == 0 {
		return fmt.Errorf("no runs of %s in the results file", what)
	}
	var commits []string
	for _, r := range runs {
		if c := commit(r); !slices.Contains(commits, c) {
			commits = append(commits, c)
		}
	}
	fmt.Fprintf(w, "%s: %d runs, commits %v\n", what, len(runs), commits)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tmin\tmedian\tmax\truns")
	for _, row := range rows {
		var vs []float64
		for _, r := range runs {
			if v, ok := row.get(r); ok {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			continue
		}
		slices.Sort(vs)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", row.name, row.fmt(vs[0]), row.fmt(median(vs)), row.fmt(vs[len(vs)-1]), len(vs))
	}
	return tw.Flush()
}

// median of sorted vs: the middle one, or the mean of the two middle ones.
func median(vs []float64) float64 {
	m := len(vs) / 2
	if len(vs)%2 == 1 {
		return vs[m]
	}
	return (vs[m-1] + vs[m]) / 2
}
