package xdsserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ServerTLSConfig returns a mutual-TLS configuration for the xDS server:
// TLS 1.3 only, and Envoy must present a certificate signed by the CA in
// caFile. The files are read again on every handshake, so certificates
// rotated on disk (a re-run of certgen, a Secret update) are picked up
// without a restart; a file that cannot be read fails that handshake only.
func ServerTLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" || certFile == "" || keyFile == "" {
		return nil, errors.New("xds: mutual TLS needs a CA file, a certificate file and a key file")
	}
	load := func() (*tls.Config, error) {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("xds: server certificate: %w", err)
		}
		caPEM, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("xds: CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("xds: CA file %s holds no PEM certificate", caFile)
		}
		return &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
		}, nil
	}
	// Fail at start-up, not at the first Envoy, when the files are wrong.
	if _, err := load(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return load() },
	}, nil
}
