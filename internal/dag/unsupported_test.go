package dag

import (
	"testing"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// A security stanza in an included proxy closes every virtual host that
// reaches it, and says so on the root; other roots are not affected.
func TestSecurityStanzaInIncludeClosesTheVirtualHost(t *testing.T) {
	admin := child("team", "admin", route("/admin", svcRef("kuard", 8080)))
	admin.Spec.Routes[0].AuthPolicy = &contourv1.AuthorizationPolicy{Context: map[string]string{"area": "admin"}}
	shop := withIncludes(root("default", "shop", "shop.example.com", route("/", svcRef("kuard", 8080))), include("admin", "team", "/"))
	blog := root("default", "blog", "blog.example.com", route("/", svcRef("kuard", 8080)))
	d := Build(objects(admin, shop, blog, service("default", "kuard", 8080), service("team", "kuard", 8080)), Config{})

	diff(t, []string{"SpecError/FeatureNotSupported"}, reasons(d, nn("team", "admin")))
	diff(t, []string{"IncludeError/FeatureNotSupported"}, reasons(d, nn("default", "shop")))
	msg := d.Statuses[nn("default", "shop")].Errors[0].Message
	want := `virtual host "shop.example.com" is not served: included HTTPProxy team/admin sets spec.routes[0].authPolicy, which is not supported yet`
	if msg != want {
		t.Errorf("root's message:\n got %s\nwant %s", msg, want)
	}
	if got := httpRoutes(d, "shop.example.com"); got != nil {
		t.Errorf("shop.example.com is served: %v", got)
	}
	diff(t, []string{"valid"}, reasons(d, nn("default", "blog")))
	if got := httpRoutes(d, "blog.example.com"); len(got) != 1 {
		t.Errorf("blog.example.com: want its route, got %v", got)
	}
}

// Fallbacks that Contour documents are warnings on a valid proxy.
func TestLoadBalancerFallbacksWarn(t *testing.T) {
	tests := map[string]struct {
		lb   contourv1.LoadBalancerPolicy
		want []string
	}{
		"unknown strategy": {contourv1.LoadBalancerPolicy{Strategy: "Fastest"},
			[]string{`routes[0]: ignoring unknown loadBalancerPolicy.strategy "Fastest"; RoundRobin is used`}},
		"request hash with none usable": {contourv1.LoadBalancerPolicy{Strategy: LBRequestHash, RequestHashPolicies: []contourv1.RequestHashPolicy{{}}},
			[]string{
				"routes[0]: ignoring loadBalancerPolicy.requestHashPolicies[0]: it must set exactly one of hashSourceIP, headerHashOptions and queryParameterHashOptions",
				"routes[0]: ignoring loadBalancerPolicy.strategy RequestHash without a usable request hash policy; RoundRobin is used",
			}},
		"duplicate source ip": {contourv1.LoadBalancerPolicy{Strategy: LBRequestHash, RequestHashPolicies: []contourv1.RequestHashPolicy{{HashSourceIP: true}, {HashSourceIP: true}}},
			[]string{"routes[0]: ignoring loadBalancerPolicy.requestHashPolicies[1]: hashSourceIP is hashed already"}},
		"round robin": {contourv1.LoadBalancerPolicy{Strategy: LBRoundRobin}, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := root("default", "p", "p.example.com", route("/", svcRef("kuard", 8080)))
			p.Spec.Routes[0].LoadBalancerPolicy = &tc.lb
			d := Build(objects(p, service("default", "kuard", 8080)), Config{})
			ps := d.Statuses[nn("default", "p")]
			var got []string
			for _, w := range ps.Warnings {
				if w.Reason != contourv1.ReasonIgnoredField {
					t.Errorf("warning with reason %s", w.Reason)
				}
				got = append(got, w.Message)
			}
			diff(t, tc.want, got)
			diff(t, contourv1.StatusValid, ps.CurrentStatus)
		})
	}
}
