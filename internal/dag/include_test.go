package dag

import (
	"fmt"
	"strings"
	"testing"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

func TestIncludes(t *testing.T) {
	kuard := service("default", "kuard", 8080)
	blog := service("blog", "blog", 80)
	tests := map[string]struct {
		objs    *Objects
		routes  []string
		reasons map[string][]string // "namespace/name" -> reasons
	}{
		"include across namespaces with prefix": {
			objs: objects(
				withIncludes(root("default", "root", "example.com", route("/", svcRef("kuard", 8080))), include("blog", "blog", "/blog")),
				child("blog", "blog", route("/", svcRef("blog", 80)), route("/admin", svcRef("blog", 80))),
				kuard, blog),
			routes: []string{
				"prefix:/blog/admin -> blog/blog:80",
				"prefix:/blog -> blog/blog:80",
				"prefix:/ -> default/kuard:8080",
			},
			reasons: map[string][]string{"default/root": {"valid"}, "blog/blog": {"valid"}},
		},
		"namespace defaults to the parent's": {
			objs: objects(
				withIncludes(root("default", "root", "example.com"), include("child", "", "/c/")),
				child("default", "child", route("/x", svcRef("kuard", 8080))),
				kuard),
			routes:  []string{"prefix:/c/x -> default/kuard:8080"},
			reasons: map[string][]string{"default/root": {"valid"}, "default/child": {"valid"}},
		},
		"header conditions are added to the child's routes": {
			objs: objects(
				withIncludes(root("default", "root", "example.com"), contourv1.Include{
					Name: "child",
					Conditions: []contourv1.MatchCondition{
						{Prefix: "/api"},
						{Header: &contourv1.HeaderMatchCondition{Name: "x-tenant", Exact: "a"}},
					},
				}),
				child("default", "child", contourv1.Route{
					Conditions: []contourv1.MatchCondition{{Prefix: "/v1", Header: &contourv1.HeaderMatchCondition{Name: "x-beta", Present: true}}},
					Services:   []contourv1.Service{svcRef("kuard", 8080)},
				}),
				kuard),
			routes:  []string{"prefix:/api/v1 header:x-beta0= header:x-tenant1=a -> default/kuard:8080"},
			reasons: map[string][]string{"default/child": {"valid"}},
		},
		"missing include answers 502, siblings still route": {
			objs: objects(
				withIncludes(root("default", "root", "example.com", route("/", svcRef("kuard", 8080))), include("gone", "", "/gone")),
				kuard),
			routes: []string{
				"prefix:/gone -> 502",
				"prefix:/ -> default/kuard:8080",
			},
			reasons: map[string][]string{"default/root": {"IncludeError/IncludeNotFound"}},
		},
		"root includes root": {
			objs: objects(
				withIncludes(root("default", "root", "example.com", route("/", svcRef("kuard", 8080))), include("other", "", "/o")),
				root("default", "other", "other.com", route("/", svcRef("kuard", 8080))),
				kuard),
			routes:  []string{"prefix:/ -> default/kuard:8080"},
			reasons: map[string][]string{"default/root": {"IncludeError/RootIncludesRoot"}, "default/other": {"valid"}},
		},
		"cycle": {
			objs: objects(
				withIncludes(root("default", "root", "example.com"), include("a", "", "/a")),
				withIncludes(child("default", "a", route("/", svcRef("kuard", 8080))), include("b", "", "/b")),
				withIncludes(child("default", "b", route("/", svcRef("kuard", 8080))), include("a", "", "/again")),
				kuard),
			routes: []string{
				"prefix:/a/b -> default/kuard:8080",
				"prefix:/a -> default/kuard:8080",
			},
			reasons: map[string][]string{
				"default/root": {"valid"},
				"default/a":    {"valid"},
				"default/b":    {"IncludeError/IncludeCreatesCycle"},
			},
		},
		"self include": {
			objs: objects(
				withIncludes(root("default", "root", "example.com", route("/", svcRef("kuard", 8080))), include("root", "", "/again")),
				kuard),
			routes:  []string{"prefix:/ -> default/kuard:8080"},
			reasons: map[string][]string{"default/root": {"IncludeError/IncludeCreatesCycle"}},
		},
		"orphan": {
			objs: objects(
				root("default", "root", "example.com", route("/", svcRef("kuard", 8080))),
				child("default", "lonely", route("/", svcRef("kuard", 8080))),
				kuard),
			routes:  []string{"prefix:/ -> default/kuard:8080"},
			reasons: map[string][]string{"default/lonely": {"orphaned"}},
		},
		"broken child does not invalidate its parent": {
			objs: objects(
				withIncludes(root("default", "root", "example.com", route("/", svcRef("kuard", 8080))), include("child", "", "/c")),
				child("default", "child", route("nope", svcRef("kuard", 8080)), route("/ok", svcRef("kuard", 8080))),
				kuard),
			routes: []string{
				"prefix:/c/ok -> default/kuard:8080",
				"prefix:/ -> default/kuard:8080",
			},
			reasons: map[string][]string{
				"default/root":  {"valid"},
				"default/child": {"RouteError/PathMatchConditionsNotValid"},
			},
		},
		"exact and regex not allowed on includes": {
			objs: objects(
				withIncludes(root("default", "root", "example.com", route("/", svcRef("kuard", 8080))),
					contourv1.Include{Name: "child", Conditions: []contourv1.MatchCondition{{Exact: "/x"}}},
					contourv1.Include{Name: "child", Conditions: []contourv1.MatchCondition{{Regex: "/y.*"}}},
				),
				child("default", "child", route("/", svcRef("kuard", 8080))),
				kuard),
			routes: []string{"prefix:/ -> default/kuard:8080"},
			reasons: map[string][]string{
				"default/root":  {"IncludeError/PathMatchConditionsNotValid", "IncludeError/PathMatchConditionsNotValid"},
				"default/child": {"orphaned"},
			},
		},
		"same child twice with the same conditions": {
			objs: objects(
				withIncludes(root("default", "root", "example.com"), include("child", "", "/c"), include("child", "", "/c")),
				child("default", "child", route("/", svcRef("kuard", 8080))),
				kuard),
			routes:  []string{"prefix:/c -> default/kuard:8080"},
			reasons: map[string][]string{"default/root": {"IncludeError/DuplicateMatchConditions"}},
		},
		// Contour: the same conditions on two includes make the root
		// invalid whatever they include; the second include is dropped.
		"two children with the same conditions": {
			objs: objects(
				withIncludes(root("default", "root", "example.com"), include("child", "", "/api"), include("other", "", "/api")),
				child("default", "child", route("/", svcRef("kuard", 8080))),
				child("default", "other", route("/v2", svcRef("kuard", 8080))),
				kuard),
			routes: []string{"prefix:/api -> default/kuard:8080"},
			reasons: map[string][]string{
				"default/root":  {"IncludeError/DuplicateMatchConditions"},
				"default/child": {"valid"},
				"default/other": {"orphaned"},
			},
		},
		"same conditions with headers in another order": {
			objs: objects(
				withIncludes(root("default", "root", "example.com"),
					contourv1.Include{Name: "child", Conditions: []contourv1.MatchCondition{{Prefix: "/api"},
						{Header: &contourv1.HeaderMatchCondition{Name: "x-a", Present: true}}, {Header: &contourv1.HeaderMatchCondition{Name: "x-b", Exact: "1"}}}},
					contourv1.Include{Name: "other", Conditions: []contourv1.MatchCondition{{Prefix: "/api"},
						{Header: &contourv1.HeaderMatchCondition{Name: "x-b", Exact: "1"}}, {Header: &contourv1.HeaderMatchCondition{Name: "x-a", Present: true}}}},
				),
				child("default", "child", route("/", svcRef("kuard", 8080))),
				child("default", "other", route("/v2", svcRef("kuard", 8080))),
				kuard),
			routes: []string{"prefix:/api header:x-a0= header:x-b1=1 -> default/kuard:8080"},
			reasons: map[string][]string{
				"default/root":  {"IncludeError/DuplicateMatchConditions"},
				"default/other": {"orphaned"},
			},
		},
		"different conditions are no duplicates": {
			objs: objects(
				withIncludes(root("default", "root", "example.com"), include("child", "", "/api"), include("other", "", "/web")),
				child("default", "child", route("/", svcRef("kuard", 8080))),
				child("default", "other", route("/", svcRef("kuard", 8080))),
				kuard),
			routes:  []string{"prefix:/api -> default/kuard:8080", "prefix:/web -> default/kuard:8080"},
			reasons: map[string][]string{"default/root": {"valid"}},
		},
		// Contour's exception: includes matching everything are not
		// compared (an empty condition list or a lone "/").
		"several children with no conditions": {
			objs: objects(
				withIncludes(root("default", "root", "example.com"), include("child", "", ""), include("other", "", "/")),
				child("default", "child", route("/a", svcRef("kuard", 8080))),
				child("default", "other", route("/b", svcRef("kuard", 8080))),
				kuard),
			routes:  []string{"prefix:/a -> default/kuard:8080", "prefix:/b -> default/kuard:8080"},
			reasons: map[string][]string{"default/root": {"valid"}, "default/other": {"valid"}},
		},
		"duplicate route across parent and child": {
			objs: objects(
				withIncludes(root("default", "root", "example.com", route("/c/x", svcRef("kuard", 8080))), include("child", "", "/c")),
				child("default", "child", route("/x", svcRef("kuard", 8080)), route("/y", svcRef("kuard", 8080))),
				kuard),
			routes: []string{
				"prefix:/c/x -> default/kuard:8080",
				"prefix:/c/y -> default/kuard:8080",
			},
			reasons: map[string][]string{
				"default/root":  {"valid"},
				"default/child": {"RouteError/DuplicateMatchConditions"},
			},
		},
		"child included by two roots": {
			objs: objects(
				withIncludes(root("default", "r1", "one.com"), include("shared", "", "/one")),
				withIncludes(root("default", "r2", "two.com"), include("shared", "", "/two")),
				child("default", "shared", route("/", svcRef("kuard", 8080)), route("/", svcRef("kuard", 8080))),
				kuard),
			routes: []string{"prefix:/one -> default/kuard:8080"},
			reasons: map[string][]string{
				// Reported once per virtual host.
				"default/shared": {"RouteError/DuplicateMatchConditions", "RouteError/DuplicateMatchConditions"},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := Build(tc.objs, Config{})
			fqdn := "example.com"
			if _, ok := tc.objs.HTTPProxies[nn("default", "r1")]; ok {
				fqdn = "one.com"
			}
			diff(t, tc.routes, httpRoutes(d, fqdn))
			for proxy, want := range tc.reasons {
				ns, name, _ := strings.Cut(proxy, "/")
				diff(t, want, reasons(d, nn(ns, name)))
			}
		})
	}
}

func TestIncludeMessages(t *testing.T) {
	d := Build(objects(
		withIncludes(root("default", "root", "example.com"), include("a", "", "/a"), include("gone", "elsewhere", "/g")),
		withIncludes(child("default", "a", route("/", svcRef("kuard", 8080))), include("root2", "", "")),
		withIncludes(child("default", "root2"), include("a", "", "/x")),
	), Config{})
	diff(t, []Condition{{
		Type: "IncludeError", Reason: "IncludeNotFound", Message: "include elsewhere/gone not found",
	}}, d.Statuses[nn("default", "root")].Errors)
	diff(t, []Condition{{
		Type: "IncludeError", Reason: "IncludeCreatesCycle",
		Message: "include default/a creates a cycle: default/a -> default/root2 -> default/a",
	}}, d.Statuses[nn("default", "root2")].Errors)
}

// TestIncludeFanOut checks that includes fanning out and back in do not
// explode: each level includes the next twice.
func TestIncludeFanOut(t *testing.T) {
	objs := objects(withIncludes(root("default", "root", "example.com"), include("p00", "", "/a"), include("p00", "", "/b")))
	const depth = 40
	for i := 0; i < depth; i++ {
		p := child("default", "p"+itoa(i), route("/", svcRef("kuard", 8080)))
		if i+1 < depth {
			withIncludes(p, include("p"+itoa(i+1), "", "/a"), include("p"+itoa(i+1), "", "/b"))
		}
		objs.HTTPProxies[nn("default", p.Name)] = p
	}
	d := Build(objs, Config{})
	if got := reasons(d, nn("default", "p39")); got[0] == "orphaned" {
		t.Errorf("deep child is orphaned")
	}
	found := false
	for _, ps := range d.Statuses {
		for _, c := range ps.Errors {
			if c.Reason == "TooManyIncludes" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no TooManyIncludes error")
	}
}

func itoa(i int) string { return fmt.Sprintf("%02d", i) }
