package xds

import (
	"slices"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// HTTP versions of ListenerConfig.HTTPVersions, named as in Contour's
// default-http-versions (which it reads in any case).
const (
	HTTPVersion1 = "http/1.1"
	HTTPVersion2 = "http/2"
)

// applyProtocolSettings sets, on an HTTP connection manager, what
// clients may send: the HTTP versions (Envoy's codec: one version alone,
// or both detected per connection), a final dot in the Host, and a
// request with both Content-Length and Transfer-Encoding: chunked, as
// Contour sets them.
func applyProtocolSettings(m *hcm.HttpConnectionManager, cfg ListenerConfig) {
	h1, h2 := httpVersions(cfg)
	switch {
	case h1 && !h2:
		m.CodecType = hcm.HttpConnectionManager_HTTP1
	case h2 && !h1:
		m.CodecType = hcm.HttpConnectionManager_HTTP2
	default:
		m.CodecType = hcm.HttpConnectionManager_AUTO
	}
	m.StripTrailingHostDot = cfg.StripTrailingHostDot
	// Contour's default allows it (RFC 9112 6.3: the Content-Length is
	// dropped and the body read chunked); Envoy's refuses it.
	m.HttpProtocolOptions = &core.Http1ProtocolOptions{AllowChunkedLength: !cfg.DisableAllowChunkedLength}
}

// httpVersions reports which HTTP versions clients may speak: both when
// cfg names none.
func httpVersions(cfg ListenerConfig) (h1, h2 bool) {
	if len(cfg.HTTPVersions) == 0 {
		return true, true
	}
	return slices.Contains(cfg.HTTPVersions, HTTPVersion1), slices.Contains(cfg.HTTPVersions, HTTPVersion2)
}

// alpnProtocols are the protocols a TLS filter chain that routes HTTP
// offers clients, preferred first: h2 then http/1.1, or the one version
// allowed, as in Contour.
func alpnProtocols(cfg ListenerConfig) []string {
	h1, h2 := httpVersions(cfg)
	var out []string
	if h2 {
		out = append(out, "h2")
	}
	if h1 {
		out = append(out, "http/1.1")
	}
	return out
}
