package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func tlsSecret(t *testing.T, ns, name string, cert, key []byte) {
	t.Helper()
	kc := kubernetes.NewForConfigOrDie(kube.RESTConfig())
	if _, err := kc.CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestTLS covers the HTTPS listener: termination with a certificate chosen
// by SNI, the HTTP-to-HTTPS redirect and permitInsecure, websockets, and
// TLS passthrough to a backend that terminates TLS itself.
func TestTLS(t *testing.T) {
	s := newStack(t, "echo-a", "echo-b")
	ca := newTestCA(t)

	t.Run("termination, redirect and permitInsecure", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "web", "echo-a")
		cert, key := ca.issue(t, "secure.example.com")
		tlsSecret(t, ns, "secure-cert", cert, key)
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: secure}
spec:
  virtualhost:
    fqdn: secure.example.com
    tls: {secretName: secure-cert}
  routes:
  - services: [{name: web, port: 80}]
  - conditions: [{prefix: /open}]
    permitInsecure: true
    services: [{name: web, port: 80}]
`)
		eventually(t, "HTTPS with SNI", func() error {
			r, err := s.getTLS("secure.example.com", "/private", ca.clientConfig())
			if err != nil {
				return err
			}
			if r.status != 200 || r.echo(t).Name != "echo-a" {
				return fmt.Errorf("HTTPS answered %d %q", r.status, r.body)
			}
			return nil
		})
		eventually(t, "HTTP redirects to HTTPS", func() error {
			r, err := s.get("secure.example.com", "/private?x=1", nil)
			if err != nil {
				return err
			}
			if loc := r.header.Get("Location"); r.status != 301 || loc != "https://secure.example.com/private?x=1" {
				return fmt.Errorf("HTTP answered %d Location %q, want 301 to https", r.status, loc)
			}
			return nil
		})
		eventually(t, "permitInsecure route over HTTP", s.expect(t, "secure.example.com", "/open", 200, "echo-a"))
	})

	t.Run("websocket upgrade", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		wsAddr := net.JoinHostPort(s.net.IP(), "9100")
		s.net.ServeWebsocketEcho(t, wsAddr, "ws-echo")
		backendService(t, ns, "ws", s.net.IP(), 9100)
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: ws}
spec:
  virtualhost: {fqdn: ws.example.com}
  routes:
  - conditions: [{prefix: /chat}]
    enableWebsockets: true
    services: [{name: ws, port: 80}]
`)
		eventually(t, "websocket echo", func() error {
			ws, err := s.net.DialWebsocket(s.httpAddr, "ws.example.com", "/chat", nil)
			if err != nil {
				return err
			}
			defer ws.Close()
			if _, err := ws.Receive(); err != nil { // the handshake's echo
				return err
			}
			if err := ws.Send("hello through envoy"); err != nil {
				return err
			}
			got, err := ws.Receive()
			if err != nil {
				return err
			}
			if got != "hello through envoy" {
				return fmt.Errorf("websocket echoed %q", got)
			}
			return nil
		})
	})

	t.Run("tcpproxy passthrough", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		addr := net.JoinHostPort(s.net.IP(), "9200")
		s.net.ServeTLSEcho(t, addr, "tls-backend", ca.keyPair(t, "pass.example.com"))
		backendService(t, ns, "tls-backend", s.net.IP(), 9200)
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: pass}
spec:
  virtualhost:
    fqdn: pass.example.com
    tls: {passthrough: true}
  tcpproxy:
    services: [{name: tls-backend, port: 80}]
`)
		// The backend greets with its name and the SNI it saw: proof that
		// the TLS session ends at the backend, not at Envoy.
		eventually(t, "passthrough to the backend's own TLS",
			s.expectGreeting("pass.example.com", ca.clientConfig(), "tls-backend pass.example.com"))
	})
}

// tlsGreeting opens a TLS session with server name host to Envoy's HTTPS
// listener and returns the first line the backend sends: the TLS test
// backends greet with their name and the server name they saw.
func (s *stack) tlsGreeting(host string, cfg *tls.Config) (string, error) {
	cfg = cfg.Clone()
	cfg.ServerName = host
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", s.httpsAddr, cfg)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line), err
}

// expectGreeting returns a check that the backend behind host greets
// with want.
func (s *stack) expectGreeting(host string, cfg *tls.Config, want string) func() error {
	return func() error {
		got, err := s.tlsGreeting(host, cfg)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("backend greeted %q, want %q", got, want)
		}
		return nil
	}
}
