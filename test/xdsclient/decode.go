package xdsclient

import (
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
)

func clusterName(value []byte) string {
	var cla endpointv3.ClusterLoadAssignment
	if proto.Unmarshal(value, &cla) != nil {
		return ""
	}
	return cla.ClusterName
}

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
