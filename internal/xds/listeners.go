package xds

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	lua "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/lua/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	tlsinspector "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxy "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// listeners returns ingress_http, and ingress_https when d has secure
// virtual hosts that can be served, with the listener settings of cfg.
func listeners(d *dag.DAG, cfg ListenerConfig) []*listener.Listener {
	out := envoyListeners(d, cfg)
	for _, l := range out {
		applyListenerSettings(l, cfg)
	}
	return out
}

func envoyListeners(d *dag.DAG, cfg ListenerConfig) []*listener.Listener {
	out := []*listener.Listener{{
		Name:                          HTTPListenerName,
		Address:                       socketAddress(cfg.HTTPAddress, cfg.HTTPPort),
		ListenerFilters:               listenerFilters(cfg),
		PerConnectionBufferLimitBytes: uint32OrNil(cfg.PerConnectionBufferLimitBytes),
		FilterChains: []*listener.FilterChain{{
			Filters: []*listener.Filter{httpConnectionManager(HTTPListenerName, scopedRoutes{wildcardParents(d.HTTP)}, cfg, false, nil, extAuthzFilter(cfg.GlobalAuthorization)...)},
		}},
	}}

	var chains []*listener.FilterChain
	for _, vh := range d.HTTPS {
		if fc := secureFilterChain(vh, cfg); fc != nil {
			chains = append(chains, fc)
		}
	}
	if name := fallbackSecret(sortByName(nonNil(d.HTTPS), func(vh *dag.SecureVirtualHost) string { return vh.Name })); name != "" {
		chains = append(chains, fallbackFilterChain(name, cfg))
	}
	chains = sortByName(chains, (*listener.FilterChain).GetName)
	if len(chains) == 0 {
		return out
	}
	return append(out, &listener.Listener{
		Name:    HTTPSListenerName,
		Address: socketAddress(cfg.HTTPSAddress, cfg.HTTPSPort),
		ListenerFilters: listenerFilters(cfg, &listener.ListenerFilter{
			Name:       wellknown.TLSInspector,
			ConfigType: &listener.ListenerFilter_TypedConfig{TypedConfig: toAny(&tlsinspector.TlsInspector{})},
		}),
		PerConnectionBufferLimitBytes: uint32OrNil(cfg.PerConnectionBufferLimitBytes),
		FilterChains:                  chains,
	})
}

// secureFilterChain is the filter chain of one TLS virtual host, matched by
// SNI. It returns nil for a virtual host that cannot be served: one that
// terminates TLS without a certificate, or passes TLS through without a
// tcpproxy.
func secureFilterChain(vh *dag.SecureVirtualHost, cfg ListenerConfig) *listener.FilterChain {
	if vh == nil || (!vh.Passthrough && vh.Secret == nil) {
		return nil
	}
	fc := &listener.FilterChain{
		Name:             vh.Name,
		FilterChainMatch: &listener.FilterChainMatch{ServerNames: []string{vh.Name}},
	}
	if !vh.Passthrough {
		var alpn []string
		if vh.TCPProxy == nil {
			alpn = alpnProtocols(cfg)
		}
		ctx := downstreamTLSContext(vh.Secret.Name, cfg.TLS.tlsParams(vh.MinTLSVersion, vh.MaxTLSVersion), alpn)
		if cv := vh.ClientValidation; cv != nil {
			ctx.CommonTlsContext.ValidationContextType = &tls.CommonTlsContext_ValidationContext{
				ValidationContext: clientValidationContext(cv),
			}
			ctx.RequireClientCertificate = wrapperspb.Bool(!cv.Optional)
		}
		fc.TransportSocket = &core.TransportSocket{
			Name:       wellknown.TransportSocketTLS,
			ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: toAny(ctx)},
		}
	}
	switch {
	case servesHTTP(vh):
		var forward *dag.ForwardClientCert
		if vh.ClientValidation != nil {
			forward = vh.ClientValidation.Forward
		}
		// Tokens are verified before authorization is asked, as in
		// Contour.
		extra := append(jwtAuthnFilter(vh.JWTProviders), extAuthzFilter(vh.Authorization)...)
		fc.Filters = []*listener.Filter{httpConnectionManager(HTTPSListenerName, rds(httpsRoutePrefix+vh.Name), cfg, true, forward, extra...)}
	case vh.TCPProxy != nil:
		f := tcpProxy(HTTPSListenerName, vh.TCPProxy)
		if f == nil {
			return nil
		}
		fc.Filters = []*listener.Filter{f}
	default:
		return nil
	}
	return fc
}

// fallbackFilterChain serves the fallback certificate secretName to TLS
// clients that send no server name, or one no other chain has (Envoy
// picks a chain without server names then), and routes their requests by
// Host among the virtual hosts that enable the fallback certificate. As
// in Contour it has no 421 filter: the hosts it serves are several, and
// the client named none of them.
func fallbackFilterChain(secretName string, cfg ListenerConfig) *listener.FilterChain {
	return &listener.FilterChain{
		Name:             fallbackChainName,
		FilterChainMatch: &listener.FilterChainMatch{TransportProtocol: "tls"},
		TransportSocket: &core.TransportSocket{
			Name: wellknown.TransportSocketTLS,
			ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: toAny(
				downstreamTLSContext(secretName, cfg.TLS.tlsParams("", ""), alpnProtocols(cfg)),
			)},
		},
		// The virtual hosts it routes are checked by the global
		// authorization server, if any, as on their own chains.
		Filters: []*listener.Filter{httpConnectionManager(HTTPSListenerName, rds(FallbackRouteName), cfg, false, nil, extAuthzFilter(cfg.GlobalAuthorization)...)},
	}
}

// servesHTTP reports whether vh terminates TLS and routes HTTP, i.e. has a
// filter chain with an HTTP connection manager and a route configuration
// "https/<fqdn>". Listeners and route configurations both decide with it,
// so every route configuration referenced is produced and vice versa.
func servesHTTP(vh *dag.SecureVirtualHost) bool {
	return vh != nil && !vh.Passthrough && vh.Secret != nil && vh.TCPProxy == nil
}

// httpConnectionManager is the HTTP network filter, taking its routes from
// routes (see routeSource). On a TLS filter chain
// (misdirected true) it first answers 421 to requests for another host
// than the SNI chose. With forward set, the details it selects of the
// client's certificate replace any X-Forwarded-Client-Cert the client
// sent; otherwise the header is removed (Envoy's default, SANITIZE). The
// extra filters (a virtual host's own, such as JWT verification) run after
// the IP filter, just before the router.
func httpConnectionManager(statPrefix string, routes routeSource, cfg ListenerConfig, misdirected bool, forward *dag.ForwardClientCert, extra ...*hcm.HttpFilter) *listener.Filter {
	var filters []*hcm.HttpFilter
	// The compressor comes first, as in Contour, so that it sees
	// responses last, after every other filter has had its say.
	if c := compressorFilter(cfg.Compression); c != nil {
		filters = append(filters, c)
	}
	filters = append(filters, routes.filters()...)
	if misdirected {
		filters = append(filters, misdirectedRequests())
	}
	filters = append(filters, trafficHTTPFilters()...)
	filters = append(filters, rbacHTTPFilter())
	filters = append(filters, extra...)
	// Last before the router, as in Contour: a request the filters above
	// refuse is not counted against a global limit.
	if f := globalRateLimitFilter(cfg.RateLimit); f != nil {
		filters = append(filters, f)
	}
	filters = append(filters, &hcm.HttpFilter{
		Name:       wellknown.Router,
		ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(&router.Router{})},
	})
	m := &hcm.HttpConnectionManager{
		StatPrefix:  statPrefix,
		HttpFilters: filters,
		// Envoy is the edge, or behind cfg.NumTrustedHops proxies that
		// append to X-Forwarded-For: the client's address, for IP filters
		// by Remote source and for the header sent upstream, is taken
		// from it accordingly.
		UseRemoteAddress:  wrapperspb.Bool(true),
		XffNumTrustedHops: cfg.NumTrustedHops,
		// Match routes on the RFC 3986 normalised path, so "/a/../b" cannot
		// slip past a "/b" route's policy.
		NormalizePath: wrapperspb.Bool(true),
		// "//a//b" is "/a/b" unless the operator says otherwise, as with
		// Contour (its disableMergeSlashes).
		MergeSlashes: !cfg.DisableMergeSlashes,
	}
	logPath := cfg.AccessLog.HTTPPath
	if statPrefix == HTTPSListenerName {
		logPath = cfg.AccessLog.HTTPSPath
	}
	applySettings(m, cfg, logPath)
	applyProtocolSettings(m, cfg)
	routes.set(m)
	if forward != nil {
		m.ForwardClientCertDetails = hcm.HttpConnectionManager_SANITIZE_SET
		m.SetCurrentClientCertDetails = &hcm.HttpConnectionManager_SetCurrentClientCertDetails{
			Subject: wrapperspb.Bool(forward.Subject),
			Cert:    forward.Cert,
			Chain:   forward.Chain,
			Dns:     forward.DNS,
			Uri:     forward.URI,
		}
	}
	return &listener.Filter{
		Name:       wellknown.HTTPConnectionManager,
		ConfigType: &listener.Filter_TypedConfig{TypedConfig: toAny(m)},
	}
}

// misdirectedScript answers 421 Misdirected Request (RFC 9110 15.5.20)
// when the request's host, without its port, is not the TLS server name:
// a client reusing a connection made for one virtual host (HTTP/2
// coalescing, or a Host header that differs from the SNI) must not reach
// another one through the first one's filter chain, certificate and
// policies. Contour does the same with a Lua filter. The body does not
// repeat the client's Host, which is not ours to reflect.
const misdirectedScript = `
function envoy_on_request(handle)
  local authority = handle:headers():get(":authority") or ""
  local host = string.lower((string.gsub(authority, ":%d+$", "")))
  local sni = string.lower(handle:streamInfo():requestedServerName() or "")
  if host ~= sni then
    handle:respond({[":status"] = "421"}, "misdirected request\n")
  end
end
`

func misdirectedRequests() *hcm.HttpFilter {
	return &hcm.HttpFilter{
		Name: wellknown.Lua,
		ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: toAny(&lua.Lua{
			DefaultSourceCode: &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: misdirectedScript}},
		})},
	}
}

// tcpProxy is the tcp_proxy network filter forwarding to p's clusters. A
// cluster of weight 0 gets nothing unless every weight is 0 (even split);
// tcp_proxy requires weights of at least 1, so zero-weight clusters are left
// out. It returns nil when p has no clusters.
func tcpProxy(statPrefix string, p *dag.TCPProxy) *listener.Filter {
	var ws []*tcpproxy.TcpProxy_WeightedCluster_ClusterWeight
	allZero := true
	for _, wc := range p.Clusters {
		if wc != nil && wc.Cluster != nil && wc.Weight > 0 {
			allZero = false
		}
	}
	for _, wc := range p.Clusters {
		if wc == nil || wc.Cluster == nil {
			continue
		}
		w := wc.Weight
		if allZero {
			w = 1
		}
		if w == 0 {
			continue
		}
		ws = append(ws, &tcpproxy.TcpProxy_WeightedCluster_ClusterWeight{Name: wc.Cluster.Name, Weight: w})
	}
	m := &tcpproxy.TcpProxy{StatPrefix: statPrefix}
	switch len(ws) {
	case 0:
		return nil
	case 1:
		m.ClusterSpecifier = &tcpproxy.TcpProxy_Cluster{Cluster: ws[0].Name}
	default:
		m.ClusterSpecifier = &tcpproxy.TcpProxy_WeightedClusters{
			WeightedClusters: &tcpproxy.TcpProxy_WeightedCluster{Clusters: ws},
		}
	}
	return &listener.Filter{
		Name:       wellknown.TCPProxy,
		ConfigType: &listener.Filter_TypedConfig{TypedConfig: toAny(m)},
	}
}

// downstreamTLSContext terminates TLS with the certificate secretName,
// fetched over SDS on the ADS stream, with the TLS parameters params.
func downstreamTLSContext(secretName string, params *tls.TlsParameters, alpn []string) *tls.DownstreamTlsContext {
	return &tls.DownstreamTlsContext{
		CommonTlsContext: &tls.CommonTlsContext{
			TlsParams: params,
			TlsCertificateSdsSecretConfigs: []*tls.SdsSecretConfig{{
				Name:      secretName,
				SdsConfig: adsConfigSource(),
			}},
			AlpnProtocols: alpn,
		},
	}
}

// clientValidationContext checks client certificates against the CA (and
// CRL) inlined from the DAG, so the listener is complete in itself and
// changes exactly when the Secrets do. With SkipVerify any certificate
// is accepted.
func clientValidationContext(cv *dag.ClientValidation) *tls.CertificateValidationContext {
	vc := &tls.CertificateValidationContext{
		TrustChainVerification: tls.CertificateValidationContext_VERIFY_TRUST_CHAIN,
	}
	if cv.SkipVerify {
		vc.TrustChainVerification = tls.CertificateValidationContext_ACCEPT_UNTRUSTED
	}
	if len(cv.CA) > 0 {
		vc.TrustedCa = inlineBytes(cv.CA)
	}
	if len(cv.CRL) > 0 {
		vc.Crl = inlineBytes(cv.CRL)
		vc.OnlyVerifyLeafCertCrl = cv.CRLLeafOnly
	}
	return vc
}

// tlsVersion maps the model's "1.2"/"1.3" to Envoy's enum; anything else
// gives def.
func tlsVersion(v string, def tls.TlsParameters_TlsProtocol) tls.TlsParameters_TlsProtocol {
	switch v {
	case "1.2":
		return tls.TlsParameters_TLSv1_2
	case "1.3":
		return tls.TlsParameters_TLSv1_3
	}
	return def
}

func socketAddress(addr string, port uint32) *core.Address {
	return &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
		Protocol:      core.SocketAddress_TCP,
		Address:       addr,
		PortSpecifier: &core.SocketAddress_PortValue{PortValue: port},
	}}}
}
