package dag

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"testing"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

func TestVirtualHosts(t *testing.T) {
	kuard := service("default", "kuard", 8080)
	tests := map[string]struct {
		objs    *Objects
		cfg     Config
		http    map[string][]string // fqdn -> routes; nil = not served
		reasons map[string][]string // proxy name (namespace default) -> reasons
	}{
		"simple root": {
			objs:    objects(root("default", "a", "example.com", route("/", svcRef("kuard", 8080))), kuard),
			http:    map[string][]string{"example.com": {"prefix:/ -> default/kuard:8080"}},
			reasons: map[string][]string{"a": {"valid"}},
		},
		"route without conditions matches everything": {
			objs:    objects(root("default", "a", "example.com", route("", svcRef("kuard", 8080))), kuard),
			http:    map[string][]string{"example.com": {"prefix:/ -> default/kuard:8080"}},
			reasons: map[string][]string{"a": {"valid"}},
		},
		"wildcard fqdn": {
			objs:    objects(root("default", "a", "*.example.com", route("/", svcRef("kuard", 8080))), kuard),
			http:    map[string][]string{"*.example.com": {"prefix:/ -> default/kuard:8080"}},
			reasons: map[string][]string{"a": {"valid"}},
		},
		"invalid fqdn": {
			objs:    objects(root("default", "a", "foo.*.example.com", route("/", svcRef("kuard", 8080))), kuard),
			http:    map[string][]string{"foo.*.example.com": nil},
			reasons: map[string][]string{"a": {"VirtualHostError/FQDNNotValid"}},
		},
		"fqdn missing": {
			objs:    objects(root("default", "a", "", route("/", svcRef("kuard", 8080))), kuard),
			reasons: map[string][]string{"a": {"VirtualHostError/FQDNNotSpecified"}},
		},
		"duplicate fqdn: the first created serves, the newcomer is invalid": {
			objs: objects(
				createdAt(root("default", "a", "example.com", route("/a", svcRef("kuard", 8080))), 2),
				createdAt(root("default", "b", "example.com", route("/b", svcRef("kuard", 8080))), 1),
				root("default", "c", "other.com", route("/", svcRef("kuard", 8080))),
				kuard),
			http: map[string][]string{"example.com": {"prefix:/b -> default/kuard:8080"}, "other.com": {"prefix:/ -> default/kuard:8080"}},
			reasons: map[string][]string{
				"a": {"VirtualHostError/DuplicateVhost"},
				"b": {"valid"},
				"c": {"valid"},
			},
		},
		"duplicate fqdn created in the same second: the first by name serves": {
			objs: objects(
				createdAt(root("default", "b", "example.com", route("/b", svcRef("kuard", 8080))), 1),
				createdAt(root("default", "a", "example.com", route("/a", svcRef("kuard", 8080))), 1),
				kuard),
			http: map[string][]string{"example.com": {"prefix:/a -> default/kuard:8080"}},
			reasons: map[string][]string{
				"a": {"valid"},
				"b": {"VirtualHostError/DuplicateVhost"},
			},
		},
		"root namespaces": {
			objs: objects(
				root("default", "a", "example.com", route("/", svcRef("kuard", 8080))),
				root("roots", "b", "other.com", route("/", svcRef("kuard", 8080))),
				service("roots", "kuard", 8080), kuard),
			cfg:  Config{RootNamespaces: []string{"roots"}},
			http: map[string][]string{"example.com": nil, "other.com": {"prefix:/ -> roots/kuard:8080"}},
			reasons: map[string][]string{
				"a": {"RootNamespaceError/RootProxyNotAllowedInNamespace"},
			},
		},
		"nothing defined": {
			objs:    objects(root("default", "a", "example.com"), child("default", "b")),
			http:    map[string][]string{"example.com": nil},
			reasons: map[string][]string{"a": {"SpecError/NothingDefined"}, "b": {"SpecError/NothingDefined"}},
		},
		"redirect and direct response routes": {
			objs: objects(root("default", "a", "example.com",
				contourv1.Route{
					Conditions:            []contourv1.MatchCondition{{Prefix: "/old"}},
					RequestRedirectPolicy: &contourv1.HTTPRequestRedirectPolicy{Scheme: ptr("https")},
				},
				contourv1.Route{
					Conditions:           []contourv1.MatchCondition{{Prefix: "/teapot"}},
					DirectResponsePolicy: &contourv1.HTTPDirectResponsePolicy{StatusCode: 418, Body: "short and stout"},
				},
			)),
			http: map[string][]string{"example.com": {
				"prefix:/teapot -> 418",
				"prefix:/old -> redirect https 302",
			}},
			reasons: map[string][]string{"a": {"valid"}},
		},
		"route action count": {
			objs: objects(root("default", "a", "example.com",
				route("/none"),
				contourv1.Route{
					Conditions:           []contourv1.MatchCondition{{Prefix: "/both"}},
					Services:             []contourv1.Service{svcRef("kuard", 8080)},
					DirectResponsePolicy: &contourv1.HTTPDirectResponsePolicy{StatusCode: 200},
				},
				route("/ok", svcRef("kuard", 8080)),
			), kuard),
			http: map[string][]string{"example.com": {"prefix:/ok -> default/kuard:8080"}},
			reasons: map[string][]string{"a": {
				"RouteError/RouteActionCountNotValid",
				"RouteError/RouteActionCountNotValid",
			}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := Build(tc.objs, tc.cfg)
			for fqdn, want := range tc.http {
				diff(t, want, httpRoutes(d, fqdn))
			}
			for proxy, want := range tc.reasons {
				ns := "default"
				if tc.objs.HTTPProxies[nn(ns, proxy)] == nil {
					ns = "roots"
				}
				diff(t, want, reasons(d, nn(ns, proxy)))
			}
		})
	}
}

func TestDuplicateVhostMessage(t *testing.T) {
	d := Build(objects(
		createdAt(root("default", "a", "example.com", route("/", svcRef("kuard", 8080))), 2),
		createdAt(root("other", "b", "Example.com", route("/", svcRef("kuard", 8080))), 1),
		service("default", "kuard", 8080),
	), Config{})
	want := []Condition{{
		Type:    contourv1.ConditionTypeVirtualHostError,
		Reason:  contourv1.ReasonDuplicateVhost,
		Message: `fqdn "example.com" is used in multiple HTTPProxies: default/a, other/b; other/b was created first and serves it`,
	}}
	diff(t, want, d.Statuses[nn("default", "a")].Errors)
	if errs := d.Statuses[nn("other", "b")].Errors; len(errs) != 1 || errs[0].Reason != contourv1.ReasonServiceUnresolvedReference {
		t.Errorf("the owner has errors %v, want only its own missing service", errs)
	}
}

// createdAt sets p's creation time to second s.
func createdAt(p *contourv1.HTTPProxy, s int64) *contourv1.HTTPProxy {
	p.CreationTimestamp = metav1.Unix(s, 0)
	return p
}

func ptr[T any](v T) *T { return &v }
