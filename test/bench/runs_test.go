package bench

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSummarizeRuns: the last n runs of the asked size, min / median / max.
func TestSummarizeRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	cfg := Config{Proxies: 10, Envoys: 2, Replicas: 3}
	for i, valid := range []float64{9, 0.3, 0.1, 0.2, 5} {
		r := &Result{Commit: "c", Config: cfg, AllValidSeconds: valid}
		if i == 4 {
			r.Config.Proxies = 20 // another size: not counted
		}
		if err := r.Append(path); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	if err := Summarize(&b, path, cfg, false, 3); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range strings.Split(b.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "all valid after last create"); ok {
			found = true
			if got := strings.Join(strings.Fields(rest), " "); got != "100 ms 200 ms 300 ms 3" {
				t.Errorf("all valid: %q, want min 100 ms, median 200 ms, max 300 ms over 3 runs", got)
			}
		}
	}
	if !found {
		t.Errorf("no all-valid row in:\n%s", b.String())
	}
	if err := Summarize(&b, path, Config{Proxies: 99}, false, 3); err == nil {
		t.Errorf("no error for a size never run")
	}
}
