package certgen

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

// CA is a certificate authority held in memory: it signs server and client
// certificates and revocation lists. Generate makes one for xDS mutual TLS;
// tests make one for every certificate they need, so that there is one way
// to make a certificate in the project.
type CA struct {
	// Cert is the CA's certificate; PEM is the same, PEM-encoded (a ca.crt).
	Cert *x509.Certificate
	PEM  []byte

	key                 crypto.Signer
	notBefore, notAfter time.Time
}

// NewCA makes a CA named commonName whose certificates, its own included,
// are valid from notBefore to notAfter. It signs leaf certificates only.
func NewCA(commonName string, notBefore, notAfter time.Time) (*CA, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	template := &x509.Certificate{
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := sign(template, template, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("certgen: CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certgen: CA: %w", err)
	}
	return &CA{Cert: cert, PEM: pemBlock("CERTIFICATE", der), key: key, notBefore: notBefore, notAfter: notAfter}, nil
}

// Pool is a certificate pool holding only the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Leaf says what a certificate the CA issues is for.
type Leaf struct {
	CommonName  string
	DNSNames    []string
	IPAddresses []net.IP
	URIs        []*url.URL
	// Usage is x509.ExtKeyUsageServerAuth or x509.ExtKeyUsageClientAuth.
	Usage x509.ExtKeyUsage
}

// Issue makes a key and a certificate for it as l says, valid as long as
// the CA, and returns both PEM-encoded (the key in PKCS #8).
func (ca *CA) Issue(l Leaf) (certPEM, keyPEM []byte, err error) {
	k, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	der, err := sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: l.CommonName},
		DNSNames:    l.DNSNames,
		IPAddresses: l.IPAddresses,
		URIs:        l.URIs,
		NotBefore:   ca.notBefore,
		NotAfter:    ca.notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{l.Usage},
	}, ca.Cert, k.Public(), ca.key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER), nil
}

// CRL is a PEM certificate revocation list signed by the CA that revokes
// the given certificates as of a minute before now.
func (ca *CA) CRL(now time.Time, revoked ...*x509.Certificate) ([]byte, error) {
	var entries []x509.RevocationListEntry
	for _, c := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: now.Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(now.UnixNano()),
		ThisUpdate:                ca.notBefore,
		NextUpdate:                ca.notAfter,
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("certgen: CRL: %w", err)
	}
	return pemBlock("X509 CRL", der), nil
}
