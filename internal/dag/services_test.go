package dag

import (
	"strings"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

func TestServices(t *testing.T) {
	kuard := service("default", "kuard", 8080)
	tests := map[string]struct {
		routes  []contourv1.Route
		objs    []any
		want    []string
		reasons []string
	}{
		"missing service answers 503, sibling routes still route": {
			routes:  []contourv1.Route{route("/", svcRef("kuard", 8080)), route("/missing", svcRef("missing", 80))},
			want:    []string{"prefix:/missing -> 503", "prefix:/ -> default/kuard:8080"},
			reasons: []string{"ServiceError/ServiceUnresolvedReference"},
		},
		// Contour: a port the Service lacks is an unresolved reference;
		// ServicePortInvalid is for numbers outside 1-65535.
		"port not on service": {
			routes:  []contourv1.Route{route("/", svcRef("kuard", 9999))},
			want:    []string{"prefix:/ -> 503"},
			reasons: []string{"ServiceError/ServiceUnresolvedReference"},
		},
		"port out of range on a missing service": {
			routes:  []contourv1.Route{route("/", svcRef("missing", 0))},
			want:    []string{"prefix:/ -> 503"},
			reasons: []string{"ServiceError/ServicePortInvalid"},
		},
		"port out of range": {
			routes:  []contourv1.Route{route("/", svcRef("kuard", 70000))},
			want:    []string{"prefix:/ -> 503"},
			reasons: []string{"ServiceError/ServicePortInvalid"},
		},
		"one of two weighted services missing: whole route 503": {
			routes:  []contourv1.Route{route("/", weighted("kuard", 8080, 90), weighted("missing", 80, 10))},
			want:    []string{"prefix:/ -> 503"},
			reasons: []string{"ServiceError/ServiceUnresolvedReference"},
		},
		"weighted services in name order": {
			routes: []contourv1.Route{route("/", weighted("kuard", 8080, 90), weighted("canary", 80, 10))},
			objs:   []any{service("default", "canary", 80)},
			want:   []string{"prefix:/ -> default/canary:80*10,default/kuard:8080*90"},
		},
		"mirror": {
			routes: []contourv1.Route{route("/", svcRef("kuard", 8080), contourv1.Service{Name: "canary", Port: 80, Mirror: true})},
			objs:   []any{service("default", "canary", 80)},
			want:   []string{"prefix:/ -> default/kuard:8080 mirror default/canary:80"},
		},
		"two mirrors": {
			routes: []contourv1.Route{route("/", svcRef("kuard", 8080),
				contourv1.Service{Name: "canary", Port: 80, Mirror: true},
				contourv1.Service{Name: "kuard", Port: 8080, Mirror: true})},
			objs:    []any{service("default", "canary", 80)},
			want:    nil,
			reasons: []string{"ServiceError/OnlyOneMirror"},
		},
		"only a mirror": {
			routes:  []contourv1.Route{route("/", contourv1.Service{Name: "kuard", Port: 8080, Mirror: true})},
			want:    nil,
			reasons: []string{"RouteError/RouteActionCountNotValid"},
		},
		"service in another namespace is not visible": {
			routes:  []contourv1.Route{route("/", svcRef("kuard", 8080))},
			objs:    []any{root("other", "x", "other.com", route("/", svcRef("kuard", 8080)))},
			want:    []string{"prefix:/ -> default/kuard:8080"},
			reasons: []string{"valid"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs := objects(append([]any{root("default", "a", "example.com", tc.routes...), kuard}, tc.objs...)...)
			d := Build(objs, Config{})
			diff(t, tc.want, httpRoutes(d, "example.com"))
			if tc.reasons == nil {
				tc.reasons = []string{"valid"}
			}
			diff(t, tc.reasons, reasons(d, nn("default", "a")))
		})
	}
}

func TestServiceErrorMessage(t *testing.T) {
	d := Build(objects(root("default", "a", "example.com", route("/", svcRef("kuard", 8080)), route("/x", svcRef("kuard", 81))),
		service("default", "kuard", 80)), Config{})
	diff(t, []Condition{
		{Type: "ServiceError", Reason: "ServiceUnresolvedReference", Message: `routes[0]: port 8080 is not defined on service "default/kuard"`},
		{Type: "ServiceError", Reason: "ServiceUnresolvedReference", Message: `routes[1]: port 81 is not defined on service "default/kuard"`},
	}, d.Statuses[nn("default", "a")].Errors)

	d = Build(objects(root("default", "a", "example.com", route("/", svcRef("nope", 80)))), Config{})
	diff(t, []Condition{
		{Type: "ServiceError", Reason: "ServiceUnresolvedReference", Message: `routes[0]: service "default/nope" not found`},
	}, d.Statuses[nn("default", "a")].Errors)
	diff(t, false, d.Statuses[nn("default", "a")].Valid())
}

func TestClusters(t *testing.T) {
	multi := service("default", "multi", 80, 443)
	d := Build(objects(
		root("default", "a", "example.com",
			route("/", svcRef("multi", 80)),
			route("/same", svcRef("multi", 80)),
			contourv1.Route{
				Conditions:         []contourv1.MatchCondition{{Prefix: "/lb"}},
				Services:           []contourv1.Service{svcRef("multi", 80)},
				LoadBalancerPolicy: &contourv1.LoadBalancerPolicy{Strategy: "Random"},
			},
			route("/tls", svcRef("multi", 443)),
		),
		multi,
		endpointSlice("default", "multi-1", "multi", "p80", 8080, "10.0.0.2", "10.0.0.1", "!10.0.0.9"),
		endpointSlice("default", "multi-2", "multi", "p80", 8080, "10.0.0.1", "10.0.0.3"),
		endpointSlice("default", "multi-3", "multi", "p443", 8443, "10.0.0.1"),
		endpointSlice("default", "other", "unrelated", "p80", 8080, "10.9.9.9"),
	), Config{})
	if len(d.Clusters) != 3 {
		t.Fatalf("got %d clusters, want 3 (two settings on port 80, one on 443)", len(d.Clusters))
	}
	var names []string
	for _, c := range d.Clusters {
		names = append(names, c.Name)
		if !strings.HasPrefix(c.Name, "default/multi/") {
			t.Errorf("cluster name %q", c.Name)
		}
	}
	routes := d.HTTP[0].Routes
	// "/" and "/same" share one cluster pointer.
	byPrefix := map[string]*Cluster{}
	for _, r := range routes {
		byPrefix[r.PathMatch.Value] = r.Clusters[0].Cluster
	}
	if byPrefix["/"] != byPrefix["/same"] {
		t.Errorf("equal settings did not share a cluster")
	}
	if byPrefix["/"] == byPrefix["/lb"] || byPrefix["/lb"].LoadBalancer != LBRandom {
		t.Errorf("load balancer strategy did not make a distinct cluster: %+v", byPrefix["/lb"])
	}
	diff(t, []Endpoint{{Address: "10.0.0.1", Port: 8080}, {Address: "10.0.0.2", Port: 8080}, {Address: "10.0.0.3", Port: 8080}}, byPrefix["/"].Endpoints)
	diff(t, []Endpoint{{Address: "10.0.0.1", Port: 8443}}, byPrefix["/tls"].Endpoints)
	diff(t, "p443", byPrefix["/tls"].PortName)

	// Names are stable across builds.
	again := Build(objects(root("default", "a", "example.com", route("/", svcRef("multi", 80))), multi), Config{})
	diff(t, byPrefix["/"].Name, again.Clusters[0].Name)
	if len(again.Clusters[0].Endpoints) != 0 {
		t.Errorf("service without slices has endpoints %v", again.Clusters[0].Endpoints)
	}
}

func TestUpstreamProtocol(t *testing.T) {
	annotated := service("default", "grpc", 80, 443, 9000)
	annotated.Annotations = map[string]string{
		"projectcontour.io/upstream-protocol.h2c": "80",
		"projectcontour.io/upstream-protocol.tls": " p443 ,other",
	}
	tests := map[string]struct {
		svc  contourv1.Service
		want string
	}{
		"by number":      {svcRef("grpc", 80), ProtocolH2C},
		"by name":        {svcRef("grpc", 443), ProtocolTLS},
		"not annotated":  {svcRef("grpc", 9000), ProtocolHTTP1},
		"route override": {contourv1.Service{Name: "grpc", Port: 80, Protocol: ptr("h2")}, ProtocolH2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := Build(objects(root("default", "a", "example.com", route("/", tc.svc)), annotated), Config{})
			if len(d.Clusters) != 1 {
				t.Fatalf("got %d clusters", len(d.Clusters))
			}
			diff(t, tc.want, d.Clusters[0].Protocol)
		})
	}
	d := Build(objects(root("default", "a", "example.com", route("/", contourv1.Service{Name: "grpc", Port: 80, Protocol: ptr("h3")})), annotated), Config{})
	diff(t, []string{"ServiceError/UnsupportedProtocol"}, reasons(d, nn("default", "a")))
}

func TestEndpointReadiness(t *testing.T) {
	ready, notReady := true, false
	s := endpointSlice("default", "s", "kuard", "", 8080)
	s.Endpoints = append(s.Endpoints,
		discoveryEndpoint("10.0.0.1", nil),
		discoveryEndpoint("10.0.0.2", &ready),
		discoveryEndpoint("10.0.0.3", &notReady),
	)
	d := Build(objects(root("default", "a", "example.com", route("/", svcRef("kuard", 8080))), service("default", "kuard", 8080), s), Config{})
	diff(t, []Endpoint{{Address: "10.0.0.1", Port: 8080}, {Address: "10.0.0.2", Port: 8080}}, d.Clusters[0].Endpoints)
}

// healthPort sends health checks to another port of the Service: each
// endpoint carries the number its EndpointSlice gives that port, as
// Contour does. It is ignored without a health check, and must be a port
// of the Service.
func TestHealthPort(t *testing.T) {
	svc := service("default", "web", 80, 81) // ports p80 and p81
	slice := endpointSlice("default", "web-1", "web", "p80", 8080, "10.0.0.1", "10.0.0.2")
	p81, n81 := "p81", int32(8081)
	slice.Ports = append(slice.Ports, discoveryv1.EndpointPort{Name: &p81, Port: &n81})
	hc := &contourv1.HTTPHealthCheckPolicy{Path: "/healthz"}
	withHC := func(prefix string, s contourv1.Service, hc *contourv1.HTTPHealthCheckPolicy) contourv1.Route {
		r := route(prefix, s)
		r.HealthCheckPolicy = hc
		return r
	}
	d := Build(objects(root("default", "a", "example.com",
		withHC("/", contourv1.Service{Name: "web", Port: 80, HealthPort: 81}, hc),
		withHC("/same", contourv1.Service{Name: "web", Port: 80, HealthPort: 80}, hc),
		withHC("/nohc", contourv1.Service{Name: "web", Port: 80, HealthPort: 81}, nil),
	), svc, slice), Config{})
	diff(t, []string{"valid"}, reasons(d, nn("default", "a")))
	byPrefix := map[string]*Cluster{}
	for _, r := range d.HTTP[0].Routes {
		byPrefix[r.PathMatch.Value] = r.Clusters[0].Cluster
	}
	c := byPrefix["/"]
	diff(t, []any{int32(81), "p81"}, []any{c.HealthPort, c.HealthPortName})
	diff(t, []Endpoint{{Address: "10.0.0.1", Port: 8080, HealthPort: 8081}, {Address: "10.0.0.2", Port: 8080, HealthPort: 8081}}, c.Endpoints)
	if same := byPrefix["/same"]; same == c || same.HealthPort != 0 || same.Endpoints[0].HealthPort != 0 {
		t.Errorf("healthPort equal to port: %+v", same)
	}
	if nohc := byPrefix["/nohc"]; nohc.HealthPort != 0 || nohc.HealthCheck != nil || nohc.Endpoints[0].HealthPort != 0 {
		t.Errorf("healthPort without a health check was used: %+v", nohc)
	}

	d = Build(objects(root("default", "a", "example.com",
		withHC("/", contourv1.Service{Name: "web", Port: 80, HealthPort: 9999}, hc)), svc, slice), Config{})
	diff(t, []string{"prefix:/ -> 503"}, httpRoutes(d, "example.com"))
	diff(t, []Condition{{Type: "ServiceError", Reason: "ServiceUnresolvedReference",
		Message: `routes[0]: healthPort 9999 is not defined on service "default/web"`}}, d.Statuses[nn("default", "a")].Errors)
}

// timeoutPolicy.idleConnection is a cluster setting: routes asking for
// different values get distinct clusters, equal values share one.
func TestIdleConnectionTimeout(t *testing.T) {
	withIdle := func(prefix, idle string) contourv1.Route {
		r := route(prefix, svcRef("kuard", 8080))
		r.TimeoutPolicy = &contourv1.TimeoutPolicy{IdleConnection: idle}
		return r
	}
	d := Build(objects(root("default", "a", "example.com",
		route("/", svcRef("kuard", 8080)),
		withIdle("/ten", "10s"), withIdle("/ten-again", "10s"), withIdle("/never", "infinity"),
	), service("default", "kuard", 8080)), Config{})
	diff(t, []string{"valid"}, reasons(d, nn("default", "a")))
	byPrefix := map[string]*Cluster{}
	for _, r := range d.HTTP[0].Routes {
		byPrefix[r.PathMatch.Value] = r.Clusters[0].Cluster
	}
	diff(t, Timeout{}, byPrefix["/"].IdleTimeout)
	diff(t, Timeout{Duration: 10 * time.Second}, byPrefix["/ten"].IdleTimeout)
	diff(t, Timeout{Infinite: true}, byPrefix["/never"].IdleTimeout)
	if byPrefix["/ten"] != byPrefix["/ten-again"] {
		t.Errorf("equal idle timeouts did not share a cluster")
	}
	names := map[string]bool{}
	for _, p := range []string{"/", "/ten", "/never"} {
		names[byPrefix[p].Name] = true
	}
	if len(names) != 3 {
		t.Errorf("different idle timeouts share cluster names: %v", names)
	}

	d = Build(objects(root("default", "a", "example.com", withIdle("/", "soon")), service("default", "kuard", 8080)), Config{})
	diff(t, []string{"RouteError/TimeoutPolicyNotValid"}, reasons(d, nn("default", "a")))
}
