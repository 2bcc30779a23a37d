package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/protojson"
)

// parseBootstrap parses args as a proxyctl command line and returns the
// bootstrap subcommand's context, writing "-" to stdout.
func parseBootstrap(t *testing.T, stdout *bytes.Buffer, args ...string) (*bootstrapContext, error) {
	t.Helper()
	app := kingpin.New("proxyctl", "")
	app.Terminate(nil)
	cmd, ctx := registerBootstrap(app)
	ctx.stdout = stdout
	got, err := app.Parse(args)
	if err != nil {
		return nil, err
	}
	if got != cmd.FullCommand() {
		t.Fatalf("parsed command %q, want %q", got, cmd.FullCommand())
	}
	return ctx, nil
}

func TestBootstrapCommand(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"ca.crt", "tls.crt", "tls.key"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	tests := map[string]struct {
		args  []string
		check func(t *testing.T, b *bootstrapv3.Bootstrap)
	}{
		"defaults": {
			args: []string{"bootstrap", "-", "--node-id", "envoy-0"},
			check: func(t *testing.T, b *bootstrapv3.Bootstrap) {
				ep := b.GetStaticResources().GetClusters()[0].GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0]
				sa := ep.GetEndpoint().GetAddress().GetSocketAddress()
				if sa.GetAddress() != "127.0.0.1" || sa.GetPortValue() != 8001 {
					t.Errorf("xDS endpoint %v, want 127.0.0.1:8001", sa)
				}
				admin := b.GetAdmin().GetAddress().GetSocketAddress()
				if admin.GetAddress() != "127.0.0.1" || admin.GetPortValue() != 9001 {
					t.Errorf("admin %v, want 127.0.0.1:9001", admin)
				}
				if b.GetNode().GetId() != "envoy-0" {
					t.Errorf("node id %q", b.GetNode().GetId())
				}
			},
		},
		"all flags": {
			args: []string{
				"bootstrap", "-", "--xds-address", "proxyctl.example", "--xds-port", "18001",
				"--admin-address", "127.0.0.2", "--admin-port", "19001", "--xds-delta",
				"--xds-ca-file", files[0], "--xds-cert-file", files[1], "--xds-key-file", files[2],
			},
			check: func(t *testing.T, b *bootstrapv3.Bootstrap) {
				c := b.GetStaticResources().GetClusters()[0]
				sa := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
				if sa.GetAddress() != "proxyctl.example" || sa.GetPortValue() != 18001 {
					t.Errorf("xDS endpoint %v", sa)
				}
				if c.GetTransportSocket() == nil {
					t.Errorf("no TLS transport socket")
				}
				if got := b.GetDynamicResources().GetAdsConfig().GetApiType(); got != corev3.ApiConfigSource_DELTA_GRPC {
					t.Errorf("api type %v, want DELTA_GRPC", got)
				}
				admin := b.GetAdmin().GetAddress().GetSocketAddress()
				if admin.GetAddress() != "127.0.0.2" || admin.GetPortValue() != 19001 {
					t.Errorf("admin %v", admin)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			ctx, err := parseBootstrap(t, &out, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if err := ctx.run(); err != nil {
				t.Fatal(err)
			}
			var b bootstrapv3.Bootstrap
			if err := protojson.Unmarshal(out.Bytes(), &b); err != nil {
				t.Fatalf("output is not a bootstrap: %v\n%s", err, out.String())
			}
			tc.check(t, &b)
		})
	}
}

func TestBootstrapCommandWritesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "envoy.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx, err := parseBootstrap(t, &out, "bootstrap", path, "--node-id", "n")
	if err != nil {
		t.Fatal(err)
	}
	if err := ctx.run(); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("wrote %d bytes to stdout, want none", out.Len())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(data, &b); err != nil {
		t.Fatalf("file is not a bootstrap: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the bootstrap (no temporary file)", len(entries))
	}
}

func TestBootstrapCommandUsageErrors(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string
	}{
		"xDS port out of range": {[]string{"bootstrap", "-", "--xds-port", "70000"}, "xDS port 70000"},
		"admin port negative":   {[]string{"bootstrap", "-", "--admin-port=-5"}, "admin port -5"},
		"xDS port zero":         {[]string{"bootstrap", "-", "--xds-port", "0"}, "xDS port 0"},
		"empty xDS address":     {[]string{"bootstrap", "-", "--xds-address", ""}, "xDS address is empty"},
		"admin address name":    {[]string{"bootstrap", "-", "--admin-address", "localhost"}, "admin address"},
		"TLS file alone":        {[]string{"bootstrap", "-", "--xds-ca-file", "/nonexistent/ca.crt"}, "CA, certificate and key files together"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			ctx, err := parseBootstrap(t, &out, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			err = ctx.run()
			if !errors.As(err, new(usageError)) {
				t.Fatalf("run() = %v, want a usage error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("wrote output despite the error:\n%s", out.String())
			}
		})
	}
	t.Run("missing path", func(t *testing.T) {
		if _, err := parseBootstrap(t, new(bytes.Buffer), "bootstrap"); err == nil {
			t.Fatal("parse succeeded without a path")
		}
	})
}
