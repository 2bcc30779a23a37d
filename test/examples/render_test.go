package examples

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/test/cluster"
)

// imageRepo is what `make image` tags (IMAGE_REPO in the Makefile).
const imageRepo = "ghcr.io/proxyctl/proxyctl"

// TestRenderedManifest checks that examples/render/proxyctl.yaml is what
// `make render` writes from the sources now, that it holds every object of
// examples/crds and examples/proxyctl, and that every proxyctl image, in it
// and in the sources, is the one `make image` builds: the repository at the
// version in VERSION. (TestExamples dry-runs it on the API server with the
// other files.)
func TestRenderedManifest(t *testing.T) {
	root, err := cluster.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	version, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	image := imageRepo + ":" + strings.TrimSpace(string(version))
	rendered := filepath.Join(root, "examples", "render", "proxyctl.yaml")

	cmd := exec.Command("go", "run", "./hack/render", "--image="+image, "--out=-")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run ./hack/render: %v\n%s", err, stderr.String())
	}
	got, err := os.ReadFile(rendered)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("examples/render/proxyctl.yaml is not current: run `make render` and commit it")
	}

	key := func(m manifest) []string {
		var keys []string
		for _, o := range m.objects {
			keys = append(keys, o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName())
		}
		return keys
	}
	var sources []string
	for _, dir := range []string{"crds", "proxyctl"} {
		// examples/proxyctl's manifests are numbered (its config.yaml is
		// not one), as hack/render takes them.
		pattern := "*.yaml"
		if dir == "proxyctl" {
			pattern = "[0-9][0-9]-*.yaml"
		}
		files, err := filepath.Glob(filepath.Join(root, "examples", dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(files)
		for _, f := range files {
			objs, err := decode(f)
			if err != nil {
				t.Fatal(err)
			}
			sources = append(sources, key(manifest{objects: objs})...)
		}
	}
	objs, err := decode(rendered)
	if err != nil {
		t.Fatal(err)
	}
	if got := key(manifest{objects: objs}); !slices.Equal(got, sources) {
		t.Errorf("rendered objects\n%q\nwant those of examples/crds and examples/proxyctl, in order\n%q", got, sources)
	}

	// Every proxyctl container runs the image make image builds; Envoy
	// runs Envoy's.
	images := regexp.MustCompile(`(?m)^\s*image:\s*(\S+)\s*$`)
	files, err := filepath.Glob(filepath.Join(root, "examples", "proxyctl", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(files, rendered) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range images.FindAllSubmatch(data, -1) {
			ref := string(m[1])
			if strings.Contains(ref, "proxyctl") && ref != image {
				t.Errorf("%s: image %s, want %s (what make image builds)", f, ref, image)
			}
		}
	}
}
