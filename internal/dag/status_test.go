package dag

import (
	"testing"
)

func TestStatuses(t *testing.T) {
	valid := root("default", "valid", "example.com", route("/", svcRef("kuard", 8080)))
	valid.Generation = 7
	invalid := root("default", "invalid", "", route("/", svcRef("kuard", 8080)))
	invalid.Generation = 3
	orphan := child("default", "orphan", route("/", svcRef("kuard", 8080)))
	// An orphan with an error of its own reports both facts; the status
	// package decides which one its status shows.
	empty := child("default", "empty")
	d := Build(objects(valid, invalid, orphan, empty, service("default", "kuard", 8080)), Config{})

	want := map[string]*ProxyStatus{
		"valid": {
			Proxy: nn("default", "valid"), Generation: 7,
		},
		"invalid": {
			Proxy: nn("default", "invalid"), Generation: 3,
			Errors: []Condition{{Type: "VirtualHostError", Reason: "FQDNNotSpecified", Message: "virtualhost.fqdn must be specified"}},
		},
		"orphan": {
			Proxy: nn("default", "orphan"), Generation: 1, Orphaned: true,
		},
		"empty": {
			Proxy: nn("default", "empty"), Generation: 1, Orphaned: true,
			Errors: []Condition{{Type: "SpecError", Reason: "NothingDefined", Message: "HTTPProxy must define at least one route, include or tcpproxy"}},
		},
	}
	if len(d.Statuses) != len(want) {
		t.Fatalf("got %d statuses, want %d", len(d.Statuses), len(want))
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			diff(t, w, d.Statuses[nn("default", name)])
		})
	}
}

// TestIsolation checks that a proxy's mistakes never reach another
// proxy's virtual host.
func TestIsolation(t *testing.T) {
	good := root("default", "good", "good.com", route("/", svcRef("kuard", 8080)))
	bad := withIncludes(root("default", "bad", "bad.com",
		route("nope", svcRef("kuard", 8080)),
		route("/missing", svcRef("missing", 1)),
	), include("good", "", "/x"), include("gone", "", "/y"))
	objs := objects(good, service("default", "kuard", 8080))
	alone := Build(objs, Config{})
	objs.HTTPProxies[nn("default", "bad")] = bad
	both := Build(objs, Config{})
	diff(t, httpRoutes(alone, "good.com"), httpRoutes(both, "good.com"))
	diff(t, []string{"valid"}, reasons(both, nn("default", "good")))
}

func TestDeterministic(t *testing.T) {
	mk := func() *Objects {
		return objects(
			withIncludes(root("default", "a", "example.com", route("/", weighted("kuard", 8080, 1), weighted("b", 80, 2))), include("c", "", "/c"), include("gone", "", "/g")),
			child("default", "c", route("/", svcRef("kuard", 8080)), route("/", svcRef("b", 80))),
			root("default", "dup1", "dup.com", route("/", svcRef("kuard", 8080))),
			root("default", "dup2", "dup.com", route("/", svcRef("kuard", 8080))),
			service("default", "kuard", 8080), service("default", "b", 80),
			endpointSlice("default", "k1", "kuard", "", 8080, "10.0.0.2", "10.0.0.1"),
			endpointSlice("default", "k2", "kuard", "", 8080, "10.0.0.1"),
		)
	}
	first := Build(mk(), Config{})
	for i := 0; i < 20; i++ {
		diff(t, first, Build(mk(), Config{}))
	}
}
