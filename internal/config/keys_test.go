package config

import (
	"slices"
	"testing"

	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/xds"
)

// TestParseServedKeys: the keys served since issue 12's follow-up parse
// with Contour's meanings and defaults.
func TestParseServedKeys(t *testing.T) {
	p, err := Parse("c.yaml", []byte(`
disableAllowChunkedLength: true
default-http-versions: [HTTP/1.1, http/1.1]
cluster:
  max-requests-per-connection: 3
  circuit-breakers:
    maxConnections: 10
    maxPendingRequests: 20
    maxRequests: 30
    maxRetries: 4
    perHostMaxConnections: 5
network:
  strip-trailing-host-dot: true
listener:
  connection-balancer: exact
  socket-options: {tos: 32, traffic-class: 64}
`))
	if err != nil {
		t.Fatal(err)
	}
	if !p.DisableAllowChunkedLength || !p.Network.StripTrailingHostDot {
		t.Errorf("booleans not read: %+v %+v", p.DisableAllowChunkedLength, p.Network)
	}
	if l := p.Listener; l.ConnectionBalancer != "exact" || l.SocketOptions.TOS != 32 || l.SocketOptions.TrafficClass != 64 {
		t.Errorf("listener %+v", l)
	}
	if got := p.HTTPVersions(); !slices.Equal(got, []string{xds.HTTPVersion1}) {
		t.Errorf("HTTP versions %q, want [http/1.1] once", got)
	}
	if v := p.Cluster.MaxRequestsPerConnection; v == nil || *v != 3 {
		t.Errorf("cluster.max-requests-per-connection %v", v)
	}
	want := dag.CircuitBreakers{MaxConnections: 10, MaxPendingRequests: 20, MaxRequests: 30, MaxRetries: 4, PerHostMaxConnections: 5}
	if got := p.UpstreamCircuitBreakers(); got != want {
		t.Errorf("circuit breakers %+v, want %+v", got, want)
	}

	// Contour's defaults: both versions, no limits, dot kept, chunked
	// length allowed.
	d := Defaults()
	if d.HTTPVersions() != nil || d.UpstreamCircuitBreakers().IsSet() || d.Cluster.MaxRequestsPerConnection != nil ||
		d.Network.StripTrailingHostDot || d.DisableAllowChunkedLength {
		t.Errorf("defaults %+v", d)
	}
}
