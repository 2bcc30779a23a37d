package certgen

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func parseCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("not exactly one PEM certificate: %q", data)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func generate(t *testing.T, opts Options) *Certificates {
	t.Helper()
	c, err := Generate(opts)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return c
}

func TestGenerateDefaults(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := generate(t, Options{Now: func() time.Time { return now }})
	ca := parseCert(t, c.CACert)
	server := parseCert(t, c.ServerCert)
	client := parseCert(t, c.ClientCert)

	if !ca.IsCA || !ca.BasicConstraintsValid || ca.MaxPathLen != 0 || !ca.MaxPathLenZero {
		t.Errorf("CA: IsCA %v, basic constraints %v, max path len %d", ca.IsCA, ca.BasicConstraintsValid, ca.MaxPathLen)
	}
	if ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA key usage %v lacks cert sign", ca.KeyUsage)
	}
	for name, cert := range map[string]*x509.Certificate{"CA": ca, "server": server, "client": client} {
		if cert.PublicKeyAlgorithm != x509.ECDSA {
			t.Errorf("%s: public key %v, want ECDSA", name, cert.PublicKeyAlgorithm)
		}
		if got, want := cert.NotBefore, now.Add(-clockSkew); !got.Equal(want) {
			t.Errorf("%s: NotBefore %v, want %v", name, got, want)
		}
		if got, want := cert.NotAfter, now.Add(DefaultLifetime); !got.Equal(want) {
			t.Errorf("%s: NotAfter %v, want %v", name, got, want)
		}
	}
	if server.SerialNumber.Cmp(client.SerialNumber) == 0 || server.SerialNumber.Cmp(ca.SerialNumber) == 0 {
		t.Errorf("serial numbers repeat")
	}

	wantDNS := []string{"proxyctl", "proxyctl.proxyctl", "proxyctl.proxyctl.svc", "proxyctl.proxyctl.svc.cluster.local", "localhost"}
	if diff := cmp.Diff(wantDNS, server.DNSNames); diff != "" {
		t.Errorf("server DNS names (-want +got):\n%s", diff)
	}
	if len(server.IPAddresses) != 1 || !server.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("server IP addresses %v, want [127.0.0.1]", server.IPAddresses)
	}
	if server.Subject.CommonName != "proxyctl" || client.Subject.CommonName != "envoy" {
		t.Errorf("common names %q, %q", server.Subject.CommonName, client.Subject.CommonName)
	}
	if !slices.Equal(server.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("server ext key usage %v, want server auth only", server.ExtKeyUsage)
	}
	if !slices.Equal(client.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("client ext key usage %v, want client auth only", client.ExtKeyUsage)
	}
	if len(client.DNSNames)+len(client.IPAddresses) != 0 {
		t.Errorf("client certificate has SANs %v %v", client.DNSNames, client.IPAddresses)
	}
	for name, cert := range map[string]*x509.Certificate{"server": server, "client": client} {
		if cert.IsCA {
			t.Errorf("%s certificate is a CA", name)
		}
		if cert.KeyUsage != x509.KeyUsageDigitalSignature {
			t.Errorf("%s key usage %v, want digital signature", name, cert.KeyUsage)
		}
	}
}

func TestGenerateChainsToCA(t *testing.T) {
	c := generate(t, Options{})
	roots := x509.NewCertPool()
	roots.AddCert(parseCert(t, c.CACert))
	server, client := parseCert(t, c.ServerCert), parseCert(t, c.ClientCert)

	for _, name := range []string{"proxyctl.proxyctl.svc", "localhost", "127.0.0.1", "proxyctl.proxyctl.svc.cluster.local"} {
		if _, err := server.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("server certificate for %q: %v", name, err)
		}
	}
	if _, err := server.Verify(x509.VerifyOptions{Roots: roots, DNSName: "proxyctl.other.svc"}); err == nil {
		t.Errorf("server certificate verified for a name it does not carry")
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	// Each certificate is fit for its own purpose only.
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Errorf("client certificate verified for server auth")
	}
	if _, err := server.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Errorf("server certificate verified for client auth")
	}
	// Another run makes another CA, which does not verify these.
	other := x509.NewCertPool()
	other.AddCert(parseCert(t, generate(t, Options{}).CACert))
	if _, err := server.Verify(x509.VerifyOptions{Roots: other}); err == nil {
		t.Errorf("server certificate verified against another run's CA")
	}

	for name, pair := range map[string][2][]byte{"server": {c.ServerCert, c.ServerKey}, "client": {c.ClientCert, c.ClientKey}} {
		block, _ := pem.Decode(pair[1])
		if block == nil || block.Type != "PRIVATE KEY" {
			t.Fatalf("%s key is not a PKCS #8 PEM block", name)
		}
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatalf("%s key: %v", name, err)
		}
		if _, ok := key.(*ecdsa.PrivateKey); !ok {
			t.Errorf("%s key is %T, want ECDSA", name, key)
		}
		if _, err := tls.X509KeyPair(pair[0], pair[1]); err != nil {
			t.Errorf("%s key pair: %v", name, err)
		}
	}
}

func TestGenerateOptions(t *testing.T) {
	tests := map[string]struct {
		opts    Options
		wantDNS []string
		wantIPs []net.IP
		life    time.Duration
	}{
		"namespace": {
			opts:    Options{Namespace: "ingress"},
			wantDNS: []string{"proxyctl", "proxyctl.ingress", "proxyctl.ingress.svc", "proxyctl.ingress.svc.cluster.local", "localhost"},
			wantIPs: []net.IP{net.IPv4(127, 0, 0, 1)},
			life:    DefaultLifetime,
		},
		"names, addresses and lifetime": {
			opts:    Options{DNSNames: []string{"xds.example.com"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("::1")}, Lifetime: 48 * time.Hour},
			wantDNS: []string{"xds.example.com"},
			wantIPs: []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("::1")},
			life:    48 * time.Hour,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			now := time.Now().Truncate(time.Second)
			tc.opts.Now = func() time.Time { return now }
			server := parseCert(t, generate(t, tc.opts).ServerCert)
			if diff := cmp.Diff(tc.wantDNS, server.DNSNames); diff != "" {
				t.Errorf("DNS names (-want +got):\n%s", diff)
			}
			if len(server.IPAddresses) != len(tc.wantIPs) {
				t.Fatalf("IP addresses %v, want %v", server.IPAddresses, tc.wantIPs)
			}
			for i := range tc.wantIPs {
				if !server.IPAddresses[i].Equal(tc.wantIPs[i]) {
					t.Errorf("IP addresses %v, want %v", server.IPAddresses, tc.wantIPs)
				}
			}
			if got := server.NotAfter.Sub(now); got != tc.life {
				t.Errorf("lifetime %v, want %v", got, tc.life)
			}
		})
	}
}

func TestGenerateRejects(t *testing.T) {
	for name, opts := range map[string]Options{
		"negative lifetime": {Lifetime: -time.Hour},
		"empty DNS name":    {DNSNames: []string{"proxyctl", ""}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Generate(opts); err == nil {
				t.Errorf("Generate(%+v) succeeded", opts)
			}
		})
	}
}
