package dag

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

func TestTLS(t *testing.T) {
	kuard := service("default", "kuard", 8080)
	insecureRoute := route("/insecure", svcRef("kuard", 8080))
	insecureRoute.PermitInsecure = true
	badSecret := tlsSecret(t, "default", "bad")
	badSecret.Data[corev1.TLSPrivateKeyKey] = []byte("not a key")
	opaque := tlsSecret(t, "default", "opaque")
	opaque.Type = corev1.SecretTypeOpaque

	tests := map[string]struct {
		objs    []any
		http    []string
		https   []string
		secret  string
		reasons []string
	}{
		"secret in the same namespace; HTTP redirects": {
			objs:    []any{withTLS(root("default", "a", "example.com", route("/", svcRef("kuard", 8080)), insecureRoute), "cert"), tlsSecret(t, "default", "cert")},
			https:   []string{"prefix:/insecure -> default/kuard:8080", "prefix:/ -> default/kuard:8080"},
			http:    []string{"prefix:/insecure -> default/kuard:8080", "prefix:/ -> redirect https 301"},
			secret:  "default/cert",
			reasons: []string{"valid"},
		},
		"delegated secret": {
			objs: []any{
				withTLS(root("default", "a", "example.com", route("/", svcRef("kuard", 8080))), "certs/wild"),
				tlsSecret(t, "certs", "wild"), delegation("certs", "d", "wild", "default"),
			},
			https:   []string{"prefix:/ -> default/kuard:8080"},
			http:    []string{"prefix:/ -> redirect https 301"},
			secret:  "certs/wild",
			reasons: []string{"valid"},
		},
		"delegated to every namespace": {
			objs: []any{
				withTLS(root("default", "a", "example.com", route("/", svcRef("kuard", 8080))), "certs/wild"),
				tlsSecret(t, "certs", "wild"), delegation("certs", "d", "wild", "*"),
			},
			https:   []string{"prefix:/ -> default/kuard:8080"},
			http:    []string{"prefix:/ -> redirect https 301"},
			secret:  "certs/wild",
			reasons: []string{"valid"},
		},
		"delegation to another namespace only": {
			objs: []any{
				withTLS(root("default", "a", "example.com", route("/", svcRef("kuard", 8080))), "certs/wild"),
				tlsSecret(t, "certs", "wild"), delegation("certs", "d", "wild", "other"), delegation("certs", "e", "other-secret", "default"),
			},
			reasons: []string{"TLSError/DelegationNotPermitted"},
		},
		"no delegation": {
			objs:    []any{withTLS(root("default", "a", "example.com", route("/", svcRef("kuard", 8080))), "certs/wild"), tlsSecret(t, "certs", "wild")},
			reasons: []string{"TLSError/DelegationNotPermitted"},
		},
		"missing secret": {
			objs:    []any{withTLS(root("default", "a", "example.com", route("/", svcRef("kuard", 8080))), "cert")},
			reasons: []string{"TLSError/SecretNotValid"},
		},
		"bad key": {
			objs:    []any{withTLS(root("default", "a", "example.com", route("/", svcRef("kuard", 8080))), "bad"), badSecret},
			reasons: []string{"TLSError/SecretNotValid"},
		},
		"not a tls secret": {
			objs:    []any{withTLS(root("default", "a", "example.com", route("/", svcRef("kuard", 8080))), "opaque"), opaque},
			reasons: []string{"TLSError/SecretNotValid"},
		},
		"minimum protocol version": {
			objs: []any{func() any {
				p := withTLS(root("default", "a", "example.com", route("/", svcRef("kuard", 8080))), "cert")
				p.Spec.VirtualHost.TLS.MinimumProtocolVersion = "1.1"
				return p
			}(), tlsSecret(t, "default", "cert")},
			reasons: []string{"TLSError/TLSConfigNotValid"},
		},
		"passthrough without tcpproxy": {
			objs: []any{func() any {
				p := root("default", "a", "example.com", route("/", svcRef("kuard", 8080)))
				p.Spec.VirtualHost.TLS = &contourv1.TLS{Passthrough: true}
				return p
			}()},
			reasons: []string{"TLSError/TLSConfigNotValid"},
		},
		"passthrough and secret": {
			objs: []any{func() any {
				p := root("default", "a", "example.com", route("/", svcRef("kuard", 8080)))
				p.Spec.VirtualHost.TLS = &contourv1.TLS{Passthrough: true, SecretName: "cert"}
				p.Spec.TCPProxy = &contourv1.TCPProxy{Services: []contourv1.Service{svcRef("kuard", 8080)}}
				return p
			}(), tlsSecret(t, "default", "cert")},
			reasons: []string{"TLSError/TLSConfigNotValid"},
		},
		"tls without secret or passthrough": {
			objs: []any{func() any {
				p := root("default", "a", "example.com", route("/", svcRef("kuard", 8080)))
				p.Spec.VirtualHost.TLS = &contourv1.TLS{}
				return p
			}()},
			reasons: []string{"TLSError/TLSConfigNotValid"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := Build(objects(append([]any{kuard}, tc.objs...)...), Config{})
			diff(t, tc.reasons, reasons(d, nn("default", "a")))
			diff(t, tc.http, httpRoutes(d, "example.com"))
			diff(t, tc.https, httpsRoutes(d, "example.com"))
			var secrets []string
			for _, s := range d.Secrets {
				secrets = append(secrets, s.Name)
			}
			if tc.secret != "" {
				diff(t, []string{tc.secret}, secrets)
				diff(t, tc.secret, secureVhost(d, "example.com").Secret.Name)
			} else if len(secrets) != 0 {
				t.Errorf("unexpected secrets %v", secrets)
			}
		})
	}
}

func TestTCPProxy(t *testing.T) {
	db := service("default", "db", 5432)
	tests := map[string]struct {
		objs        []any
		passthrough bool
		clusters    []string
		reasons     map[string][]string
	}{
		"passthrough": {
			objs: []any{func() any {
				p := child("default", "a")
				p.Spec.VirtualHost = &contourv1.VirtualHost{Fqdn: "db.example.com", TLS: &contourv1.TLS{Passthrough: true}}
				p.Spec.TCPProxy = &contourv1.TCPProxy{Services: []contourv1.Service{svcRef("db", 5432)}}
				return p
			}()},
			passthrough: true,
			clusters:    []string{"default/db:5432"},
			reasons:     map[string][]string{"a": {"valid"}},
		},
		"terminated with health check": {
			objs: []any{func() any {
				p := withTLS(root("default", "a", "db.example.com"), "cert")
				p.Spec.TCPProxy = &contourv1.TCPProxy{
					Services:          []contourv1.Service{svcRef("db", 5432)},
					HealthCheckPolicy: &contourv1.TCPHealthCheckPolicy{},
				}
				return p
			}(), tlsSecret(t, "default", "cert")},
			clusters: []string{"default/db:5432"},
			reasons:  map[string][]string{"a": {"valid"}},
		},
		"include": {
			objs: []any{func() any {
				p := child("default", "a")
				p.Spec.VirtualHost = &contourv1.VirtualHost{Fqdn: "db.example.com", TLS: &contourv1.TLS{Passthrough: true}}
				p.Spec.TCPProxy = &contourv1.TCPProxy{Include: &contourv1.TCPProxyInclude{Name: "b"}}
				return p
			}(), func() any {
				p := child("default", "b")
				p.Spec.TCPProxy = &contourv1.TCPProxy{Services: []contourv1.Service{svcRef("db", 5432)}}
				return p
			}()},
			passthrough: true,
			clusters:    []string{"default/db:5432"},
			reasons:     map[string][]string{"a": {"valid"}, "b": {"valid"}},
		},
		"include not found": {
			objs: []any{func() any {
				p := child("default", "a")
				p.Spec.VirtualHost = &contourv1.VirtualHost{Fqdn: "db.example.com", TLS: &contourv1.TLS{Passthrough: true}}
				p.Spec.TCPProxy = &contourv1.TCPProxy{IncludesDeprecated: &contourv1.TCPProxyInclude{Name: "b"}}
				return p
			}()},
			reasons: map[string][]string{"a": {"TCPProxyIncludeError/IncludeNotFound"}},
		},
		"tcpproxy without tls": {
			objs: []any{func() any {
				p := root("default", "a", "db.example.com")
				p.Spec.TCPProxy = &contourv1.TCPProxy{Services: []contourv1.Service{svcRef("db", 5432)}}
				return p
			}()},
			reasons: map[string][]string{"a": {"TCPProxyError/TLSMustBeConfigured"}},
		},
		"missing service": {
			objs: []any{func() any {
				p := child("default", "a")
				p.Spec.VirtualHost = &contourv1.VirtualHost{Fqdn: "db.example.com", TLS: &contourv1.TLS{Passthrough: true}}
				p.Spec.TCPProxy = &contourv1.TCPProxy{Services: []contourv1.Service{svcRef("nope", 5432)}}
				return p
			}()},
			reasons: map[string][]string{"a": {"ServiceError/ServiceUnresolvedReference"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := Build(objects(append([]any{db}, tc.objs...)...), Config{})
			for proxy, want := range tc.reasons {
				diff(t, want, reasons(d, nn("default", proxy)))
			}
			if httpRoutes(d, "db.example.com") != nil {
				t.Errorf("tcpproxy vhost served on plain HTTP")
			}
			svh := secureVhost(d, "db.example.com")
			if tc.clusters == nil {
				if svh != nil {
					t.Errorf("invalid tcpproxy served")
				}
				return
			}
			if svh == nil || svh.TCPProxy == nil {
				t.Fatalf("no tcpproxy vhost: %+v", svh)
			}
			diff(t, tc.passthrough, svh.Passthrough)
			diff(t, tc.passthrough, svh.Secret == nil)
			diff(t, 0, len(svh.Routes))
			var got []string
			for _, wc := range svh.TCPProxy.Clusters {
				got = append(got, wc.Cluster.Service.String()+":5432")
				if wc.Cluster != findCluster(d, "default", "db", 5432) {
					t.Errorf("tcpproxy cluster not in DAG.Clusters")
				}
			}
			diff(t, tc.clusters, got)
		})
	}
}

// Routes next to a tcpproxy are served on the HTTP listener, as Contour
// does: permitInsecure routes go to their services, the others redirect to
// HTTPS, which is the tcpproxy's (the HTTPS vhost has no routes). Their
// includes are followed, so children are not orphaned.
func TestRoutesNextToTCPProxy(t *testing.T) {
	db := service("default", "db", 5432)
	web := service("default", "web", 80)
	open := route("/open", svcRef("web", 80))
	open.PermitInsecure = true
	for name, tls := range map[string]*contourv1.TLS{
		"passthrough": {Passthrough: true},
		"terminated":  {SecretName: "cert"},
	} {
		t.Run(name, func(t *testing.T) {
			p := withIncludes(root("default", "a", "db.example.com", open, route("/", svcRef("web", 80))), include("b", "", "/child"))
			p.Spec.VirtualHost.TLS = tls
			p.Spec.TCPProxy = &contourv1.TCPProxy{Services: []contourv1.Service{svcRef("db", 5432)}}
			c := child("default", "b", route("/", svcRef("web", 80)))
			d := Build(objects(db, web, p, c, tlsSecret(t, "default", "cert")), Config{})
			diff(t, []string{"valid"}, reasons(d, nn("default", "a")))
			diff(t, []string{"valid"}, reasons(d, nn("default", "b")))
			diff(t, []string{
				"prefix:/child -> redirect https 301",
				"prefix:/open -> default/web:80",
				"prefix:/ -> redirect https 301",
			}, httpRoutes(d, "db.example.com"))
			svh := secureVhost(d, "db.example.com")
			if svh == nil || svh.TCPProxy == nil || len(svh.Routes) != 0 {
				t.Fatalf("HTTPS vhost is not the tcpproxy alone: %+v", svh)
			}
			diff(t, "default/db", svh.TCPProxy.Clusters[0].Cluster.Service.String())
		})
	}

	// A route's error is the root's, as for any root; the tcpproxy stays.
	p := root("default", "a", "db.example.com", route("/", svcRef("missing", 80)))
	p.Spec.VirtualHost.TLS = &contourv1.TLS{Passthrough: true}
	p.Spec.TCPProxy = &contourv1.TCPProxy{Services: []contourv1.Service{svcRef("db", 5432)}}
	d := Build(objects(db, p), Config{})
	diff(t, []string{"ServiceError/ServiceUnresolvedReference"}, reasons(d, nn("default", "a")))
	if svh := secureVhost(d, "db.example.com"); svh == nil || svh.TCPProxy == nil {
		t.Errorf("the tcpproxy is not served: %+v", svh)
	}
}
