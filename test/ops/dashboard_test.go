package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/internal/testutil"
	"github.com/proxyctl/proxyctl/test/cluster"
)

// metricName matches the metric names a PromQL expression of the
// dashboard uses: proxyctl's own and the Go and process collectors'.
var metricName = regexp.MustCompile(`\b(?:proxyctl|go|process)_[a-zA-Z0-9_]+`)

// suspect matches what looks like a metric name of another exporter, so a
// query on a name this test would not recognise fails rather than passes.
var suspect = regexp.MustCompile(`\b[a-z][a-z0-9]*_[a-z0-9_]*_(?:total|seconds|bytes|bucket|count|sum|info)\b`)

// dashboardQueries returns every PromQL expression of the dashboard:
// panel targets ("expr") and template variable queries ("query").
func dashboardQueries(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s is not JSON: %v", path, err)
	}
	for _, key := range []string{"title", "uid", "panels", "schemaVersion", "templating"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("%s has no %q: not a dashboard Grafana imports", path, key)
		}
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || (k == "query" && strings.Contains(s, "("))) {
					out = append(out, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	slices.Sort(out)
	return out
}

// exported returns the metric names in a Prometheus text exposition, with
// a histogram's _bucket, _sum and _count series.
func exported(text string) map[string]bool {
	names := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

func testDashboard(t *testing.T, e *env) {
	root, err := cluster.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	queries := dashboardQueries(t, filepath.Join(root, "examples", "grafana", "proxyctl.json"))
	used := map[string]bool{}
	for _, q := range queries {
		for _, name := range metricName.FindAllString(q, -1) {
			used[name] = true
		}
		for _, name := range suspect.FindAllString(q, -1) {
			if !metricName.MatchString(name) {
				t.Errorf("query %q uses %s, not a metric proxyctl exports", q, name)
			}
		}
	}
	if len(used) < 10 {
		t.Fatalf("the dashboard's queries use %d metrics (%v): the walk is broken", len(used), used)
	}
	// Every proxyctl metric the README lists is on the dashboard.
	for _, name := range []string{"proxyctl_leader", "proxyctl_build_info", "proxyctl_dag_rebuilds_total",
		"proxyctl_dag_rebuild_duration_seconds_bucket", "proxyctl_dag_last_rebuild_timestamp_seconds",
		"proxyctl_controller_events_total", "proxyctl_xds_connected_streams", "proxyctl_xds_pushes_total",
		"proxyctl_xds_push_duration_seconds_bucket", "proxyctl_status_writes_total",
		"proxyctl_status_write_duration_seconds_bucket", "proxyctl_httpproxies"} {
		if !used[name] {
			t.Errorf("the dashboard does not show %s", name)
		}
	}

	// The leader's /metrics: it exports everything a standby does, and
	// proxyctl_httpproxies too. Series of a vector appear once they have a
	// value (the streams after the cli's connections, the leader's gauges
	// after its first status pass), so poll.
	testutil.Eventually(t, 30*time.Second, "every metric of the dashboard exported", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		code, body, err := e.replica.Get(ctx, "/metrics")
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("/metrics answered %d", code)
		}
		have := exported(body)
		var missing []string
		for name := range used {
			if !have[name] {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			return fmt.Errorf("the dashboard queries %q, which the replica does not export", missing)
		}
		return nil
	})
}
