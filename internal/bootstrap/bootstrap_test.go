package bootstrap

import (
	"bytes"
	"flag"
	"github.com/proxyctl/proxyctl/internal/dag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// tlsFiles creates three empty files standing for the CA, certificate and
// key; the bootstrap refers to them by path only.
func tlsFiles(t *testing.T) (ca, cert, key string) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"ca.pem", "cert.pem", "key.pem"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
}

func TestBuildGolden(t *testing.T) {
	tests := map[string]Options{
		"defaults": {NodeID: "envoy-0"},
		"delta":    {NodeID: "envoy-0", Delta: true},
		"dns": {
			NodeID: "envoy-0", NodeCluster: "edge", XDSAddress: "proxyctl.proxyctl.svc.cluster.local", XDSPort: 8001,
			AdminAddress: "127.0.0.1", AdminPort: 19001, ConnectTimeout: 2 * time.Second,
		},
		"tls": {
			NodeID: "envoy-0", CAFile: "/certs/ca.crt", CertFile: "/certs/tls.crt", KeyFile: "/certs/tls.key",
		},
		"runtime": {NodeID: "envoy-0", RuntimeLayer: "dynamic"},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			if opts.TLS() {
				// Validation needs the files to exist; the golden file
				// shows fixed paths.
				dir := t.TempDir()
				for _, p := range []*string{&opts.CAFile, &opts.CertFile, &opts.KeyFile} {
					*p = filepath.Join(dir, filepath.Base(*p))
					if err := os.WriteFile(*p, nil, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			b, err := Build(opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if opts.TLS() {
				got = bytes.ReplaceAll(got, []byte(filepath.Dir(opts.CAFile)), []byte("/certs"))
			}
			golden := filepath.Join("testdata", name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/bootstrap -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("bootstrap differs from %s (-want +got):\n%s", golden, diff)
			}

			// The JSON reads back as the same bootstrap, which Envoy's
			// proto constraints accept.
			var back bootstrapv3.Bootstrap
			if err := protojson.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			if err := back.ValidateAll(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMarshalIsDeterministic(t *testing.T) {
	ca, cert, key := tlsFiles(t)
	opts := Options{NodeID: "n", CAFile: ca, CertFile: cert, KeyFile: key, RuntimeLayer: "dynamic"}
	var first []byte
	for i := range 20 {
		var buf bytes.Buffer
		if err := Write(&buf, opts); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = buf.Bytes()
			continue
		}
		if !bytes.Equal(first, buf.Bytes()) {
			t.Fatalf("output %d differs from the first:\n%s", i, cmp.Diff(string(first), buf.String()))
		}
	}
}

func TestBuildFields(t *testing.T) {
	ca, cert, key := tlsFiles(t)
	tests := map[string]struct {
		opts  Options
		check func(t *testing.T, b *bootstrapv3.Bootstrap)
	}{
		"node id defaults to the hostname": {
			opts: Options{},
			check: func(t *testing.T, b *bootstrapv3.Bootstrap) {
				host, _ := os.Hostname()
				if got := b.GetNode().GetId(); got != host {
					t.Errorf("node id %q, want hostname %q", got, host)
				}
				if got := b.GetNode().GetCluster(); got != "proxyctl" {
					t.Errorf("node cluster %q, want proxyctl", got)
				}
			},
		},
		"ADS over gRPC, LDS and CDS from ADS": {
			opts: Options{NodeID: "n"},
			check: func(t *testing.T, b *bootstrapv3.Bootstrap) {
				dr := b.GetDynamicResources()
				if got := dr.GetAdsConfig().GetApiType(); got != corev3.ApiConfigSource_GRPC {
					t.Errorf("api type %v, want GRPC", got)
				}
				if got := dr.GetAdsConfig().GetTransportApiVersion(); got != corev3.ApiVersion_V3 {
					t.Errorf("transport api version %v, want V3", got)
				}
				if got := dr.GetAdsConfig().GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName(); got != XDSClusterName {
					t.Errorf("ADS cluster %q, want %q", got, XDSClusterName)
				}
				for name, cs := range map[string]*corev3.ConfigSource{"lds": dr.GetLdsConfig(), "cds": dr.GetCdsConfig()} {
					if cs.GetAds() == nil || cs.GetResourceApiVersion() != corev3.ApiVersion_V3 {
						t.Errorf("%s config %v, want ADS with resource API V3", name, cs)
					}
				}
				layers := b.GetLayeredRuntime().GetLayers()
				if len(layers) != 2 || layers[0].GetStaticLayer() == nil || layers[1].GetAdminLayer() == nil {
					t.Errorf("layers %v, want proxyctl's static layer then admin, and no RTDS layer", layers)
				}
			},
		},
		"delta": {
			opts: Options{NodeID: "n", Delta: true},
			check: func(t *testing.T, b *bootstrapv3.Bootstrap) {
				if got := b.GetDynamicResources().GetAdsConfig().GetApiType(); got != corev3.ApiConfigSource_DELTA_GRPC {
					t.Errorf("api type %v, want DELTA_GRPC", got)
				}
			},
		},
		"IP address gives a STATIC cluster": {
			opts: Options{NodeID: "n", XDSAddress: "10.0.0.7", XDSPort: 1234},
			check: func(t *testing.T, b *bootstrapv3.Bootstrap) {
				c := xds(t, b)
				if got := c.GetType(); got != clusterv3.Cluster_STATIC {
					t.Errorf("cluster type %v, want STATIC", got)
				}
				sa := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
				if sa.GetAddress() != "10.0.0.7" || sa.GetPortValue() != 1234 {
					t.Errorf("endpoint %v, want 10.0.0.7:1234", sa)
				}
			},
		},
		"IPv6 address gives a STATIC cluster": {
			opts: Options{NodeID: "n", XDSAddress: "::1"},
			check: func(t *testing.T, b *bootstrapv3.Bootstrap) {
				if got := xds(t, b).GetType(); got != clusterv3.Cluster_STATIC {
					t.Errorf("cluster type %v, want STATIC", got)
				}
			},
		},
		"DNS name gives a STRICT_DNS cluster": {
			opts: Options{NodeID: "n", XDSAddress: "proxyctl.example"},
			check: func(t *testing.T, b *bootstrapv3.Bootstrap) {
				if got := xds(t, b).GetType(); got != clusterv3.Cluster_STRICT_DNS {
					t.Errorf("cluster type %v, want STRICT_DNS", got)
				}
			},
		},
		"xDS cluster speaks HTTP/2 with keepalives": {
			opts: Options{NodeID: "n"},
			check: func(t *testing.T, b *bootstrapv3.Bootstrap) {
				c := xds(t, b)
				var po httpv3.HttpProtocolOptions
				if err := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].UnmarshalTo(&po); err != nil {
					t.Fatal(err)
				}
				if po.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
					t.Errorf("protocol options %v, want explicit HTTP/2", &po)
				}
				if c.GetUpstreamConnectionOptions().GetTcpKeepalive() == nil {
					t.Errorf("no TCP keepalive")
				}
				if c.GetConnectTimeout().AsDuration() != DefaultConnectTimeout {
					t.Errorf("connect timeout %v", c.GetConnectTimeout().AsDuration())
				}
				if c.GetTransportSocket() != nil {
					t.Errorf("transport socket without TLS files: %v", c.GetTransportSocket())
				}
			},
		},
		"admin interface": {
			opts: Options{NodeID: "n", AdminAddress: "::1", AdminPort: 19000},
			check: func(t *testing.T, b *bootstrapv3.Bootstrap) {
				sa := b.GetAdmin().GetAddress().GetSocketAddress()
				if sa.GetAddress() != "::1" || sa.GetPortValue() != 19000 {
					t.Errorf("admin %v, want [::1]:19000", sa)
				}
			},
		},
		"mutual TLS from files, TLS 1.3 only": {
			opts: Options{NodeID: "n", CAFile: ca, CertFile: cert, KeyFile: key},
			check: func(t *testing.T, b *bootstrapv3.Bootstrap) {
				ts := xds(t, b).GetTransportSocket()
				if ts.GetName() != "envoy.transport_sockets.tls" {
					t.Fatalf("transport socket %q", ts.GetName())
				}
				var tc tlsv3.UpstreamTlsContext
				if err := ts.GetTypedConfig().UnmarshalTo(&tc); err != nil {
					t.Fatal(err)
				}
				want := &tlsv3.CommonTlsContext{
					TlsParams: &tlsv3.TlsParameters{
						TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_3,
						TlsMaximumProtocolVersion: tlsv3.TlsParameters_TLSv1_3,
					},
					TlsCertificates: []*tlsv3.TlsCertificate{{
						CertificateChain: &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: cert}},
						PrivateKey:       &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: key}},
					}},
					ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{
						ValidationContext: &tlsv3.CertificateValidationContext{
							TrustedCa: &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: ca}},
						},
					},
					AlpnProtocols: []string{"h2"},
				}
				if diff := cmp.Diff(want, tc.GetCommonTlsContext(), protocmp.Transform()); diff != "" {
					t.Errorf("TLS context (-want +got):\n%s", diff)
				}
			},
		},
		"runtime layer over ADS": {
			opts: Options{NodeID: "n", RuntimeLayer: "dynamic"},
			check: func(t *testing.T, b *bootstrapv3.Bootstrap) {
				layers := b.GetLayeredRuntime().GetLayers()
				if len(layers) != 3 || layers[0].GetStaticLayer() == nil || layers[1].GetRtdsLayer().GetName() != "dynamic" || layers[2].GetAdminLayer() == nil {
					t.Errorf("layers %v, want proxyctl's static layer, RTDS layer dynamic, then admin", layers)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := Build(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, b)
		})
	}
}

func xds(t *testing.T, b *bootstrapv3.Bootstrap) *clusterv3.Cluster {
	t.Helper()
	cs := b.GetStaticResources().GetClusters()
	if len(cs) != 1 || cs[0].GetName() != XDSClusterName {
		t.Fatalf("static clusters %v, want only %q", cs, XDSClusterName)
	}
	return cs[0]
}

func TestBuildRejectsBadOptions(t *testing.T) {
	ca, cert, key := tlsFiles(t)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := map[string]struct {
		opts Options
		want []string // substrings of the error
	}{
		"xDS port too big":       {Options{NodeID: "n", XDSPort: 65536}, []string{"xDS port 65536 is not in 1-65535"}},
		"xDS port negative":      {Options{NodeID: "n", XDSPort: -1}, []string{"xDS port -1"}},
		"admin port too big":     {Options{NodeID: "n", AdminPort: 70000}, []string{"admin port 70000"}},
		"admin address not IP":   {Options{NodeID: "n", AdminAddress: "localhost"}, []string{`admin address "localhost" is not an IP address`}},
		"xDS address not a name": {Options{NodeID: "n", XDSAddress: "bad name!"}, []string{`xDS address "bad name!"`}},
		"xDS address with port":  {Options{NodeID: "n", XDSAddress: "127.0.0.1:8001"}, []string{`xDS address "127.0.0.1:8001"`}},
		"negative timeout":       {Options{NodeID: "n", ConnectTimeout: -time.Second}, []string{"connect timeout"}},
		"only a CA": {
			Options{NodeID: "n", CAFile: ca},
			[]string{"needs the CA, certificate and key files together"},
		},
		"cert and key without CA": {
			Options{NodeID: "n", CertFile: cert, KeyFile: key},
			[]string{"needs the CA, certificate and key files together"},
		},
		"missing file": {
			Options{NodeID: "n", CAFile: ca, CertFile: missing, KeyFile: key},
			[]string{"xDS certificate file", "no such file"},
		},
		"directory as file": {
			Options{NodeID: "n", CAFile: ca, CertFile: cert, KeyFile: filepath.Dir(key)},
			[]string{"is not a regular file"},
		},
		"several errors at once": {
			Options{NodeID: "n", XDSPort: 99999, AdminPort: 99999},
			[]string{"xDS port 99999", "admin port 99999"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Build(tc.opts)
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestValidHostname(t *testing.T) {
	for s, want := range map[string]bool{
		"localhost": true, "proxyctl.proxyctl.svc": true, "a-b.c": true, "x_y.z": true, "a.b.": false,
		"": false, "-a": false, "a-": false, "a..b": false, "a b": false, strings.Repeat("a", 64): false,
	} {
		if got := validHostname(s); got != want {
			t.Errorf("validHostname(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestRegexLimitMatchesTheDAG: Envoy is told to accept every regex the DAG
// lets through.
func TestRegexLimitMatchesTheDAG(t *testing.T) {
	if RegexProgramSize != dag.MaxRegexProgramSize {
		t.Errorf("bootstrap raises Envoy's regex limit to %d, the DAG allows %d", RegexProgramSize, dag.MaxRegexProgramSize)
	}
	b, err := Build(Options{NodeID: "n"})
	if err != nil {
		t.Fatal(err)
	}
	v := b.GetLayeredRuntime().GetLayers()[0].GetStaticLayer().GetFields()["re2.max_program_size.error_level"]
	if v.GetNumberValue() != RegexProgramSize {
		t.Errorf("static runtime layer has re2.max_program_size.error_level %v, want %d", v, RegexProgramSize)
	}
}
