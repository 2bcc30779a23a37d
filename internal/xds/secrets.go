package xds

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/proxyctl/proxyctl/internal/dag"
)

func envoySecret(s *dag.Secret) *tls.Secret {
	return &tls.Secret{
		Name: s.Name,
		Type: &tls.Secret_TlsCertificate{TlsCertificate: &tls.TlsCertificate{
			CertificateChain: inlineBytes(s.Cert),
			PrivateKey:       inlineBytes(s.Key),
		}},
	}
}

func inlineBytes(b []byte) *core.DataSource {
	return &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: b}}
}
