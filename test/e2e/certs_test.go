package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/internal/certgen"
)

// testCA signs serving and client certificates for the TLS scenarios: the
// project's one CA (certgen.CA), with helpers that fail the test.
type testCA struct{ *certgen.CA }

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	ca, err := certgen.NewCA("proxyctl e2e CA", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{ca}
}

// issue returns PEM certificate and key for host.
func (ca *testCA) issue(t *testing.T, host string) (certPEM, keyPEM []byte) {
	t.Helper()
	c, k, err := ca.Issue(certgen.Leaf{CommonName: host, DNSNames: []string{host}, Usage: x509.ExtKeyUsageServerAuth})
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

func (ca *testCA) keyPair(t *testing.T, host string) tls.Certificate {
	t.Helper()
	c, k := ca.issue(t, host)
	pair, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// pem is the CA certificate, PEM-encoded: a ca.crt.
func (ca *testCA) pem() []byte { return ca.PEM }

// issueClient returns a client certificate for cn with the given DNS and
// URI subject alternative names, and its parsed leaf.
func (ca *testCA) issueClient(t *testing.T, cn string, dns []string, uris ...string) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	l := certgen.Leaf{CommonName: cn, DNSNames: dns, Usage: x509.ExtKeyUsageClientAuth}
	for _, u := range uris {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		l.URIs = append(l.URIs, parsed)
	}
	c, k, err := ca.Issue(l)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return pair, pair.Leaf
}

// crl returns a PEM certificate revocation list, signed by the CA, that
// revokes the given certificates.
func (ca *testCA) crl(t *testing.T, revoked ...*x509.Certificate) []byte {
	t.Helper()
	crl, err := ca.CRL(time.Now(), revoked...)
	if err != nil {
		t.Fatal(err)
	}
	return crl
}

func (ca *testCA) clientConfig() *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
}
