package dagtest

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/fixtures"
)

// byteReader hands out fuzz bytes, then zeros.
type byteReader struct{ data []byte }

func (r *byteReader) next() int {
	if len(r.data) == 0 {
		return 0
	}
	b := r.data[0]
	r.data = r.data[1:]
	return int(b)
}

func pick[T any](r *byteReader, choices ...T) T { return choices[r.next()%len(choices)] }

// generated derives a small world from bytes: a few proxies over two
// namespaces, referring to a fixed set of services and secrets.
func generated(data []byte) *dag.Objects {
	r := &byteReader{data: data}
	objs := dag.NewObjects()
	for _, s := range []*corev1.Service{fixtures.Service("a", "svc0", 80, 81), fixtures.Service("a", "svc1", 80), fixtures.Service("b", "svc0", 80)} {
		objs.Services[fixtures.NN(s.Namespace, s.Name)] = s
	}
	objs.Services[fixtures.NN("a", "svc1")].Annotations = map[string]string{"projectcontour.io/upstream-protocol.h2c": "80"}
	// ExternalName Services: served only when the Config enables them,
	// and never for localhost.
	objs.Services[fixtures.NN("a", "ext")] = externalName(fixtures.Service("a", "ext", 80, 443), "ext.example.net")
	objs.Services[fixtures.NN("a", "lo")] = externalName(fixtures.Service("a", "lo", 80), "localhost")
	objs.Services[fixtures.NN("a", "ext")].Annotations = map[string]string{"projectcontour.io/upstream-protocol.tls": "443"}
	for _, s := range []*discoveryv1.EndpointSlice{
		fixtures.EndpointSlice("a", "svc0-1", "svc0", "p80", 8080, "10.0.0.1", "!10.0.0.2"),
		fixtures.EndpointSlice("a", "svc0-2", "svc0", "p81", 8081, "10.0.0.1"),
		fixtures.EndpointSlice("a", "svc1-1", "svc1", "", 80, "10.0.1.1", "10.0.1.1"),
		fixtures.WithPort(fixtures.EndpointSlice("a", "svc0-3", "svc0", "p80", 8090, "10.0.0.3"), "p81", 8091),
	} {
		objs.EndpointSlices[fixtures.NN(s.Namespace, s.Name)] = s
	}
	for _, s := range []*corev1.Secret{
		tlsSecret("a", "s"), tlsSecret("b", "s"), caSecret("a", "ca"), caSecret("b", "ca"),
		{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "bad"}, Type: corev1.SecretTypeTLS},
	} {
		objs.Secrets[fixtures.NN(s.Namespace, s.Name)] = s
	}
	objs.Delegations[fixtures.NN("b", "d")] = &contourv1.TLSCertificateDelegation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "d"},
		Spec: contourv1.TLSCertificateDelegationSpec{Delegations: []contourv1.CertificateDelegation{
			{SecretName: "s", TargetNamespaces: []string{"a"}},
			{SecretName: "ca", TargetNamespaces: []string{"a"}},
		}},
	}

	for _, e := range extensionServices() {
		objs.ExtensionServices[fixtures.NN(e.Namespace, e.Name)] = e
	}

	nProxies := r.next()%6 + 1
	for i := 0; i < nProxies; i++ {
		p := genProxy(r)
		objs.HTTPProxies[fixtures.NN(p.Namespace, p.Name)] = p
	}
	return objs
}

// genProxy derives one proxy from bytes: a root or not, routes over the
// fixed services, includes of the fixed names, perhaps a tcpproxy.
func genProxy(r *byteReader) *contourv1.HTTPProxy {
	conds := []func() []contourv1.MatchCondition{
		func() []contourv1.MatchCondition { return nil },
		func() []contourv1.MatchCondition { return []contourv1.MatchCondition{{Prefix: "/"}} },
		func() []contourv1.MatchCondition { return []contourv1.MatchCondition{{Prefix: "/a"}} },
		func() []contourv1.MatchCondition { return []contourv1.MatchCondition{{Prefix: "/a/"}} },
		func() []contourv1.MatchCondition { return []contourv1.MatchCondition{{Exact: "/a"}} },
		func() []contourv1.MatchCondition { return []contourv1.MatchCondition{{Regex: "/a.*|/b"}} },
		func() []contourv1.MatchCondition { return []contourv1.MatchCondition{{Regex: "(["}} },
		func() []contourv1.MatchCondition { return []contourv1.MatchCondition{{Prefix: "bad"}} },
		func() []contourv1.MatchCondition {
			return []contourv1.MatchCondition{{Prefix: "/h", Header: &contourv1.HeaderMatchCondition{Name: "x", Exact: "1"}}}
		},
		func() []contourv1.MatchCondition {
			return []contourv1.MatchCondition{{QueryParameter: &contourv1.QueryParameterMatchCondition{Name: "q", Present: true}}}
		},
		func() []contourv1.MatchCondition {
			return []contourv1.MatchCondition{{Header: &contourv1.HeaderMatchCondition{Name: "x"}}}
		},
	}
	names := []string{"p0", "p1", "p2", "p3"}
	nsn := []string{"a", "b"}
	p := &contourv1.HTTPProxy{ObjectMeta: metav1.ObjectMeta{Namespace: pick(r, nsn...), Name: pick(r, names...), Generation: 1}}
	// Later names were created first, so that the oldest claimant of an
	// fqdn is not always the first by name.
	p.CreationTimestamp = metav1.Unix(int64(len(names)-slices.Index(names, p.Name)), 0)
	if r.next()%2 == 0 {
		p.Spec.VirtualHost = &contourv1.VirtualHost{Fqdn: pick(r, "x.com", "y.com", "*.x.com", "", "bad host")}
		switch r.next() % 5 {
		case 1:
			p.Spec.VirtualHost.TLS = &contourv1.TLS{SecretName: pick(r, "s", "b/s", "bad", "none", "c/s", "/")}
			if r.next()%3 == 0 {
				p.Spec.VirtualHost.TLS.ClientValidation = clientValidation(r)
			}
			p.Spec.VirtualHost.TLS.EnableFallbackCertificate = r.next()%3 == 0
		case 2:
			p.Spec.VirtualHost.TLS = &contourv1.TLS{Passthrough: true, MinimumProtocolVersion: pick(r, "", "1.3", "1.0")}
		case 3:
			p.Spec.VirtualHost.TLS = &contourv1.TLS{SecretName: "s"}
			p.Spec.VirtualHost.JWTProviders = []contourv1.JWTProvider{{Name: "a", Default: r.next()%2 == 0,
				RemoteJWKS: contourv1.RemoteJWKS{URI: pick(r, "https://idp.example.com/keys", "http://idp:80/k", "https://idp:port/")}}}
		case 4:
			p.Spec.VirtualHost.RateLimitPolicy = &contourv1.RateLimitPolicy{Global: globalRateLimit(r)}
		}
		if r.next()%4 == 0 {
			p.Spec.VirtualHost.Authorization = authorization(r)
		}
	}
	nRoutes := r.next() % 4
	for j := 0; j < nRoutes; j++ {
		rt := contourv1.Route{Conditions: pick(r, conds...)(), PermitInsecure: r.next()%2 == 0}
		nSvcs := r.next() % 3
		for k := 0; k < nSvcs; k++ {
			rt.Services = append(rt.Services, contourv1.Service{
				Name:   pick(r, "svc0", "svc1", "missing", "", "ext", "lo"),
				Port:   pick(r, 80, 81, 0, 70000),
				Weight: int64(r.next() % 3),
				Mirror: r.next()%5 == 0,
				// healthPort counts only with a health check.
				HealthPort: pick(r, 0, 0, 81, 99),
			})
			if r.next()%6 == 0 {
				upstreamValidation(r, &rt.Services[k])
			}
		}
		switch r.next() % 10 {
		case 9:
			rt.AuthPolicy = authPolicy(r)
		case 0:
			rt.RateLimitPolicy = &contourv1.RateLimitPolicy{Global: globalRateLimit(r)}
		case 8:
			rt.JWTVerificationPolicy = pick(r, &contourv1.JWTVerificationPolicy{Require: "a"}, &contourv1.JWTVerificationPolicy{Disabled: true})
		case 1:
			rt.DirectResponsePolicy = &contourv1.HTTPDirectResponsePolicy{StatusCode: pick(r, 200, 404, 42)}
		case 2:
			rt.RequestRedirectPolicy = &contourv1.HTTPRequestRedirectPolicy{Scheme: ptr(pick(r, "https", "ftp"))}
		case 3:
			rt.LoadBalancerPolicy = &contourv1.LoadBalancerPolicy{Strategy: pick(r, "Cookie", "Random", "RequestHash")}
		case 4:
			rt.TimeoutPolicy = &contourv1.TimeoutPolicy{Response: pick(r, "1s", "infinity", "x"), IdleConnection: pick(r, "", "2s", "infinity", "y")}
		case 5:
			rt.HealthCheckPolicy = &contourv1.HTTPHealthCheckPolicy{Path: pick(r, "/hc", "")}
		case 6:
			rt.PathRewritePolicy = &contourv1.PathRewritePolicy{ReplacePrefix: []contourv1.ReplacePrefix{{Replacement: pick(r, "/", "/bar/")}}}
		case 7:
			rt.RequestHeadersPolicy = &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{{Name: pick(r, "Host", "x", "bad name"), Value: pick(r, "v", "%REQ(x-foo)%", "%CONTOUR_NAMESPACE% 5%")}}}
		}
		p.Spec.Routes = append(p.Spec.Routes, rt)
	}
	nIncludes := r.next() % 3
	for j := 0; j < nIncludes; j++ {
		p.Spec.Includes = append(p.Spec.Includes, contourv1.Include{
			Name: pick(r, names...), Namespace: pick(r, "", "a", "b"), Conditions: pick(r, conds...)(),
		})
	}
	if r.next()%4 == 0 {
		p.Spec.TCPProxy = &contourv1.TCPProxy{}
		if r.next()%2 == 0 {
			p.Spec.TCPProxy.Include = &contourv1.TCPProxyInclude{Name: pick(r, names...)}
		} else {
			p.Spec.TCPProxy.Services = []contourv1.Service{{Name: pick(r, "svc0", "missing", "ext"), Port: pick(r, 80, 443)}}
			if r.next()%3 == 0 {
				upstreamValidation(r, &p.Spec.TCPProxy.Services[0])
			}
		}
	}
	return p
}

func ptr[T any](v T) *T { return &v }

// extensionServices are the fixed ExtensionServices: a/ext over h2c to
// svc1, a/bad naming a missing Service (invalid), b/ext over h2 to svc0,
// verified with the CA of its own namespace.
func extensionServices() []*contourv1alpha1.ExtensionService {
	ext := func(ns, name string, spec contourv1alpha1.ExtensionServiceSpec) *contourv1alpha1.ExtensionService {
		return &contourv1alpha1.ExtensionService{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1}, Spec: spec}
	}
	return []*contourv1alpha1.ExtensionService{
		ext("a", "ext", contourv1alpha1.ExtensionServiceSpec{
			Services: []contourv1alpha1.ExtensionServiceTarget{{Name: "svc1", Port: 80}}, Protocol: ptr("h2c"),
			TimeoutPolicy: &contourv1.TimeoutPolicy{Response: "1s"},
		}),
		ext("a", "bad", contourv1alpha1.ExtensionServiceSpec{
			Services: []contourv1alpha1.ExtensionServiceTarget{{Name: "missing", Port: 80}},
		}),
		ext("b", "ext", contourv1alpha1.ExtensionServiceSpec{
			Services:           []contourv1alpha1.ExtensionServiceTarget{{Name: "svc0", Port: 80, Weight: 2}},
			UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: "ca", SubjectName: "ext.b"},
		}),
	}
}

// authorization derives a virtualhost.authorization stanza naming one of
// the fixed ExtensionServices, a missing one, or none.
func authorization(r *byteReader) *contourv1.AuthorizationServer {
	a := &contourv1.AuthorizationServer{
		ExtensionServiceRef: contourv1.ExtensionServiceReference{
			Namespace: pick(r, "", "a", "b"), Name: pick(r, "ext", "bad", "none", ""),
			APIVersion: pick(r, "", "", "projectcontour.io/v1alpha1", "projectcontour.io/v1"),
		},
		ResponseTimeout: pick(r, "", "2s", "infinity", "soon"),
		FailOpen:        r.next()%2 == 0,
	}
	if r.next()%2 == 0 {
		a.AuthPolicy = authPolicy(r)
	}
	if r.next()%3 == 0 {
		a.WithRequestBody = &contourv1.AuthorizationServerBufferSettings{MaxRequestBytes: pick(r, uint32(0), 10), PackAsBytes: r.next()%2 == 0}
	}
	return a
}

// authPolicy derives an authorization policy of a virtual host or route.
func authPolicy(r *byteReader) *contourv1.AuthorizationPolicy {
	p := &contourv1.AuthorizationPolicy{Disabled: r.next()%3 == 0}
	switch r.next() % 3 {
	case 1:
		p.Context = map[string]string{"k": pick(r, "v", "w")}
	case 2:
		p.Context = map[string]string{"k": "v", "j": "x"}
	}
	return p
}

// clientValidation derives a clientValidation stanza over the fixed CA
// Secrets (a/ca, b/ca delegated to a) and ones that are not CAs.
func clientValidation(r *byteReader) *contourv1.DownstreamValidation {
	v := &contourv1.DownstreamValidation{
		CACertificate:             pick(r, "ca", "b/ca", "s", "none", ""),
		CertificateRevocationList: pick(r, "", "ca", "s"),
		SkipClientCertValidation:  r.next()%3 == 0,
		OptionalClientCertificate: r.next()%3 == 0,
		OnlyVerifyLeafCertCrl:     r.next()%2 == 0,
	}
	if r.next()%2 == 0 {
		v.ForwardClientCertificate = &contourv1.ClientCertificateDetails{Subject: true, DNS: r.next()%2 == 0}
	}
	return v
}

// upstreamValidation makes s a TLS upstream (mostly) with a validation
// stanza over the fixed CA Secrets.
func upstreamValidation(r *byteReader, s *contourv1.Service) {
	s.Protocol = ptr(pick(r, "tls", "h2", "h2c"))
	s.UpstreamValidation = &contourv1.UpstreamValidation{
		CACertificate: pick(r, "ca", "b/ca", "s", "none"),
		SubjectName:   pick(r, "x.com", "y.com", ""),
	}
	if r.next()%3 == 0 {
		s.UpstreamValidation.SubjectNames = []string{s.UpstreamValidation.SubjectName, "z.com"}
	}
}

// externalName makes s a Service of type ExternalName for name.
func externalName(s *corev1.Service, name string) *corev1.Service {
	s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, name
	return s
}

// tlsSecret is a valid kubernetes.io/tls Secret holding testCert.
func tlsSecret(ns, name string) *corev1.Secret {
	return fixtures.TLSSecret(ns, name, []byte(testCert), []byte(testKey))
}

// caSecret is an Opaque Secret with a CA bundle (testCert) and a
// certificate revocation list (testCRL).
func caSecret(ns, name string) *corev1.Secret {
	return fixtures.OpaqueSecret(ns, name, map[string][]byte{"ca.crt": []byte(testCert), "crl.pem": []byte(testCRL)})
}

// testCRL is a certificate revocation list; the DAG checks that it
// parses, not who signed it.
const testCRL = `-----BEGIN X509 CRL-----
MIIBFTCBvAIBATAKBggqhkjOPQQDAjBFMSUwIwYDVQQKExxwcm94eWN0bCBleGFt
cGxlLCBkbyBub3QgdXNlMRwwGgYDVQQDExNwcm94eWN0bCBleGFtcGxlIENBFw0y
NjEyMDMxMjI4MzdaFw0zNjExMzAxMzI4MzdaMBUwEwICA+kXDTI2MTIwMzEyMjgz
N1qgLzAtMB8GA1UdIwQYMBaAFBXifmgGrFV5QmOmGs2GUVUdsUd8MAoGA1UdFAQD
AgEBMAoGCCqGSM49BAMCA0gAMEUCIQCa7p/kdWzSwZaOMmW4hxS5yOPdn8Z9IcQn
ZxSM3CnHXAIgblBYfQG+rPZUzRWPY5PZBcTmifOEmrWf7Iieqt9M1/8=
-----END X509 CRL-----
`

// testCert and testKey are a self-signed ECDSA P-256 certificate for
// example.com, valid from 1970 to 2100, and its key. They exist only for
// tests; fixed bytes keep every generated world the same across runs.
const (
	testCert = `-----BEGIN CERTIFICATE-----
MIIBNTCB3aADAgECAgEBMAoGCCqGSM49BAMCMBYxFDASBgNVBAMTC2V4YW1wbGUu
Y29tMCAXDTcwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAWMRQwEgYDVQQD
EwtleGFtcGxlLmNvbTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABAesBgCiRbTI
xeKDyIctvJgzepszZEazi49qwkAIQ+eGmhUp3bd1y/dlhoxBA1LgM8rJWjSslxWt
IFzlyRKRpSWjGjAYMBYGA1UdEQQPMA2CC2V4YW1wbGUuY29tMAoGCCqGSM49BAMC
A0cAMEQCIQDnvMXLYXUd82VbUb+zvi1TewU/sKW4BubIjRvZ3Xs0lQIfYmEJOaRg
VJdBMVLd3txY9b1uqn2n+6pvLux7ARzE5Q==
-----END CERTIFICATE-----
`
	testKey = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIMEV24CvN92PYTmijteDV6ZvfbXxeKxrDn+1msnoEDm5oAoGCCqGSM49
AwEHoUQDQgAEB6wGAKJFtMjF4oPIhy28mDN6mzNkRrOLj2rCQAhD54aaFSndt3XL
92WGjEEDUuAzyslaNKyXFa0gXOXJEpGlJQ==
-----END EC PRIVATE KEY-----
`
)
