package dag

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
)

// authRoot is a TLS root of default/p for p.example.com whose
// authorization names ExtensionService auth/ext.
func authRoot(t *testing.T, routes ...contourv1.Route) *contourv1.HTTPProxy {
	if len(routes) == 0 {
		routes = []contourv1.Route{route("/", svcRef("kuard", 8080))}
	}
	p := withTLS(root("default", "p", "p.example.com", routes...), "tls")
	p.Spec.VirtualHost.Authorization = &contourv1.AuthorizationServer{
		ExtensionServiceRef: contourv1.ExtensionServiceReference{Namespace: "auth", Name: "ext"},
	}
	return p
}

// authObjects are the objects authRoot needs besides itself.
func authObjects(t *testing.T) []any {
	return []any{
		service("default", "kuard", 8080), tlsSecret(t, "default", "tls"), service("auth", "authz", 9000),
		extensionService("auth", "ext", contourv1alpha1.ExtensionServiceSpec{
			Services:      extTargets("authz"),
			TimeoutPolicy: &contourv1.TimeoutPolicy{Response: "3s"},
		}),
	}
}

func TestAuthorization(t *testing.T) {
	tests := map[string]struct {
		edit    func(p *contourv1.HTTPProxy)
		objs    []any // replacing authObjects when set
		want    *ExternalAuthorization
		reasons []string
	}{
		"defaults: the ExtensionService's timeout, fail closed": {
			want: &ExternalAuthorization{ResponseTimeout: Timeout{Duration: 3 * time.Second}},
		},
		"responseTimeout, failOpen and body": {
			edit: func(p *contourv1.HTTPProxy) {
				a := p.Spec.VirtualHost.Authorization
				a.ResponseTimeout, a.FailOpen = "500ms", true
				a.WithRequestBody = &contourv1.AuthorizationServerBufferSettings{AllowPartialMessage: true, PackAsBytes: true}
			},
			want: &ExternalAuthorization{FailOpen: true, ResponseTimeout: Timeout{Duration: 500 * time.Millisecond},
				WithRequestBody: &AuthorizationBody{MaxRequestBytes: 1024, AllowPartialMessage: true, PackAsBytes: true}},
		},
		"infinite timeout and explicit body size": {
			edit: func(p *contourv1.HTTPProxy) {
				a := p.Spec.VirtualHost.Authorization
				a.ResponseTimeout = "infinity"
				a.WithRequestBody = &contourv1.AuthorizationServerBufferSettings{MaxRequestBytes: 64}
			},
			want: &ExternalAuthorization{ResponseTimeout: Timeout{Infinite: true}, WithRequestBody: &AuthorizationBody{MaxRequestBytes: 64}},
		},
		"explicit apiVersion and serviceType grpc": {
			edit: func(p *contourv1.HTTPProxy) {
				p.Spec.VirtualHost.Authorization.ExtensionServiceRef.APIVersion = "projectcontour.io/v1alpha1"
				p.Spec.VirtualHost.Authorization.ServiceType = contourv1.AuthorizationGRPCService
			},
			want: &ExternalAuthorization{ResponseTimeout: Timeout{Duration: 3 * time.Second}},
		},
		"ExtensionService in the proxy's namespace by default": {
			edit: func(p *contourv1.HTTPProxy) { p.Spec.VirtualHost.Authorization.ExtensionServiceRef.Namespace = "" },
			objs: []any{service("default", "kuard", 8080), tlsSecret(t, "default", "tls"), service("default", "authz", 9000),
				extensionService("default", "ext", contourv1alpha1.ExtensionServiceSpec{Services: extTargets("authz")})},
			want: &ExternalAuthorization{},
		},
		"no TLS": {
			edit:    func(p *contourv1.HTTPProxy) { p.Spec.VirtualHost.TLS = nil },
			reasons: []string{"AuthError/AuthNotPermitted"},
		},
		"fallback certificate": {
			edit:    func(p *contourv1.HTTPProxy) { p.Spec.VirtualHost.TLS.EnableFallbackCertificate = true },
			reasons: []string{"TLSError/TLSIncompatibleFeatures"},
		},
		"missing ExtensionService": {
			edit:    func(p *contourv1.HTTPProxy) { p.Spec.VirtualHost.Authorization.ExtensionServiceRef.Name = "missing" },
			reasons: []string{"AuthError/ExtensionServiceNotFound"},
		},
		"invalid ExtensionService": {
			objs: []any{service("default", "kuard", 8080), tlsSecret(t, "default", "tls"),
				extensionService("auth", "ext", contourv1alpha1.ExtensionServiceSpec{Services: extTargets("authz")})},
			reasons: []string{"AuthError/ExtensionServiceNotFound"},
		},
		"unsupported apiVersion": {
			edit: func(p *contourv1.HTTPProxy) {
				p.Spec.VirtualHost.Authorization.ExtensionServiceRef.APIVersion = "projectcontour.io/v1"
			},
			reasons: []string{"AuthError/AuthBadResourceVersion"},
		},
		"bad responseTimeout": {
			edit:    func(p *contourv1.HTTPProxy) { p.Spec.VirtualHost.Authorization.ResponseTimeout = "later" },
			reasons: []string{"AuthError/AuthResponseTimeoutInvalid"},
		},
		"HTTP authorization server is refused": {
			edit: func(p *contourv1.HTTPProxy) {
				p.Spec.VirtualHost.Authorization.ServiceType = contourv1.AuthorizationHTTPService
			},
			reasons: []string{"SpecError/FeatureNotSupported"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := authRoot(t)
			if tc.edit != nil {
				tc.edit(p)
			}
			objs := tc.objs
			if objs == nil {
				objs = authObjects(t)
			}
			other := withTLS(root("default", "other", "other.example.com", route("/", svcRef("kuard", 8080))), "tls")
			d := Build(objects(append(objs, p, other)...), Config{FallbackCertificate: nn("default", "tls")})
			if tc.reasons != nil {
				diff(t, tc.reasons, reasons(d, nn("default", "p")))
				if vh := secureVhost(d, "p.example.com"); vh != nil || httpRoutes(d, "p.example.com") != nil {
					t.Errorf("p.example.com is served")
				}
			} else {
				diff(t, []string{"valid"}, reasons(d, nn("default", "p")))
				svh := secureVhost(d, "p.example.com")
				if svh == nil || svh.Authorization == nil || svh.Authorization.Cluster == nil {
					t.Fatalf("no authorization: %+v", svh)
				}
				got := *svh.Authorization
				if got.Cluster != d.ExtensionClusters[0] {
					t.Errorf("cluster %+v is not the ExtensionService's", got.Cluster)
				}
				got.Cluster = nil
				diff(t, tc.want, &got)
			}
			// Other tenants keep their site.
			diff(t, []string{"valid"}, reasons(d, nn("default", "other")))
			diff(t, []string{"prefix:/ -> redirect https 301"}, httpRoutes(d, "other.example.com"))
		})
	}
}

func TestAuthorizationRoutes(t *testing.T) {
	disabled := &contourv1.AuthorizationPolicy{Disabled: true}
	p := authRoot(t,
		route("/", svcRef("kuard", 8080)),
		route("/public", svcRef("kuard", 8080)),
		route("/ctx", svcRef("kuard", 8080)),
		route("/insecure", svcRef("kuard", 8080)),
		route("/insecure-public", svcRef("kuard", 8080)),
	)
	p.Spec.VirtualHost.Authorization.AuthPolicy = &contourv1.AuthorizationPolicy{Context: map[string]string{"tier": "web", "site": "p"}}
	p.Spec.Routes[1].AuthPolicy = disabled
	p.Spec.Routes[2].AuthPolicy = &contourv1.AuthorizationPolicy{Context: map[string]string{"tier": "api"}}
	p.Spec.Routes[3].PermitInsecure = true
	p.Spec.Routes[4].PermitInsecure, p.Spec.Routes[4].AuthPolicy = true, disabled
	p = withIncludes(p, include("c", "default", "/child"))
	c := child("default", "c", route("/", svcRef("kuard", 8080)))

	d := Build(objects(append(authObjects(t), p, c)...), Config{})
	diff(t, []string{"valid"}, reasons(d, nn("default", "p")))
	got := map[string]string{}
	for _, r := range secureVhost(d, "p.example.com").Routes {
		got[r.PathMatch.Value] = fmt.Sprintf("disabled=%t ctx=%v", r.AuthDisabled, r.AuthContext)
	}
	diff(t, map[string]string{
		"/":                "disabled=false ctx=[{site p} {tier web}]",
		"/public":          "disabled=true ctx=[{site p} {tier web}]",
		"/ctx":             "disabled=false ctx=[{site p} {tier api}]",
		"/insecure":        "disabled=false ctx=[{site p} {tier web}]",
		"/insecure-public": "disabled=true ctx=[{site p} {tier web}]",
		"/child":           "disabled=false ctx=[{site p} {tier web}]",
	}, got)
	// Plain HTTP has no authorization: a route permitting insecure
	// requests is served there only when authorization is off for it.
	http := map[string]string{}
	for _, r := range httpRoutesOf(d, "p.example.com") {
		http[r.PathMatch.Value] = summarize(r)
	}
	diff(t, "prefix:/insecure -> redirect https 301", http["/insecure"])
	diff(t, "prefix:/insecure-public -> default/kuard:8080", http["/insecure-public"])

	// A virtual host that turns authorization off by default: a route
	// turns it on again with a policy of its own.
	p2 := authRoot(t, route("/", svcRef("kuard", 8080)), route("/checked", svcRef("kuard", 8080)))
	p2.Spec.VirtualHost.Authorization.AuthPolicy = disabled
	p2.Spec.Routes[1].AuthPolicy = &contourv1.AuthorizationPolicy{}
	d = Build(objects(append(authObjects(t), p2)...), Config{})
	got = map[string]string{}
	for _, r := range secureVhost(d, "p.example.com").Routes {
		got[r.PathMatch.Value] = fmt.Sprintf("disabled=%t", r.AuthDisabled)
	}
	diff(t, map[string]string{"/": "disabled=true", "/checked": "disabled=false"}, got)

	// Without authorization a route's policy changes nothing.
	p3 := withTLS(root("default", "p", "p.example.com", route("/", svcRef("kuard", 8080))), "tls")
	p3.Spec.Routes[0].AuthPolicy = &contourv1.AuthorizationPolicy{Context: map[string]string{"a": "b"}}
	d = Build(objects(append(authObjects(t), p3)...), Config{})
	if r := secureVhost(d, "p.example.com").Routes[0]; r.AuthDisabled || r.AuthContext != nil {
		t.Errorf("route without authorization: %+v", r)
	}
}

func httpRoutesOf(d *DAG, fqdn string) []*Route {
	for _, vh := range d.HTTP {
		if vh.Name == fqdn {
			return vh.Routes
		}
	}
	return nil
}

// TestAuthorizationFollowsItsExtensionService: the incremental Builder
// rebuilds a root when the ExtensionService it names appears, changes or
// goes, and gives what a build from scratch gives.
func TestAuthorizationFollowsItsExtensionService(t *testing.T) {
	objs := objects(append(authObjects(t), authRoot(t))...)
	ext := objs.ExtensionServices[nn("auth", "ext")]
	delete(objs.ExtensionServices, nn("auth", "ext"))
	bl := NewBuilder(Config{})
	steps := []struct {
		name  string
		edit  func()
		valid bool
	}{
		{"missing", func() {}, false},
		{"created", func() { objs.ExtensionServices[nn("auth", "ext")] = ext }, true},
		{"its Service gone", func() { delete(objs.Services, nn("auth", "authz")) }, false},
		{"its Service back", func() { objs.Services[nn("auth", "authz")] = service("auth", "authz", 9000) }, true},
		{"endpoints", func() {
			objs.EndpointSlices[nn("auth", "authz-1")] = endpointSlice("auth", "authz-1", "authz", "", 9000, "10.0.0.1")
		}, true},
		{"deleted", func() { delete(objs.ExtensionServices, nn("auth", "ext")) }, false},
	}
	for _, s := range steps {
		s.edit()
		d := bl.Build(objs)
		if err := CheckMemo(bl, objs, d); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if want := Build(objs, Config{}); !reflect.DeepEqual(d, want) {
			t.Fatalf("%s: incremental build differs from a build from scratch", s.name)
		}
		svh := secureVhost(d, "p.example.com")
		if served := svh != nil && svh.Authorization != nil; served != s.valid {
			t.Errorf("%s: served with authorization %t, want %t", s.name, served, s.valid)
		}
		if s.name == "endpoints" && len(svh.Authorization.Cluster.Targets[0].Endpoints) != 1 {
			t.Errorf("endpoints: the cluster has %+v", svh.Authorization.Cluster.Targets)
		}
	}
}

// TestGlobalAuthorization: as in Contour's globalExtAuth, every TLS
// virtual host without an authorization server of its own checks its
// requests with the global one; its own replaces it, authPolicy turns it
// off (the global's own policy, the virtual host's, a route's), and a
// global server that cannot be resolved makes the proxies it applies to
// invalid with Contour's reasons.
func TestGlobalAuthorization(t *testing.T) {
	global := &contourv1.AuthorizationServer{
		ExtensionServiceRef: contourv1.ExtensionServiceReference{Namespace: "auth", Name: "ext"},
		ResponseTimeout:     "1s",
		AuthPolicy:          &contourv1.AuthorizationPolicy{Context: map[string]string{"scope": "global"}},
	}
	plain := withTLS(root("default", "plain", "plain.example.com",
		route("/", svcRef("kuard", 8080)), route("/public", svcRef("kuard", 8080))), "tls")
	plain.Spec.Routes[1].AuthPolicy = &contourv1.AuthorizationPolicy{Disabled: true}
	off := withTLS(root("default", "off", "off.example.com", route("/", svcRef("kuard", 8080))), "tls")
	off.Spec.VirtualHost.Authorization = &contourv1.AuthorizationServer{AuthPolicy: &contourv1.AuthorizationPolicy{Disabled: true}}
	own := authRoot(t)
	own.Spec.VirtualHost.Authorization.ResponseTimeout = "5s"

	d := Build(objects(append(authObjects(t), plain, off, own)...), Config{GlobalExternalAuthorization: global})
	for _, k := range []string{"plain", "off", "p"} {
		diff(t, []string{"valid"}, reasons(d, nn("default", k)))
	}
	svh := secureVhost(d, "plain.example.com")
	if svh == nil || svh.Authorization == nil || svh.Authorization.Cluster != d.ExtensionClusters[0] ||
		svh.Authorization.ResponseTimeout != (Timeout{Duration: time.Second}) {
		t.Fatalf("plain.example.com has not the global authorization: %+v", svh)
	}
	got := map[string]string{}
	for _, r := range svh.Routes {
		got[r.PathMatch.Value] = fmt.Sprintf("disabled=%t ctx=%v", r.AuthDisabled, r.AuthContext)
	}
	diff(t, map[string]string{"/": "disabled=false ctx=[{scope global}]", "/public": "disabled=true ctx=[{scope global}]"}, got)
	if r := secureVhost(d, "off.example.com").Routes[0]; !r.AuthDisabled {
		t.Errorf("authPolicy.disabled on the virtual host does not turn the global authorization off: %+v", r)
	}
	if a := secureVhost(d, "p.example.com").Authorization; a == nil || a.ResponseTimeout != (Timeout{Duration: 5 * time.Second}) {
		t.Errorf("the proxy's own authorization does not replace the global one: %+v", a)
	}
	if r := secureVhost(d, "p.example.com").Routes[0]; r.AuthContext != nil {
		t.Errorf("the proxy's own authorization takes the global context: %+v", r)
	}

	// The global policy's disabled is every virtual host's default.
	offGlobal := global.DeepCopy()
	offGlobal.AuthPolicy.Disabled = true
	d = Build(objects(append(authObjects(t), plain)...), Config{GlobalExternalAuthorization: offGlobal})
	if r := secureVhost(d, "plain.example.com").Routes[0]; !r.AuthDisabled {
		t.Errorf("globalExtAuth.authPolicy.disabled does not turn it off: %+v", r)
	}

	// A missing ExtensionService, a bad timeout: the proxies it applies to
	// are invalid, a proxy with its own server is not.
	for name, tc := range map[string]struct {
		edit   func(g *contourv1.AuthorizationServer)
		reason string
	}{
		"missing ExtensionService": {func(g *contourv1.AuthorizationServer) { g.ExtensionServiceRef.Name = "missing" }, "AuthError/ExtensionServiceNotFound"},
		"bad responseTimeout":      {func(g *contourv1.AuthorizationServer) { g.ResponseTimeout = "later" }, "AuthError/AuthResponseTimeoutInvalid"},
	} {
		t.Run(name, func(t *testing.T) {
			g := global.DeepCopy()
			tc.edit(g)
			d := Build(objects(append(authObjects(t), plain, authRoot(t))...), Config{GlobalExternalAuthorization: g})
			diff(t, []string{tc.reason}, reasons(d, nn("default", "plain")))
			if secureVhost(d, "plain.example.com") != nil {
				t.Error("plain.example.com is served unchecked")
			}
			diff(t, []string{"valid"}, reasons(d, nn("default", "p")))
		})
	}
}
