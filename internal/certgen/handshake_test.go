package certgen

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// handshake runs a TLS server with serverConfig on loopback, connects a
// client with clientConfig, and returns the client's and the server's
// handshake errors. On success the client reads one byte the server sends,
// so the server's verdict on the client certificate (which TLS 1.3 reports
// after the client's handshake is done) is part of the result.
func handshake(t *testing.T, serverConfig, clientConfig *tls.Config) (clientErr, serverErr error, state tls.ConnectionState) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		tc := conn.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			done <- err
			return
		}
		_, err = tc.Write([]byte{'x'})
		done <- err
	}()
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Client(conn, clientConfig)
	clientErr = tc.Handshake()
	if clientErr == nil {
		var b [1]byte
		if _, err := io.ReadFull(tc, b[:]); err != nil {
			clientErr = err
		}
		state = tc.ConnectionState()
	}
	conn.Close()
	return clientErr, <-done, state
}

func configs(t *testing.T, server, client *Certificates, serverName string) (*tls.Config, *tls.Config) {
	t.Helper()
	serverPair, err := tls.X509KeyPair(server.ServerCert, server.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	clientPair, err := tls.X509KeyPair(client.ClientCert, client.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := func(c *Certificates) *x509.CertPool {
		p := x509.NewCertPool()
		if !p.AppendCertsFromPEM(c.CACert) {
			t.Fatal("no CA certificate")
		}
		return p
	}
	return &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{serverPair},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool(server),
		}, &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{clientPair},
			RootCAs:      pool(client),
			ServerName:   serverName,
		}
}

func TestMutualTLSHandshake(t *testing.T) {
	c := generate(t, Options{})
	for _, name := range []string{"proxyctl.proxyctl.svc", "proxyctl", "localhost", "127.0.0.1"} {
		t.Run(name, func(t *testing.T) {
			serverConfig, clientConfig := configs(t, c, c, name)
			clientErr, serverErr, state := handshake(t, serverConfig, clientConfig)
			if clientErr != nil || serverErr != nil {
				t.Fatalf("handshake: client %v, server %v", clientErr, serverErr)
			}
			if state.Version != tls.VersionTLS13 {
				t.Errorf("TLS version %x, want TLS 1.3", state.Version)
			}
			if got := state.PeerCertificates[0].Subject.CommonName; got != "proxyctl" {
				t.Errorf("server certificate CN %q", got)
			}
		})
	}
}

func TestMutualTLSHandshakeFails(t *testing.T) {
	c := generate(t, Options{})
	other := generate(t, Options{})
	t.Run("client certificate from another CA", func(t *testing.T) {
		serverConfig, clientConfig := configs(t, c, other, "proxyctl")
		clientConfig.RootCAs = x509.NewCertPool()
		clientConfig.RootCAs.AppendCertsFromPEM(c.CACert)
		_, serverErr, _ := handshake(t, serverConfig, clientConfig)
		if serverErr == nil {
			t.Errorf("server accepted a client certificate from another CA")
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		serverConfig, clientConfig := configs(t, c, c, "proxyctl")
		clientConfig.Certificates = nil
		_, serverErr, _ := handshake(t, serverConfig, clientConfig)
		if serverErr == nil {
			t.Errorf("server accepted a client without a certificate")
		}
	})
	t.Run("server name not in the certificate", func(t *testing.T) {
		serverConfig, clientConfig := configs(t, c, c, "proxyctl.elsewhere.svc")
		clientErr, _, _ := handshake(t, serverConfig, clientConfig)
		var hostErr x509.HostnameError
		if !errors.As(clientErr, &hostErr) {
			t.Errorf("client error %v, want a hostname error", clientErr)
		}
	})
	t.Run("client certificate used as server certificate", func(t *testing.T) {
		serverConfig, clientConfig := configs(t, c, c, "proxyctl")
		pair, err := tls.X509KeyPair(c.ClientCert, c.ClientKey)
		if err != nil {
			t.Fatal(err)
		}
		serverConfig.Certificates = []tls.Certificate{pair}
		// Check the chain and the usage, not the name (Envoy's certificate
		// has none), as Envoy itself does with the xDS server.
		roots := clientConfig.RootCAs
		clientConfig.InsecureSkipVerify = true
		clientConfig.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			cert, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			_, err = cert.Verify(x509.VerifyOptions{Roots: roots})
			return err
		}
		clientErr, _, _ := handshake(t, serverConfig, clientConfig)
		var invalid x509.CertificateInvalidError
		if !errors.As(clientErr, &invalid) || invalid.Reason != x509.IncompatibleUsage {
			t.Errorf("client error %v, want incompatible usage", clientErr)
		}
	})
}
