package envoy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/proxyctl/proxyctl/internal/bootstrap"
	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/xds"
	"github.com/proxyctl/proxyctl/internal/xds/xdstest"
)

// TestListenerSettingsValidate loads the listeners and clusters proxyctl
// makes under each listener setting into the real Envoy (`--mode
// validate`): every compression algorithm, access log format and level,
// and every setting changed at once. Envoy rejects a whole listener update
// it cannot load, so each must load as it is.
func TestListenerSettingsValidate(t *testing.T) {
	d := &dag.DAG{
		HTTP: []*dag.VirtualHost{{Name: "a.example.com"}},
		HTTPS: []*dag.SecureVirtualHost{{
			VirtualHost: dag.VirtualHost{Name: "b.example.com"}, Secret: &dag.Secret{Name: "ns/cert"},
		}},
	}
	max := uint32(9)
	all := xds.ListenerConfig{
		AccessLog: xds.AccessLog{
			Format: xds.AccessLogJSON, Level: xds.AccessLogLevelCritical,
			JSONFields: []string{"@timestamp", "method", "response_code_details", "q=%REQ_WITHOUT_QUERY(:PATH)%", "st=%START_TIME(%s)%"},
		},
		Timeouts: xds.Timeouts{
			Request:                       xds.Timeout{Mode: xds.TimeoutDuration, Duration: time.Second},
			ConnectionIdle:                xds.Timeout{Mode: xds.TimeoutDisabled},
			StreamIdle:                    xds.Timeout{Mode: xds.TimeoutDisabled},
			MaxConnectionDuration:         xds.Timeout{Mode: xds.TimeoutDuration, Duration: time.Hour},
			DelayedClose:                  xds.Timeout{Mode: xds.TimeoutDisabled},
			ConnectionShutdownGracePeriod: xds.Timeout{Mode: xds.TimeoutDuration, Duration: time.Second},
		},
		ConnectTimeout:                time.Second,
		ServerHeader:                  xds.ServerHeaderAppendIfAbsent,
		UseProxyProtocol:              true,
		MaxRequestsPerConnection:      max,
		HTTP2MaxConcurrentStreams:     max,
		PerConnectionBufferLimitBytes: 1 << 15,
	}
	var every []string
	for _, op := range xds.PlainCommandOperators() {
		every = append(every, strings.ToLower(op))
	}
	configs := map[string]xds.ListenerConfig{
		"every-operator": {AccessLog: xds.AccessLog{JSONFields: every}},
		"defaults":       {},
		"brotli":         {Compression: xds.CompressionBrotli},
		"zstd":           {Compression: xds.CompressionZstd},
		"disabled":       {Compression: xds.CompressionDisabled},
		"envoy-text":     {AccessLog: xds.AccessLog{Format: xds.AccessLogEnvoy, FormatString: "%REQ(:METHOD)% %RESPONSE_CODE% %REQ(USER-AGENT)%:20\n", Level: xds.AccessLogLevelError}},
		"envoy-plain":    {AccessLog: xds.AccessLog{Format: xds.AccessLogEnvoy}},
		"log-disabled":   {AccessLog: xds.AccessLog{Level: xds.AccessLogLevelDisabled}},
		"all":            all,
	}
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) {
			for _, f := range cfg.AccessLog.JSONFields {
				if _, err := xds.JSONFieldFormats([]string{f}); err != nil {
					t.Fatal(err)
				}
			}
			if err := xds.CheckFormatString(cfg.AccessLog.FormatString); err != nil {
				t.Fatal(err)
			}
			opts, err := bootstrap.Options{NodeID: "settings", XDSAddress: "127.0.0.1", XDSPort: 18001, AdminPort: 19001}.Defaults()
			if err != nil {
				t.Fatal(err)
			}
			b, err := bootstrap.Build(opts)
			if err != nil {
				t.Fatal(err)
			}
			snap, err := xdstest.Translate(d, cfg)
			if err != nil {
				t.Fatal(err)
			}
			listeners, err := xdstest.Decode[listener.Listener](snap, resourcev3.ListenerType)
			if err != nil {
				t.Fatal(err)
			}
			clusters, err := xdstest.Decode[cluster.Cluster](snap, resourcev3.ClusterType)
			if err != nil {
				t.Fatal(err)
			}
			b.StaticResources.Listeners = listeners
			b.StaticResources.Clusters = append(b.StaticResources.Clusters, clusters...)
			data, err := bootstrap.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "envoy.json")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := Validate(path); err != nil {
				t.Fatal(err)
			}
		})
	}
}
