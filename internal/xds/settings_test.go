package xds

import (
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	fileaccesslog "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	compressor "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/compressor/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// settingsFixture has both listeners: a plain virtual host and a TLS one.
const settingsFixture = "tls-redirect"

// connectionManagers returns the HTTP connection managers of every filter
// chain, by listener name, and the listeners.
func connectionManagers(t *testing.T, r Resources) (map[string][]*hcm.HttpConnectionManager, map[string]*listener.Listener) {
	t.Helper()
	out := map[string][]*hcm.HttpConnectionManager{}
	ls := map[string]*listener.Listener{}
	for _, l := range r.Listeners {
		ls[l.Name] = l
		for _, fc := range l.FilterChains {
			for _, f := range fc.Filters {
				if f.Name != wellknown.HTTPConnectionManager {
					continue
				}
				m := &hcm.HttpConnectionManager{}
				if err := f.GetTypedConfig().UnmarshalTo(m); err != nil {
					t.Fatal(err)
				}
				out[l.Name] = append(out[l.Name], m)
			}
		}
	}
	if len(out[HTTPListenerName]) == 0 || len(out[HTTPSListenerName]) == 0 {
		t.Fatalf("fixture %s lacks a listener: %v", settingsFixture, out)
	}
	return out, ls
}

// TestListenerSettingsDefaults: without settings, the listeners have
// Contour's defaults (60s idle, gzip, server header overwritten, 2s
// connect timeout) and proxyctl's JSON access log on stdout.
func TestListenerSettingsDefaults(t *testing.T) {
	r := Translate(fixtures()[settingsFixture], testListenerConfig)
	hcms, ls := connectionManagers(t, r)
	for name, ms := range hcms {
		for _, m := range ms {
			if got := m.GetCommonHttpProtocolOptions().GetIdleTimeout().AsDuration(); got != time.Minute {
				t.Errorf("%s idle timeout %s, want 60s", name, got)
			}
			if m.RequestTimeout != nil || m.StreamIdleTimeout != nil || m.DrainTimeout != nil || m.DelayedCloseTimeout != nil ||
				m.GetCommonHttpProtocolOptions().GetMaxConnectionDuration() != nil || m.Http2ProtocolOptions != nil {
				t.Errorf("%s sets a timeout Envoy should default: %v", name, m)
			}
			if m.ServerHeaderTransformation != hcm.HttpConnectionManager_OVERWRITE {
				t.Errorf("%s server header %v", name, m.ServerHeaderTransformation)
			}
			if m.HttpFilters[0].Name != "envoy.filters.http.compressor" {
				t.Errorf("%s first filter %s, want the compressor", name, m.HttpFilters[0].Name)
			}
			c := &compressor.Compressor{}
			if err := m.HttpFilters[0].GetTypedConfig().UnmarshalTo(c); err != nil || c.CompressorLibrary.Name != "gzip" {
				t.Errorf("%s compressor %v (%v), want gzip", name, c, err)
			}
			if len(m.AccessLog) != 1 || m.AccessLog[0].Filter != nil {
				t.Fatalf("%s access log %v, want one of every request", name, m.AccessLog)
			}
			f := &fileaccesslog.FileAccessLog{}
			if err := m.AccessLog[0].GetTypedConfig().UnmarshalTo(f); err != nil {
				t.Fatal(err)
			}
			if f.Path != "/dev/stdout" || len(f.GetLogFormat().GetJsonFormat().GetFields()) != len(DefaultJSONFields) {
				t.Errorf("%s access log %v, want JSON of the default fields on stdout", name, f)
			}
		}
	}
	for _, l := range ls {
		if l.PerConnectionBufferLimitBytes != nil {
			t.Errorf("%s buffer limit set", l.Name)
		}
		for _, lf := range l.ListenerFilters {
			if lf.Name == wellknown.ProxyProtocol {
				t.Errorf("%s expects the PROXY protocol by default", l.Name)
			}
		}
	}
	for _, c := range r.Clusters {
		if c.ConnectTimeout.AsDuration() != 2*time.Second {
			t.Errorf("cluster %s connect timeout %s, want 2s", c.Name, c.ConnectTimeout.AsDuration())
		}
	}
}

// settingsListenerConfig changes every listener setting from its default.
func settingsListenerConfig() ListenerConfig {
	cfg := testListenerConfig
	cfg.AccessLog = AccessLog{
		Format: AccessLogEnvoy, FormatString: "%REQ(:METHOD)% %RESPONSE_CODE%\n", Level: AccessLogLevelError,
		HTTPPath: "/var/log/http.log", HTTPSPath: "/var/log/https.log",
	}
	cfg.Timeouts = Timeouts{
		Request:                       Timeout{Mode: TimeoutDuration, Duration: 30 * time.Second},
		ConnectionIdle:                Timeout{Mode: TimeoutDisabled},
		StreamIdle:                    Timeout{Mode: TimeoutEnvoyDefault},
		MaxConnectionDuration:         Timeout{Mode: TimeoutDuration, Duration: time.Hour},
		DelayedClose:                  Timeout{Mode: TimeoutDisabled},
		ConnectionShutdownGracePeriod: Timeout{Mode: TimeoutDuration, Duration: 10 * time.Second},
	}
	cfg.ConnectTimeout = 5 * time.Second
	cfg.Compression = CompressionBrotli
	cfg.ServerHeader = ServerHeaderPassThrough
	cfg.UseProxyProtocol = true
	cfg.MaxRequestsPerConnection = 100
	cfg.HTTP2MaxConcurrentStreams = 50
	cfg.PerConnectionBufferLimitBytes = 32768
	cfg.ClusterPerConnectionBufferLimitBytes = 65536

	return cfg
}

func TestListenerSettings(t *testing.T) {
	cfg := settingsListenerConfig()
	d := fixtures()[settingsFixture]
	r := Translate(d, cfg)
	for _, m := range allResources(r) {
		checkMessage(t, resourceLabel(m), m.ProtoReflect())
	}
	hcms, ls := connectionManagers(t, r)
	for name, ms := range hcms {
		for _, m := range ms {
			want := &hcm.HttpConnectionManager{
				RequestTimeout:      durationpb.New(30 * time.Second),
				DelayedCloseTimeout: durationpb.New(0),
				DrainTimeout:        durationpb.New(10 * time.Second),
				CommonHttpProtocolOptions: &core.HttpProtocolOptions{
					IdleTimeout:              durationpb.New(0),
					MaxConnectionDuration:    durationpb.New(time.Hour),
					MaxRequestsPerConnection: wrapperspb.UInt32(100),
				},
				Http2ProtocolOptions:       &core.Http2ProtocolOptions{MaxConcurrentStreams: wrapperspb.UInt32(50)},
				ServerHeaderTransformation: hcm.HttpConnectionManager_PASS_THROUGH,
			}
			got := &hcm.HttpConnectionManager{
				RequestTimeout: m.RequestTimeout, StreamIdleTimeout: m.StreamIdleTimeout,
				DelayedCloseTimeout: m.DelayedCloseTimeout, DrainTimeout: m.DrainTimeout,
				CommonHttpProtocolOptions: m.CommonHttpProtocolOptions, Http2ProtocolOptions: m.Http2ProtocolOptions,
				ServerHeaderTransformation: m.ServerHeaderTransformation,
			}
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", name, diff)
			}
			c := &compressor.Compressor{}
			if err := m.HttpFilters[0].GetTypedConfig().UnmarshalTo(c); err != nil || c.CompressorLibrary.Name != "brotli" {
				t.Errorf("%s compressor %v (%v), want brotli", name, c, err)
			}
			f := &fileaccesslog.FileAccessLog{}
			if err := m.AccessLog[0].GetTypedConfig().UnmarshalTo(f); err != nil {
				t.Fatal(err)
			}
			wantPath := map[string]string{HTTPListenerName: "/var/log/http.log", HTTPSListenerName: "/var/log/https.log"}[name]
			if f.Path != wantPath || f.GetLogFormat().GetTextFormatSource().GetInlineString() != cfg.AccessLog.FormatString {
				t.Errorf("%s access log %v", name, f)
			}
			if m.AccessLog[0].GetFilter().GetOrFilter() == nil {
				t.Errorf("%s access log level error has no filter", name)
			}
		}
	}
	for _, l := range ls {
		if l.PerConnectionBufferLimitBytes.GetValue() != 32768 {
			t.Errorf("%s buffer limit %v", l.Name, l.PerConnectionBufferLimitBytes)
		}
		if l.ListenerFilters[0].Name != wellknown.ProxyProtocol {
			t.Errorf("%s first listener filter %s, want the PROXY protocol", l.Name, l.ListenerFilters[0].Name)
		}
	}
	for _, c := range r.Clusters {
		if c.ConnectTimeout.AsDuration() != 5*time.Second {
			t.Errorf("cluster %s connect timeout %s", c.Name, c.ConnectTimeout.AsDuration())
		}
		if c.PerConnectionBufferLimitBytes.GetValue() != 65536 {
			t.Errorf("cluster %s buffer limit %v", c.Name, c.PerConnectionBufferLimitBytes)
		}
	}

	// The incremental Translator gives the same snapshot as Translate
	// under these settings too.
	tr, err := NewTranslator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkTranslatorWith(t, tr, d, cfg)
}

func TestAccessLogOffAndJSONFields(t *testing.T) {
	if got := accessLogs(AccessLog{Level: AccessLogLevelDisabled}, "/dev/stdout"); got != nil {
		t.Errorf("disabled access log: %v", got)
	}
	logs := accessLogs(AccessLog{Format: AccessLogJSON, JSONFields: []string{"method", "upstream_cluster", "h=%REQ(X-H)%", "ts"}}, "/dev/stdout")
	f := &fileaccesslog.FileAccessLog{}
	if err := logs[0].GetTypedConfig().UnmarshalTo(f); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for k, v := range f.GetLogFormat().GetJsonFormat().GetFields() {
		got[k] = v.GetStringValue()
	}
	want := map[string]string{"method": "%REQ(:METHOD)%", "upstream_cluster": "%UPSTREAM_CLUSTER%", "h": "%REQ(X-H)%", "ts": "%START_TIME%"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

func TestCheckFormatString(t *testing.T) {
	for s, ok := range map[string]bool{
		"":                                 true,
		"%REQ(:METHOD)% %RESPONSE_CODE%\n": true,
		"[%START_TIME%] %START_TIME(%s)%":  true,
		"%REQ(USER-AGENT)%:10":             true,
		"100%% %PROTOCOL%":                 false,
		"%REQ_WITHOUT_QUERY(:PATH)%":       true,
		"%NOT_AN_OPERATOR%":                false,
		"%REQ%":                            false,
		"%RESPONSE_CODE(x)%":               false,
		"50% done":                         false,
		"%DURATION%:5":                     false,
		"%ENVIRONMENT()%":                  false,
	} {
		if err := CheckFormatString(s); (err == nil) != ok {
			t.Errorf("CheckFormatString(%q) = %v, want ok %v", s, err, ok)
		}
	}
}

func TestParseTimeout(t *testing.T) {
	for s, want := range map[string]Timeout{
		"":         {},
		"infinity": {Mode: TimeoutDisabled},
		"infinite": {Mode: TimeoutDisabled},
		"0s":       {Mode: TimeoutEnvoyDefault},
		"1m30s":    {Mode: TimeoutDuration, Duration: 90 * time.Second},
	} {
		got, err := ParseTimeout(s)
		if err != nil || got != want {
			t.Errorf("ParseTimeout(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{"soon", "-1s", "10"} {
		if _, err := ParseTimeout(s); err == nil {
			t.Errorf("ParseTimeout(%q) accepted", s)
		}
	}
}

// TestClusterBufferLimit: cluster.per-connection-buffer-limit-bytes bounds
// the connections to Services' endpoints (ExternalName ones too), and, as
// in Contour, not those to ExtensionServices or JWT key set servers, which
// keep Envoy's default; the connect timeout is on every cluster.
func TestClusterBufferLimit(t *testing.T) {
	cfg := testListenerConfig
	cfg.ClusterPerConnectionBufferLimitBytes = 16384
	cfg.ConnectTimeout = 250 * time.Millisecond
	for _, name := range []string{"global-extauth", "jwt", "external-name"} {
		d := fixtures()[name]
		c := cfg
		c.GlobalAuthorization = goldenListenerConfigs[name].GlobalAuthorization
		r := Translate(d, c)
		services := 0
		for _, cl := range r.Clusters {
			if cl.ConnectTimeout.AsDuration() != 250*time.Millisecond {
				t.Errorf("%s: cluster %s connect timeout %s, want 250ms", name, cl.Name, cl.ConnectTimeout.AsDuration())
			}
			want := uint32(16384)
			if strings.HasPrefix(cl.Name, "extension/") || isJWKS(d, cl.Name) {
				want = 0
			} else {
				services++
			}
			if got := cl.PerConnectionBufferLimitBytes.GetValue(); got != want {
				t.Errorf("%s: cluster %s buffer limit %d, want %d", name, cl.Name, got, want)
			}
		}
		if services == 0 {
			t.Errorf("%s: no cluster of a Service", name)
		}
		tr, err := NewTranslator(c)
		if err != nil {
			t.Fatal(err)
		}
		checkTranslatorWith(t, tr, d, c)
	}
}

// isJWKS reports whether name is the cluster of a JWT key set server of d.
func isJWKS(d *dag.DAG, name string) bool {
	for _, c := range d.Clusters {
		if c != nil && c.Name == name {
			return c.DNS != nil
		}
	}
	return false
}
