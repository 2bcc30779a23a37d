package dag

import (
	"testing"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

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
			diff(t, true, ps.Valid())
		})
	}
}
