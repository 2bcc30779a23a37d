package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/proxyctl/proxyctl/internal/certgen"
	"github.com/proxyctl/proxyctl/test/netns"
)

// signer makes ES256 JSON Web Tokens (RFC 7515, 7518) with a P-256 key
// made in the test, and publishes its public key as a JWK.
type signer struct {
	kid string
	key *ecdsa.PrivateKey
}

func newSigner(t *testing.T, kid string) *signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &signer{kid: kid, key: key}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwk is the public key as a JSON Web Key.
func (s *signer) jwk() map[string]string {
	return map[string]string{
		"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": s.kid,
		"x": b64(s.key.PublicKey.X.FillBytes(make([]byte, 32))),
		"y": b64(s.key.PublicKey.Y.FillBytes(make([]byte, 32))),
	}
}

// jwks is a key set of the signers' public keys.
func jwks(t *testing.T, signers ...*signer) []byte {
	t.Helper()
	var keys []map[string]string
	for _, s := range signers {
		keys = append(keys, s.jwk())
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// token signs claims: a JWS in compact serialization whose ES256
// signature is R || S, 32 bytes each.
func (s *signer) token(t *testing.T, claims map[string]any) string {
	t.Helper()
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": s.kid})
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(input))
	r, sig, err := ecdsa.Sign(rand.Reader, s.key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	raw := append(r.FillBytes(make([]byte, 32)), sig.FillBytes(make([]byte, 32))...)
	return input + "." + b64(raw)
}

// claims are valid for an hour, from issuer iss for audience aud.
func claims(iss, aud string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": iss, "aud": aud, "sub": "e2e", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// opaqueSecret creates or replaces an Opaque Secret.
func opaqueSecret(t *testing.T, ns, name string, data map[string][]byte) {
	t.Helper()
	secrets := kubernetes.NewForConfigOrDie(kube.RESTConfig()).CoreV1().Secrets(ns)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Type: corev1.SecretTypeOpaque, Data: data}
	ctx := context.Background()
	if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err == nil {
		return
	}
	if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// ipCert is a serving certificate for an IP address, signed by ca.
func (ca *testCA) ipCert(t *testing.T, ip string) tls.Certificate {
	t.Helper()
	c, k, err := ca.Issue(certgen.Leaf{CommonName: ip, IPAddresses: []net.IP{net.ParseIP(ip)}, Usage: x509.ExtKeyUsageServerAuth})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// TestJWT verifies JSON Web Tokens through a real Envoy: key sets fetched
// from a JWKS server in the test's network namespace (over HTTP, and over
// HTTPS verified with a CA Secret) or read from a Secret, tokens signed
// here.
func TestJWT(t *testing.T) {
	s := newStack(t, "echo-a")
	ca := newTestCA(t)
	ns := kube.NewNamespace(t)
	s.service(t, ns, "web", "echo-a")
	for _, host := range []string{"jwt.example.com", "local.example.com", "verified.example.com", "misverified.example.com", "broken.example.com"} {
		cert, key := ca.issue(t, host)
		tlsSecret(t, ns, strings.SplitN(host, ".", 2)[0]+"-cert", cert, key)
	}

	idp := newSigner(t, "idp-1")
	other := newSigner(t, "intruder")
	keys := netns.NewJWKSServer(jwks(t, idp))
	plainURL := s.net.ServeHTTP(t, net.JoinHostPort(s.net.IP(), "9100"), keys)
	httpsURL := s.net.ServeHTTPS(t, net.JoinHostPort(s.net.IP(), "9101"), keys, ca.ipCert(t, s.net.IP()))
	caPEM := ca.pem()
	opaqueSecret(t, ns, "jwks-ca", map[string][]byte{"ca.crt": caPEM})
	opaqueSecret(t, ns, "local-jwks", map[string][]byte{"jwks.json": jwks(t, idp)})

	const iss, aud = "https://idp.example.com", "shop"
	apply(t, ns, fmt.Sprintf(`
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: jwt}
spec:
  virtualhost:
    fqdn: jwt.example.com
    tls: {secretName: jwt-cert}
    jwtProviders:
    - name: idp
      default: true
      issuer: %[1]s
      audiences: [%[2]s, other-app]
      forwardJWT: true
      remoteJWKS:
        uri: %[3]s/.well-known/jwks.json
        timeout: 2s
        cacheDuration: 1m
        dnsLookupFamily: v4
  routes:
  - services: [{name: web, port: 80}]
  - conditions: [{prefix: /public}]
    jwtVerificationPolicy: {disabled: true}
    permitInsecure: true
    services: [{name: web, port: 80}]
  - conditions: [{prefix: /insecure}]
    permitInsecure: true
    services: [{name: web, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: local}
spec:
  virtualhost:
    fqdn: local.example.com
    tls: {secretName: local-cert}
    jwtProviders:
    - name: local
      issuer: %[1]s
      localJWKS: {secretName: local-jwks, key: jwks.json}
  routes:
  - conditions: [{prefix: /}]
    jwtVerificationPolicy: {require: local}
    services: [{name: web, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: verified}
spec:
  virtualhost:
    fqdn: verified.example.com
    tls: {secretName: verified-cert}
    jwtProviders:
    - name: idp
      default: true
      remoteJWKS:
        uri: %[4]s/keys
        validation: {caSecret: jwks-ca, subjectName: "%[5]s"}
  routes:
  - services: [{name: web, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: misverified}
spec:
  virtualhost:
    fqdn: misverified.example.com
    tls: {secretName: misverified-cert}
    jwtProviders:
    - name: idp
      default: true
      remoteJWKS:
        uri: %[4]s/keys
        validation: {caSecret: jwks-ca, subjectName: idp.example.com}
  routes:
  - services: [{name: web, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: broken}
spec:
  virtualhost:
    fqdn: broken.example.com
    tls: {secretName: broken-cert}
    jwtProviders:
    - name: idp
      default: true
      remoteJWKS: {uri: "http://jwks.example.com:port/keys"}
  routes:
  - services: [{name: web, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: plain}
spec:
  virtualhost:
    fqdn: plain.example.com
    jwtProviders:
    - name: idp
      default: true
      remoteJWKS: {uri: "%[3]s/keys"}
  routes:
  - services: [{name: web, port: 80}]
`, iss, aud, plainURL, httpsURL, s.net.IP()))

	// get sends GET https://host/path with header through Envoy and
	// checks the status, and for a 200 that echo-a answered.
	get := func(host, path string, header http.Header, status int) func() error {
		return s.expectHTTPS(t, ca.clientConfig(), host, path, header, status, "echo-a")
	}
	valid := idp.token(t, claims(iss, aud))

	t.Run("valid token is forwarded", func(t *testing.T) {
		eventually(t, "a valid token is let through", get("jwt.example.com", "/orders", bearer(valid), 200))
		r, err := s.getTLSAs("jwt.example.com", "jwt.example.com", "/orders", ca.clientConfig(), bearer(valid))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.echo(t).Headers.Get("Authorization"); got != "Bearer "+valid {
			t.Fatalf("with forwardJWT the backend got Authorization %q", got)
		}
		if keys.Fetches() == 0 {
			t.Fatal("the key set was never fetched")
		}
	})
	t.Run("no token is 401", func(t *testing.T) {
		eventually(t, "a required route without a token", get("jwt.example.com", "/orders", nil, 401))
	})
	t.Run("expired token is 401", func(t *testing.T) {
		c := claims(iss, aud)
		c["iat"], c["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
		eventually(t, "an expired token", get("jwt.example.com", "/orders", bearer(idp.token(t, c)), 401))
	})
	t.Run("wrong issuer is 401", func(t *testing.T) {
		eventually(t, "a token of another issuer", get("jwt.example.com", "/orders", bearer(idp.token(t, claims("https://evil.example.com", aud))), 401))
	})
	// Envoy (and so Contour) answers a well-signed token for another
	// audience 403 Forbidden ("Audiences in Jwt are not allowed"): the
	// client is known, just not allowed here.
	t.Run("wrong audience is 403", func(t *testing.T) {
		eventually(t, "a token for another audience", get("jwt.example.com", "/orders", bearer(idp.token(t, claims(iss, "billing"))), 403))
	})
	t.Run("unknown signing key is 401", func(t *testing.T) {
		eventually(t, "a token signed by a key not in the set", get("jwt.example.com", "/orders", bearer(other.token(t, claims(iss, aud))), 401))
	})
	t.Run("disabled route needs no token", func(t *testing.T) {
		eventually(t, "jwtVerificationPolicy.disabled", get("jwt.example.com", "/public/page", nil, 200))
	})
	t.Run("plain HTTP never skips verification", func(t *testing.T) {
		eventually(t, "a permitInsecure route without verification is served over HTTP", s.expect(t, "jwt.example.com", "/public/page", 200, "echo-a"))
		// The HTTP listener verifies no token: a route that requires one
		// redirects to HTTPS even when it permits insecure requests.
		eventually(t, "a permitInsecure route requiring a token redirects", s.expect(t, "jwt.example.com", "/insecure", 301, ""))
	})
	t.Run("local JWKS from a Secret", func(t *testing.T) {
		eventually(t, "a token verified with the Secret's key set", get("local.example.com", "/", bearer(idp.token(t, claims(iss, "any"))), 200))
		eventually(t, "and not forwarded without forwardJWT", func() error {
			r, err := s.getTLSAs("local.example.com", "local.example.com", "/", ca.clientConfig(), bearer(valid))
			if err != nil {
				return err
			}
			if r.status != 200 || r.echo(t).Headers.Get("Authorization") != "" {
				return fmt.Errorf("answered %d, backend saw Authorization %q", r.status, r.echo(t).Headers.Get("Authorization"))
			}
			return nil
		})
		eventually(t, "no token", get("local.example.com", "/", nil, 401))
		eventually(t, "a key not in the Secret", get("local.example.com", "/", bearer(other.token(t, claims(iss, "any"))), 401))
		// The Secret is an input: rotating the key set reconfigures Envoy.
		opaqueSecret(t, ns, "local-jwks", map[string][]byte{"jwks.json": jwks(t, other)})
		eventually(t, "the rotated key is accepted", get("local.example.com", "/", bearer(other.token(t, claims(iss, "any"))), 200))
		eventually(t, "the old key is not", get("local.example.com", "/", bearer(idp.token(t, claims(iss, "any"))), 401))
	})
	t.Run("remote JWKS over verified HTTPS", func(t *testing.T) {
		eventually(t, "a token verified with keys fetched over HTTPS", get("verified.example.com", "/", bearer(valid), 200))
		eventually(t, "no token", get("verified.example.com", "/", nil, 401))
		// The key server's certificate does not name idp.example.com:
		// Envoy refuses it, gets no keys, and so accepts no token.
		eventually(t, "a key server failing validation", get("misverified.example.com", "/", bearer(valid), 401))
	})
	t.Run("unparsable JWKS URI invalidates only its proxy", func(t *testing.T) {
		eventually(t, "the proxy is invalid", proxyError(ns, "broken", "RemoteJWKSURIInvalid", "remoteJWKS.uri is not a valid URI"))
		eventually(t, "its host is not served", func() error {
			r, err := s.getTLSAs("broken.example.com", "broken.example.com", "/", ca.clientConfig(), bearer(valid))
			if err == nil {
				return fmt.Errorf("broken.example.com answered %d %q", r.status, r.body)
			}
			return nil
		})
		eventually(t, "other hosts are served", get("jwt.example.com", "/orders", bearer(valid), 200))
	})
	t.Run("providers without TLS are not permitted", func(t *testing.T) {
		eventually(t, "the proxy is invalid", proxyError(ns, "plain", "JWTVerificationNotPermitted", "terminates TLS"))
		eventually(t, "its host is not served over plain HTTP", s.expect(t, "plain.example.com", "/", 404, ""))
	})
}
