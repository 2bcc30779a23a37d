package xds

import (
	"fmt"
	"time"
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
