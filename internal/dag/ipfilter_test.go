package dag

import (
	"net/netip"
	"testing"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

func TestIPFilter(t *testing.T) {
	peer := func(cidr string) contourv1.IPFilterPolicy {
		return contourv1.IPFilterPolicy{Source: contourv1.IPFilterSourcePeer, CIDR: cidr}
	}
	remote := func(cidr string) contourv1.IPFilterPolicy {
		return contourv1.IPFilterPolicy{Source: contourv1.IPFilterSourceRemote, CIDR: cidr}
	}
	rule := func(remote bool, cidr string) IPFilterRule {
		p := netip.MustParsePrefix(cidr)
		return IPFilterRule{Remote: remote, Address: p.Addr().String(), PrefixLen: uint32(p.Bits())}
	}
	tests := map[string]struct {
		allow, deny []contourv1.IPFilterPolicy
		want        *IPFilter
		reasons     []string
	}{
		"none": {want: nil, reasons: []string{"valid"}},
		"allow, bare addresses are ranges of one, ranges are masked": {
			allow:   []contourv1.IPFilterPolicy{peer("10.1.2.3"), remote("2001:db8::1"), peer("192.168.7.9/16")},
			want:    &IPFilter{Allow: true, Rules: []IPFilterRule{rule(false, "10.1.2.3/32"), rule(true, "2001:db8::1/128"), rule(false, "192.168.0.0/16")}},
			reasons: []string{"valid"},
		},
		"deny": {
			deny:    []contourv1.IPFilterPolicy{remote("203.0.113.0/24")},
			want:    &IPFilter{Rules: []IPFilterRule{rule(true, "203.0.113.0/24")}},
			reasons: []string{"valid"},
		},
		"both":         {allow: []contourv1.IPFilterPolicy{peer("10.0.0.1")}, deny: []contourv1.IPFilterPolicy{peer("10.0.0.2")}, reasons: []string{"IPFilterError/IncompatibleIPAddressFilters"}},
		"bad cidr":     {allow: []contourv1.IPFilterPolicy{peer("10.0.0.0/33")}, reasons: []string{"IPFilterError/InvalidCIDR"}},
		"not an addr":  {deny: []contourv1.IPFilterPolicy{peer("localhost")}, reasons: []string{"IPFilterError/InvalidCIDR"}},
		"wrong source": {deny: []contourv1.IPFilterPolicy{{Source: "Proxy", CIDR: "10.0.0.1"}}, reasons: []string{"IPFilterError/IPFilterPolicyNotValid"}},
	}
	for name, tc := range tests {
		t.Run("virtual host: "+name, func(t *testing.T) {
			p := withTLS(root("default", "p", "p.example.com", route("/", svcRef("kuard", 8080))), "tls")
			p.Spec.VirtualHost.IPAllowFilterPolicy, p.Spec.VirtualHost.IPDenyFilterPolicy = tc.allow, tc.deny
			d := Build(objects(p, service("default", "kuard", 8080), tlsSecret(t, "default", "tls")), Config{})
			diff(t, tc.reasons, reasons(d, nn("default", "p")))
			svh := secureVhost(d, "p.example.com")
			if tc.reasons[0] != "valid" {
				if svh != nil || httpRoutes(d, "p.example.com") != nil {
					t.Fatal("an invalid IP filter's virtual host is served")
				}
				return
			}
			diff(t, tc.want, svh.IPFilter)
			diff(t, tc.want, d.HTTP[0].IPFilter)
		})
		t.Run("route: "+name, func(t *testing.T) {
			p := root("default", "p", "p.example.com", route("/", svcRef("kuard", 8080)), route("/admin", svcRef("kuard", 8080)))
			p.Spec.VirtualHost.IPDenyFilterPolicy = []contourv1.IPFilterPolicy{peer("198.51.100.1")}
			p.Spec.Routes[1].IPAllowFilterPolicy, p.Spec.Routes[1].IPDenyFilterPolicy = tc.allow, tc.deny
			d := Build(objects(p, service("default", "kuard", 8080)), Config{})
			diff(t, tc.reasons, reasons(d, nn("default", "p")))
			routes := d.HTTP[0].Routes
			if tc.reasons[0] != "valid" {
				if len(routes) != 1 || routes[0].PathMatch.Value != "/" {
					t.Fatalf("want only / served, got %v", summarizeAll(routes))
				}
				return
			}
			diff(t, "/admin", routes[0].PathMatch.Value)
			diff(t, tc.want, routes[0].IPFilter)
			diff(t, (*IPFilter)(nil), routes[1].IPFilter)
			diff(t, &IPFilter{Rules: []IPFilterRule{rule(false, "198.51.100.1/32")}}, d.HTTP[0].IPFilter)
		})
	}
}

// The HTTP-to-HTTPS redirect of a route keeps the route's filter: a client
// it keeps out is not told where to go.
func TestIPFilterOnRedirects(t *testing.T) {
	p := withTLS(root("default", "p", "p.example.com", route("/", svcRef("kuard", 8080))), "tls")
	p.Spec.Routes[0].IPAllowFilterPolicy = []contourv1.IPFilterPolicy{{Source: contourv1.IPFilterSourcePeer, CIDR: "10.0.0.0/8"}}
	d := Build(objects(p, service("default", "kuard", 8080), tlsSecret(t, "default", "tls")), Config{})
	r := d.HTTP[0].Routes[0]
	if r.Redirect == nil || r.IPFilter == nil || !r.IPFilter.Allow {
		t.Fatalf("redirect route: %s, filter %+v", summarize(r), r.IPFilter)
	}
}
