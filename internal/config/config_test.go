package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/xds"
)

func TestParseErrors(t *testing.T) {
	tests := map[string]struct {
		yaml string
		// want is the whole error: file, line, key and reason.
		want string
	}{
		"unknown top-level key": {
			yaml: "accesslog-format: json\nno-such-key: 1\n",
			want: "c.yaml:2: no-such-key: unknown key",
		},
		"unknown nested key": {
			yaml: "timeouts:\n  request-timeout: 1s\n  reqest-timeout: 2s\n",
			want: "c.yaml:3: timeouts.reqest-timeout: unknown key",
		},
		"unknown key, case slip": {
			yaml: "disablepermitinsecure: true\n",
			want: `c.yaml:1: disablepermitinsecure: unknown key (did you mean "disablePermitInsecure"?)`,
		},
		"wrong type: string for a number": {
			yaml: "network:\n  num-trusted-hops: two\n",
			want: `c.yaml:2: network.num-trusted-hops: must be a whole number from 0 to 4294967295, not "two"`,
		},
		"wrong type: negative number for uint32": {
			yaml: "listener:\n  http2-max-concurrent-streams: -1\n",
			want: `c.yaml:2: listener.http2-max-concurrent-streams: must be a whole number from 0 to 4294967295, not "-1"`,
		},
		"wrong type: list for a string": {
			yaml: "accesslog-format:\n  - json\n",
			want: `c.yaml:2: accesslog-format: must be a string, not a list`,
		},
		"wrong type: scalar for a section": {
			yaml: "timeouts: 5s\n",
			want: `c.yaml:1: timeouts: must be a mapping of keys, not "5s"`,
		},
		"wrong type: bool": {
			yaml: "disableMergeSlashes: maybe\n",
			want: `c.yaml:1: disableMergeSlashes: must be true or false, not "maybe"`,
		},
		"duplicate key": {
			yaml: "timeouts:\n  request-timeout: 1s\n  request-timeout: 2s\n",
			want: `c.yaml:3: timeouts.request-timeout: given twice (first on line 2)`,
		},
		"bad value: access log format": {
			yaml: "accesslog-format: xml\n",
			want: `c.yaml:1: accesslog-format: "xml" is not one of "envoy", "json"`,
		},
		"bad value: access log level": {
			yaml: "accesslog-level: debug\n",
			want: `c.yaml:1: accesslog-level: "debug" is not one of "info", "error", "critical", "disabled"`,
		},
		"bad value: json field": {
			yaml: "json-fields:\n  - method\n  - nonsense\n",
			want: `c.yaml:3: json-fields[1]: json-fields entry "nonsense" is neither a known field nor an Envoy command operator; write nonsense=%FORMAT% for a field of your own`,
		},
		"bad value: json field format": {
			yaml: "json-fields:\n  - \"x=%NOPE%\"\n",
			want: `c.yaml:2: json-fields[0]: json-fields entry "x=%NOPE%": %NOPE% is not an Envoy command operator`,
		},
		"bad value: format string": {
			yaml: "accesslog-format: envoy\naccesslog-format-string: \"%REQ%\\n\"\n",
			want: `c.yaml:2: accesslog-format-string: %REQ% needs an argument in parentheses, such as %REQ(USER-AGENT)%`,
		},
		"bad value: compression": {
			yaml: "compression:\n  algorithm: lz4\n",
			want: `c.yaml:2: compression.algorithm: "lz4" is not one of "gzip", "brotli", "zstd", "disabled"`,
		},
		"bad value: server header": {
			yaml: "serverHeaderTransformation: append\n",
			want: `c.yaml:1: serverHeaderTransformation: "append" is not one of "overwrite", "append_if_absent", "pass_through"`,
		},
		"bad value: timeout": {
			yaml: "timeouts:\n  stream-idle-timeout: 5 minutes\n",
			want: `c.yaml:2: timeouts.stream-idle-timeout: "5 minutes" is not a duration (such as 30s or 1m30s), "infinity" or "0s"`,
		},
		"bad value: connect timeout infinity": {
			yaml: "timeouts:\n  connect-timeout: infinity\n",
			want: `c.yaml:2: timeouts.connect-timeout: "infinity" is not a positive duration (such as 2s)`,
		},
		"bad value: delayed close timeout": {
			yaml: "timeouts:\n  delayed-close-timeout: -1s\n",
			want: `c.yaml:2: timeouts.delayed-close-timeout: "-1s" is negative`,
		},
		"bad value: connection shutdown grace period": {
			yaml: "timeouts:\n  connection-shutdown-grace-period: soon\n",
			want: `c.yaml:2: timeouts.connection-shutdown-grace-period: "soon" is not a duration (such as 30s or 1m30s), "infinity" or "0s"`,
		},
		"bad value: negative connect timeout": {
			yaml: "timeouts:\n  connect-timeout: -2s\n",
			want: `c.yaml:2: timeouts.connect-timeout: "-2s" is not a positive duration (such as 2s)`,
		},
		"bad value: zero listener buffer limit": {
			yaml: "listener:\n  per-connection-buffer-limit-bytes: 0\n",
			want: `c.yaml:2: listener.per-connection-buffer-limit-bytes: must be at least 1`,
		},
		"bad value: zero cluster buffer limit": {
			yaml: "cluster:\n  per-connection-buffer-limit-bytes: 0\n",
			want: `c.yaml:2: cluster.per-connection-buffer-limit-bytes: must be at least 1`,
		},
		"bad value: zero max requests": {
			yaml: "listener:\n  max-requests-per-connection: 0\n",
			want: `c.yaml:2: listener.max-requests-per-connection: must be at least 1`,
		},
		"bad value: tls version": {
			yaml: "tls:\n  minimum-protocol-version: \"1.1\"\n",
			want: `c.yaml:2: tls.minimum-protocol-version: "1.1" is not "1.2" or "1.3"`,
		},
		"bad value: header name": {
			yaml: "policy:\n  request-headers:\n    set:\n      \"bad header\": x\n",
			want: `c.yaml:3: policy.request-headers.set: "bad header" is not a header name`,
		},
		"refused: applyToIngress true": {
			yaml: "accesslog-format: json\npolicy:\n  applyToIngress: true\n",
			want: `c.yaml:3: policy.applyToIngress: not served by proxyctl yet; remove it, or give it Contour's default, to start`,
		},
		"refused: a key inside a refused section": {
			yaml: "globalExtAuth:\n  extensionService: projectcontour/authserver\n  httpSettings:\n    pathPrefix: /auth\n",
			want: `c.yaml:4: globalExtAuth.httpSettings.pathPrefix: globalExtAuth.httpSettings is not served by proxyctl yet; remove it, or give it Contour's default, to start`,
		},
		"refused: an HTTP global authorization server": {
			yaml: "globalExtAuth:\n  extensionService: projectcontour/authserver\n  serviceType: http\n",
			want: `c.yaml:3: globalExtAuth.serviceType: not served by proxyctl yet; remove it, or give it Contour's default, to start`,
		},
		"unknown key in the default global rate limit policy": {
			yaml: "rateLimitService:\n  defaultGlobalRateLimitPolicy:\n    descriptor: []\n",
			want: `c.yaml:3: rateLimitService.defaultGlobalRateLimitPolicy.descriptor: unknown key`,
		},
		"bad value: tls cipher suite": {
			yaml: "tls:\n  cipher-suites:\n    - ECDHE-RSA-AES256-GCM-SHA384\n    - RC4-SHA\n",
			want: `c.yaml:2: tls.cipher-suites: invalid TLS cipher suites ["RC4-SHA"]`,
		},
		"bad value: tls curve": {
			yaml: "tls:\n  ecdh-curves: [X25519, X448]\n",
			want: `c.yaml:2: tls.ecdh-curves: invalid ECDH curves ["X448"]`,
		},
		"bad value: Host on responses": {
			yaml: "policy:\n  response-headers:\n    set: {Host: example.com}\n",
			want: `c.yaml:3: policy.response-headers.set: the Host header cannot be set on responses`,
		},
		"bad value: Host from a request header": {
			yaml: "policy:\n  request-headers:\n    set: {host: \"%REQ(x-host)%\"}\n",
			want: `c.yaml:3: policy.request-headers.set: the Host header cannot be taken from a request header ("%REQ(x-host)%") cluster-wide`,
		},
		"bad value: dns lookup family": {
			yaml: "cluster:\n  dns-lookup-family: v5\n",
			want: `c.yaml:2: cluster.dns-lookup-family: "v5" is not one of "auto", "v4", "v6", "all"`,
		},
		"bad value: zero upstream max requests": {
			yaml: "cluster:\n  max-requests-per-connection: 0\n",
			want: `c.yaml:2: cluster.max-requests-per-connection: must be at least 1`,
		},
		"wrong type: negative circuit breaker": {
			yaml: "cluster:\n  circuit-breakers:\n    maxConnections: 10\n    maxRequests: -1\n",
			want: `c.yaml:4: cluster.circuit-breakers.maxRequests: must be a whole number from 0 to 4294967295, not "-1"`,
		},
		"unknown key in the circuit breakers": {
			yaml: "cluster:\n  circuit-breakers:\n    max-requests: 1\n",
			want: `c.yaml:3: cluster.circuit-breakers.max-requests: unknown key (did you mean "maxRequests"?)`,
		},
		"wrong type: strip trailing host dot": {
			yaml: "network:\n  strip-trailing-host-dot: sometimes\n",
			want: `c.yaml:2: network.strip-trailing-host-dot: must be true or false, not "sometimes"`,
		},
		"bad value: http version": {
			yaml: "default-http-versions:\n  - HTTP/2\n  - HTTP/3\n",
			want: `c.yaml:1: default-http-versions: entry 2, "HTTP/3", is not HTTP/1.1 or HTTP/2`,
		},
		"wrong type: http versions": {
			yaml: "default-http-versions: HTTP/2\n",
			want: `c.yaml:1: default-http-versions: must be a list of strings, not "HTTP/2"`,
		},
		"wrong type: disableAllowChunkedLength": {
			yaml: "disableAllowChunkedLength: 1\n",
			want: `c.yaml:1: disableAllowChunkedLength: must be true or false, not "1"`,
		},
		"bad value: connection balancer": {
			yaml: "listener:\n  connection-balancer: round-robin\n",
			want: `c.yaml:2: listener.connection-balancer: "round-robin" is not "exact", the only balancer (or empty, none)`,
		},
		"bad value: tos": {
			yaml: "listener:\n  socket-options:\n    tos: 256\n",
			want: `c.yaml:3: listener.socket-options.tos: 256 is not from 0 to 255`,
		},
		"bad value: traffic class": {
			yaml: "listener:\n  socket-options:\n    tos: 32\n    traffic-class: -1\n",
			want: `c.yaml:4: listener.socket-options.traffic-class: -1 is not from 0 to 255`,
		},
		"syntax error": {
			yaml: "timeouts:\n  request-timeout: 1s\n bad: [\n",
			want: `c.yaml:2: did not find expected key`,
		},
		"two documents": {
			yaml: "accesslog-format: json\n---\naccesslog-format: envoy\n",
			want: `c.yaml:2: a second YAML document; the configuration is one document`,
		},
		"not a mapping": {
			yaml: "- a\n- b\n",
			want: `c.yaml:1: must be a mapping of keys, not a list`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *config.Error", err, err)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got %q\nwant %q", err.Error(), tc.want)
			}
		})
	}
}

// TestContourExampleLoads: Contour's own example configuration (its
// examples/contour/01-contour-config.yaml) gives only Contour's defaults
// for the keys proxyctl refuses, so it loads as it is.
func TestContourExampleLoads(t *testing.T) {
	const contourExample = `
#
# server:
#   determine which XDS Server implementation to utilize in Contour.
#   xds-server-type: envoy
disablePermitInsecure: false
tls:
#   minimum TLS version that Contour will negotiate
#   minimum-protocol-version: "1.2"
  fallback-certificate:
#   name: fallback-secret-name
#   namespace: projectcontour
  envoy-client-certificate:
#   name: envoy-client-cert-secret-name
#   namespace: projectcontour
accesslog-format: envoy
`
	p, err := Parse("contour.yaml", []byte(contourExample))
	if err != nil {
		t.Fatal(err)
	}
	if p.AccessLogFormat != "envoy" || !p.IsSet("accesslog-format") || p.IsSet("tls.fallback-certificate") {
		t.Errorf("got format %q, set %v", p.AccessLogFormat, p.set)
	}
}

func TestParseValues(t *testing.T) {
	const file = `
incluster: true
kubernetesClientQPS: 50
network:
  num-trusted-hops: 2
accesslog-format: json
accesslog-level: error
json-fields:
  - "@timestamp"
  - method
  - response_code
  - "my_header=%REQ(X-MY-HEADER)%"
compression:
  algorithm: brotli
serverHeaderTransformation: pass_through
timeouts:
  request-timeout: 30s
  connection-idle-timeout: infinity
  stream-idle-timeout: 0s
  max-connection-duration: 1h
  delayed-close-timeout: infinity
  connection-shutdown-grace-period: 10s
  connect-timeout: 5s
listener:
  max-requests-per-connection: 100
  http2-max-concurrent-streams: 50
  per-connection-buffer-limit-bytes: 32768
  use-proxy-protocol: true
cluster:
  per-connection-buffer-limit-bytes: 16384
`
	p, err := Parse("c.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if !p.InCluster || p.KubeClientQPS != 50 || p.Network.NumTrustedHops != 2 || !p.IsSet("network.num-trusted-hops") {
		t.Errorf("flags' keys: %+v", p)
	}
	if p.IsSet("kubeconfig") {
		t.Error("kubeconfig reported set")
	}
	wantTimeouts := xds.Timeouts{
		Request:                       xds.Timeout{Mode: xds.TimeoutDuration, Duration: 30 * time.Second},
		ConnectionIdle:                xds.Timeout{Mode: xds.TimeoutDisabled},
		StreamIdle:                    xds.Timeout{Mode: xds.TimeoutEnvoyDefault},
		MaxConnectionDuration:         xds.Timeout{Mode: xds.TimeoutDuration, Duration: time.Hour},
		DelayedClose:                  xds.Timeout{Mode: xds.TimeoutDisabled},
		ConnectionShutdownGracePeriod: xds.Timeout{Mode: xds.TimeoutDuration, Duration: 10 * time.Second},
	}
	if diff := cmp.Diff(wantTimeouts, p.ListenerTimeouts()); diff != "" {
		t.Errorf("timeouts (-want +got):\n%s", diff)
	}
	if p.ConnectTimeout() != 5*time.Second {
		t.Errorf("connect timeout %s", p.ConnectTimeout())
	}
	if *p.Listener.MaxRequestsPerConnection != 100 || *p.Listener.HTTP2MaxConcurrentStreams != 50 ||
		*p.Listener.PerConnectionBufferLimitBytes != 32768 || !p.Listener.UseProxyProtocol {
		t.Errorf("listener: %+v", p.Listener)
	}
	if v := p.Cluster.PerConnectionBufferLimitBytes; v == nil || *v != 16384 {
		t.Errorf("cluster.per-connection-buffer-limit-bytes: %v", v)
	}
	if p.Compression.Algorithm != "brotli" || p.ServerHeaderTransformation != "pass_through" || p.AccessLogLevel != "error" {
		t.Errorf("got %+v", p)
	}
}

// TestParseRateLimitService: Contour's rateLimitService section is read
// whole, the default global policy under the HTTPProxy API's field names.
func TestParseRateLimitService(t *testing.T) {
	const file = `
rateLimitService:
  extensionService: projectcontour/ratelimit
  domain: shop
  failOpen: true
  enableXRateLimitHeaders: true
  enableResourceExhaustedCode: true
  defaultGlobalRateLimitPolicy:
    descriptors:
    - entries:
      - genericKey: {key: vhost, value: all}
`
	p, err := Parse("c.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	want := RateLimitService{
		ExtensionService: "projectcontour/ratelimit", Domain: "shop",
		FailOpen: true, EnableXRateLimitHeaders: true, EnableResourceExhaustedCode: true,
		DefaultGlobalRateLimitPolicy: &contourv1.GlobalRateLimitPolicy{Descriptors: []contourv1.RateLimitDescriptor{
			{Entries: []contourv1.RateLimitDescriptorEntry{{GenericKey: &contourv1.GenericKeyDescriptor{Key: "vhost", Value: "all"}}}}}},
	}
	if diff := cmp.Diff(want, p.RateLimitService); diff != "" {
		t.Errorf("rateLimitService (-want +got):\n%s", diff)
	}
	for _, key := range []string{"rateLimitService.extensionService", "rateLimitService.domain", "rateLimitService.failOpen",
		"rateLimitService.enableXRateLimitHeaders", "rateLimitService.enableResourceExhaustedCode"} {
		if !p.IsSet(key) {
			t.Errorf("%s not reported set", key)
		}
	}
}

// TestDefaults: an empty file is Contour's defaults, but for JSON access
// logs.
func TestDefaults(t *testing.T) {
	for _, text := range []string{"", "# nothing\n", "---\n"} {
		p, err := Parse("c.yaml", []byte(text))
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		want := Defaults()
		want.file = "c.yaml"
		if diff := cmp.Diff(want, p, cmp.AllowUnexported(Parameters{})); diff != "" {
			t.Errorf("%q (-want +got):\n%s", text, diff)
		}
		if got := p.ListenerTimeouts().ConnectionIdle; got != (xds.Timeout{Mode: xds.TimeoutDuration, Duration: time.Minute}) {
			t.Errorf("connection idle timeout %+v, want Contour's 60s", got)
		}
		if got := p.ConnectTimeout(); got != 2*time.Second {
			t.Errorf("connect timeout %s, want Contour's 2s", got)
		}
		if p.Cluster.PerConnectionBufferLimitBytes != nil || p.Listener.PerConnectionBufferLimitBytes != nil {
			t.Errorf("buffer limits set; want Envoy's default")
		}
	}
	// "0s" is the default too, as Contour reads it.
	p, err := Parse("c.yaml", []byte("timeouts:\n  connect-timeout: 0s\n"))
	if err != nil || p.ConnectTimeout() != 2*time.Second {
		t.Errorf("connect-timeout 0s: %v, %v; want Contour's 2s", p.ConnectTimeout(), err)
	}
}

// TestRefusedKeysAreInTheSchema: each refused key names a field, and a
// non-default value for it is refused.
func TestRefusedKeysAreInTheSchema(t *testing.T) {
	p := Defaults()
	for _, r := range refused {
		if !valueAt(reflect.ValueOf(p).Elem(), r.key).IsValid() {
			t.Errorf("refused key %s is not in the schema", r.key)
		}
	}
}

// TestEveryContourKeyIsKnown lists Contour's top-level keys
// (pkg/config/parameters.go): each must parse (even if refused), never be
// "unknown".
func TestEveryContourKeyIsKnown(t *testing.T) {
	for _, key := range strings.Fields(`incluster kubeconfig kubernetesClientQPS kubernetesClientBurst server gateway
		ingress-status-address accesslog-format accesslog-format-string json-fields accesslog-level tls
		disablePermitInsecure disableAllowChunkedLength disableMergeSlashes compression serverHeaderTransformation
		enableExternalNameService timeouts policy envoy-service-namespace envoy-service-name default-http-versions
		cluster network listener rateLimitService globalExtAuth metrics tracing featureFlags omEnforcedHealthListener
		runtime-settings`) {
		if _, ok := field(reflect.ValueOf(Defaults()).Elem(), key); !ok {
			t.Errorf("Contour's key %s is not in the schema", key)
		}
	}
}

// TestExampleFile: examples/proxyctl/config.yaml loads and sets every key
// README documents with a default (its values are the defaults).
func TestExampleFile(t *testing.T) {
	p, err := Load("../../examples/proxyctl/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	if p.AccessLogFormat != d.AccessLogFormat || p.Compression != d.Compression || p.Timeouts != d.Timeouts ||
		p.ServerHeaderTransformation != d.ServerHeaderTransformation || p.AccessLogLevel != d.AccessLogLevel {
		t.Errorf("example differs from the defaults: %+v", p)
	}
	if !slices.Equal(p.AccessLogFields, xds.DefaultJSONFields) {
		t.Errorf("example json-fields %v, want the defaults %v", p.AccessLogFields, xds.DefaultJSONFields)
	}
}
