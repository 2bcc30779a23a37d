package xds

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// secrets returns the serving certificates, sent over SDS under the DAG's
// secret name ("namespace/name"), which is what filter chains refer to.
func secrets(ss []*dag.Secret) []*tls.Secret {
	out := make([]*tls.Secret, 0, len(ss))
	for _, s := range ss {
		if s != nil {
			out = append(out, envoySecret(s))
		}
	}
	return out
}

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
