package arch

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/proxyctl/proxyctl/"

// forbidden lists, per package, the project packages it must not depend
// on, directly or not.
var forbidden = map[string][]string{
	// The API types know nothing of proxyctl.
	"apis/projectcontour/v1": {"internal/", "cmd/"},
	// The model is a pure function of the objects: no consumer, no wiring.
	"internal/dag": {"internal/xds", "internal/xdsserver", "internal/controller", "internal/status", "internal/leader", "internal/httpserver", "cmd/"},
	// Translation knows nothing of serving, of the event loop or of status.
	"internal/xds": {"internal/xdsserver", "internal/controller", "internal/status", "internal/leader", "internal/httpserver", "cmd/"},
	// Serving, the event loop and status are siblings: none imports another.
	"internal/xdsserver":  {"internal/controller", "internal/status", "internal/leader", "internal/httpserver", "cmd/", "internal/xds/xdstest"},
	"internal/controller": {"internal/xds", "internal/xdsserver", "internal/status", "internal/leader", "internal/httpserver", "cmd/"},
	"internal/status":     {"internal/xds", "internal/xdsserver", "internal/controller", "internal/leader", "internal/httpserver", "cmd/"},
	"internal/leader":     {"internal/", "cmd/"},
	// Test helpers are for tests: the binary serves what the Translator
	// makes, never a test's decoding of it.
	"cmd/proxyctl": {"internal/xds/xdstest", "internal/dag/dagtest"},
}

func TestImportsRunOneWay(t *testing.T) {
	for pkg, bad := range forbidden {
		t.Run(pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", module+pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", pkg, err)
			}
			for _, dep := range strings.Fields(string(out)) {
				rel, ok := strings.CutPrefix(dep, module)
				if !ok || rel == pkg {
					continue
				}
				for _, b := range bad {
					if under(rel, b) {
						t.Errorf("%s depends on %s", pkg, rel)
					}
				}
			}
		})
	}
}

// under reports whether package rel is the package b or below it; a b
// ending in "/" names only what is below it.
func under(rel, b string) bool {
	if strings.HasSuffix(b, "/") {
		return strings.HasPrefix(rel, b)
	}
	return rel == b || strings.HasPrefix(rel, b+"/")
}

func TestUnder(t *testing.T) {
	for _, tc := range []struct {
		rel, b string
		want   bool
	}{
		{"internal/xds", "internal/xds", true},
		{"internal/xdsserver", "internal/xds", false},
		{"internal/dag/dagtest", "internal/dag", true},
		{"internal/dag", "internal/", true},
		{"cmd/proxyctl", "cmd/", true},
	} {
		if got := under(tc.rel, tc.b); got != tc.want {
			t.Errorf("under(%q, %q) = %v, want %v", tc.rel, tc.b, got, tc.want)
		}
	}
}
