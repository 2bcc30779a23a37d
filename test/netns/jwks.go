//go:build linux

package netns

import (
	"crypto/tls"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// JWKSServer serves a JSON Web Key Set, as an identity provider does, to
// a proxy that verifies JWTs with it. The key set can be replaced while it
// serves, and the server counts the fetches.
type JWKSServer struct {
	jwks    atomic.Pointer[[]byte]
	fetches atomic.Int64
}

// NewJWKSServer returns a server of the key set jwks (JSON).
func NewJWKSServer(jwks []byte) *JWKSServer {
	s := &JWKSServer{}
	s.Set(jwks)
	return s
}

// Set replaces the key set served.
func (s *JWKSServer) Set(jwks []byte) { s.jwks.Store(&jwks) }

// Fetches is how many times the key set was fetched.
func (s *JWKSServer) Fetches() int64 { return s.fetches.Load() }

// ServeHTTP answers every GET with the key set.
func (s *JWKSServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	s.fetches.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(*s.jwks.Load())
}

// ServeHTTPS serves handler over TLS with cert inside the namespace on
// addr ("" for the namespace's first IP and a free port) until the test
// ends, and returns the server's URL.
func (n *NS) ServeHTTPS(t testing.TB, addr string, handler http.Handler, cert tls.Certificate) string {
	t.Helper()
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}
	l, err := n.Listen("tcp", n.hostPort(addr))
	if err != nil {
		t.Fatalf("netns: listen on %s: %v", addr, err)
	}
	go srv.ServeTLS(l, "", "") //nolint:errcheck // returns once shut down
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + l.Addr().String()
}
