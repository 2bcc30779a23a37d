package dag

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/fixtures"
)

const testJWKS = `{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`

func jwksSecret(ns, name, key, data string) *corev1.Secret {
	return fixtures.OpaqueSecret(ns, name, map[string][]byte{key: []byte(data)})
}

func remote(name, uri string) contourv1.JWTProvider {
	return contourv1.JWTProvider{Name: name, RemoteJWKS: contourv1.RemoteJWKS{URI: uri}}
}

func TestJWTProviders(t *testing.T) {
	local := contourv1.JWTProvider{Name: "local", LocalJWKS: contourv1.LocalJWKS{SecretName: "jwks", Key: "jwks.json"}}
	tests := map[string]struct {
		providers []contourv1.JWTProvider
		noTLS     bool
		reasons   []string
		check     func(t *testing.T, ps []JWTProvider)
	}{
		"remote, defaults": {
			providers: []contourv1.JWTProvider{remote("r", "https://jwks.example.com/keys")},
			reasons:   []string{"valid"},
			check: func(t *testing.T, ps []JWTProvider) {
				r := ps[0].RemoteJWKS
				diff(t, time.Second, r.Timeout)
				diff(t, time.Duration(0), r.CacheDuration)
				diff(t, &DNSUpstream{Host: "jwks.example.com", Port: 443, TLS: true}, r.Cluster.DNS)
				if !strings.HasPrefix(r.Cluster.Name, "dnsname/https/jwks.example.com:443/") {
					t.Errorf("cluster name %q", r.Cluster.Name)
				}
			},
		},
		"remote, everything set": {
			providers: []contourv1.JWTProvider{{
				Name: "r", Default: true, Issuer: "iss", Audiences: []string{"a", "b"}, ForwardJWT: true,
				RemoteJWKS: contourv1.RemoteJWKS{URI: "https://[::1]:8443/keys", Timeout: "3s", CacheDuration: "1h", DNSLookupFamily: "v6",
					UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: "ca", SubjectName: "jwks.example.com"}},
			}},
			reasons: []string{"valid"},
			check: func(t *testing.T, ps []JWTProvider) {
				p := ps[0]
				diff(t, []string{"a", "b"}, p.Audiences)
				diff(t, "iss", p.Issuer)
				diff(t, true, p.ForwardJWT)
				diff(t, 3*time.Second, p.RemoteJWKS.Timeout)
				diff(t, time.Hour, p.RemoteJWKS.CacheDuration)
				up := p.RemoteJWKS.Cluster.DNS
				diff(t, "::1", up.Host)
				diff(t, uint32(8443), up.Port)
				diff(t, "v6", up.DNSLookupFamily)
				diff(t, []string{"jwks.example.com"}, up.SubjectNames)
				if len(up.CACertificate) == 0 {
					t.Error("no CA")
				}
			},
		},
		"http on port 80": {
			providers: []contourv1.JWTProvider{remote("r", "http://jwks.example.com/keys")},
			reasons:   []string{"valid"},
			check: func(t *testing.T, ps []JWTProvider) {
				diff(t, &DNSUpstream{Host: "jwks.example.com", Port: 80}, ps[0].RemoteJWKS.Cluster.DNS)
			},
		},
		"local": {
			providers: []contourv1.JWTProvider{local},
			reasons:   []string{"valid"},
			check: func(t *testing.T, ps []JWTProvider) {
				diff(t, testJWKS, string(ps[0].LocalJWKS))
			},
		},
		"no TLS":             {providers: []contourv1.JWTProvider{local}, noTLS: true, reasons: []string{"JWTVerificationError/JWTVerificationNotPermitted"}},
		"duplicate name":     {providers: []contourv1.JWTProvider{local, local}, reasons: []string{"JWTVerificationError/DuplicateProviderName"}},
		"two defaults":       {providers: []contourv1.JWTProvider{{Name: "a", Default: true, LocalJWKS: local.LocalJWKS}, {Name: "b", Default: true, LocalJWKS: local.LocalJWKS}}, reasons: []string{"JWTVerificationError/MultipleDefaultProvidersSpecified"}},
		"both sources":       {providers: []contourv1.JWTProvider{{Name: "a", LocalJWKS: local.LocalJWKS, RemoteJWKS: contourv1.RemoteJWKS{URI: "https://x/"}}}, reasons: []string{"JWTVerificationError/JWKSSourceConflict"}},
		"no source":          {providers: []contourv1.JWTProvider{{Name: "a"}}, reasons: []string{"JWTVerificationError/JWKSSourceMissing"}},
		"missing secret":     {providers: []contourv1.JWTProvider{{Name: "a", LocalJWKS: contourv1.LocalJWKS{SecretName: "nope", Key: "k"}}}, reasons: []string{"JWTVerificationError/LocalJWKSInvalid"}},
		"not a key set":      {providers: []contourv1.JWTProvider{{Name: "a", LocalJWKS: contourv1.LocalJWKS{SecretName: "jwks", Key: "other"}}}, reasons: []string{"JWTVerificationError/LocalJWKSInvalid"}},
		"uri does not parse": {providers: []contourv1.JWTProvider{remote("r", "https://jwks.example.com:port/keys")}, reasons: []string{"JWTVerificationError/RemoteJWKSURIInvalid"}},
		"uri has no host":    {providers: []contourv1.JWTProvider{remote("r", "https:///keys")}, reasons: []string{"JWTVerificationError/RemoteJWKSURIInvalid"}},
		"bad scheme":         {providers: []contourv1.JWTProvider{remote("r", "ftp://jwks.example.com/keys")}, reasons: []string{"JWTVerificationError/RemoteJWKSSchemeInvalid"}},
		"port out of range":  {providers: []contourv1.JWTProvider{remote("r", "https://jwks.example.com:70000/keys")}, reasons: []string{"JWTVerificationError/RemoteJWKSPortInvalid"}},
		"bad timeout": {providers: []contourv1.JWTProvider{{Name: "r", RemoteJWKS: contourv1.RemoteJWKS{URI: "https://x/", Timeout: "soon"}}},
			reasons: []string{"JWTVerificationError/RemoteJWKSTimeoutInvalid"}},
		"bad cache duration": {providers: []contourv1.JWTProvider{{Name: "r", RemoteJWKS: contourv1.RemoteJWKS{URI: "https://x/", CacheDuration: "1y"}}},
			reasons: []string{"JWTVerificationError/RemoteJWKSCacheDurationInvalid"}},
		"bad dns family": {providers: []contourv1.JWTProvider{{Name: "r", RemoteJWKS: contourv1.RemoteJWKS{URI: "https://x/", DNSLookupFamily: "v5"}}},
			reasons: []string{"JWTVerificationError/RemoteJWKSDNSLookupFamilyInvalid"}},
		"validation over http": {providers: []contourv1.JWTProvider{{Name: "r", RemoteJWKS: contourv1.RemoteJWKS{URI: "http://x/",
			UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: "ca", SubjectName: "x"}}}},
			reasons: []string{"JWTVerificationError/RemoteJWKSUpstreamValidationInvalid"}},
		"ca not delegated": {providers: []contourv1.JWTProvider{{Name: "r", RemoteJWKS: contourv1.RemoteJWKS{URI: "https://x/",
			UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: "other/ca", SubjectName: "x"}}}},
			reasons: []string{"JWTVerificationError/RemoteJWKSCACertificateNotDelegated"}},
		"ca not a CA": {providers: []contourv1.JWTProvider{{Name: "r", RemoteJWKS: contourv1.RemoteJWKS{URI: "https://x/",
			UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: "jwks", SubjectName: "x"}}}},
			reasons: []string{"JWTVerificationError/RemoteJWKSUpstreamValidationInvalid"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := root("default", "p", "p.example.com", route("/", svcRef("kuard", 8080)))
			if !tc.noTLS {
				p = withTLS(p, "tls")
			}
			p.Spec.VirtualHost.JWTProviders = tc.providers
			other := root("default", "other", "other.example.com", route("/", svcRef("kuard", 8080)))
			d := Build(objects(p, other, service("default", "kuard", 8080), tlsSecret(t, "default", "tls"),
				jwksSecret("default", "jwks", "jwks.json", testJWKS), caSecret(t, "default", "ca"), caSecret(t, "other", "ca")), Config{})
			diff(t, tc.reasons, reasons(d, nn("default", "p")))
			diff(t, []string{"valid"}, reasons(d, nn("default", "other")))
			svh := secureVhost(d, "p.example.com")
			if tc.reasons[0] != "valid" {
				if svh != nil || httpRoutes(d, "p.example.com") != nil {
					t.Fatal("a virtual host with invalid JWT providers is served")
				}
				return
			}
			if len(svh.JWTProviders) != len(tc.providers) {
				t.Fatalf("%d providers, want %d", len(svh.JWTProviders), len(tc.providers))
			}
			for _, jp := range svh.JWTProviders {
				if jp.RemoteJWKS != nil && findClusterNamed(d, jp.RemoteJWKS.Cluster.Name) != jp.RemoteJWKS.Cluster {
					t.Errorf("cluster %s not in DAG.Clusters", jp.RemoteJWKS.Cluster.Name)
				}
			}
			tc.check(t, svh.JWTProviders)
		})
	}
}

func findClusterNamed(d *DAG, name string) *Cluster {
	for _, c := range d.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestJWTRoutes(t *testing.T) {
	jwtRoute := func(prefix string, p *contourv1.JWTVerificationPolicy) contourv1.Route {
		r := route(prefix, svcRef("kuard", 8080))
		r.JWTVerificationPolicy = p
		return r
	}
	providers := func(def bool) []contourv1.JWTProvider {
		return []contourv1.JWTProvider{
			{Name: "main", Default: def, RemoteJWKS: contourv1.RemoteJWKS{URI: "https://jwks.example.com/keys"}},
			{Name: "other", RemoteJWKS: contourv1.RemoteJWKS{URI: "https://jwks.example.com/keys"}},
		}
	}
	tests := map[string]struct {
		def      bool
		routes   []contourv1.Route
		child    []contourv1.Route
		reasons  []string
		provider map[string]string // prefix -> required provider
	}{
		"default applies unless disabled or overridden": {
			def: true,
			routes: []contourv1.Route{
				jwtRoute("/", nil),
				jwtRoute("/public", &contourv1.JWTVerificationPolicy{Disabled: true}),
				jwtRoute("/other", &contourv1.JWTVerificationPolicy{Require: "other"}),
			},
			child:    []contourv1.Route{jwtRoute("/child", nil)},
			reasons:  []string{"valid"},
			provider: map[string]string{"/": "main", "/public": "", "/other": "other", "/child": "main"},
		},
		"no default: only required routes": {
			routes:   []contourv1.Route{jwtRoute("/", nil), jwtRoute("/secure", &contourv1.JWTVerificationPolicy{Require: "main"})},
			reasons:  []string{"valid"},
			provider: map[string]string{"/": "", "/secure": "main"},
		},
		"unknown provider": {
			routes:  []contourv1.Route{jwtRoute("/", &contourv1.JWTVerificationPolicy{Require: "nope"})},
			reasons: []string{"JWTVerificationError/JWTProviderNotDefined"},
		},
		"unknown provider in an include": {
			routes:  []contourv1.Route{jwtRoute("/", nil)},
			child:   []contourv1.Route{jwtRoute("/child", &contourv1.JWTVerificationPolicy{Require: "nope"})},
			reasons: []string{"JWTVerificationError/JWTProviderNotDefined"},
		},
		"require and disabled": {
			routes:  []contourv1.Route{jwtRoute("/", &contourv1.JWTVerificationPolicy{Require: "main", Disabled: true})},
			reasons: []string{"JWTVerificationError/InvalidJWTVerificationPolicy"},
		},
		"require and disabled in an include": {
			routes:  []contourv1.Route{jwtRoute("/", nil)},
			child:   []contourv1.Route{jwtRoute("/child", &contourv1.JWTVerificationPolicy{Require: "main", Disabled: true})},
			reasons: []string{"JWTVerificationError/InvalidJWTVerificationPolicy"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := withTLS(root("default", "p", "p.example.com", tc.routes...), "tls")
			p.Spec.VirtualHost.JWTProviders = providers(tc.def)
			objs := []any{p, service("default", "kuard", 8080), tlsSecret(t, "default", "tls")}
			if tc.child != nil {
				p.Spec.Includes = []contourv1.Include{include("c", "default", "/")}
				objs = append(objs, child("default", "c", tc.child...))
			}
			d := Build(objects(objs...), Config{})
			diff(t, tc.reasons, reasons(d, nn("default", "p")))
			svh := secureVhost(d, "p.example.com")
			if tc.reasons[0] != "valid" {
				if svh != nil {
					t.Fatal("served")
				}
				return
			}
			got := map[string]string{}
			for _, r := range svh.Routes {
				got[r.PathMatch.Value] = r.JWTProvider
			}
			diff(t, tc.provider, got)
		})
	}
}

// A route requiring a token is never served over plain HTTP, even when it
// permits insecure requests: the HTTP listener does not verify tokens.
func TestJWTRouteIsNotServedInsecure(t *testing.T) {
	secured := route("/", svcRef("kuard", 8080))
	secured.PermitInsecure = true
	open := route("/open", svcRef("kuard", 8080))
	open.PermitInsecure = true
	open.JWTVerificationPolicy = &contourv1.JWTVerificationPolicy{Disabled: true}
	p := withTLS(root("default", "p", "p.example.com", secured, open), "tls")
	p.Spec.VirtualHost.JWTProviders = []contourv1.JWTProvider{{Name: "main", Default: true, RemoteJWKS: contourv1.RemoteJWKS{URI: "https://jwks.example.com/keys"}}}
	d := Build(objects(p, service("default", "kuard", 8080), tlsSecret(t, "default", "tls")), Config{})
	for _, vh := range d.HTTP {
		for _, r := range vh.Routes {
			switch r.PathMatch.Value {
			case "/":
				if r.Redirect == nil {
					t.Error("a route requiring a token is served over HTTP")
				}
			case "/open":
				if r.Redirect != nil {
					t.Error("a route without verification that permits insecure redirects")
				}
			}
		}
	}
}

// A change of the Secret holding a local key set rebuilds the host, in an
// incremental Builder as from scratch.
func TestJWTLocalSecretChange(t *testing.T) {
	p := withTLS(root("default", "p", "p.example.com", route("/", svcRef("kuard", 8080))), "tls")
	p.Spec.VirtualHost.JWTProviders = []contourv1.JWTProvider{{Name: "l", Default: true, LocalJWKS: contourv1.LocalJWKS{SecretName: "jwks", Key: "k"}}}
	o := objects(p, service("default", "kuard", 8080), tlsSecret(t, "default", "tls"), jwksSecret("default", "jwks", "k", testJWKS))
	bl := NewBuilder(Config{})
	d := bl.Build(o)
	diff(t, testJWKS, string(secureVhost(d, "p.example.com").JWTProviders[0].LocalJWKS))
	const next = `{"keys":[]}`
	o.Secrets[nn("default", "jwks")] = jwksSecret("default", "jwks", "k", next)
	d = bl.Build(o)
	diff(t, next, string(secureVhost(d, "p.example.com").JWTProviders[0].LocalJWKS))
	diff(t, Build(o, Config{}), d)
	o.Secrets[nn("default", "jwks")] = jwksSecret("default", "jwks", "k", "[]")
	d = bl.Build(o)
	diff(t, []string{"JWTVerificationError/LocalJWKSInvalid"}, reasons(d, nn("default", "p")))
	if secureVhost(d, "p.example.com") != nil {
		t.Fatal("served with an invalid key set")
	}
}
