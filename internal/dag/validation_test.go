package dag

import (
	"crypto/x509"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/certgen"
	"github.com/proxyctl/proxyctl/internal/fixtures"
)

var (
	testCAOnce    sync.Once
	testCAPEM     []byte
	testCRLPEM    []byte
	testCAFailure error
)

// caAndCRL returns a CA certificate and a CRL it signed, both PEM.
func caAndCRL(t testing.TB) (ca, crl []byte) {
	t.Helper()
	testCAOnce.Do(func() {
		ca, err := certgen.NewCA("dag test CA", time.Unix(0, 0), time.Unix(0, 0).Add(100*365*24*time.Hour))
		if err != nil {
			testCAFailure = err
			return
		}
		testCAPEM = ca.PEM
		testCRLPEM, testCAFailure = ca.CRL(time.Unix(0, 0).Add(time.Hour), &x509.Certificate{SerialNumber: big.NewInt(7)})
	})
	if testCAFailure != nil {
		t.Fatal(testCAFailure)
	}
	return testCAPEM, testCRLPEM
}

// opaqueSecret is an Opaque Secret with data.
var opaqueSecret = fixtures.OpaqueSecret

func caSecret(t testing.TB, ns, name string) *corev1.Secret {
	ca, _ := caAndCRL(t)
	return opaqueSecret(ns, name, map[string][]byte{"ca.crt": ca})
}

func crlSecret(t testing.TB, ns, name string) *corev1.Secret {
	_, crl := caAndCRL(t)
	return opaqueSecret(ns, name, map[string][]byte{"crl.pem": crl})
}

func TestClientValidation(t *testing.T) {
	ca, crl := caAndCRL(t)
	tlsWithCA := tlsSecret(t, "default", "tls-with-ca")
	tlsWithCA.Data["ca.crt"] = ca
	mtls := func(v contourv1.DownstreamValidation) *contourv1.HTTPProxy {
		p := withTLS(root("default", "a", "example.com", route("/", svcRef("kuard", 8080))), "cert")
		p.Spec.VirtualHost.TLS.ClientValidation = &v
		return p
	}
	tests := map[string]struct {
		objs    []any
		want    *ClientValidation
		reasons []string
	}{
		"CA in an Opaque Secret": {
			objs:    []any{mtls(contourv1.DownstreamValidation{CACertificate: "ca"}), caSecret(t, "default", "ca")},
			want:    &ClientValidation{CA: ca},
			reasons: []string{"valid"},
		},
		"CA in a TLS Secret, every option": {
			objs: []any{mtls(contourv1.DownstreamValidation{
				CACertificate: "tls-with-ca", CertificateRevocationList: "crl", OnlyVerifyLeafCertCrl: true,
				OptionalClientCertificate: true,
				ForwardClientCertificate:  &contourv1.ClientCertificateDetails{Subject: true, Cert: true, Chain: true, DNS: true, URI: true},
			}), tlsWithCA, crlSecret(t, "default", "crl")},
			want: &ClientValidation{CA: ca, CRL: crl, CRLLeafOnly: true, Optional: true,
				Forward: &ForwardClientCert{Subject: true, Cert: true, Chain: true, DNS: true, URI: true}},
			reasons: []string{"valid"},
		},
		"delegated CA": {
			objs: []any{mtls(contourv1.DownstreamValidation{CACertificate: "certs/ca"}), caSecret(t, "certs", "ca"),
				delegation("certs", "d", "ca", "default")},
			want:    &ClientValidation{CA: ca},
			reasons: []string{"valid"},
		},
		"skip validation without a CA": {
			objs:    []any{mtls(contourv1.DownstreamValidation{SkipClientCertValidation: true})},
			want:    &ClientValidation{SkipVerify: true},
			reasons: []string{"valid"},
		},
		"CA not delegated": {
			objs:    []any{mtls(contourv1.DownstreamValidation{CACertificate: "certs/ca"}), caSecret(t, "certs", "ca")},
			reasons: []string{"TLSError/DelegationNotPermitted"},
		},
		"no CA without skip": {
			objs:    []any{mtls(contourv1.DownstreamValidation{})},
			reasons: []string{"TLSError/ClientValidationInvalid"},
		},
		"CA missing": {
			objs:    []any{mtls(contourv1.DownstreamValidation{CACertificate: "ca"})},
			reasons: []string{"TLSError/ClientValidationInvalid"},
		},
		"CA not a certificate": {
			objs: []any{mtls(contourv1.DownstreamValidation{CACertificate: "ca"}),
				opaqueSecret("default", "ca", map[string][]byte{"ca.crt": []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")})},
			reasons: []string{"TLSError/ClientValidationInvalid"},
		},
		"CA Secret without ca.crt": {
			objs:    []any{mtls(contourv1.DownstreamValidation{CACertificate: "cert"})},
			reasons: []string{"TLSError/ClientValidationInvalid"},
		},
		"CRL missing": {
			objs:    []any{mtls(contourv1.DownstreamValidation{CACertificate: "ca", CertificateRevocationList: "crl"}), caSecret(t, "default", "ca")},
			reasons: []string{"TLSError/ClientValidationInvalid"},
		},
		"CRL not delegated": {
			objs: []any{mtls(contourv1.DownstreamValidation{CACertificate: "ca", CertificateRevocationList: "certs/crl"}),
				caSecret(t, "default", "ca"), crlSecret(t, "certs", "crl")},
			reasons: []string{"TLSError/DelegationNotPermitted"},
		},
		"CRL without a CA": {
			objs:    []any{mtls(contourv1.DownstreamValidation{SkipClientCertValidation: true, CertificateRevocationList: "crl"}), crlSecret(t, "default", "crl")},
			reasons: []string{"TLSError/ClientValidationInvalid"},
		},
		"CRL is a certificate": {
			objs: []any{mtls(contourv1.DownstreamValidation{CACertificate: "ca", CertificateRevocationList: "crl"}),
				caSecret(t, "default", "ca"), opaqueSecret("default", "crl", map[string][]byte{"crl.pem": ca})},
			reasons: []string{"TLSError/ClientValidationInvalid"},
		},
		"passthrough": {
			objs: []any{func() any {
				p := child("default", "a")
				p.Spec.VirtualHost = &contourv1.VirtualHost{Fqdn: "example.com", TLS: &contourv1.TLS{
					Passthrough: true, ClientValidation: &contourv1.DownstreamValidation{CACertificate: "ca"}}}
				p.Spec.TCPProxy = &contourv1.TCPProxy{Services: []contourv1.Service{svcRef("kuard", 8080)}}
				return p
			}(), caSecret(t, "default", "ca")},
			reasons: []string{"TLSError/TLSIncompatibleFeatures"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs := append([]any{service("default", "kuard", 8080), tlsSecret(t, "default", "cert")}, tc.objs...)
			d := Build(objects(objs...), Config{})
			diff(t, tc.reasons, reasons(d, nn("default", "a")))
			svh := secureVhost(d, "example.com")
			if tc.want == nil {
				if svh != nil || httpRoutes(d, "example.com") != nil {
					t.Fatalf("an invalid client validation is served: %+v", svh)
				}
				return
			}
			if svh == nil {
				t.Fatal("virtual host not served")
			}
			diff(t, tc.want, svh.ClientValidation)
		})
	}
}

func TestUpstreamValidation(t *testing.T) {
	ca, _ := caAndCRL(t)
	tlsSvc := func(v *contourv1.UpstreamValidation, protocol string) contourv1.Service {
		s := svcRef("backend", 443)
		if protocol != "" {
			s.Protocol = &protocol
		}
		s.UpstreamValidation = v
		return s
	}
	valid := &contourv1.UpstreamValidation{CACertificate: "ca", SubjectName: "backend.example.com"}
	tests := map[string]struct {
		svc     contourv1.Service
		objs    []any
		want    *UpstreamValidation
		reasons []string
	}{
		"tls with subjectName": {
			svc:     tlsSvc(valid, "tls"),
			objs:    []any{caSecret(t, "default", "ca")},
			want:    &UpstreamValidation{CAName: "default/ca", CA: ca, SubjectNames: []string{"backend.example.com"}},
			reasons: []string{"valid"},
		},
		"h2 with subjectNames, delegated CA": {
			svc: tlsSvc(&contourv1.UpstreamValidation{CACertificate: "certs/ca", SubjectName: "a.example.com",
				SubjectNames: []string{"a.example.com", "b.example.com"}}, "h2"),
			objs:    []any{caSecret(t, "certs", "ca"), delegation("certs", "d", "ca", "*")},
			want:    &UpstreamValidation{CAName: "certs/ca", CA: ca, SubjectNames: []string{"a.example.com", "b.example.com"}},
			reasons: []string{"valid"},
		},
		"subjectNames not starting with subjectName": {
			svc: tlsSvc(&contourv1.UpstreamValidation{CACertificate: "ca", SubjectName: "a.example.com",
				SubjectNames: []string{"b.example.com", "a.example.com"}}, "tls"),
			objs:    []any{caSecret(t, "default", "ca")},
			reasons: []string{"ServiceError/TLSUpstreamValidation"},
		},
		"no subjectName": {
			svc:     tlsSvc(&contourv1.UpstreamValidation{CACertificate: "ca"}, "tls"),
			objs:    []any{caSecret(t, "default", "ca")},
			reasons: []string{"ServiceError/TLSUpstreamValidation"},
		},
		"CA missing": {
			svc:     tlsSvc(valid, "tls"),
			reasons: []string{"ServiceError/TLSUpstreamValidation"},
		},
		"CA not delegated": {
			svc:     tlsSvc(&contourv1.UpstreamValidation{CACertificate: "certs/ca", SubjectName: "backend.example.com"}, "tls"),
			objs:    []any{caSecret(t, "certs", "ca")},
			reasons: []string{"TLSError/CACertificateNotDelegated"},
		},
		"cleartext upstream": {
			svc:     tlsSvc(valid, ""),
			objs:    []any{caSecret(t, "default", "ca")},
			reasons: []string{"ServiceError/TLSUpstreamValidation"},
		},
		"h2c upstream": {
			svc:     tlsSvc(valid, "h2c"),
			objs:    []any{caSecret(t, "default", "ca")},
			reasons: []string{"ServiceError/TLSUpstreamValidation"},
		},
	}
	for name, tc := range tests {
		for _, tcp := range []bool{false, true} {
			label := name + "/route"
			if tcp {
				label = name + "/tcpproxy"
			}
			t.Run(label, func(t *testing.T) {
				p := withTLS(root("default", "a", "example.com", route("/", tc.svc)), "cert")
				if tcp {
					p.Spec.Routes = nil
					p.Spec.TCPProxy = &contourv1.TCPProxy{Services: []contourv1.Service{tc.svc}}
				}
				objs := append([]any{p, service("default", "backend", 443), tlsSecret(t, "default", "cert")}, tc.objs...)
				d := Build(objects(objs...), Config{})
				diff(t, tc.reasons, reasons(d, nn("default", "a")))
				c := findCluster(d, "default", "backend", 443)
				if tc.want == nil {
					if c != nil {
						t.Fatalf("a cluster is made without the validation asked for: %+v", c)
					}
					if !tcp {
						// Never an unverified connection: the route answers 503.
						diff(t, []string{"prefix:/ -> 503"}, httpsRoutes(d, "example.com"))
					}
					return
				}
				if c == nil {
					t.Fatal("no cluster")
				}
				diff(t, tc.want, c.Validation)
			})
		}
	}
}

// A new CA in the Secret makes a new cluster, as any change of settings
// does, and the same CA and names share one.
func TestUpstreamValidationClusterNames(t *testing.T) {
	proto := "tls"
	svc := contourv1.Service{Name: "backend", Port: 443, Protocol: &proto,
		UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: "ca", SubjectName: "backend.example.com"}}
	plain := contourv1.Service{Name: "backend", Port: 443, Protocol: &proto}
	p := root("default", "a", "example.com", route("/", svc), route("/plain", plain), route("/again", svc))
	objs := objects(p, service("default", "backend", 443), caSecret(t, "default", "ca"))
	d := Build(objs, Config{})
	if len(d.Clusters) != 2 {
		t.Fatalf("want 2 clusters (validated and not), got %d", len(d.Clusters))
	}
	other := caSecret(t, "default", "ca")
	other.Data["ca.crt"] = append([]byte(strings.Repeat("\n", 1)), other.Data["ca.crt"]...)
	objs.Secrets[nn("default", "ca")] = other
	d2 := Build(objs, Config{})
	names := func(d *DAG) map[string]bool {
		m := map[string]bool{}
		for _, c := range d.Clusters {
			m[c.Name] = true
		}
		return m
	}
	n1, n2 := names(d), names(d2)
	shared := 0
	for n := range n1 {
		if n2[n] {
			shared++
		}
	}
	if shared != 1 {
		t.Errorf("want only the unvalidated cluster kept after a CA change, got %v then %v", n1, n2)
	}
}

// TestIncrementalValidation changes the CA and CRL Secrets and the
// delegation that client and upstream validation read: the Builder must
// give what a build from scratch gives at each step.
func TestIncrementalValidation(t *testing.T) {
	proto := "tls"
	mtls := withTLS(root("default", "mtls", "mtls.com", route("/", svcRef("kuard", 8080))), "certs/wild")
	mtls.Spec.VirtualHost.TLS.ClientValidation = &contourv1.DownstreamValidation{CACertificate: "certs/ca", CertificateRevocationList: "crl"}
	upstream := root("default", "up", "up.com", route("/", contourv1.Service{Name: "kuard", Port: 8080, Protocol: &proto,
		UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: "certs/ca", SubjectName: "kuard.default"}}))
	o := world(t)
	put(mtls, upstream, caSecret(t, "certs", "ca"), crlSecret(t, "default", "crl"),
		delegation("certs", "d", "wild", "default"))(o)
	delegateCA := put(&contourv1.TLSCertificateDelegation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "certs", Name: "d"},
		Spec: contourv1.TLSCertificateDelegationSpec{Delegations: []contourv1.CertificateDelegation{
			{SecretName: "wild", TargetNamespaces: []string{"default"}},
			{SecretName: "ca", TargetNamespaces: []string{"default"}},
		}},
	})
	newCA := func(o *Objects) {
		s := caSecret(t, "certs", "ca")
		s.Data["ca.crt"] = append([]byte("\n"), s.Data["ca.crt"]...)
		o.Secrets[nn("certs", "ca")] = s
	}
	dags := checkSequence(t, Config{}, o,
		step{"the CA is delegated", delegateCA},
		step{"the CA changes", newCA},
		step{"the CRL goes", func(o *Objects) { delete(o.Secrets, nn("default", "crl")) }},
		step{"the CRL comes back", put(crlSecret(t, "default", "crl"))},
		step{"the CA is not a CA", put(opaqueSecret("certs", "ca", map[string][]byte{"ca.crt": []byte("x")}))},
		step{"the CA is back", newCA},
		step{"the delegation goes", put(delegation("certs", "d", "wild", "default"))},
	)
	// Not vacuous: once delegated, both validations are served.
	if svh := secureVhost(dags[1], "mtls.com"); svh == nil || svh.ClientValidation == nil {
		t.Errorf("mtls.com not served with client validation: %+v", svh)
	}
	if c := findCluster(dags[1], "default", "kuard", 8080); c == nil {
		t.Error("no kuard cluster")
	} else if !slices.ContainsFunc(dags[1].Clusters, func(c *Cluster) bool { return c.Validation != nil }) {
		t.Error("no validated cluster")
	}
}

func TestFallbackCertificate(t *testing.T) {
	fallback := func(mod func(*contourv1.HTTPProxy)) *contourv1.HTTPProxy {
		p := withTLS(root("default", "a", "example.com", route("/", svcRef("kuard", 8080))), "cert")
		p.Spec.VirtualHost.TLS.EnableFallbackCertificate = true
		if mod != nil {
			mod(p)
		}
		return p
	}
	tests := map[string]struct {
		cfg     Config
		objs    []any
		want    string // the fallback Secret served, "" for none
		reasons []string
	}{
		"same namespace": {
			cfg:     Config{FallbackCertificate: nn("default", "fallback")},
			objs:    []any{fallback(nil), tlsSecret(t, "default", "fallback")},
			want:    "default/fallback",
			reasons: []string{"valid"},
		},
		"delegated": {
			cfg:     Config{FallbackCertificate: nn("certs", "fallback")},
			objs:    []any{fallback(nil), tlsSecret(t, "certs", "fallback"), delegation("certs", "d", "fallback", "*")},
			want:    "certs/fallback",
			reasons: []string{"valid"},
		},
		"not delegated": {
			cfg:     Config{FallbackCertificate: nn("certs", "fallback")},
			objs:    []any{fallback(nil), tlsSecret(t, "certs", "fallback")},
			reasons: []string{"TLSError/FallbackNotDelegated"},
		},
		"not configured": {
			objs:    []any{fallback(nil)},
			reasons: []string{"TLSError/FallbackNotPresent"},
		},
		"missing": {
			cfg:     Config{FallbackCertificate: nn("default", "fallback")},
			objs:    []any{fallback(nil)},
			reasons: []string{"TLSError/FallbackNotValid"},
		},
		"with client validation": {
			cfg: Config{FallbackCertificate: nn("default", "fallback")},
			objs: []any{fallback(func(p *contourv1.HTTPProxy) {
				p.Spec.VirtualHost.TLS.ClientValidation = &contourv1.DownstreamValidation{CACertificate: "ca"}
			}), tlsSecret(t, "default", "fallback"), caSecret(t, "default", "ca")},
			reasons: []string{"TLSError/TLSIncompatibleFeatures"},
		},
		"with a tcpproxy": {
			cfg: Config{FallbackCertificate: nn("default", "fallback")},
			objs: []any{fallback(func(p *contourv1.HTTPProxy) {
				p.Spec.Routes = nil
				p.Spec.TCPProxy = &contourv1.TCPProxy{Services: []contourv1.Service{svcRef("kuard", 8080)}}
			}), tlsSecret(t, "default", "fallback")},
			reasons: []string{"TLSError/TLSIncompatibleFeatures"},
		},
		"with passthrough": {
			cfg: Config{FallbackCertificate: nn("default", "fallback")},
			objs: []any{fallback(func(p *contourv1.HTTPProxy) {
				p.Spec.VirtualHost.TLS.SecretName = ""
				p.Spec.VirtualHost.TLS.Passthrough = true
				p.Spec.Routes = nil
				p.Spec.TCPProxy = &contourv1.TCPProxy{Services: []contourv1.Service{svcRef("kuard", 8080)}}
			}), tlsSecret(t, "default", "fallback")},
			reasons: []string{"TLSError/TLSIncompatibleFeatures"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs := append([]any{service("default", "kuard", 8080), tlsSecret(t, "default", "cert")}, tc.objs...)
			d := Build(objects(objs...), tc.cfg)
			diff(t, tc.reasons, reasons(d, nn("default", "a")))
			svh := secureVhost(d, "example.com")
			if tc.want == "" {
				if svh != nil {
					t.Fatalf("served: %+v", svh)
				}
				return
			}
			if svh == nil || svh.FallbackCertificate == nil {
				t.Fatalf("not served with a fallback certificate: %+v", svh)
			}
			diff(t, tc.want, svh.FallbackCertificate.Name)
			var names []string
			for _, s := range d.Secrets {
				names = append(names, s.Name)
			}
			want := []string{"default/cert", tc.want}
			slices.Sort(want)
			diff(t, want, names)
		})
	}
}

// TestIncrementalFallback changes the fallback certificate's Secret and
// delegation, and which hosts enable it.
func TestIncrementalFallback(t *testing.T) {
	enable := func(p *contourv1.HTTPProxy) { p.Spec.VirtualHost.TLS.EnableFallbackCertificate = true }
	o := world(t)
	put(withTLS(root("default", "fb", "fb.com", route("/", svcRef("kuard", 8080))), "certs/wild"))(o)
	editProxy("default", "fb", enable)(o)
	cfg := Config{FallbackCertificate: nn("certs", "fallback")}
	delegateBoth := put(&contourv1.TLSCertificateDelegation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "certs", Name: "d"},
		Spec: contourv1.TLSCertificateDelegationSpec{Delegations: []contourv1.CertificateDelegation{
			{SecretName: "wild", TargetNamespaces: []string{"default"}},
			{SecretName: "fallback", TargetNamespaces: []string{"default"}},
		}},
	})
	dags := checkSequence(t, cfg, o,
		step{"the fallback Secret appears", put(tlsSecret(t, "certs", "fallback"))},
		step{"it is delegated", delegateBoth},
		step{"a second host enables it", editProxy("default", "tls", enable)},
		step{"the fallback Secret changes", put(tlsSecret(t, "certs", "fallback"))},
		step{"one host stops", editProxy("default", "fb", func(p *contourv1.HTTPProxy) { p.Spec.VirtualHost.TLS.EnableFallbackCertificate = false })},
		step{"the fallback Secret goes", func(o *Objects) { delete(o.Secrets, nn("certs", "fallback")) }},
	)
	if svh := secureVhost(dags[3], "tls.com"); svh == nil || svh.FallbackCertificate == nil {
		t.Errorf("tls.com not served with the fallback certificate: %+v", svh)
	}
}
