package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// withClientCert is cfg presenting cert (none when cert is nil).
func withClientCert(cfg *tls.Config, cert *tls.Certificate) *tls.Config {
	cfg = cfg.Clone()
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return cfg
}

// refusedHandshake checks that Envoy refuses the TLS session of a client
// with cfg by the TLS alert named alert ("certificate required"). The client sends nothing after the handshake:
// with TLS 1.3 its handshake ends before Envoy has checked its
// certificate, and it learns of the refusal on its first read.
func (s *stack) refusedHandshake(t *testing.T, what, host string, cfg *tls.Config, alert string) {
	t.Helper()
	cfg = cfg.Clone()
	cfg.ServerName = host
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", s.httpsAddr, cfg)
	if err == nil {
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
		var b [1]byte
		_, err = conn.Read(b[:])
	}
	if want := "remote error: tls: " + alert; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: %v, want the session refused with %q", what, err, want)
	}
}

// okTLS returns a check that an HTTPS request with cfg reaches backend.
func (s *stack) okTLS(t *testing.T, host string, cfg *tls.Config, header http.Header, backendName string) func() error {
	return func() error {
		r, err := s.getTLSAs(host, host, "/", cfg, header)
		if err != nil {
			return err
		}
		if r.status != 200 || r.echo(t).Name != backendName {
			return fmt.Errorf("HTTPS %s answered %d %q", host, r.status, r.body)
		}
		return nil
	}
}

// TestTLSValidation covers client certificate validation on TLS virtual
// hosts and the verification of upstream certificates, through a real
// Envoy, with certificates made here.
func TestTLSValidation(t *testing.T) {
	s := newStack(t, "echo-a")
	ca := newTestCA(t)      // signs serving, client and backend certificates
	otherCA := newTestCA(t) // trusted by nobody
	client, _ := ca.issueClient(t, "e2e client", []string{"client.example.com"}, "spiffe://e2e/client")
	stranger, _ := otherCA.issueClient(t, "stranger", nil)

	// mtlsHost serves fqdn with a certificate from ca and the given
	// clientValidation stanza (YAML flow mapping).
	mtlsHost := func(t *testing.T, ns, name, fqdn, validation string) {
		t.Helper()
		s.service(t, ns, "svc", "echo-a")
		cert, key := ca.issue(t, fqdn)
		tlsSecret(t, ns, "serving", cert, key)
		apply(t, ns, fmt.Sprintf(`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: %s}
spec:
  virtualhost:
    fqdn: %s
    tls:
      secretName: serving
      clientValidation: %s
  routes:
  - services: [{name: svc, port: 80}]
`, name, fqdn, validation))
	}

	t.Run("client certificate required", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		opaqueSecret(t, ns, "client-ca", map[string][]byte{"ca.crt": ca.pem()})
		mtlsHost(t, ns, "mtls", "mtls.example.com", "{caSecret: client-ca}")
		eventually(t, "a client certificate from the CA is let in", s.okTLS(t, "mtls.example.com", withClientCert(ca.clientConfig(), &client), nil, "echo-a"))
		s.refusedHandshake(t, "no client certificate", "mtls.example.com", ca.clientConfig(), "certificate required")
		s.refusedHandshake(t, "a certificate from another CA", "mtls.example.com", withClientCert(ca.clientConfig(), &stranger), "unknown certificate authority")
		// The X-Forwarded-Client-Cert a client sends is not passed on.
		r, err := s.getTLSAs("mtls.example.com", "mtls.example.com", "/", withClientCert(ca.clientConfig(), &client),
			http.Header{"X-Forwarded-Client-Cert": {"By=spoofed"}})
		if err != nil {
			t.Fatal(err)
		}
		if xfcc := r.echo(t).Headers.Get("X-Forwarded-Client-Cert"); xfcc != "" {
			t.Errorf("the backend got X-Forwarded-Client-Cert %q, want none", xfcc)
		}
	})

	t.Run("delegated CA, delegated then created", func(t *testing.T) {
		ns, caNS := kube.NewNamespace(t), kube.NewNamespace(t)
		mtlsHost(t, ns, "mtls", "delegated-mtls.example.com", fmt.Sprintf("{caSecret: %s/client-ca}", caNS))
		eventually(t, "a CA in another namespace needs a delegation", proxyError(ns, "mtls", "DelegationNotPermitted", "client-ca"))
		apply(t, caNS, fmt.Sprintf(`
apiVersion: projectcontour.io/v1
kind: TLSCertificateDelegation
metadata: {name: client-ca}
spec:
  delegations:
  - secretName: client-ca
    targetNamespaces: [%s]
`, ns))
		eventually(t, "a delegated CA that does not exist is reported", proxyError(ns, "mtls", "ClientValidationInvalid", "Secret not found"))
		opaqueSecret(t, caNS, "client-ca", map[string][]byte{"ca.crt": ca.pem()})
		eventually(t, "once created, the CA checks clients", s.okTLS(t, "delegated-mtls.example.com", withClientCert(ca.clientConfig(), &client), nil, "echo-a"))
		s.refusedHandshake(t, "no client certificate", "delegated-mtls.example.com", ca.clientConfig(), "certificate required")
	})

	t.Run("optional client certificate", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		opaqueSecret(t, ns, "client-ca", map[string][]byte{"ca.crt": ca.pem()})
		mtlsHost(t, ns, "optional", "optional.example.com", "{caSecret: client-ca, optionalClientCertificate: true}")
		eventually(t, "no client certificate is let in", s.okTLS(t, "optional.example.com", ca.clientConfig(), nil, "echo-a"))
		if err := s.okTLS(t, "optional.example.com", withClientCert(ca.clientConfig(), &client), nil, "echo-a")(); err != nil {
			t.Errorf("a client certificate from the CA: %v", err)
		}
		s.refusedHandshake(t, "a certificate from another CA is still checked", "optional.example.com", withClientCert(ca.clientConfig(), &stranger), "unknown certificate authority")
	})

	t.Run("revoked client certificate", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		revoked, revokedLeaf := ca.issueClient(t, "revoked client", nil)
		opaqueSecret(t, ns, "client-ca", map[string][]byte{"ca.crt": ca.pem()})
		opaqueSecret(t, ns, "client-crl", map[string][]byte{"crl.pem": ca.crl(t, revokedLeaf)})
		mtlsHost(t, ns, "crl", "crl.example.com", "{caSecret: client-ca, crlSecret: client-crl}")
		eventually(t, "a certificate not revoked is let in", s.okTLS(t, "crl.example.com", withClientCert(ca.clientConfig(), &client), nil, "echo-a"))
		s.refusedHandshake(t, "a revoked certificate", "crl.example.com", withClientCert(ca.clientConfig(), &revoked), "revoked certificate")

		ns2 := kube.NewNamespace(t)
		opaqueSecret(t, ns2, "client-ca", map[string][]byte{"ca.crt": ca.pem()})
		opaqueSecret(t, ns2, "client-crl", map[string][]byte{"crl.pem": ca.crl(t, revokedLeaf)})
		mtlsHost(t, ns2, "crl-leaf", "crl-leaf.example.com", "{caSecret: client-ca, crlSecret: client-crl, crlOnlyVerifyLeafCert: true}")
		eventually(t, "leaf-only CRL checks: a certificate not revoked", s.okTLS(t, "crl-leaf.example.com", withClientCert(ca.clientConfig(), &client), nil, "echo-a"))
		s.refusedHandshake(t, "leaf-only CRL checks: a revoked certificate", "crl-leaf.example.com", withClientCert(ca.clientConfig(), &revoked), "revoked certificate")
	})

	// As Contour documents it: with skipClientCertValidation a client
	// certificate is asked for and not verified; it is required only when
	// a caSecret is set too.
	t.Run("skip client certificate validation", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		mtlsHost(t, ns, "skip", "skip.example.com", "{skipClientCertValidation: true, forwardClientCertificate: {subject: true}}")
		eventually(t, "a certificate from any CA is let in", s.okTLS(t, "skip.example.com", withClientCert(ca.clientConfig(), &stranger), nil, "echo-a"))
		r, err := s.getTLSAs("skip.example.com", "skip.example.com", "/", withClientCert(ca.clientConfig(), &stranger), nil)
		if err != nil {
			t.Fatal(err)
		}
		if xfcc := r.echo(t).Headers.Get("X-Forwarded-Client-Cert"); !strings.Contains(xfcc, `Subject="CN=stranger"`) {
			t.Errorf("X-Forwarded-Client-Cert %q does not name the unverified client", xfcc)
		}
		if err := s.okTLS(t, "skip.example.com", ca.clientConfig(), nil, "echo-a")(); err != nil {
			t.Errorf("without a caSecret a certificate is not required: %v", err)
		}

		ns2 := kube.NewNamespace(t)
		opaqueSecret(t, ns2, "client-ca", map[string][]byte{"ca.crt": ca.pem()})
		mtlsHost(t, ns2, "skip-ca", "skip-ca.example.com", "{caSecret: client-ca, skipClientCertValidation: true}")
		eventually(t, "with a caSecret, a certificate from another CA is let in", s.okTLS(t, "skip-ca.example.com", withClientCert(ca.clientConfig(), &stranger), nil, "echo-a"))
		s.refusedHandshake(t, "with a caSecret, a certificate is required", "skip-ca.example.com", ca.clientConfig(), "certificate required")
	})

	t.Run("forwarded client certificate", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		opaqueSecret(t, ns, "client-ca", map[string][]byte{"ca.crt": ca.pem()})
		mtlsHost(t, ns, "xfcc", "xfcc.example.com",
			"{caSecret: client-ca, forwardClientCertificate: {subject: true, cert: true, chain: true, dns: true, uri: true}}")
		var xfcc string
		eventually(t, "the client's certificate details reach the backend", func() error {
			r, err := s.getTLSAs("xfcc.example.com", "xfcc.example.com", "/", withClientCert(ca.clientConfig(), &client),
				http.Header{"X-Forwarded-Client-Cert": {"By=spoofed"}})
			if err != nil {
				return err
			}
			if r.status != 200 {
				return fmt.Errorf("answered %d %q", r.status, r.body)
			}
			xfcc = r.echo(t).Headers.Get("X-Forwarded-Client-Cert")
			if xfcc == "" {
				return fmt.Errorf("no X-Forwarded-Client-Cert")
			}
			return nil
		})
		for _, want := range []string{`Subject="CN=e2e client"`, `DNS=client.example.com`, `URI=spiffe://e2e/client`, `Cert="`, `Chain="`} {
			if !strings.Contains(xfcc, want) {
				t.Errorf("X-Forwarded-Client-Cert %q lacks %s", xfcc, want)
			}
		}
		if strings.Contains(xfcc, "spoofed") {
			t.Errorf("X-Forwarded-Client-Cert %q kept what the client sent", xfcc)
		}
	})

	t.Run("fallback certificate not configured", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "svc", "echo-a")
		cert, key := ca.issue(t, "nofallback.example.com")
		tlsSecret(t, ns, "serving", cert, key)
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: nofallback}
spec:
  virtualhost:
    fqdn: nofallback.example.com
    tls: {secretName: serving, enableFallbackCertificate: true}
  routes:
  - services: [{name: svc, port: 80}]
`)
		eventually(t, "without --fallback-certificate the proxy is invalid", proxyError(ns, "nofallback", "FallbackNotPresent", "--fallback-certificate"))
	})

	t.Run("invalid CA Secret affects only its proxy", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		opaqueSecret(t, ns, "not-a-ca", map[string][]byte{"ca.crt": []byte("not PEM")})
		mtlsHost(t, ns, "bad", "bad-ca.example.com", "{caSecret: not-a-ca}")
		eventually(t, "the CA Secret is reported invalid", proxyError(ns, "bad", "ClientValidationInvalid", "invalid CA certificate bundle"))
		apply(t, ns, simpleProxy("sentinel", "sentinel-"+ns+".example.com", "svc"))
		eventually(t, "other proxies still serve", s.expect(t, "sentinel-"+ns+".example.com", "/", 200, "echo-a"))
		if r, err := s.getTLSAs("bad-ca.example.com", "bad-ca.example.com", "/", withClientCert(ca.clientConfig(), &client), nil); err == nil {
			t.Errorf("a host whose CA is invalid answered %d %q", r.status, r.body)
		}
	})

	// Backends terminating TLS with certificates from ca (for the right
	// name and for another) and from otherCA.
	good := net.JoinHostPort(s.net.IP(), "9300")
	s.net.ServeHTTPSEcho(t, good, "tls-good", ca.keyPair(t, "backend.example.com"))
	wrongName := net.JoinHostPort(s.net.IP(), "9301")
	s.net.ServeHTTPSEcho(t, wrongName, "tls-wrong-name", ca.keyPair(t, "other.example.com"))
	wrongCA := net.JoinHostPort(s.net.IP(), "9302")
	s.net.ServeHTTPSEcho(t, wrongCA, "tls-wrong-ca", otherCA.keyPair(t, "backend.example.com"))

	t.Run("upstream validation", func(t *testing.T) {
		ns, caNS := kube.NewNamespace(t), kube.NewNamespace(t)
		backendService(t, ns, "good", s.net.IP(), 9300)
		backendService(t, ns, "wrong-name", s.net.IP(), 9301)
		backendService(t, ns, "wrong-ca", s.net.IP(), 9302)
		opaqueSecret(t, ns, "backend-ca", map[string][]byte{"ca.crt": ca.pem()})
		opaqueSecret(t, caNS, "shared-ca", map[string][]byte{"ca.crt": ca.pem()})
		apply(t, caNS, fmt.Sprintf(`
apiVersion: projectcontour.io/v1
kind: TLSCertificateDelegation
metadata: {name: shared-ca}
spec:
  delegations:
  - secretName: shared-ca
    targetNamespaces: [%s]
`, ns))
		apply(t, ns, fmt.Sprintf(`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: upstream}
spec:
  virtualhost: {fqdn: upstream.example.com}
  routes:
  - conditions: [{prefix: /good}]
    services:
    - name: good
      port: 80
      protocol: tls
      validation: {caSecret: backend-ca, subjectName: backend.example.com}
  - conditions: [{prefix: /names}]
    services:
    - name: good
      port: 80
      protocol: tls
      validation: {caSecret: %s/shared-ca, subjectName: api.example.com, subjectNames: [api.example.com, backend.example.com]}
  - conditions: [{prefix: /h2}]
    services:
    - name: good
      port: 80
      protocol: h2
      validation: {caSecret: backend-ca, subjectName: backend.example.com}
  - conditions: [{prefix: /wrong-name}]
    services:
    - name: wrong-name
      port: 80
      protocol: tls
      validation: {caSecret: backend-ca, subjectName: backend.example.com}
  - conditions: [{prefix: /wrong-ca}]
    services:
    - name: wrong-ca
      port: 80
      protocol: tls
      validation: {caSecret: backend-ca, subjectName: backend.example.com}
  - conditions: [{prefix: /unvalidated}]
    services:
    - name: wrong-ca
      port: 80
      protocol: tls
`, caNS))
		eventually(t, "a backend with a certificate from the CA for the name", s.expect(t, "upstream.example.com", "/good", 200, "tls-good"))
		eventually(t, "a delegated CA and one of several subject names", s.expect(t, "upstream.example.com", "/names", 200, "tls-good"))
		r, err := s.get("upstream.example.com", "/h2", nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 200 || r.echo(t).Proto != "HTTP/2.0" {
			t.Errorf("protocol h2 with validation: %d %q, want 200 over HTTP/2", r.status, r.body)
		}
		// The same backend without validation answers: the 503s below are
		// the validation's doing.
		eventually(t, "without validation the backend answers", s.expect(t, "upstream.example.com", "/unvalidated", 200, "tls-wrong-ca"))
		for _, path := range []string{"/wrong-name", "/wrong-ca"} {
			if err := s.expect(t, "upstream.example.com", path, 503, "")(); err != nil {
				t.Error(err)
			}
		}

		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: cleartext}
spec:
  virtualhost: {fqdn: cleartext.example.com}
  routes:
  - services:
    - name: good
      port: 80
      validation: {caSecret: backend-ca, subjectName: backend.example.com}
`)
		eventually(t, "validation of a cleartext upstream is refused", proxyError(ns, "cleartext", "TLSUpstreamValidation", "requires protocol tls or h2"))
		eventually(t, "and its route answers 503", s.expect(t, "cleartext.example.com", "/", 503, ""))
	})

	t.Run("tcpproxy upstream validation", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.net.ServeTLSEcho(t, net.JoinHostPort(s.net.IP(), "9310"), "tcp-good", ca.keyPair(t, "backend.example.com"))
		s.net.ServeTLSEcho(t, net.JoinHostPort(s.net.IP(), "9311"), "tcp-wrong-ca", otherCA.keyPair(t, "backend.example.com"))
		backendService(t, ns, "tcp-good", s.net.IP(), 9310)
		backendService(t, ns, "tcp-wrong-ca", s.net.IP(), 9311)
		opaqueSecret(t, ns, "backend-ca", map[string][]byte{"ca.crt": ca.pem()})
		for _, host := range []string{"tcp-good.example.com", "tcp-wrong-ca.example.com"} {
			cert, key := ca.issue(t, host)
			tlsSecret(t, ns, strings.TrimSuffix(host, ".example.com")+"-serving", cert, key)
			backend := strings.TrimSuffix(host, ".example.com")
			apply(t, ns, fmt.Sprintf(`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: %[1]s}
spec:
  virtualhost:
    fqdn: %[2]s
    tls: {secretName: %[1]s-serving}
  tcpproxy:
    services:
    - name: %[1]s
      port: 80
      protocol: tls
      validation: {caSecret: backend-ca, subjectName: backend.example.com}
`, backend, host))
		}
		eventually(t, "the stream reaches a backend whose certificate checks out, with the subject name as SNI",
			s.expectGreeting("tcp-good.example.com", ca.clientConfig(), "tcp-good backend.example.com"))
		eventually(t, "the other tcpproxy is configured (its TLS listener answers)", func() error {
			cfg := ca.clientConfig()
			cfg.ServerName = "tcp-wrong-ca.example.com"
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", s.httpsAddr, cfg)
			if err != nil {
				return err
			}
			return conn.Close()
		})
		if got, err := s.tlsGreeting("tcp-wrong-ca.example.com", ca.clientConfig()); err == nil {
			t.Errorf("a backend with a certificate from another CA greeted %q", got)
		}
	})
}

// TestTLSFallbackCertificate serves `proxyctl serve --fallback-certificate`
// to TLS clients that send no server name or an unknown one: their
// requests reach, by Host, the virtual hosts that enable it, and only
// those.
func TestTLSFallbackCertificate(t *testing.T) {
	ca := newTestCA(t)
	fbNS := kube.NewNamespace(t)
	cert, key := ca.issue(t, "fallback.example.com")
	tlsSecret(t, fbNS, "fallback", cert, key)
	ns := kube.NewNamespace(t)
	apply(t, fbNS, fmt.Sprintf(`
apiVersion: projectcontour.io/v1
kind: TLSCertificateDelegation
metadata: {name: fallback}
spec:
  delegations:
  - secretName: fallback
    targetNamespaces: [%s]
`, ns))
	s := newStackArgs(t, []string{"--fallback-certificate", fbNS + "/fallback"}, "echo-a", "echo-b")

	// get sends GET / with Host host over a TLS session with server name
	// sni ("" sends none), and checks that Envoy presents a certificate
	// from ca for certName.
	get := func(sni, host, certName string) (response, error) {
		cfg := &tls.Config{
			MinVersion:         tls.VersionTLS12,
			ServerName:         sni,
			InsecureSkipVerify: true, // verified below, for certName rather than the SNI
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return fmt.Errorf("no certificate")
				}
				_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: certName})
				return err
			},
		}
		client := &http.Client{
			Transport: &http.Transport{Proxy: nil, TLSClientConfig: cfg, DisableKeepAlives: true},
			Timeout:   5 * time.Second,
		}
		req, err := http.NewRequest(http.MethodGet, "https://"+s.httpsAddr+"/", nil)
		if err != nil {
			return response{}, err
		}
		req.Host = host
		return send(client, req)
	}
	expect := func(sni, host, certName string, status int, backendName string) func() error {
		return func() error {
			r, err := get(sni, host, certName)
			if err != nil {
				return err
			}
			if r.status != status {
				return fmt.Errorf("SNI %q Host %s: %d %q, want %d", sni, host, r.status, r.body, status)
			}
			if backendName != "" && r.echo(t).Name != backendName {
				return fmt.Errorf("SNI %q Host %s: answered by %s, want %s", sni, host, r.echo(t).Name, backendName)
			}
			return nil
		}
	}

	t.Run("client without SNI", func(t *testing.T) {
		s.service(t, ns, "svc-a", "echo-a")
		s.service(t, ns, "svc-b", "echo-b")
		for _, h := range []string{"a", "b"} {
			c, k := ca.issue(t, h+".example.com")
			tlsSecret(t, ns, h+"-cert", c, k)
		}
		apply(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: a}
spec:
  virtualhost:
    fqdn: a.example.com
    tls: {secretName: a-cert, enableFallbackCertificate: true}
  routes:
  - services: [{name: svc-a, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: b}
spec:
  virtualhost:
    fqdn: b.example.com
    tls: {secretName: b-cert}
  routes:
  - services: [{name: svc-b, port: 80}]
`)
		eventually(t, "no SNI: the fallback certificate, and the host that enables it", expect("", "a.example.com", "fallback.example.com", 200, "echo-a"))
		eventually(t, "an unknown SNI: the same", expect("unknown.example.com", "a.example.com", "fallback.example.com", 200, "echo-a"))
		eventually(t, "with its SNI, the host's own certificate", expect("a.example.com", "a.example.com", "a.example.com", 200, "echo-a"))
		eventually(t, "a host without the fallback is served with its SNI", expect("b.example.com", "b.example.com", "b.example.com", 200, "echo-b"))
		if err := expect("", "b.example.com", "fallback.example.com", 404, "")(); err != nil {
			t.Errorf("a host without the fallback, reached without SNI: %v", err)
		}
	})

	t.Run("fallback not delegated", func(t *testing.T) {
		other := kube.NewNamespace(t)
		s.service(t, other, "svc", "echo-a")
		c, k := ca.issue(t, "nodelegation.example.com")
		tlsSecret(t, other, "cert", c, k)
		apply(t, other, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: nodelegation}
spec:
  virtualhost:
    fqdn: nodelegation.example.com
    tls: {secretName: cert, enableFallbackCertificate: true}
  routes:
  - services: [{name: svc, port: 80}]
`)
		eventually(t, "the fallback Secret is not delegated to the namespace", proxyError(other, "nodelegation", "FallbackNotDelegated", fbNS+"/fallback"))
	})
}
