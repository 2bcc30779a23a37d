package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/xds"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "proxyctl.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeConfigFileAndFlags: the file sets what the flags leave alone;
// a flag on the command line wins over the file.
func TestServeConfigFileAndFlags(t *testing.T) {
	path := writeConfig(t, `
network:
  num-trusted-hops: 3
disableMergeSlashes: true
envoy-service-name: envoy-ext
kubernetesClientQPS: 7
`)
	s, err := parseServe(t, "--insecure", "--config-path", path, "--envoy-service-name", "from-flag")
	if err != nil {
		t.Fatal(err)
	}
	if s.envoy.numTrustedHops != 3 || !s.envoy.disableMergeSlashes || s.clientQPS != 7 {
		t.Errorf("file values not applied: hops %d, keep slashes %v, qps %v", s.envoy.numTrustedHops, s.envoy.disableMergeSlashes, s.clientQPS)
	}
	if s.envoyService.name != "from-flag" {
		t.Errorf("envoy service name %q, want the flag's from-flag", s.envoyService.name)
	}
	if s.clientBurst != 2000 {
		t.Errorf("burst %d, want the flag's default 2000 (the file has none)", s.clientBurst)
	}

	// The flag given explicitly with its default value still wins.
	s, err = parseServe(t, "--insecure", "--config-path", path, "--num-trusted-hops", "0")
	if err != nil {
		t.Fatal(err)
	}
	if s.envoy.numTrustedHops != 0 {
		t.Errorf("hops %d, want 0 from the command line", s.envoy.numTrustedHops)
	}
}

func TestServeConfigFileErrorsAreUsageErrors(t *testing.T) {
	path := writeConfig(t, "timeouts:\n  request-timeout: soon\n")
	_, err := parseServe(t, "--insecure", "--config-path", path)
	if !errors.As(err, new(usageError)) {
		t.Fatalf("error %v is not a usage error", err)
	}
	want := path + `:2: timeouts.request-timeout: "soon" is not a duration`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if _, err := parseServe(t, "--insecure", "--config-path", filepath.Join(t.TempDir(), "missing.yaml")); !errors.As(err, new(usageError)) {
		t.Errorf("missing file: %v, want a usage error", err)
	}
}

// TestServeConfigFileExitCode runs the command itself: a bad file stops
// `proxyctl serve` at once with exit code 2 and a message naming the
// file, the line and the key.
func TestServeConfigFileExitCode(t *testing.T) {
	if os.Getenv("PROXYCTL_TEST_MAIN") == "1" {
		os.Args = append([]string{"proxyctl"}, strings.Fields(os.Getenv("PROXYCTL_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	for name, c := range map[string]struct{ file, want string }{
		"unknown key":  {"accesslog-format: json\nnot-a-key: 1\n", ":2: not-a-key: unknown key"},
		"wrong type":   {"listener:\n  max-requests-per-connection: many\n", `:2: listener.max-requests-per-connection: must be a whole number`},
		"bad value":    {"compression:\n  algorithm: lz4\n", `:2: compression.algorithm: "lz4" is not one of`},
		"refused key":  {"tracing:\n  extensionService: a/b\n", `:2: tracing.extensionService: tracing is not served by proxyctl yet`},
		"syntax error": {"timeouts: [\n", `proxyctl.yaml:`},
	} {
		t.Run(name, func(t *testing.T) {
			path := writeConfig(t, c.file)
			cmd := exec.Command(os.Args[0], "-test.run=^TestServeConfigFileExitCode$")
			cmd.Env = append(os.Environ(), "PROXYCTL_TEST_MAIN=1",
				"PROXYCTL_TEST_ARGS=serve --insecure --config-path "+path)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != exitUsage {
				t.Fatalf("exit %v, want code %d; output:\n%s", err, exitUsage, out)
			}
			if !strings.Contains(string(out), path) || !strings.Contains(string(out), c.want) {
				t.Errorf("output does not name %s and %q:\n%s", path, c.want, out)
			}
		})
	}
}

// TestServeListenerConfig: the file's settings reach Envoy's listeners.
func TestServeListenerConfig(t *testing.T) {
	path := writeConfig(t, `
accesslog-format: envoy
accesslog-format-string: "%REQ(:METHOD)%\n"
compression:
  algorithm: disabled
serverHeaderTransformation: append_if_absent
timeouts:
  request-timeout: 3s
  connect-timeout: 1s
listener:
  max-requests-per-connection: 9
  per-connection-buffer-limit-bytes: 16384
  use-proxy-protocol: true
cluster:
  per-connection-buffer-limit-bytes: 32768
`)
	s, err := parseServe(t, "--insecure", "--config-path", path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.listenerConfig()
	if cfg.AccessLog.Format != "envoy" || cfg.AccessLog.FormatString != "%REQ(:METHOD)%\n" || cfg.Compression != "disabled" ||
		cfg.ServerHeader != "append_if_absent" || cfg.Timeouts.Request.Duration != 3*time.Second || cfg.ConnectTimeout != time.Second ||
		cfg.MaxRequestsPerConnection != 9 || !cfg.UseProxyProtocol || cfg.AccessLog.HTTPPath != "/dev/stdout" ||
		cfg.PerConnectionBufferLimitBytes != 16384 || cfg.ClusterPerConnectionBufferLimitBytes != 32768 {
		t.Errorf("listener config %+v", cfg)
	}

	// Without a file: proxyctl's defaults.
	if s, err = parseServe(t, "--insecure"); err != nil {
		t.Fatal(err)
	}
	cfg = s.listenerConfig()
	if cfg.AccessLog.Format != "json" || cfg.Compression != "gzip" || cfg.ConnectTimeout != 2*time.Second || cfg.UseProxyProtocol ||
		cfg.PerConnectionBufferLimitBytes != 0 || cfg.ClusterPerConnectionBufferLimitBytes != 0 {
		t.Errorf("default listener config %+v", cfg)
	}

	// The format string of a json log would do nothing: refused.
	if _, err := parseServe(t, "--insecure", "--config-path", path, "--accesslog-format", "json"); !errors.As(err, new(usageError)) {
		t.Errorf("format string with json: %v, want a usage error", err)
	}
}

// TestServeExampleConfig: examples/proxyctl/config.yaml loads, and, as it
// says, gives exactly the defaults.
func TestServeExampleConfig(t *testing.T) {
	path := filepath.Join("..", "..", "examples", "proxyctl", "config.yaml")
	withFile, err := parseServe(t, "--insecure", "--config-path", path)
	if err != nil {
		t.Fatal(err)
	}
	without, err := parseServe(t, "--insecure")
	if err != nil {
		t.Fatal(err)
	}
	got := withFile.listenerConfig()
	// It lists the default JSON fields that no list means.
	if slices.Equal(got.AccessLog.JSONFields, xds.DefaultJSONFields) {
		got.AccessLog.JSONFields = nil
	}
	if diff := cmp.Diff(without.listenerConfig(), got); diff != "" {
		t.Errorf("the example's listener settings differ from the defaults (-defaults +example):\n%s", diff)
	}
	if withFile.envoy != without.envoy || withFile.envoyService != without.envoyService ||
		withFile.clientQPS != without.clientQPS || withFile.clientBurst != without.clientBurst {
		t.Errorf("the example's flag settings differ from the flags' defaults")
	}
}

// The cluster-wide settings of traffic read from the file under Contour's
// keys; a flag still wins.
func TestServeConfigFileGlobalSettings(t *testing.T) {
	path := writeConfig(t, `
enableExternalNameService: true
disablePermitInsecure: true
cluster:
  dns-lookup-family: all
tls:
  fallback-certificate: {namespace: certs, name: fallback}
  minimum-protocol-version: "1.3"
  cipher-suites:
  - ECDHE-ECDSA-AES256-GCM-SHA384
  ecdh-curves: [P-384]
policy:
  request-headers:
    set: {x-env: prod}
    remove: [x-debug]
  response-headers:
    set: {x-served-by: proxyctl}
`)
	s, err := parseServe(t, "--insecure", "--config-path", path, "--tls-ecdh-curves", "X25519")
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.global.dagConfig(dag.Config{})
	if !cfg.EnableExternalNameService || !cfg.DisablePermitInsecure || cfg.DNSLookupFamily != "all" {
		t.Errorf("enableExternalNameService and disablePermitInsecure not applied: %+v", cfg)
	}
	if got := cfg.RequestHeaders; got.Set["x-env"] != "prod" || len(got.Remove) != 1 || got.Remove[0] != "x-debug" {
		t.Errorf("request headers %+v", got)
	}
	if got := cfg.ResponseHeaders; got.Set["x-served-by"] != "proxyctl" {
		t.Errorf("response headers %+v", got)
	}
	if s.fallbackKey.String() != "certs/fallback" {
		t.Errorf("fallback certificate %q, want certs/fallback from tls.fallback-certificate", s.fallbackKey)
	}
	want := xds.TLSParameters{MinimumProtocolVersion: "1.3", CipherSuites: []string{"ECDHE-ECDSA-AES256-GCM-SHA384"}, ECDHCurves: []string{"X25519"}}
	if !reflect.DeepEqual(s.global.tls, want) {
		t.Errorf("tls %+v, want %+v (curves from the flag)", s.global.tls, want)
	}
}
