package apis_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedCodeIsUpToDate runs hack/verify-codegen.sh, which regenerates
// the deepcopy functions, clientset, listers, informers and CRD manifests in
// a temporary copy and fails if they differ from what is committed.
//
// The first run builds the pinned generators from tools/codegen and takes
// about a minute; later runs take seconds.
func TestGeneratedCodeIsUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping code generation check in -short mode")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found; cannot run hack/verify-codegen.sh")
	}

	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}

	// The script's reads happen in a child process, which go test's result
	// cache does not see. Reading every input here makes the cache key
	// cover them, so a change to the types (or to the generated files)
	// reruns this test instead of replaying an old pass.
	for _, p := range []string{"go.mod", "go.sum", "apis", "hack", "examples/crds", "tools/codegen"} {
		readTree(t, filepath.Join(root, p))
	}

	cmd := exec.Command(bash, filepath.Join(root, "hack", "verify-codegen.sh"))
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hack/verify-codegen.sh: %v\n%s", err, out)
	}
}

// readTree reads every file under path (or path itself if it is a file).
// A missing path is not an error: the script reports what is missing.
func readTree(t *testing.T, path string) {
	t.Helper()
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			_, err = os.ReadFile(p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
