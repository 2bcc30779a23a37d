package main

import (
	"slices"
	"testing"

	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/xds"
)

// TestServeConfigFileKeys: the configuration file keys served for issue
// 12's follow-up reach the DAG (cluster settings) and the listeners, and
// are off without a file.
func TestServeConfigFileKeys(t *testing.T) {
	path := writeConfig(t, `
disableAllowChunkedLength: true
default-http-versions: [HTTP/2]
network:
  strip-trailing-host-dot: true
cluster:
  max-requests-per-connection: 5
  circuit-breakers: {maxRequests: 7, perHostMaxConnections: 2}
listener:
  connection-balancer: exact
  socket-options: {tos: 32}
`)
	s, err := parseServe(t, "--insecure", "--config-path", path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.global.dagConfig(dag.Config{})
	if cfg.UpstreamMaxRequestsPerConnection != 5 || cfg.CircuitBreakers != (dag.CircuitBreakers{MaxRequests: 7, PerHostMaxConnections: 2}) {
		t.Errorf("DAG config %+v", cfg)
	}
	l := s.listenerConfig()
	if !l.DisableAllowChunkedLength || !l.StripTrailingHostDot || !slices.Equal(l.HTTPVersions, []string{xds.HTTPVersion2}) ||
		l.ConnectionBalancer != xds.ConnectionBalancerExact || l.TOS != 32 {
		t.Errorf("listener config %+v", l)
	}

	s, err = parseServe(t, "--insecure")
	if err != nil {
		t.Fatal(err)
	}
	cfg, l = s.global.dagConfig(dag.Config{}), s.listenerConfig()
	if cfg.UpstreamMaxRequestsPerConnection != 0 || cfg.CircuitBreakers.IsSet() || l.DisableAllowChunkedLength ||
		l.StripTrailingHostDot || l.HTTPVersions != nil || l.ConnectionBalancer != "" || l.TOS != 0 {
		t.Errorf("defaults: DAG %+v, listeners %+v", cfg, l)
	}
}

// TestServeTrafficClassNeedsIPv6: Envoy refuses an IPv6 traffic class on
// an IPv4 listener, so it is refused at start-up unless --envoy-address
// is IPv6.
func TestServeTrafficClassNeedsIPv6(t *testing.T) {
	path := writeConfig(t, "listener:\n  socket-options: {traffic-class: 64}\n")
	if _, err := parseServe(t, "--insecure", "--config-path", path); err == nil {
		t.Errorf("traffic-class with the default address 0.0.0.0 accepted")
	}
	s, err := parseServe(t, "--insecure", "--config-path", path, "--envoy-address", "::")
	if err != nil {
		t.Fatal(err)
	}
	if l := s.listenerConfig(); l.TrafficClass != 64 {
		t.Errorf("traffic class %d, want 64", l.TrafficClass)
	}
}
