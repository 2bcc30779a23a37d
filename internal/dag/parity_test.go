package dag

import (
	"testing"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// rewrites maps each HTTP route's path prefix of example.com to its
// prefix rewrite ("-" when none).
func rewrites(d *DAG) map[string]string {
	got := map[string]string{}
	for _, vh := range d.HTTP {
		if vh.Name != "example.com" {
			continue
		}
		for _, r := range vh.Routes {
			v := "-"
			if r.PrefixRewrite != nil {
				v = *r.PrefixRewrite
			}
			got[r.PathMatch.Value] = v
		}
	}
	return got
}

func rewriteRoute(prefix, replacement string) contourv1.Route {
	r := route(prefix, svcRef("kuard", 8080))
	r.PathRewritePolicy = &contourv1.PathRewritePolicy{ReplacePrefix: []contourv1.ReplacePrefix{{Replacement: replacement}}}
	return r
}

// Contour serves a rewriting prefix route as two, "/p" and "/p/", so that
// Envoy's string replacement never makes "//x" or "/barx"
// (expandPrefixMatches in Contour's internal/dag/httpproxy_processor.go).
func TestPrefixRewriteTrailingSlash(t *testing.T) {
	tests := map[string]struct {
		routes []contourv1.Route
		want   map[string]string
	}{
		"to /":              {[]contourv1.Route{rewriteRoute("/foo", "/")}, map[string]string{"/foo": "/", "/foo/": "/"}},
		"to /bar":           {[]contourv1.Route{rewriteRoute("/foo", "/bar")}, map[string]string{"/foo": "/bar", "/foo/": "/bar/"}},
		"to /bar/":          {[]contourv1.Route{rewriteRoute("/foo", "/bar/")}, map[string]string{"/foo": "/bar", "/foo/": "/bar/"}},
		"/foo/ to /bar":     {[]contourv1.Route{rewriteRoute("/foo/", "/bar")}, map[string]string{"/foo": "/bar", "/foo/": "/bar/"}},
		"root is not split": {[]contourv1.Route{rewriteRoute("/", "/bar")}, map[string]string{"/": "/bar"}},
		"both written": {
			[]contourv1.Route{rewriteRoute("/foo", "/"), route("/foo/", svcRef("kuard", 8080))},
			map[string]string{"/foo": "/", "/foo/": "-"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := Build(objects(root("default", "a", "example.com", tc.routes...), service("default", "kuard", 8080)), Config{})
			diff(t, []string{"valid"}, reasons(d, nn("default", "a")))
			diff(t, tc.want, rewrites(d))
		})
	}

	// The "/foo/" half yields to a route written with that match, wherever
	// it is, without an error on anyone.
	d := Build(objects(
		withIncludes(root("default", "a", "example.com", route("/foo/", svcRef("kuard", 8080))), include("b", "", "")),
		child("default", "b", rewriteRoute("/foo", "/")),
		service("default", "kuard", 8080),
	), Config{})
	diff(t, []string{"valid"}, reasons(d, nn("default", "a")))
	diff(t, []string{"valid"}, reasons(d, nn("default", "b")))
	diff(t, map[string]string{"/foo": "/", "/foo/": "-"}, rewrites(d))
}

func TestDynamicHeaders(t *testing.T) {
	r, rs := policyRoute(t, func(r *contourv1.Route) {
		r.RequestHeadersPolicy = &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{
			{Name: "x-ns", Value: "%CONTOUR_NAMESPACE%"},
			{Name: "x-svc", Value: "%CONTOUR_SERVICE_NAME%"},
			{Name: "x-client", Value: "%DOWNSTREAM_REMOTE_ADDRESS%"},
			{Name: "Host", Value: "%REQ(x-foo)%"},
		}}
		r.Services[0].RequestHeadersPolicy = &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{
			{Name: "x-where", Value: "%CONTOUR_SERVICE_NAME%.%CONTOUR_NAMESPACE%:%CONTOUR_SERVICE_PORT%"},
		}}
		r.Services[0].ResponseHeadersPolicy = &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{
			{Name: "x-from", Value: "%CONTOUR_SERVICE_NAME% 100%"},
		}}
	})
	diff(t, []string{"valid"}, rs)
	// A service's name and port are known in its own policies only, as in
	// Contour; elsewhere the text stays (translation escapes it).
	diff(t, &HeadersPolicy{
		Set: []Header{
			{"X-Client", "%DOWNSTREAM_REMOTE_ADDRESS%"},
			{"X-Ns", "default"},
			{"X-Svc", "%CONTOUR_SERVICE_NAME%"},
		},
		HostRewriteHeader: "X-Foo",
	}, r.RequestHeaders)
	diff(t, &HeadersPolicy{Set: []Header{{"X-Where", "kuard.default:8080"}}}, r.Clusters[0].RequestHeaders)
	diff(t, &HeadersPolicy{Set: []Header{{"X-From", "kuard 100%"}}}, r.Clusters[0].ResponseHeaders)

	// Envoy can take the Host from a request header for a route only.
	r, rs = policyRoute(t, func(r *contourv1.Route) {
		r.Services[0].RequestHeadersPolicy = &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{{Name: "Host", Value: "%REQ(x-foo)%"}}}
	})
	if r != nil {
		t.Errorf("route served: %s", summarize(r))
	}
	diff(t, []string{"RouteError/RequestHeadersPolicyInvalid"}, rs)
}

func TestMirrorPercent(t *testing.T) {
	for weight, want := range map[int64]uint32{0: 100, 20: 20, 100: 100, 250: 100} {
		r, rs := policyRoute(t, func(r *contourv1.Route) {
			r.Services = append(r.Services, contourv1.Service{Name: "kuard", Port: 8080, Mirror: true, Weight: weight})
		})
		diff(t, []string{"valid"}, rs)
		if r.Mirror == nil || r.MirrorPercent != want {
			t.Errorf("weight %d: mirror %v at %d%%, want %d%%", weight, r.Mirror != nil, r.MirrorPercent, want)
		}
	}
}
