package main

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"

	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/xds"
)

func parseServe(t *testing.T, args ...string) (*serveContext, error) {
	t.Helper()
	app := kingpin.New("proxyctl", "")
	_, s := registerServe(app)
	if _, err := app.Parse(append([]string{"serve"}, args...)); err != nil {
		return nil, err
	}
	s.splitLists()
	if err := s.loadConfig(); err != nil {
		return nil, err
	}
	return s, s.validate()
}

func TestServeNamespaceListsAreCommaSeparatedOrRepeated(t *testing.T) {
	s, err := parseServe(t, "--insecure", "--root-namespaces", "a, b,,c", "--root-namespaces", "d", "--watch-namespaces", "x,y")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(s.rootNamespaces, want) {
		t.Errorf("root namespaces = %q, want %q", s.rootNamespaces, want)
	}
	if want := []string{"x", "y"}; !slices.Equal(s.watchNamespaces, want) {
		t.Errorf("watch namespaces = %q, want %q", s.watchNamespaces, want)
	}
}

// --ingress-class-name takes several classes, comma-separated as Contour
// takes them (or repeated).
func TestServeIngressClassList(t *testing.T) {
	s, err := parseServe(t, "--insecure", "--ingress-class-name", "contour, team1", "--ingress-class-name", "team2")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"contour", "team1", "team2"}; !slices.Equal(s.ingressClassNames, want) {
		t.Errorf("ingress classes = %q, want %q", s.ingressClassNames, want)
	}
}

func TestServeRejectsBadFlags(t *testing.T) {
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"no TLS and not insecure": {nil, "--insecure"},
		"insecure with TLS files": {[]string{"--insecure", "--xds-ca-file", "ca"}, "mutually exclusive"},
		"half the TLS files":      {[]string{"--xds-ca-file", "ca", "--xds-cert-file", "c"}, "mutual TLS"},
		"port out of range":       {[]string{"--insecure", "--xds-port", "70000"}, "--xds-port"},
		"same envoy ports":        {[]string{"--insecure", "--envoy-http-port", "1", "--envoy-https-port", "1"}, "must differ"},
		"renew not below lease": {[]string{"--insecure", "--leader-election-lease-duration", "5s",
			"--leader-election-renew-deadline", "5s"}, "timings"},
		"kubeconfig and incluster":        {[]string{"--insecure", "--incluster", "--kubeconfig", "k"}, "mutually exclusive"},
		"fallback without namespace":      {[]string{"--insecure", "--fallback-certificate", "cert"}, "namespace/name"},
		"envoy service without namespace": {[]string{"--insecure", "--envoy-service-namespace", ""}, "--envoy-service-namespace"},
		"TLS 1.1":                         {[]string{"--insecure", "--tls-minimum-protocol-version", "1.1"}, `invalid TLS minimum protocol version: "1.1"`},
		"TLS minimum above maximum": {[]string{"--insecure", "--tls-minimum-protocol-version", "1.3",
			"--tls-maximum-protocol-version", "1.2"}, "greater than the maximum"},
		"unknown cipher suite":                 {[]string{"--insecure", "--tls-cipher-suites", "ECDHE-RSA-AES256-GCM-SHA384,DES-CBC3-SHA"}, `invalid TLS cipher suites ["DES-CBC3-SHA"]`},
		"unknown curve":                        {[]string{"--insecure", "--tls-ecdh-curves", "X448"}, `invalid ECDH curves ["X448"]`},
		"rate limit service without namespace": {[]string{"--insecure", "--rate-limit-service", "ratelimit"}, "namespace/name"},
		"rate limit service without a domain": {[]string{"--insecure", "--rate-limit-service", "a/b", "--rate-limit-domain", ""},
			"--rate-limit-domain"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseServe(t, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

// The defaults name the Envoy Service of examples/proxyctl/04-envoy.yaml;
// an empty name turns the address off, whatever the namespace.
func TestServeEnvoyService(t *testing.T) {
	s, err := parseServe(t, "--insecure")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.envoyService; got != (envoyServiceFlags{name: "envoy", namespace: "proxyctl"}) {
		t.Errorf("default Envoy Service %+v, want envoy in proxyctl", got)
	}
	if _, err := parseServe(t, "--insecure", "--envoy-service-name", "", "--envoy-service-namespace", ""); err != nil {
		t.Errorf("disabled Envoy Service: %v", err)
	}
}

func TestServeFallbackCertificate(t *testing.T) {
	s, err := parseServe(t, "--insecure", "--fallback-certificate", "certs/fallback")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.fallbackKey.String(); got != "certs/fallback" {
		t.Errorf("fallback certificate = %q, want certs/fallback", got)
	}
}

func TestServeMergesSlashesUnlessDisabled(t *testing.T) {
	s, err := parseServe(t, "--insecure")
	if err != nil {
		t.Fatal(err)
	}
	if s.envoy.disableMergeSlashes {
		t.Error("slashes are kept by default; Contour merges them")
	}
	if s, err = parseServe(t, "--insecure", "--disable-merge-slashes"); err != nil {
		t.Fatal(err)
	}
	if !s.envoy.disableMergeSlashes {
		t.Error("--disable-merge-slashes did not disable merging")
	}
}

// The cluster-wide settings: Contour's defaults, and the flags that
// change them.
func TestServeSettings(t *testing.T) {
	s, err := parseServe(t, "--insecure")
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.global.dagConfig(dag.Config{})
	if cfg.EnableExternalNameService || cfg.DisablePermitInsecure || s.global.tls.CipherSuites != nil {
		t.Errorf("defaults %+v / %+v; want ExternalName disabled, permitInsecure honoured, Contour's ciphers", cfg, s.global.tls)
	}
	s, err = parseServe(t, "--insecure", "--enable-external-name-service", "--disable-permit-insecure",
		"--tls-minimum-protocol-version", "1.3", "--tls-cipher-suites", "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305], ECDHE-RSA-AES256-GCM-SHA384",
		"--tls-ecdh-curves", "X25519,P-256")
	if err != nil {
		t.Fatal(err)
	}
	cfg = s.global.dagConfig(dag.Config{})
	if !cfg.EnableExternalNameService || !cfg.DisablePermitInsecure {
		t.Errorf("flags not applied: %+v", cfg)
	}
	want := xds.TLSParameters{MinimumProtocolVersion: "1.3",
		CipherSuites: []string{"[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]", "ECDHE-RSA-AES256-GCM-SHA384"},
		ECDHCurves:   []string{"X25519", "P-256"}}
	if !reflect.DeepEqual(s.global.tls, want) {
		t.Errorf("tls = %+v, want %+v", s.global.tls, want)
	}
}
