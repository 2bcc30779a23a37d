package xdsclient

import (
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// sdsNames lists the SDS secrets a filter chain's TLS context asks for.
func sdsNames(fc *listenerv3.FilterChain) []string {
	ts := fc.GetTransportSocket()
	if ts == nil {
		return nil
	}
	var ctx tlsv3.DownstreamTlsContext
	if ts.GetTypedConfig().UnmarshalTo(&ctx) != nil {
		return nil
	}
	var names []string
	for _, sds := range ctx.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs() {
		names = append(names, sds.Name)
	}
	return names
}
