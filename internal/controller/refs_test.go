package controller

import (
	"strings"
	"testing"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

func TestReferencesFollowProxies(t *testing.T) {
	c := newObjectCache(nil)
	toAPI := func(p *contourv1.HTTPProxy) {
		p.Spec.Routes[0].Services[0].Name = "api"
		p.Spec.VirtualHost.TLS.SecretName = "certs/wild"
	}
	check := func(step string, web, api, cert, wild bool) {
		t.Helper()
		for name, want := range map[string]bool{"web": web, "api": api} {
			if got := c.refs.service(key("ns", name)); got != want {
				t.Errorf("%s: service %s referenced = %v, want %v", step, name, got, want)
			}
		}
		if got := c.refs.secret(key("ns", "cert")); got != cert {
			t.Errorf("%s: secret ns/cert referenced = %v, want %v", step, got, cert)
		}
		if got := c.refs.secret(key("certs", "wild")); got != wild {
			t.Errorf("%s: delegated secret certs/wild referenced = %v, want %v", step, got, wild)
		}
	}
	c.apply(event{obj: proxy("a", 1)})
	c.apply(event{obj: proxy("b", 1)})
	check("two proxies name web", true, false, true, false)
	c.apply(event{obj: proxy("a", 2, toAPI)})
	check("a moved to api", true, true, true, true)
	c.apply(event{obj: proxy("b", 1), delete: true})
	check("b deleted", false, true, false, true)
	c.apply(event{obj: proxy("a", 3, toAPI, func(p *contourv1.HTTPProxy) { p.Spec.IngressClassName = "other" })})
	check("a went to another class", false, false, false, false)
	if len(c.refs.services)+len(c.refs.secrets) != 0 {
		t.Errorf("counts left behind: %v %v", c.refs.services, c.refs.secrets)
	}
}

// The Secrets of JWT providers (a local key set, the CA of a remote one)
// are references: their changes rebuild.
func TestReferencesOfJWTProviders(t *testing.T) {
	c := newObjectCache(nil)
	c.apply(event{obj: proxy("a", 1, func(p *contourv1.HTTPProxy) {
		p.Spec.VirtualHost.JWTProviders = []contourv1.JWTProvider{
			{Name: "l", LocalJWKS: contourv1.LocalJWKS{SecretName: "jwks", Key: "k"}},
			{Name: "r", RemoteJWKS: contourv1.RemoteJWKS{URI: "https://x/", UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: "cas/ca", SubjectName: "x"}}},
		}
	})})
	for _, k := range []string{"ns/jwks", "cas/ca"} {
		ns, name, _ := strings.Cut(k, "/")
		if !c.refs.secret(key(ns, name)) {
			t.Errorf("secret %s is not referenced", k)
		}
	}
}

// The CA and CRL Secrets of client and upstream validation are references
// too: a new CA must reach Envoy.
func TestReferencesIncludeValidationSecrets(t *testing.T) {
	c := newObjectCache(nil)
	c.apply(event{obj: proxy("a", 1, func(p *contourv1.HTTPProxy) {
		p.Spec.VirtualHost.TLS.ClientValidation = &contourv1.DownstreamValidation{
			CACertificate: "client-ca", CertificateRevocationList: "certs/crl",
		}
		p.Spec.Routes[0].Services[0].UpstreamValidation = &contourv1.UpstreamValidation{CACertificate: "backend-ca"}
		p.Spec.TCPProxy = &contourv1.TCPProxy{Services: []contourv1.Service{{
			Name: "tcp", UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: "certs/tcp-ca"},
		}}}
	})})
	for _, k := range []string{"ns/client-ca", "certs/crl", "ns/backend-ca", "certs/tcp-ca"} {
		ns, name, _ := strings.Cut(k, "/")
		if !c.refs.secret(key(ns, name)) {
			t.Errorf("secret %s is not referenced", k)
		}
	}
	if !c.refs.service(key("ns", "tcp")) {
		t.Error("tcpproxy service is not referenced")
	}
}

// The fallback certificate is named by no proxy but read by the DAG: its
// Secret's changes always rebuild.
func TestFallbackCertificateSecretMatters(t *testing.T) {
	c := newObjectCache(nil)
	c.fallback = key("certs", "fallback")
	if !c.secretMatters(key("certs", "fallback")) {
		t.Error("the fallback certificate does not matter")
	}
	if c.secretMatters(key("certs", "other")) {
		t.Error("an unreferenced Secret matters")
	}
}
