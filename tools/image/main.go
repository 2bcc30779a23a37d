// Command image builds the proxyctl container image without a Docker daemon
// and without pulling a base image: every layer is made here, from the
// static proxyctl binaries `make image` cross-compiles.
//
// The image is what a distroless "static" base gives, and nothing more:
// /etc/passwd and /etc/group naming the non-root user 65532 (so tools that
// look the user up find it), its home directory, /tmp, and /proxyctl as the
// entrypoint. There is no shell and no package manager. No CA bundle
// either: proxyctl talks only to the Kubernetes API (whose CA the service
// account token brings) and to Envoys with the CA of its own certificates.
//
// It writes, under --out:
//
//	oci/                        an OCI image layout whose one entry is the
//	                            multi-platform index, for `crane push`
//	proxyctl-OS-ARCH.tar        one docker-style tarball per platform, for
//	                            `docker load`, `kind load image-archive`,
//	                            `ctr images import`
//
// The output is reproducible: the same binaries and flags give the same
// digests (file times and the config's creation time are --created).
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user distroless images call nonroot; the manifests under
// examples/proxyctl run as it.
const (
	uid  = 65532
	home = "/home/nonroot"
)

// binaries collects repeated --binary OS/ARCH=PATH flags, in flag order
// (the order of the index's manifests).
type binaries []binary

type binary struct {
	platform v1.Platform
	path     string
}

func (b *binaries) String() string { return fmt.Sprint(*b) }

func (b *binaries) Set(s string) error {
	plat, path, ok := strings.Cut(s, "=")
	if !ok || path == "" {
		return fmt.Errorf("%q: want OS/ARCH[/VARIANT]=PATH", s)
	}
	p, err := v1.ParsePlatform(plat)
	if err != nil {
		return err
	}
	if p.OS == "" || p.Architecture == "" {
		return fmt.Errorf("%q: want OS/ARCH[/VARIANT]", plat)
	}
	*b = append(*b, binary{platform: *p, path: path})
	return nil
}

type options struct {
	binaries binaries
	repo     string
	version  string
	revision string
	source   string
	created  int64
	out      string
}

func main() {
	var o options
	flag.Var(&o.binaries, "binary", "OS/ARCH=PATH of a static proxyctl binary; repeat for each platform")
	flag.StringVar(&o.repo, "repo", "ghcr.io/proxyctl/proxyctl", "image repository, tagged with --version")
	flag.StringVar(&o.version, "version", "", "version: the tag and the org.opencontainers.image.version label")
	flag.StringVar(&o.revision, "revision", "", "commit the binaries were built from (org.opencontainers.image.revision)")
	flag.StringVar(&o.source, "source", "https://github.com/proxyctl/proxyctl", "org.opencontainers.image.source")
	flag.Int64Var(&o.created, "created", 0, "creation time in Unix seconds, for the config and every file (reproducible builds: the commit time)")
	flag.StringVar(&o.out, "out", "", "output directory")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "image: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if len(o.binaries) == 0 || o.version == "" || o.revision == "" || o.out == "" {
		return errors.New("--binary, --version, --revision and --out are required")
	}
	tag, err := name.NewTag(o.repo + ":" + o.version)
	if err != nil {
		return err
	}
	created := time.Unix(o.created, 0).UTC()
	labels := map[string]string{
		"org.opencontainers.image.title":       "proxyctl",
		"org.opencontainers.image.description": "A Kubernetes ingress controller for Envoy, compatible with Contour's HTTPProxy",
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.revision":    o.revision,
		"org.opencontainers.image.source":      o.source,
		"org.opencontainers.image.created":     created.Format(time.RFC3339),
	}

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	images := map[string]v1.Image{}
	for _, b := range o.binaries {
		img, err := build(b, labels, created)
		if err != nil {
			return fmt.Errorf("%s: %w", b.platform, err)
		}
		plat := b.platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &plat},
		})
		images[platformFile(plat)] = img
	}
	idx = mutate.Annotations(idx, labels).(v1.ImageIndex)

	// A fresh layout each time: appending to an old one would keep stale
	// entries and make `crane push` ask for --index.
	ociDir := filepath.Join(o.out, "oci")
	if err := os.RemoveAll(ociDir); err != nil {
		return err
	}
	p, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag.String(),
	})); err != nil {
		return err
	}
	for file, img := range images {
		if err := tarball.WriteToFile(filepath.Join(o.out, file), tag, img); err != nil {
			return err
		}
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s@%s in %s\n", tag, d, ociDir)
	return nil
}

func platformFile(p v1.Platform) string {
	s := "proxyctl-" + p.OS + "-" + p.Architecture
	if p.Variant != "" {
		s += "-" + p.Variant
	}
	return s + ".tar"
}

// build makes the image of one platform: one layer on an empty image.
func build(b binary, labels map[string]string, created time.Time) (v1.Image, error) {
	bin, err := os.ReadFile(b.path)
	if err != nil {
		return nil, err
	}
	layer, err := rootfs(bin, created)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "proxyctl tools/image", Comment: "proxyctl and the nonroot user"},
		MediaType: types.OCILayer,
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = b.platform.OS
	cf.Architecture = b.platform.Architecture
	cf.Variant = b.platform.Variant
	cf.Created = v1.Time{Time: created}
	cf.Author = "proxyctl"
	cf.Config.User = fmt.Sprintf("%d:%d", uid, uid)
	cf.Config.Entrypoint = []string{"/proxyctl"}
	cf.Config.WorkingDir = home
	cf.Config.Env = []string{"HOME=" + home}
	cf.Config.Labels = labels
	// The xDS gRPC port and the HTTP port (/healthz, /readyz, /metrics)
	// of examples/proxyctl.
	cf.Config.ExposedPorts = map[string]struct{}{"8000/tcp": {}, "8001/tcp": {}}
	return mutate.ConfigFile(img, cf)
}

// rootfs is the image's only layer, as a gzipped tar with fixed owners,
// modes and times.
func rootfs(bin []byte, created time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64, owner int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: owner, Gid: owner, ModTime: created, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: created, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:%s:/sbin/nologin\n", uid, uid, home)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", uid)
	steps := []func() error{
		func() error { return dir("etc", 0o755, 0) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error { return dir("home", 0o755, 0) },
		func() error { return dir(strings.TrimPrefix(home, "/"), 0o700, uid) },
		func() error { return file("proxyctl", 0o755, bin) },
		func() error { return dir("tmp", 0o1777, 0) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	// tarball compresses with gzip, whose output depends only on the input
	// and the level: the digest is stable.
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
