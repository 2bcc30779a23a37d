package main

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/alecthomas/kingpin/v2"

	"github.com/proxyctl/proxyctl/internal/config"
	"github.com/proxyctl/proxyctl/internal/xds"
)

// fileKey ties a serve flag to the configuration file key of the same
// setting. Precedence, highest first: the flag on the command line, its
// environment variable, the file, the flag's default.
type fileKey struct {
	flag  string
	key   string
	envar string
	// given is set by kingpin when the flag is on the command line.
	given *bool
	// apply copies the file's value into the flag's variable.
	apply func(p *config.Parameters)
}

// bindFile registers that flag f and the file's key are one setting.
func (s *serveContext) bindFile(f *kingpin.FlagClause, flag, key, envar string, apply func(p *config.Parameters)) *kingpin.FlagClause {
	k := &fileKey{flag: flag, key: key, envar: envar, given: new(bool), apply: apply}
	s.fileKeys = append(s.fileKeys, k)
	return f.IsSetByUser(k.given)
}

// loadConfig reads --config-path, if given, and applies the keys whose
// flags the user did not set. A file that cannot be used is a usage error
// (exit 2) naming its line and key.
func (s *serveContext) loadConfig() error {
	if s.configPath == "" {
		s.settings = config.Defaults()
		return nil
	}
	p, err := config.Load(s.configPath)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			return usageError{fmt.Errorf("--config-path: %w", err)}
		}
		return usagef("--config-path: %v", err)
	}
	for _, k := range s.fileKeys {
		if *k.given || (k.envar != "" && os.Getenv(k.envar) != "") || !p.IsSet(k.key) {
			continue
		}
		k.apply(p)
	}
	// The default global rate limit policy and the global authorization
	// server have no flag.
	s.rateLimit.DefaultGlobalRateLimitPolicy = p.RateLimitService.DefaultGlobalRateLimitPolicy
	if s.globalAuth, err = globalExtAuth(p); err != nil {
		return err
	}
	// Each access log format has its own key; the other one's would do
	// nothing, which is refused rather than ignored.
	switch {
	case s.envoy.accessLogFormat == xds.AccessLogJSON && p.IsSet("accesslog-format-string"):
		return usagef("--config-path: %s: accesslog-format-string is only used with the envoy access log format, and the format is json", s.configPath)
	case s.envoy.accessLogFormat == xds.AccessLogEnvoy && p.IsSet("json-fields"):
		return usagef("--config-path: %s: json-fields is only used with the json access log format, and the format is envoy", s.configPath)
	}
	s.settings = p
	return nil
}

// listenerConfig is what Envoy's listeners get: the flags, and the
// settings only the file has (or their defaults).
func (s *serveContext) listenerConfig() xds.ListenerConfig {
	p := s.settings
	if p == nil {
		p = config.Defaults()
	}
	v := s.envoy
	l := p.Listener
	return xds.ListenerConfig{
		HTTPAddress: v.address, HTTPPort: uint32(v.httpPort),
		HTTPSAddress: v.address, HTTPSPort: uint32(v.httpsPort),
		NumTrustedHops:      v.numTrustedHops,
		DisableMergeSlashes: v.disableMergeSlashes,

		// What clients may send, and the listeners' sockets: the file's
		// only, as in Contour.
		StripTrailingHostDot:      p.Network.StripTrailingHostDot,
		HTTPVersions:              p.HTTPVersions(),
		DisableAllowChunkedLength: p.DisableAllowChunkedLength,
		ConnectionBalancer:        p.Listener.ConnectionBalancer,
		TOS:                       l.SocketOptions.TOS,
		TrafficClass:              l.SocketOptions.TrafficClass,

		AccessLog: xds.AccessLog{
			Format:       v.accessLogFormat,
			FormatString: p.AccessLogFormatString,
			JSONFields:   p.AccessLogFields,
			Level:        p.AccessLogLevel,
			HTTPPath:     v.httpAccessLog,
			HTTPSPath:    v.httpsAccessLog,
		},
		Timeouts:                             p.ListenerTimeouts(),
		ConnectTimeout:                       p.ConnectTimeout(),
		Compression:                          p.Compression.Algorithm,
		ServerHeader:                         p.ServerHeaderTransformation,
		UseProxyProtocol:                     v.useProxyProtocol,
		MaxRequestsPerConnection:             deref(l.MaxRequestsPerConnection),
		HTTP2MaxConcurrentStreams:            deref(l.HTTP2MaxConcurrentStreams),
		PerConnectionBufferLimitBytes:        deref(l.PerConnectionBufferLimitBytes),
		ClusterPerConnectionBufferLimitBytes: deref(p.Cluster.PerConnectionBufferLimitBytes),
		TLS:                                  s.global.tls,
		RateLimit:                            s.rateLimitFilter,
		GlobalAuthorization:                  s.globalAuthFilter,
	}
}

func deref(v *uint32) uint32 {
	if v == nil {
		return 0
	}
	return *v
}

// checkTrafficClass refuses listener.socket-options.traffic-class unless
// the listeners' address is IPv6: Envoy refuses IPV6_TCLASS on an IPv4
// socket, and with it the listener and every route.
func (s *serveContext) checkTrafficClass() error {
	if s.settings == nil || s.settings.Listener.SocketOptions.TrafficClass == 0 {
		return nil
	}
	if ip := net.ParseIP(s.envoy.address); ip == nil || ip.To4() != nil {
		return usagef("--config-path: %s: listener.socket-options.traffic-class needs an IPv6 --envoy-address (such as ::), not %q: Envoy refuses it on IPv4 listeners", s.configPath, s.envoy.address)
	}
	return nil
}
