package dag

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// externalService is a Service of type ExternalName for name, with ports.
func externalService(ns, svcName, name string, ports ...int32) *corev1.Service {
	s := service(ns, svcName, ports...)
	s.Spec.Type = corev1.ServiceTypeExternalName
	s.Spec.ExternalName = name
	return s
}

func TestExternalName(t *testing.T) {
	enabled := Config{EnableExternalNameService: true}
	tests := map[string]struct {
		cfg     Config
		svc     *corev1.Service
		ref     contourv1.Service
		route   func(*contourv1.Route)
		want    []string
		reasons []string
		message string
		// The cluster's external name and SNI, when it is served.
		name, sni string
	}{
		"disabled by default, as in Contour": {
			svc: externalService("default", "ext", "api.example.net", 80), ref: svcRef("ext", 80),
			want:    []string{"prefix:/ -> 503"},
			reasons: []string{"ServiceError/ServiceUnresolvedReference"},
			message: "default/ext is an ExternalName service, these are not currently enabled",
		},
		"enabled": {
			cfg: enabled, svc: externalService("default", "ext", "api.example.net", 80), ref: svcRef("ext", 80),
			want: []string{"prefix:/ -> default/ext:80"}, reasons: []string{"valid"}, name: "api.example.net",
		},
		"the port must be one of the Service's, as in Contour": {
			cfg: enabled, svc: externalService("default", "ext", "api.example.net", 80), ref: svcRef("ext", 443),
			want: []string{"prefix:/ -> 503"}, reasons: []string{"ServiceError/ServiceUnresolvedReference"},
			message: "port 443 is not defined",
		},
		"localhost is refused": {
			cfg: enabled, svc: externalService("default", "ext", "localhost", 9001), ref: svcRef("ext", 9001),
			want: []string{"prefix:/ -> 503"}, reasons: []string{"ServiceError/ServiceUnresolvedReference"},
			message: "default/ext is an ExternalName service that points to localhost, this is not allowed",
		},
		"localhost with the root's dot is refused": {
			cfg: enabled, svc: externalService("default", "ext", "localhost.localdomain.", 9001), ref: svcRef("ext", 9001),
			want: []string{"prefix:/ -> 503"}, reasons: []string{"ServiceError/ServiceUnresolvedReference"},
			message: "points to localhost",
		},
		"Contour's own localhost name is refused": {
			cfg: enabled, svc: externalService("default", "ext", "local.projectcontour.io", 9001), ref: svcRef("ext", 9001),
			want: []string{"prefix:/ -> 503"}, reasons: []string{"ServiceError/ServiceUnresolvedReference"},
		},
		"a name under localhost is refused": {
			cfg: enabled, svc: externalService("default", "ext", "admin.localhost", 9001), ref: svcRef("ext", 9001),
			want: []string{"prefix:/ -> 503"}, reasons: []string{"ServiceError/ServiceUnresolvedReference"},
		},
		"a loopback address is refused": {
			cfg: enabled, svc: externalService("default", "ext", "127.0.0.2", 9001), ref: svcRef("ext", 9001),
			want: []string{"prefix:/ -> 503"}, reasons: []string{"ServiceError/ServiceUnresolvedReference"},
			message: "points to a loopback, link-local or unspecified IP address",
		},
		"the unspecified address is refused": {
			cfg: enabled, svc: externalService("default", "ext", "0.0.0.0", 9001), ref: svcRef("ext", 9001),
			want: []string{"prefix:/ -> 503"}, reasons: []string{"ServiceError/ServiceUnresolvedReference"},
		},
		"a link-local address is refused": {
			cfg: enabled, svc: externalService("default", "ext", "169.254.169.254", 80), ref: svcRef("ext", 80),
			want: []string{"prefix:/ -> 503"}, reasons: []string{"ServiceError/ServiceUnresolvedReference"},
		},
		"another address is served": {
			cfg: enabled, svc: externalService("default", "ext", "10.1.2.3", 80), ref: svcRef("ext", 80),
			want: []string{"prefix:/ -> default/ext:80"}, reasons: []string{"valid"}, name: "10.1.2.3",
		},
		"tls sends the external name as SNI": {
			cfg: enabled, svc: externalService("default", "ext", "api.example.net", 443),
			ref:  contourv1.Service{Name: "ext", Port: 443, Protocol: ptrTo("tls")},
			want: []string{"prefix:/ -> default/ext:443"}, reasons: []string{"valid"}, name: "api.example.net", sni: "api.example.net",
		},
		"tls sends the route's Host rewrite as SNI": {
			cfg: enabled, svc: externalService("default", "ext", "api.example.net", 443),
			ref: contourv1.Service{Name: "ext", Port: 443, Protocol: ptrTo("tls")},
			route: func(r *contourv1.Route) {
				r.RequestHeadersPolicy = &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{{Name: "Host", Value: "route.example.net"}}}
			},
			want: []string{"prefix:/ -> default/ext:443"}, reasons: []string{"valid"}, name: "api.example.net", sni: "route.example.net",
		},
		"the service's Host rewrite wins over the route's": {
			cfg: enabled, svc: externalService("default", "ext", "api.example.net", 443),
			ref: contourv1.Service{Name: "ext", Port: 443, Protocol: ptrTo("tls"),
				RequestHeadersPolicy: &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{{Name: "Host", Value: "svc.example.net"}}}},
			route: func(r *contourv1.Route) {
				r.RequestHeadersPolicy = &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{{Name: "Host", Value: "route.example.net"}}}
			},
			want: []string{"prefix:/ -> default/ext:443"}, reasons: []string{"valid"}, name: "api.example.net", sni: "svc.example.net",
		},
		"an address is no SNI": {
			cfg: enabled, svc: externalService("default", "ext", "10.1.2.3", 443),
			ref:  contourv1.Service{Name: "ext", Port: 443, Protocol: ptrTo("tls")},
			want: []string{"prefix:/ -> default/ext:443"}, reasons: []string{"valid"}, name: "10.1.2.3",
		},
		"plain HTTP has no SNI": {
			cfg: enabled, svc: externalService("default", "ext", "api.example.net", 80), ref: svcRef("ext", 80),
			route: func(r *contourv1.Route) {
				r.RequestHeadersPolicy = &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{{Name: "Host", Value: "route.example.net"}}}
			},
			want: []string{"prefix:/ -> default/ext:80"}, reasons: []string{"valid"}, name: "api.example.net",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := route("/", tc.ref)
			if tc.route != nil {
				tc.route(&r)
			}
			d := Build(objects(root("default", "a", "example.com", r), tc.svc), tc.cfg)
			diff(t, tc.want, httpRoutes(d, "example.com"))
			diff(t, tc.reasons, reasons(d, nn("default", "a")))
			if tc.message != "" {
				if errs := d.Statuses[nn("default", "a")].Errors; len(errs) != 1 || !strings.Contains(errs[0].Message, tc.message) {
					t.Errorf("errors %+v, want one containing %q", errs, tc.message)
				}
			}
			c := findCluster(d, "default", "ext", int32(tc.ref.Port))
			if tc.name == "" {
				if c != nil {
					t.Errorf("cluster %s is served", c.Name)
				}
				return
			}
			if c == nil {
				t.Fatal("no cluster")
			}
			if c.ExternalName != tc.name || c.SNI != tc.sni || len(c.Endpoints) != 0 || !c.ResolvedByDNS() {
				t.Errorf("cluster external name %q, SNI %q, endpoints %v; want %q, %q, none", c.ExternalName, c.SNI, c.Endpoints, tc.name, tc.sni)
			}
		})
	}
}

// Contour's cluster.dns-lookup-family goes to ExternalName clusters only;
// "auto" is the default.
func TestExternalNameDNSLookupFamily(t *testing.T) {
	objs := objects(root("default", "a", "example.com", route("/", svcRef("ext", 80)), route("/svc", svcRef("kuard", 8080))),
		externalService("default", "ext", "api.example.net", 80), service("default", "kuard", 8080))
	for family, want := range map[string]string{"": "", "auto": "", "v4": "v4", "v6": "v6", "all": "all"} {
		d := Build(objs, Config{EnableExternalNameService: true, DNSLookupFamily: family})
		if c := findCluster(d, "default", "ext", 80); c == nil || c.DNSLookupFamily != want {
			t.Errorf("family %q: cluster %+v, want DNSLookupFamily %q", family, c, want)
		}
		if c := findCluster(d, "default", "kuard", 8080); c == nil || c.DNSLookupFamily != "" {
			t.Errorf("family %q: the Service's cluster %+v has a DNS lookup family", family, c)
		}
	}
}

// An ExternalName Service behind a tcpproxy is served as Contour serves
// it: its name is the SNI of a TLS upstream.
func TestExternalNameTCPProxy(t *testing.T) {
	p := withTLS(root("default", "a", "db.example.com"), "tls")
	p.Spec.TCPProxy = &contourv1.TCPProxy{Services: []contourv1.Service{{Name: "db", Port: 5432, Protocol: ptrTo("tls")}}}
	d := Build(objects(p, tlsSecret(t, "default", "tls"), externalService("default", "db", "db.example.net", 5432)), Config{EnableExternalNameService: true})
	diff(t, []string{"valid"}, reasons(d, nn("default", "a")))
	c := findCluster(d, "default", "db", 5432)
	if c == nil || c.ExternalName != "db.example.net" || c.SNI != "db.example.net" {
		t.Fatalf("cluster %+v, want external name and SNI db.example.net", c)
	}
	d = Build(objects(p, tlsSecret(t, "default", "tls"), externalService("default", "db", "db.example.net", 5432)), Config{})
	diff(t, []string{"ServiceError/ServiceUnresolvedReference"}, reasons(d, nn("default", "a")))
}

// A new external name is a new cluster: clusters are shared by name.
func TestExternalNameChangeMakesNewCluster(t *testing.T) {
	cfg := Config{EnableExternalNameService: true}
	bl := NewBuilder(cfg)
	p := root("default", "a", "example.com", route("/", svcRef("ext", 80)))
	d1 := bl.Build(objects(p, externalService("default", "ext", "one.example.net", 80)))
	d2 := bl.Build(objects(p, externalService("default", "ext", "two.example.net", 80)))
	c1, c2 := findCluster(d1, "default", "ext", 80), findCluster(d2, "default", "ext", 80)
	if c1 == nil || c2 == nil || c1.Name == c2.Name || c2.ExternalName != "two.example.net" {
		t.Fatalf("clusters %+v then %+v: want two names, the second for two.example.net", c1, c2)
	}
}

func TestDisablePermitInsecure(t *testing.T) {
	r := route("/", svcRef("kuard", 8080))
	r.PermitInsecure = true
	objs := objects(withTLS(root("default", "a", "example.com", r), "tls"), tlsSecret(t, "default", "tls"), service("default", "kuard", 8080))
	diff(t, []string{"prefix:/ -> default/kuard:8080"}, httpRoutes(Build(objs, Config{}), "example.com"))
	diff(t, []string{"prefix:/ -> redirect https 301"}, httpRoutes(Build(objs, Config{DisablePermitInsecure: true}), "example.com"))
	diff(t, []string{"prefix:/ -> default/kuard:8080"}, httpsRoutes(Build(objs, Config{DisablePermitInsecure: true}), "example.com"))
}

func TestGlobalHeaders(t *testing.T) {
	cfg := Config{
		RequestHeaders: GlobalHeaders{
			Set:    map[string]string{"x-global": "g", "x-both": "global", "x-ns": "%CONTOUR_NAMESPACE%/%CONTOUR_SERVICE_NAME%", "Host": "global.example.net"},
			Remove: []string{"x-drop", "X-Svc-Drop"},
		},
		ResponseHeaders: GlobalHeaders{Set: map[string]string{"x-served-by": "proxyctl"}, Remove: []string{"server"}},
	}
	for _, c := range []struct {
		what string
		g    GlobalHeaders
		resp bool
	}{{"request", cfg.RequestHeaders, false}, {"response", cfg.ResponseHeaders, true}} {
		if err := c.g.Validate(c.resp); err != nil {
			t.Fatalf("%s policy: %v", c.what, err)
		}
	}
	plain := route("/", contourv1.Service{Name: "kuard", Port: 8080})
	own := route("/own", contourv1.Service{Name: "kuard", Port: 8080,
		RequestHeadersPolicy:  &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{{Name: "X-Both", Value: "service"}, {Name: "Host", Value: "svc.example.net"}}, Remove: []string{"x-svc-drop"}},
		ResponseHeadersPolicy: &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{{Name: "X-Served-By", Value: "kuard"}}},
	})
	routeHost := route("/routehost", contourv1.Service{Name: "kuard", Port: 8080})
	routeHost.RequestHeadersPolicy = &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{{Name: "Host", Value: "route.example.net"}}}
	d := Build(objects(root("default", "a", "example.com", plain, own, routeHost), service("default", "kuard", 8080)), cfg)
	diff(t, []string{"valid"}, reasons(d, nn("default", "a")))
	byPath := map[string]*Route{}
	for _, r := range d.HTTP[0].Routes {
		byPath[r.PathMatch.Value] = r
	}
	diff(t, &HeadersPolicy{
		Set:         []Header{{"X-Both", "global"}, {"X-Global", "g"}, {"X-Ns", "default/kuard"}},
		Remove:      []string{"X-Drop", "X-Svc-Drop"},
		HostRewrite: "global.example.net",
	}, byPath["/"].Clusters[0].RequestHeaders)
	diff(t, &HeadersPolicy{Set: []Header{{"X-Served-By", "proxyctl"}}, Remove: []string{"Server"}}, byPath["/"].Clusters[0].ResponseHeaders)
	// The service's own headers win, and so does its Host rewrite.
	diff(t, &HeadersPolicy{
		Set:         []Header{{"X-Both", "service"}, {"X-Global", "g"}, {"X-Ns", "default/kuard"}},
		Remove:      []string{"X-Drop", "X-Svc-Drop"},
		HostRewrite: "svc.example.net",
	}, byPath["/own"].Clusters[0].RequestHeaders)
	diff(t, &HeadersPolicy{Set: []Header{{"X-Served-By", "kuard"}}, Remove: []string{"Server"}}, byPath["/own"].Clusters[0].ResponseHeaders)
	// A route that rewrites the Host keeps its own.
	if got := byPath["/routehost"].Clusters[0].RequestHeaders.HostRewrite; got != "" {
		t.Errorf("the cluster-wide Host %q is set under a route that rewrites the Host", got)
	}
	// Redirects and direct responses have no upstream: nothing to add.
	if d := Build(objects(withTLS(root("default", "a", "example.com", plain), "tls"), tlsSecret(t, "default", "tls"), service("default", "kuard", 8080)), cfg); d.HTTP[0].Routes[0].Redirect == nil {
		t.Errorf("HTTP route of a TLS host is not a redirect")
	}
}

func TestGlobalHeadersValidate(t *testing.T) {
	bad := map[string]struct {
		g    GlobalHeaders
		resp bool
		want string
	}{
		"bad set name":          {GlobalHeaders{Set: map[string]string{"x bad": "v"}}, false, `invalid header name "x bad"`},
		"bad remove name":       {GlobalHeaders{Remove: []string{"x:y"}}, false, `invalid header name "x:y"`},
		"host on responses":     {GlobalHeaders{Set: map[string]string{"host": "a"}}, true, "cannot be set on responses"},
		"host from a header":    {GlobalHeaders{Set: map[string]string{"Host": "%REQ(x-host)%"}}, false, "cannot be taken from a request header"},
		"empty name is refused": {GlobalHeaders{Remove: []string{""}}, false, "invalid header name"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			if err := tc.g.Validate(tc.resp); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// Two spellings of one header name: the first in byte order wins, on
// every build.
func TestGlobalHeadersSpellings(t *testing.T) {
	cfg := Config{RequestHeaders: GlobalHeaders{Set: map[string]string{"x-a": "lower", "X-A": "upper", "x-A": "mixed"}}}
	objs := objects(root("default", "a", "example.com", route("/", svcRef("kuard", 8080))), service("default", "kuard", 8080))
	for i := 0; i < 20; i++ {
		d := Build(objs, cfg)
		diff(t, &HeadersPolicy{Set: []Header{{"X-A", "upper"}}}, d.HTTP[0].Routes[0].Clusters[0].RequestHeaders)
	}
}

// As in Contour, a TLS upstream that is not ExternalName gets the Host
// rewrite as SNI, and none without one; validation sends its subject name.
func TestUpstreamSNIFromHostRewrite(t *testing.T) {
	tlsRef := contourv1.Service{Name: "kuard", Port: 8080, Protocol: ptrTo("tls")}
	rewritten := route("/rewritten", tlsRef)
	rewritten.RequestHeadersPolicy = &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{{Name: "Host", Value: "backend.example.net"}}}
	plain := route("/", tlsRef)
	d := Build(objects(root("default", "a", "example.com", rewritten, plain), service("default", "kuard", 8080)), Config{})
	diff(t, []string{"valid"}, reasons(d, nn("default", "a")))
	got := map[string]string{}
	for _, r := range d.HTTP[0].Routes {
		got[r.PathMatch.Value] = r.Clusters[0].Cluster.SNI
	}
	diff(t, map[string]string{"/rewritten": "backend.example.net", "/": ""}, got)
}
