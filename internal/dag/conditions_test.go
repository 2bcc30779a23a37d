package dag

import (
	"testing"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

func condRoute(conds ...contourv1.MatchCondition) contourv1.Route {
	return contourv1.Route{Conditions: conds, Services: []contourv1.Service{svcRef("kuard", 8080)}}
}

func hdr(h contourv1.HeaderMatchCondition) contourv1.MatchCondition {
	return contourv1.MatchCondition{Header: &h}
}

func qp(q contourv1.QueryParameterMatchCondition) contourv1.MatchCondition {
	return contourv1.MatchCondition{QueryParameter: &q}
}

func TestConditions(t *testing.T) {
	tests := map[string]struct {
		route   contourv1.Route
		want    []string // routes of example.com besides the catch-all
		reasons []string
	}{
		"exact": {
			route: condRoute(contourv1.MatchCondition{Exact: "/healthz"}),
			want:  []string{"exact:/healthz -> default/kuard:8080"},
		},
		"regex": {
			route: condRoute(contourv1.MatchCondition{Regex: "/list/[0-9]+"}),
			want:  []string{"regex:/list/[0-9]+ -> default/kuard:8080"},
		},
		"bad regex": {
			route:   condRoute(contourv1.MatchCondition{Regex: "/list/(["}),
			reasons: []string{"RouteError/PathMatchConditionsNotValid"},
		},
		// Over Envoy's default limit of 100, under ours.
		"regex of a UUID path": {
			route: condRoute(contourv1.MatchCondition{Regex: "^/api/v[0-9]+/users/[0-9a-f-]{36}$"}),
			want:  []string{"regex:^/api/v[0-9]+/users/[0-9a-f-]{36}$ -> default/kuard:8080"},
		},
		"regex too complex for Envoy": {
			route:   condRoute(contourv1.MatchCondition{Regex: "/[a-z0-9]{1,500}"}),
			reasons: []string{"RouteError/PathMatchConditionsNotValid"},
		},
		"header regex too complex for Envoy once case is ignored": {
			route:   condRoute(hdr(contourv1.HeaderMatchCondition{Name: "x", Regex: "[a-z]{1,300}", IgnoreCase: true})),
			reasons: []string{"RouteError/HeaderMatchConditionsNotValid"},
		},
		"prefix without slash": {
			route:   condRoute(contourv1.MatchCondition{Prefix: "api"}),
			reasons: []string{"RouteError/PathMatchConditionsNotValid"},
		},
		"exact without slash": {
			route:   condRoute(contourv1.MatchCondition{Exact: "api"}),
			reasons: []string{"RouteError/PathMatchConditionsNotValid"},
		},
		"prefix and exact in one block": {
			route:   condRoute(contourv1.MatchCondition{Prefix: "/a", Exact: "/b"}),
			reasons: []string{"RouteError/PathMatchConditionsNotValid"},
		},
		"two prefixes": {
			route:   condRoute(contourv1.MatchCondition{Prefix: "/a"}, contourv1.MatchCondition{Prefix: "/b"}),
			reasons: []string{"RouteError/PathMatchConditionsNotValid"},
		},
		"header operators": {
			route: condRoute(
				contourv1.MatchCondition{Prefix: "/h"},
				hdr(contourv1.HeaderMatchCondition{Name: "a", Present: true}),
				hdr(contourv1.HeaderMatchCondition{Name: "b", NotPresent: true}),
				hdr(contourv1.HeaderMatchCondition{Name: "c", Exact: "1", IgnoreCase: true}),
				hdr(contourv1.HeaderMatchCondition{Name: "d", NotExact: "2", TreatMissingAsEmpty: true}),
				hdr(contourv1.HeaderMatchCondition{Name: "e", Contains: "3"}),
				hdr(contourv1.HeaderMatchCondition{Name: "f", NotContains: "4"}),
				hdr(contourv1.HeaderMatchCondition{Name: "g", Regex: "5.*"}),
			),
			want: []string{"prefix:/h header:a0= header:!b0= header:c1=1 header:!d1=2 header:e2=3 header:!f2=4 header:g3=5.* -> default/kuard:8080"},
		},
		"header without operator": {
			route:   condRoute(hdr(contourv1.HeaderMatchCondition{Name: "a"})),
			reasons: []string{"RouteError/HeaderMatchConditionsNotValid"},
		},
		"header with two operators": {
			route:   condRoute(hdr(contourv1.HeaderMatchCondition{Name: "a", Present: true, Exact: "x"})),
			reasons: []string{"RouteError/HeaderMatchConditionsNotValid"},
		},
		"header without name": {
			route:   condRoute(hdr(contourv1.HeaderMatchCondition{Exact: "x"})),
			reasons: []string{"RouteError/HeaderMatchConditionsNotValid"},
		},
		"header bad regex": {
			route:   condRoute(hdr(contourv1.HeaderMatchCondition{Name: "a", Regex: "("})),
			reasons: []string{"RouteError/HeaderMatchConditionsNotValid"},
		},
		"conflicting exact headers": {
			route: condRoute(
				hdr(contourv1.HeaderMatchCondition{Name: "a", Exact: "x"}),
				hdr(contourv1.HeaderMatchCondition{Name: "A", Exact: "y"}),
			),
			reasons: []string{"RouteError/HeaderMatchConditionsNotValid"},
		},
		"query parameters": {
			route: condRoute(
				contourv1.MatchCondition{Prefix: "/q"},
				qp(contourv1.QueryParameterMatchCondition{Name: "a", Exact: "1"}),
				qp(contourv1.QueryParameterMatchCondition{Name: "b", Prefix: "2"}),
				qp(contourv1.QueryParameterMatchCondition{Name: "c", Suffix: "3"}),
				qp(contourv1.QueryParameterMatchCondition{Name: "d", Contains: "4"}),
				qp(contourv1.QueryParameterMatchCondition{Name: "e", Regex: "5+"}),
				qp(contourv1.QueryParameterMatchCondition{Name: "f", Present: true, IgnoreCase: true}),
			),
			want: []string{"prefix:/q query:a0=1 query:b1=2 query:c2=3 query:d3=4 query:e4=5+ query:f5= -> default/kuard:8080"},
		},
		"query parameter with two operators": {
			route:   condRoute(qp(contourv1.QueryParameterMatchCondition{Name: "a", Exact: "1", Present: true})),
			reasons: []string{"RouteError/QueryParameterMatchConditionsNotValid"},
		},
		"query parameter without name": {
			route:   condRoute(qp(contourv1.QueryParameterMatchCondition{Exact: "1"})),
			reasons: []string{"RouteError/QueryParameterMatchConditionsNotValid"},
		},
		"query parameter bad regex": {
			route:   condRoute(qp(contourv1.QueryParameterMatchCondition{Name: "a", Regex: "a**"})),
			reasons: []string{"RouteError/QueryParameterMatchConditionsNotValid"},
		},
		"duplicate of the catch-all": {
			route:   condRoute(contourv1.MatchCondition{Prefix: "/"}),
			reasons: []string{"RouteError/DuplicateMatchConditions"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := Build(objects(
				root("default", "a", "example.com", route("/", svcRef("kuard", 8080)), tc.route),
				service("default", "kuard", 8080),
			), Config{})
			want := append(tc.want, "prefix:/ -> default/kuard:8080")
			diff(t, want, httpRoutes(d, "example.com"))
			if tc.reasons == nil {
				tc.reasons = []string{"valid"}
			}
			diff(t, tc.reasons, reasons(d, nn("default", "a")))
		})
	}
}

func TestRouteOrder(t *testing.T) {
	d := Build(objects(root("default", "a", "example.com",
		route("/", svcRef("kuard", 8080)),
		route("/api", svcRef("kuard", 8080)),
		condRoute(contourv1.MatchCondition{Prefix: "/api"}, hdr(contourv1.HeaderMatchCondition{Name: "x", Present: true})),
		route("/api/v1", svcRef("kuard", 8080)),
		condRoute(contourv1.MatchCondition{Regex: "/api/.*"}),
		condRoute(contourv1.MatchCondition{Exact: "/api"}),
		condRoute(contourv1.MatchCondition{Prefix: "/b"}),
		condRoute(contourv1.MatchCondition{Prefix: "/a"}),
	), service("default", "kuard", 8080)), Config{})
	diff(t, []string{
		"exact:/api -> default/kuard:8080",
		"regex:/api/.* -> default/kuard:8080",
		"prefix:/api/v1 -> default/kuard:8080",
		"prefix:/api header:x0= -> default/kuard:8080",
		"prefix:/api -> default/kuard:8080",
		"prefix:/a -> default/kuard:8080",
		"prefix:/b -> default/kuard:8080",
		"prefix:/ -> default/kuard:8080",
	}, httpRoutes(d, "example.com"))
}

func TestMergePath(t *testing.T) {
	tests := map[string]struct {
		prefix string
		own    matchConds
		want   PathMatch
	}{
		"nothing":             {"", matchConds{}, PathMatch{PathPrefix, "/"}},
		"include only":        {"/blog", matchConds{}, PathMatch{PathPrefix, "/blog"}},
		"child slash":         {"/blog", matchConds{hasPath: true, path: PathMatch{PathPrefix, "/"}}, PathMatch{PathPrefix, "/blog"}},
		"double slash":        {"/blog/", matchConds{hasPath: true, path: PathMatch{PathPrefix, "/x"}}, PathMatch{PathPrefix, "/blog/x"}},
		"exact":               {"/blog", matchConds{hasPath: true, path: PathMatch{PathExact, "/x"}}, PathMatch{PathExact, "/blog/x"}},
		"regex":               {"/b.log", matchConds{hasPath: true, path: PathMatch{PathRegex, "/x|/y"}}, PathMatch{PathRegex, `/b\.log(?:/x|/y)`}},
		"regex at the root":   {"/", matchConds{hasPath: true, path: PathMatch{PathRegex, "/x.*"}}, PathMatch{PathRegex, "/x.*"}},
		"regex without slash": {"/a", matchConds{hasPath: true, path: PathMatch{PathRegex, ".*"}}, PathMatch{PathRegex, "/a/(?:.*)"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			diff(t, tc.want, mergePath(tc.prefix, tc.own))
		})
	}
}
