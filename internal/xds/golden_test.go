package xds

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// testListenerConfig is the listener configuration of every golden file.
var testListenerConfig = ListenerConfig{HTTPPort: 8080, HTTPSPort: 8443}

func TestGolden(t *testing.T) {
	for name, d := range fixtures() {
		t.Run(name, func(t *testing.T) {
			cfg, ok := goldenListenerConfigs[name]
			if !ok {
				cfg = testListenerConfig
			}
			got := goldenJSON(t, Translate(d, cfg))
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(normalizeJSON(t, want)), string(got)); diff != "" {
				t.Errorf("%s differs (-want +got); run go test -update if intended:\n%s", path, diff)
			}
		})
	}
}

// TestGoldenFilesHaveFixtures catches golden files left behind by a
// renamed or deleted fixture.
func TestGoldenFilesHaveFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	fx := fixtures()
	for _, f := range files {
		if _, ok := fx[filepath.Base(f[:len(f)-len(".golden")])]; !ok {
			t.Errorf("%s has no fixture", f)
		}
	}
}

// goldenJSON renders r as one JSON document, resources by kind in their
// sorted order, normalised.
func goldenJSON(t *testing.T, r Resources) []byte {
	t.Helper()
	doc := map[string][]json.RawMessage{
		"listeners":    marshalAll(t, r.Listeners),
		"routes":       marshalAll(t, r.Routes),
		"scopedRoutes": marshalAll(t, r.ScopedRoutes),
		"clusters":     marshalAll(t, r.Clusters),
		"endpoints":    marshalAll(t, r.Endpoints),
		"secrets":      marshalAll(t, r.Secrets),
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return normalizeJSON(t, b)
}

func marshalAll[T proto.Message](t *testing.T, ms []T) []json.RawMessage {
	t.Helper()
	out := []json.RawMessage{}
	for _, m := range ms {
		b, err := protojson.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// normalizeJSON re-encodes b with sorted keys and fixed indentation, since
// protojson output is deliberately unstable in its whitespace.
func normalizeJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sortedNames lists the fixture names in order, for stable test output.
func sortedNames() []string {
	var names []string
	for n := range fixtures() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
