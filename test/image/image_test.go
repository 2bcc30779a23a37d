// Package image checks the container image `make image` builds, by reading
// it as a container runtime would, with nothing but the OCI image layout
// format: the index, the manifest of this machine's platform, the config
// (user, entrypoint, labels) and the layers, unpacked into a root file
// system from which the binary runs, read-only, as the image's user.
package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/proxyctl/proxyctl/test/cluster"
)

const repo = "ghcr.io/proxyctl/proxyctl"

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

type index struct {
	MediaType string       `json:"mediaType"`
	Manifests []descriptor `json:"manifests"`
}

type manifest struct {
	MediaType string       `json:"mediaType"`
	Config    descriptor   `json:"config"`
	Layers    []descriptor `json:"layers"`
}

type config struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Config       struct {
		User       string            `json:"User"`
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
		Env        []string          `json:"Env"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
}

func TestImage(t *testing.T) {
	root, err := cluster.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(readFile(t, filepath.Join(root, "VERSION")))
	commit := strings.TrimSpace(run(t, root, "git", "rev-parse", "HEAD"))

	// This machine's platform only: the test runs what it builds.
	out := t.TempDir()
	run(t, root, "make", "--no-print-directory", "image",
		"PLATFORMS=linux/"+runtime.GOARCH, "IMAGE_OUT="+out, "COMMIT="+commit)
	layout := filepath.Join(out, "oci")
	if got := readFile(t, filepath.Join(layout, "oci-layout")); !strings.Contains(got, `"imageLayoutVersion"`) {
		t.Fatalf("oci-layout: %s", got)
	}

	var top index
	readJSON(t, filepath.Join(layout, "index.json"), &top)
	if len(top.Manifests) != 1 {
		t.Fatalf("index.json has %d entries, want the one multi-platform index (crane push needs one)", len(top.Manifests))
	}
	entry := top.Manifests[0]
	if entry.MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("entry media type %s, want an OCI image index", entry.MediaType)
	}
	if got, want := entry.Annotations["org.opencontainers.image.ref.name"], repo+":"+version; got != want {
		t.Errorf("ref.name %q, want %q", got, want)
	}
	var platforms index
	readJSON(t, blob(layout, entry.Digest), &platforms)
	var img *descriptor
	for i, m := range platforms.Manifests {
		if m.Platform != nil && m.Platform.OS == "linux" && m.Platform.Architecture == runtime.GOARCH {
			img = &platforms.Manifests[i]
		}
	}
	if img == nil {
		t.Fatalf("no linux/%s manifest in %+v", runtime.GOARCH, platforms.Manifests)
	}
	var m manifest
	readJSON(t, blob(layout, img.Digest), &m)
	var cfg config
	readJSON(t, blob(layout, m.Config.Digest), &cfg)

	t.Run("config", func(t *testing.T) {
		if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
			t.Errorf("platform %s/%s", cfg.OS, cfg.Architecture)
		}
		if cfg.Config.User != "65532:65532" {
			t.Errorf("user %q, want 65532:65532 (non-root)", cfg.Config.User)
		}
		if !slices.Equal(cfg.Config.Entrypoint, []string{"/proxyctl"}) || len(cfg.Config.Cmd) != 0 {
			t.Errorf("entrypoint %q cmd %q, want [/proxyctl] and none", cfg.Config.Entrypoint, cfg.Config.Cmd)
		}
		for label, want := range map[string]string{
			"org.opencontainers.image.version":  version,
			"org.opencontainers.image.revision": commit,
			"org.opencontainers.image.source":   "https://github.com/proxyctl/proxyctl",
			"org.opencontainers.image.title":    "proxyctl",
		} {
			if got := cfg.Config.Labels[label]; got != want {
				t.Errorf("label %s = %q, want %q", label, got, want)
			}
		}
	})

	rootfs := t.TempDir()
	files := unpack(t, layout, m.Layers, rootfs)

	t.Run("rootfs", func(t *testing.T) {
		// What a distroless static image holds, and nothing to run but
		// proxyctl: no shell, no package manager.
		want := []string{"etc/", "etc/group", "etc/passwd", "home/", "home/nonroot/", "proxyctl", "tmp/"}
		if !slices.Equal(files, want) {
			t.Errorf("files %q, want %q", files, want)
		}
		if passwd := readFile(t, filepath.Join(rootfs, "etc/passwd")); !strings.Contains(passwd, "\nnonroot:x:65532:65532:") {
			t.Errorf("/etc/passwd has no nonroot user 65532:\n%s", passwd)
		}
		f, err := elf.Open(filepath.Join(rootfs, "proxyctl"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("proxyctl is dynamically linked (PT_INTERP): the image has no libc")
			}
		}
	})

	t.Run("run", func(t *testing.T) {
		// As a runtime would: / is the unpacked root file system, mounted
		// read-only (as readOnlyRootFilesystem in examples/proxyctl), the
		// user is the image's, and only the entrypoint is there to run. The
		// mount lives in a private mount namespace, gone with the command.
		if os.Geteuid() != 0 {
			t.Fatal("needs root (chroot, mounts), as the rest of the suite")
		}
		script := `mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && exec chroot --userspec=65532:65532 "$1" /proxyctl version`
		cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", rootfs)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("proxyctl version in the image: %v\n%s", err, stderr.String())
		}
		var v struct{ Version, Commit string }
		if err := json.Unmarshal(got, &v); err != nil {
			t.Fatalf("proxyctl version: %v\n%s", err, got)
		}
		if v.Version != version || v.Commit != commit {
			t.Errorf("proxyctl version says %s at %s, want %s at %s (the labels)", v.Version, v.Commit, version, commit)
		}
	})

	t.Run("tarball", func(t *testing.T) {
		// The docker-style tarball of the same image, tagged.
		tb := filepath.Join(out, "proxyctl-linux-"+runtime.GOARCH+".tar")
		data := readFile(t, tb)
		tr := tar.NewReader(strings.NewReader(data))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				t.Fatalf("%s has no manifest.json", tb)
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Name != "manifest.json" {
				continue
			}
			var entries []struct{ RepoTags []string }
			if err := json.NewDecoder(tr).Decode(&entries); err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || !slices.Equal(entries[0].RepoTags, []string{repo + ":" + version}) {
				t.Errorf("manifest.json %+v, want one image tagged %s:%s", entries, repo, version)
			}
			return
		}
	})

	t.Run("Dockerfile", func(t *testing.T) {
		// The Dockerfile builds the same image for those with Docker: same
		// user and entrypoint.
		df := readFile(t, filepath.Join(root, "Dockerfile"))
		for _, want := range []string{"USER 65532:65532", `ENTRYPOINT ["/proxyctl"]`, "CGO_ENABLED=0", "distroless/static"} {
			if !strings.Contains(df, want) {
				t.Errorf("Dockerfile lacks %q", want)
			}
		}
	})
}

// unpack extracts the gzipped tar layers into dir and returns the paths it
// holds, sorted, directories with a trailing slash.
func unpack(t *testing.T, layout string, layers []descriptor, dir string) []string {
	t.Helper()
	var names []string
	for _, l := range layers {
		if l.MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
			t.Fatalf("layer media type %s", l.MediaType)
		}
		f, err := os.Open(blob(layout, l.Digest))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Clean(h.Name)
			if !filepath.IsLocal(name) {
				t.Fatalf("layer entry %q escapes the root", h.Name)
			}
			path := filepath.Join(dir, name)
			switch h.Typeflag {
			case tar.TypeDir:
				names = append(names, name+"/")
				if err := os.MkdirAll(path, os.FileMode(h.Mode)&os.ModePerm); err != nil {
					t.Fatal(err)
				}
			case tar.TypeReg:
				names = append(names, name)
				data, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, data, os.FileMode(h.Mode)&os.ModePerm); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("layer entry %q of type %c", h.Name, h.Typeflag)
			}
			// Owners and modes as the layer says (WriteFile and MkdirAll
			// obey the umask).
			if os.Geteuid() == 0 {
				if err := os.Lchown(path, h.Uid, h.Gid); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(path, os.FileMode(h.Mode)&os.ModePerm|modeBits(h.Mode)); err != nil {
				t.Fatal(err)
			}
		}
	}
	slices.Sort(names)
	return names
}

func modeBits(m int64) os.FileMode {
	var out os.FileMode
	if m&0o1000 != 0 {
		out |= os.ModeSticky
	}
	return out
}

func blob(layout, digest string) string {
	algo, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(layout, "blobs", algo, hex)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func readJSON(t *testing.T, path string, into any) {
	t.Helper()
	if err := json.Unmarshal([]byte(readFile(t, path)), into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
