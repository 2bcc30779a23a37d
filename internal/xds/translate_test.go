package xds

import (
	"slices"
	"strings"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/proxyctl/proxyctl/internal/dag"
)

func names[T any](s []T, name func(T) string) []string {
	out := []string{}
	for _, v := range s {
		out = append(out, name(v))
	}
	return out
}

// TestTranslateNames: which listeners and route configurations exist, and
// how they are named, for the kinds of secure virtual hosts.
func TestTranslateNames(t *testing.T) {
	c := upstream("default", "kuard", 80)
	s := secret("default", "tls")
	tests := map[string]struct {
		dag       *dag.DAG
		listeners []string
		routes    []string
		scopes    []string
		chains    []string
	}{
		"http only: no HTTPS listener": {
			dag:       build(hosts(vhost("a.example.com", prefix("/", to(c))))),
			listeners: []string{"ingress_http"},
			routes:    []string{"http/a.example.com"},
			scopes:    []string{"http/a.example.com"},
		},
		"wildcard and the exact hosts under it share a scope": {
			dag: build(hosts(vhost("*.example.com", prefix("/", to(c))), vhost("a.example.com", prefix("/", to(c))),
				vhost("B.Other.com", prefix("/", to(c))), vhost("a.b.example.com", prefix("/", to(c))))),
			listeners: []string{"ingress_http"},
			routes:    []string{"http/*.example.com", "http/a.b.example.com", "http/b.other.com"},
			scopes:    []string{"http/*.example.com", "http/a.b.example.com", "http/b.other.com"},
		},
		"terminated vhosts": {
			dag:       build(nil, tlsHost("b.example.com", s, prefix("/", to(c))), tlsHost("a.example.com", s, prefix("/", to(c)))),
			listeners: []string{"ingress_http", "ingress_https"},
			routes:    []string{"https/a.example.com", "https/b.example.com"},
			chains:    []string{"a.example.com", "b.example.com"},
		},
		"tcpproxy has no route configuration": {
			dag:       build(nil, tcpHost("p.example.com", nil, weight(c, 0)), tcpHost("t.example.com", s, weight(c, 0))),
			listeners: []string{"ingress_http", "ingress_https"},
			routes:    nil,
			chains:    []string{"p.example.com", "t.example.com"},
		},
		"vhost without certificate is skipped": {
			dag:       &dag.DAG{HTTPS: []*dag.SecureVirtualHost{tlsHost("a.example.com", nil, prefix("/", to(c)))}},
			listeners: []string{"ingress_http"},
			routes:    nil,
		},
		"passthrough without tcpproxy is skipped": {
			dag:       &dag.DAG{HTTPS: []*dag.SecureVirtualHost{{VirtualHost: dag.VirtualHost{Name: "a.example.com"}, Passthrough: true}}},
			listeners: []string{"ingress_http"},
			routes:    nil,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := Translate(tc.dag, ListenerConfig{})
			if diff := cmp.Diff(tc.listeners, names(r.Listeners, (*listener.Listener).GetName)); diff != "" {
				t.Errorf("listeners (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.routes, names(r.Routes, (*route.RouteConfiguration).GetName), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("route configurations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.scopes, names(r.ScopedRoutes, (*route.ScopedRouteConfiguration).GetName), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("scopes (-want +got):\n%s", diff)
			}
			var chains []string
			if len(r.Listeners) > 1 {
				chains = names(r.Listeners[1].FilterChains, (*listener.FilterChain).GetName)
			}
			if diff := cmp.Diff(tc.chains, chains); diff != "" {
				t.Errorf("filter chains (-want +got):\n%s", diff)
			}
			if _, err := NewSnapshot(r); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestListenerConfigDefaults(t *testing.T) {
	r := Translate(build(nil, tlsHost("a.example.com", secret("ns", "s"), prefix("/", to(upstream("ns", "svc", 80))))), ListenerConfig{})
	for i, want := range []struct {
		addr string
		port uint32
	}{{"0.0.0.0", 8080}, {"0.0.0.0", 8443}} {
		sa := r.Listeners[i].GetAddress().GetSocketAddress()
		if sa.GetAddress() != want.addr || sa.GetPortValue() != want.port {
			t.Errorf("%s listens on %s:%d, want %s:%d", r.Listeners[i].Name, sa.GetAddress(), sa.GetPortValue(), want.addr, want.port)
		}
	}
	r = Translate(nil, ListenerConfig{HTTPAddress: "::", HTTPPort: 80})
	if sa := r.Listeners[0].GetAddress().GetSocketAddress(); sa.GetAddress() != "::" || sa.GetPortValue() != 80 {
		t.Errorf("ingress_http listens on %s:%d, want [::]:80", sa.GetAddress(), sa.GetPortValue())
	}
}

// TestTranslateSortsAndDedupes: an unsorted DAG, or one listing a cluster
// twice, still gives sorted, unique resources.
func TestTranslateSortsAndDedupes(t *testing.T) {
	a, b := upstream("a", "svc", 80), upstream("b", "svc", 80)
	d := &dag.DAG{
		HTTP:     hosts(vhost("z.example.com", prefix("/", to(b))), vhost("a.example.com", prefix("/", to(a)))),
		Clusters: []*dag.Cluster{b, a, b},
		Secrets:  []*dag.Secret{secret("z", "s"), secret("a", "s")},
	}
	r := Translate(d, ListenerConfig{})
	if diff := cmp.Diff([]string{a.Name, b.Name}, names(r.Clusters, (*cluster.Cluster).GetName)); diff != "" {
		t.Errorf("clusters (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{a.Name, b.Name}, names(r.Endpoints, (*endpoint.ClusterLoadAssignment).GetClusterName)); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a/s", "z/s"}, names(r.Secrets, (*tls.Secret).GetName)); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"http/a.example.com", "http/z.example.com"}, names(r.Routes, (*route.RouteConfiguration).GetName)); diff != "" {
		t.Errorf("route configurations (-want +got):\n%s", diff)
	}
}

func TestWeightedClusters(t *testing.T) {
	a, b := upstream("ns", "a", 80), upstream("ns", "b", 80)
	cw := func(c *dag.Cluster, w uint32) *route.WeightedCluster_ClusterWeight {
		return &route.WeightedCluster_ClusterWeight{Name: c.Name, Weight: wrapperspb.UInt32(w)}
	}
	tests := map[string]struct {
		in   []*dag.WeightedCluster
		want []*route.WeightedCluster_ClusterWeight
	}{
		"all zero is an even split": {
			in:   []*dag.WeightedCluster{weight(a, 0), weight(b, 0)},
			want: []*route.WeightedCluster_ClusterWeight{cw(a, 1), cw(b, 1)},
		},
		"weights kept": {
			in:   []*dag.WeightedCluster{weight(a, 70), weight(b, 30)},
			want: []*route.WeightedCluster_ClusterWeight{cw(a, 70), cw(b, 30)},
		},
		"zero gets nothing when others are set": {
			in:   []*dag.WeightedCluster{weight(a, 0), weight(b, 5)},
			want: []*route.WeightedCluster_ClusterWeight{cw(a, 0), cw(b, 5)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := weightedClusters(tc.in, nil).GetClusters()
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestEscapeHeaderValue(t *testing.T) {
	tests := map[string]string{
		"plain":                           "plain",
		"50%":                             "50%%",
		"%%":                              "%%%%",
		"%DOWNSTREAM_REMOTE_ADDRESS%":     "%DOWNSTREAM_REMOTE_ADDRESS%",
		"ip=%DOWNSTREAM_REMOTE_ADDRESS%%": "ip=%DOWNSTREAM_REMOTE_ADDRESS%%%",
		"%REQ(x-foo)% and 5%":             "%REQ(x-foo)% and 5%%",
		"%UNKNOWN_THING%":                 "%%UNKNOWN_THING%%",
	}
	for in, want := range tests {
		if got := escapeHeaderValue(in); got != want {
			t.Errorf("escapeHeaderValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTLSVersions(t *testing.T) {
	tests := map[string]struct {
		global           TLSParameters
		min, max         string
		wantMin, wantMax tls.TlsParameters_TlsProtocol
	}{
		"defaults":       {TLSParameters{}, "", "", tls.TlsParameters_TLSv1_2, tls.TlsParameters_TLSv1_3},
		"1.3 only":       {TLSParameters{}, "1.3", "", tls.TlsParameters_TLSv1_3, tls.TlsParameters_TLSv1_3},
		"1.2 only":       {TLSParameters{}, "1.2", "1.2", tls.TlsParameters_TLSv1_2, tls.TlsParameters_TLSv1_2},
		"max below min":  {TLSParameters{}, "1.3", "1.2", tls.TlsParameters_TLSv1_3, tls.TlsParameters_TLSv1_3},
		"unknown is 1.2": {TLSParameters{}, "1.1", "", tls.TlsParameters_TLSv1_2, tls.TlsParameters_TLSv1_3},
		// The host narrows the cluster-wide range, never widens it.
		"global minimum 1.3 wins over a host's 1.2": {TLSParameters{MinimumProtocolVersion: "1.3"}, "1.2", "", tls.TlsParameters_TLSv1_3, tls.TlsParameters_TLSv1_3},
		"global maximum 1.2 wins over a host's 1.3": {TLSParameters{MaximumProtocolVersion: "1.2"}, "", "1.3", tls.TlsParameters_TLSv1_2, tls.TlsParameters_TLSv1_2},
		"host maximum 1.2 under global defaults":    {TLSParameters{}, "", "1.2", tls.TlsParameters_TLSv1_2, tls.TlsParameters_TLSv1_2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := downstreamTLSContext("s", tc.global.tlsParams(tc.min, tc.max), nil).GetCommonTlsContext().GetTlsParams()
			if p.GetTlsMinimumProtocolVersion() != tc.wantMin || p.GetTlsMaximumProtocolVersion() != tc.wantMax {
				t.Errorf("got %v-%v, want %v-%v", p.GetTlsMinimumProtocolVersion(), p.GetTlsMaximumProtocolVersion(), tc.wantMin, tc.wantMax)
			}
		})
	}
}

func TestTLSParameters(t *testing.T) {
	t.Run("defaults are Contour's", func(t *testing.T) {
		p := TLSParameters{}.tlsParams("", "")
		if !slices.Equal(p.CipherSuites, DefaultCipherSuites) || p.EcdhCurves != nil {
			t.Errorf("cipher suites %q, curves %q; want Contour's default suites and Envoy's default curves", p.CipherSuites, p.EcdhCurves)
		}
	})
	t.Run("lists are kept in order, each name once", func(t *testing.T) {
		p := TLSParameters{
			CipherSuites: []string{"ECDHE-RSA-AES256-GCM-SHA384", "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]", "ECDHE-RSA-AES256-GCM-SHA384"},
			ECDHCurves:   []string{"P-384", "X25519", "P-384"},
		}.tlsParams("", "")
		if want := []string{"ECDHE-RSA-AES256-GCM-SHA384", "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]"}; !slices.Equal(p.CipherSuites, want) {
			t.Errorf("cipher suites %q, want %q", p.CipherSuites, want)
		}
		if want := []string{"P-384", "X25519"}; !slices.Equal(p.EcdhCurves, want) {
			t.Errorf("curves %q, want %q", p.EcdhCurves, want)
		}
	})
	bad := map[string]struct {
		p    TLSParameters
		want string
	}{
		"version 1.1":       {TLSParameters{MinimumProtocolVersion: "1.1"}, `invalid TLS minimum protocol version: "1.1"`},
		"maximum 1.0":       {TLSParameters{MaximumProtocolVersion: "1.0"}, `invalid TLS maximum protocol version: "1.0"`},
		"minimum above max": {TLSParameters{MinimumProtocolVersion: "1.3", MaximumProtocolVersion: "1.2"}, "minimum TLS protocol version is greater"},
		"unknown cipher":    {TLSParameters{CipherSuites: []string{"ECDHE-RSA-AES256-GCM-SHA384", "TLS_AES_128_GCM_SHA256", "RC4-SHA"}}, `invalid TLS cipher suites ["TLS_AES_128_GCM_SHA256" "RC4-SHA"]`},
		"bad group":         {TLSParameters{CipherSuites: []string{"[ECDHE-RSA-AES256-GCM-SHA384|RC4]"}}, "invalid TLS cipher suites"},
		"unclosed group":    {TLSParameters{CipherSuites: []string{"[ECDHE-RSA-AES256-GCM-SHA384"}}, "invalid TLS cipher suites"},
		"unknown curve":     {TLSParameters{ECDHCurves: []string{"X25519", "secp256k1"}}, `invalid ECDH curves ["secp256k1"]`},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			err := tc.p.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	good := []TLSParameters{
		{},
		{MinimumProtocolVersion: "1.3"},
		{MinimumProtocolVersion: "1.2", MaximumProtocolVersion: "1.2"},
		{CipherSuites: DefaultCipherSuites, ECDHCurves: []string{"X25519MLKEM768", "X25519", "P-256"}},
	}
	for _, p := range good {
		if err := p.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", p, err)
		}
	}
}
