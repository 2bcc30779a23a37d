package certgen

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

const (
	// DefaultNamespace is the namespace proxyctl runs in.
	DefaultNamespace = "proxyctl"
	// DefaultLifetime is how long the certificates are valid.
	DefaultLifetime = 365 * 24 * time.Hour
	// ServerName is the common name of the xDS server certificate and the
	// name of its Service.
	ServerName = "proxyctl"
	// ClientName is the common name of Envoy's client certificate.
	ClientName = "envoy"

	// clockSkew backdates NotBefore so a certificate made on one machine
	// is valid at once on another whose clock is a little behind.
	clockSkew = time.Hour
)

// DefaultDNSNames are the names the xDS server certificate carries when no
// names are given: the proxyctl Service in namespace as clients in and out
// of the namespace spell it, and localhost.
func DefaultDNSNames(namespace string) []string {
	return []string{
		ServerName,
		ServerName + "." + namespace,
		ServerName + "." + namespace + ".svc",
		ServerName + "." + namespace + ".svc.cluster.local",
		"localhost",
	}
}

// DefaultIPAddresses are the IP addresses the xDS server certificate
// carries: loopback, for an Envoy next to the server.
func DefaultIPAddresses() []net.IP { return []net.IP{net.IPv4(127, 0, 0, 1)} }

// Options say what to generate. The zero value gives the defaults.
type Options struct {
	// Namespace proxyctl runs in; DefaultNamespace if empty. Only used for
	// the default DNS names.
	Namespace string
	// DNSNames of the xDS server certificate; DefaultDNSNames if empty.
	DNSNames []string
	// IPAddresses of the xDS server certificate; DefaultIPAddresses if
	// empty.
	IPAddresses []net.IP
	// Lifetime of all three certificates; DefaultLifetime if zero.
	Lifetime time.Duration
	// Now is the time the certificates are made at; time.Now if nil.
	Now func() time.Time
}

// Certificates are PEM-encoded certificates and keys (keys in PKCS #8).
type Certificates struct {
	// CACert verifies both the server and the client certificate.
	CACert []byte
	// ServerCert and ServerKey are proxyctl's xDS server certificate.
	ServerCert, ServerKey []byte
	// ClientCert and ClientKey are Envoy's client certificate.
	ClientCert, ClientKey []byte
}

// Generate makes a new CA and the server and client certificates it signs.
func Generate(opts Options) (*Certificates, error) {
	if opts.Lifetime < 0 {
		return nil, fmt.Errorf("certgen: lifetime %v is negative", opts.Lifetime)
	}
	if opts.Lifetime == 0 {
		opts.Lifetime = DefaultLifetime
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if len(opts.DNSNames) == 0 {
		opts.DNSNames = DefaultDNSNames(opts.Namespace)
	}
	if len(opts.IPAddresses) == 0 {
		opts.IPAddresses = DefaultIPAddresses()
	}
	for _, name := range opts.DNSNames {
		if name == "" {
			return nil, errors.New("certgen: empty DNS name")
		}
	}
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	notBefore, notAfter := now.Add(-clockSkew), now.Add(opts.Lifetime)

	ca, err := NewCA("proxyctl xDS CA", notBefore, notAfter)
	if err != nil {
		return nil, err
	}
	serverCert, serverKey, err := ca.Issue(Leaf{
		CommonName:  ServerName,
		DNSNames:    opts.DNSNames,
		IPAddresses: opts.IPAddresses,
		Usage:       x509.ExtKeyUsageServerAuth,
	})
	if err != nil {
		return nil, fmt.Errorf("certgen: server certificate: %w", err)
	}
	clientCert, clientKey, err := ca.Issue(Leaf{CommonName: ClientName, Usage: x509.ExtKeyUsageClientAuth})
	if err != nil {
		return nil, fmt.Errorf("certgen: client certificate: %w", err)
	}
	return &Certificates{
		CACert:     ca.PEM,
		ServerCert: serverCert,
		ServerKey:  serverKey,
		ClientCert: clientCert,
		ClientKey:  clientKey,
	}, nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// sign gives template a random serial number and signs it with parent's key.
func sign(template, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	template.SerialNumber = serial
	return x509.CreateCertificate(rand.Reader, template, parent, pub, signer)
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
