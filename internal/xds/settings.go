package xds

import (
	"fmt"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	brotli "github.com/envoyproxy/go-control-plane/envoy/extensions/compression/brotli/compressor/v3"
	gzip "github.com/envoyproxy/go-control-plane/envoy/extensions/compression/gzip/compressor/v3"
	zstd "github.com/envoyproxy/go-control-plane/envoy/extensions/compression/zstd/compressor/v3"
	compressor "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/compressor/v3"
	proxyprotocol "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/proxy_protocol/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Timeout is one of the connection manager's timeouts, as Contour's
// configuration file gives them: left out, "0s" (Envoy's own default),
// "infinity" (disabled) or a duration.
type Timeout struct {
	Mode     TimeoutMode
	Duration time.Duration
}

// TimeoutMode says what a Timeout means.
type TimeoutMode int

const (
	// TimeoutUnset is proxyctl's default for that timeout, which is
	// Contour's: 60s for the connection idle timeout, Envoy's default
	// for the others.
	TimeoutUnset TimeoutMode = iota
	// TimeoutEnvoyDefault leaves the field out of the configuration,
	// so Envoy applies its own default (Contour's "0s").
	TimeoutEnvoyDefault
	// TimeoutDisabled turns the timeout off ("infinity" or "infinite").
	TimeoutDisabled
	// TimeoutDuration is Duration, which is positive.
	TimeoutDuration
)

// ParseTimeout reads a timeout as Contour does: "" is unset, "infinity"
// and "infinite" disable it, "0s" (any zero duration) is Envoy's default,
// anything else is a positive Go duration.
func ParseTimeout(s string) (Timeout, error) {
	switch s {
	case "":
		return Timeout{}, nil
	case "infinity", "infinite":
		return Timeout{Mode: TimeoutDisabled}, nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return Timeout{}, fmt.Errorf("%q is not a duration (such as 30s or 1m30s), \"infinity\" or \"0s\"", s)
	case d < 0:
		return Timeout{}, fmt.Errorf("%q is negative", s)
	case d == 0:
		return Timeout{Mode: TimeoutEnvoyDefault}, nil
	}
	return Timeout{Mode: TimeoutDuration, Duration: d}, nil
}

// DefaultConnectionIdleTimeout is Contour's connection idle timeout.
const DefaultConnectionIdleTimeout = 60 * time.Second

// Timeouts are the timeouts of the HTTP connection managers on Envoy's
// listeners (Contour's timeouts section, except connect-timeout, which is
// ListenerConfig.ConnectTimeout).
type Timeouts struct {
	// Request bounds a whole request, from its first byte to the end of
	// the response (Envoy's request_timeout; off by default).
	Request Timeout
	// ConnectionIdle closes a connection with no active request for
	// that long (idle_timeout; 60s by default, as in Contour).
	ConnectionIdle Timeout
	// StreamIdle resets a request that sends or receives nothing for
	// that long (stream_idle_timeout; Envoy's 5m by default).
	StreamIdle Timeout
	// MaxConnectionDuration closes a connection that old, busy or not
	// (max_connection_duration; none by default).
	MaxConnectionDuration Timeout
	// DelayedClose is how long Envoy waits for the client to close a
	// connection Envoy is closing (delayed_close_timeout; Envoy's 1s).
	DelayedClose Timeout
	// ConnectionShutdownGracePeriod is the time between the first and the
	// last GOAWAY when Envoy drains an HTTP/2 connection (drain_timeout;
	// Envoy's 5s).
	ConnectionShutdownGracePeriod Timeout
}

// Compression algorithms of the compressor filter on Envoy's listeners.
const (
	CompressionGzip     = "gzip"
	CompressionBrotli   = "brotli"
	CompressionZstd     = "zstd"
	CompressionDisabled = "disabled"
)

// Server header transformations (the HTTP connection manager's
// server_header_transformation), named as in Contour.
const (
	ServerHeaderOverwrite      = "overwrite"
	ServerHeaderAppendIfAbsent = "append_if_absent"
	ServerHeaderPassThrough    = "pass_through"
)

// Access log formats and levels, named as in Contour.
const (
	AccessLogJSON  = "json"
	AccessLogEnvoy = "envoy"

	AccessLogLevelInfo     = "info"
	AccessLogLevelError    = "error"
	AccessLogLevelCritical = "critical"
	AccessLogLevelDisabled = "disabled"

	// DefaultAccessLogPath is where Envoy writes its access log unless
	// told otherwise: its standard output, which the container runtime
	// collects.
	DefaultAccessLogPath = "/dev/stdout"
)

// AccessLog is the access log of Envoy's HTTP connection managers.
type AccessLog struct {
	// Format is AccessLogJSON (the default) or AccessLogEnvoy (text).
	Format string
	// FormatString is the text format; empty gives Envoy's default line.
	FormatString string
	// JSONFields are the fields of a JSON line, as Contour's json-fields:
	// a known field name ("method"), an Envoy command operator name
	// ("upstream_cluster" for %UPSTREAM_CLUSTER%) or "name=format".
	// Empty gives DefaultJSONFields.
	JSONFields []string
	// Level is AccessLogLevelInfo (every request, the default),
	// AccessLogLevelError (responses of 300 and up, or with a response
	// flag), AccessLogLevelCritical (500 and up) or
	// AccessLogLevelDisabled (no access log).
	Level string
	// HTTPPath and HTTPSPath are the files the HTTP and HTTPS listeners
	// log to; empty is DefaultAccessLogPath.
	HTTPPath, HTTPSPath string
}

// compressorFilter compresses responses for clients that accept the
// algorithm, or is nil when compression is disabled. The content types
// are Envoy's defaults plus gRPC-Web's, as in Contour.
func compressorFilter(algorithm string) *hcm.HttpFilter {
	var library proto.Message
	switch algorithm {
	case CompressionDisabled:
		return nil
	case CompressionBrotli:
		library = &brotli.Brotli{}
	case CompressionZstd:
		library = &zstd.Zstd{}
	default:
		algorithm = CompressionGzip
		library = &gzip.Gzip{}
	}
	return &hcm.HttpFilter{
		Name: "envoy.filters.http.compressor",
		ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(&compressor.Compressor{
			CompressorLibrary: &core.TypedExtensionConfig{Name: algorithm, TypedConfig: toAny(library)},
			ResponseDirectionConfig: &compressor.Compressor_ResponseDirectionConfig{
				CommonConfig: &compressor.Compressor_CommonDirectionConfig{ContentTypeMatcher: contentTypeMatchers()},
			},
		})},
	}
}

var compressedContentTypes = []string{
	"text/html", "text/plain", "text/css", "application/javascript", "application/x-javascript",
	"text/javascript", "text/x-javascript", "text/ecmascript", "text/js", "text/jscript", "text/x-js",
	"application/ecmascript", "application/x-json", "application/xml", "application/json",
	"image/svg+xml", "text/xml", "application/xhtml+xml",
	"application/grpc-web", "application/grpc-web+proto", "application/grpc-web+json",
	"application/grpc-web+thrift", "application/grpc-web-text", "application/grpc-web-text+proto",
	"application/grpc-web-text+thrift",
}

// contentTypeMatchers match the media types compressed (Envoy compares
// them without their parameters, such as "; charset=utf-8").
func contentTypeMatchers() []*matcher.StringMatcher {
	out := make([]*matcher.StringMatcher, len(compressedContentTypes))
	for i, ct := range compressedContentTypes {
		out[i] = &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: ct}}
	}
	return out
}

// timeoutDuration is the Envoy value of a connection manager timeout: nil
// (Envoy's default) or 0s (disabled) or the duration.
func timeoutDuration(t Timeout) *durationpb.Duration {
	switch t.Mode {
	case TimeoutDisabled:
		return duration(0)
	case TimeoutDuration:
		return duration(t.Duration)
	}
	return nil
}

// applySettings sets cfg's connection settings on an HTTP connection
// manager whose access log goes to logPath.
func applySettings(m *hcm.HttpConnectionManager, cfg ListenerConfig, logPath string) {
	m.AccessLog = accessLogs(cfg.AccessLog, logPath)
	t := cfg.Timeouts
	m.RequestTimeout = timeoutDuration(t.Request)
	m.StreamIdleTimeout = timeoutDuration(t.StreamIdle)
	m.DelayedCloseTimeout = timeoutDuration(t.DelayedClose)
	m.DrainTimeout = timeoutDuration(t.ConnectionShutdownGracePeriod)
	m.CommonHttpProtocolOptions = &core.HttpProtocolOptions{IdleTimeout: timeoutDuration(t.ConnectionIdle)}
	// Unlike the others, a zero max_connection_duration does not disable
	// it: "infinity" and Envoy's default both leave it out.
	if t.MaxConnectionDuration.Mode == TimeoutDuration {
		m.CommonHttpProtocolOptions.MaxConnectionDuration = duration(t.MaxConnectionDuration.Duration)
	}
	if cfg.MaxRequestsPerConnection > 0 {
		m.CommonHttpProtocolOptions.MaxRequestsPerConnection = wrapperspb.UInt32(cfg.MaxRequestsPerConnection)
	}
	if cfg.HTTP2MaxConcurrentStreams > 0 {
		m.Http2ProtocolOptions = &core.Http2ProtocolOptions{MaxConcurrentStreams: wrapperspb.UInt32(cfg.HTTP2MaxConcurrentStreams)}
	}
	switch cfg.ServerHeader {
	case ServerHeaderAppendIfAbsent:
		m.ServerHeaderTransformation = hcm.HttpConnectionManager_APPEND_IF_ABSENT
	case ServerHeaderPassThrough:
		m.ServerHeaderTransformation = hcm.HttpConnectionManager_PASS_THROUGH
	default:
		m.ServerHeaderTransformation = hcm.HttpConnectionManager_OVERWRITE
	}
}

// listenerFilters are the listener filters of a listener: the PROXY
// protocol first when enabled (the TLS inspector must see the bytes after
// the PROXY header), then the others.
func listenerFilters(cfg ListenerConfig, others ...*listener.ListenerFilter) []*listener.ListenerFilter {
	var out []*listener.ListenerFilter
	if cfg.UseProxyProtocol {
		out = append(out, &listener.ListenerFilter{
			Name:       wellknown.ProxyProtocol,
			ConfigType: &listener.ListenerFilter_TypedConfig{TypedConfig: toAny(&proxyprotocol.ProxyProtocol{})},
		})
	}
	return append(out, others...)
}

// uint32OrNil is v, or nil (Envoy's default) for 0.
func uint32OrNil(v uint32) *wrapperspb.UInt32Value {
	if v == 0 {
		return nil
	}
	return wrapperspb.UInt32(v)
}
