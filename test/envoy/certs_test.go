package envoy

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/proxyctl/proxyctl/internal/certgen"
)

// testCA is a certificate authority made for one test: the project's one
// CA (certgen.CA), with helpers that fail the test.
type testCA struct{ *certgen.CA }

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	ca, err := certgen.NewCA(name, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{ca}
}

// issue returns a leaf certificate and its key, PEM encoded, for a server on
// the given IPs or for a client.
func (ca *testCA) issue(t *testing.T, name string, usage x509.ExtKeyUsage, ips ...net.IP) (certPEM, keyPEM []byte) {
	t.Helper()
	c, k, err := ca.Issue(certgen.Leaf{CommonName: name, DNSNames: []string{name}, IPAddresses: ips, Usage: usage})
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

// mtlsFiles holds the files of an Envoy's side of xDS mutual TLS.
type mtlsFiles struct{ ca, cert, key string }

// xdsMTLS makes a CA, a server certificate for 127.0.0.1 and a client
// certificate. It returns the ADS server's TLS configuration (TLS 1.3,
// client certificates required) and Envoy's files, with the client
// certificate issued by clientCA (serverCA when nil).
func xdsMTLS(t *testing.T, clientCA *testCA) (*tls.Config, mtlsFiles) {
	t.Helper()
	serverCA := newTestCA(t, "proxyctl-test-ca")
	if clientCA == nil {
		clientCA = serverCA
	}
	srvCert, srvKey := serverCA.issue(t, "proxyctl", x509.ExtKeyUsageServerAuth, net.IPv4(127, 0, 0, 1))
	pair, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	cliCert, cliKey := clientCA.issue(t, "envoy", x509.ExtKeyUsageClientAuth)
	dir := t.TempDir()
	files := mtlsFiles{ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "tls.crt"), key: filepath.Join(dir, "tls.key")}
	for path, data := range map[string][]byte{files.ca: serverCA.PEM, files.cert: cliCert, files.key: cliKey} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientCAs:    serverCA.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}, files
}
