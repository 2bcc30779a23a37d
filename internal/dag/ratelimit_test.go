package dag

import (
	"testing"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

func TestGlobalRateLimit(t *testing.T) {
	global := func(ds ...contourv1.RateLimitDescriptor) *contourv1.RateLimitPolicy {
		return &contourv1.RateLimitPolicy{Global: &contourv1.GlobalRateLimitPolicy{Descriptors: ds}}
	}
	desc := func(es ...contourv1.RateLimitDescriptorEntry) contourv1.RateLimitDescriptor {
		return contourv1.RateLimitDescriptor{Entries: es}
	}
	generic := func(k, v string) contourv1.RateLimitDescriptorEntry {
		return contourv1.RateLimitDescriptorEntry{GenericKey: &contourv1.GenericKeyDescriptor{Key: k, Value: v}}
	}
	header := func(h, k string) contourv1.RateLimitDescriptorEntry {
		return contourv1.RateLimitDescriptorEntry{RequestHeader: &contourv1.RequestHeaderDescriptor{HeaderName: h, DescriptorKey: k}}
	}
	remote := contourv1.RateLimitDescriptorEntry{RemoteAddress: &contourv1.RemoteAddressDescriptor{}}
	match := func(expect bool, v string, hs ...contourv1.HeaderMatchCondition) contourv1.RateLimitDescriptorEntry {
		return contourv1.RateLimitDescriptorEntry{RequestHeaderValueMatch: &contourv1.RequestHeaderValueMatchDescriptor{Headers: hs, ExpectMatch: expect, Value: v}}
	}
	tests := map[string]struct {
		in     *contourv1.RateLimitPolicy
		want   *GlobalRateLimit
		errMsg string
	}{
		"none":       {},
		"local only": {in: &contourv1.RateLimitPolicy{Local: &contourv1.LocalRateLimitPolicy{Requests: 1, Unit: "hour"}}},
		"no entries": {in: global()},
		"disabled":   {in: &contourv1.RateLimitPolicy{Global: &contourv1.GlobalRateLimitPolicy{Disabled: true, Descriptors: []contourv1.RateLimitDescriptor{desc(remote)}}}},
		"every entry": {
			in: global(
				desc(remote),
				desc(generic("vhost", "p.example.com"), header("X-Tenant", "tenant")),
				desc(generic("", "anything"), header(":path", "path")),
				desc(match(true, "contour", contourv1.HeaderMatchCondition{Name: "X-A", NotPresent: true},
					contourv1.HeaderMatchCondition{Name: "X-B", Contains: "contour", IgnoreCase: true}),
					match(false, "other", contourv1.HeaderMatchCondition{Name: "X-C", Regex: "^a.*"})),
			),
			want: &GlobalRateLimit{Descriptors: []RateLimitDescriptor{
				{Entries: []RateLimitEntry{{RemoteAddress: true}}},
				{Entries: []RateLimitEntry{{GenericKey: &GenericKeyEntry{Key: "vhost", Value: "p.example.com"}}, {RequestHeader: &RequestHeaderEntry{Header: "X-Tenant", Key: "tenant"}}}},
				{Entries: []RateLimitEntry{{GenericKey: &GenericKeyEntry{Value: "anything"}}, {RequestHeader: &RequestHeaderEntry{Header: ":path", Key: "path"}}}},
				{Entries: []RateLimitEntry{
					{HeaderValueMatch: &HeaderValueMatchEntry{ExpectMatch: true, Value: "contour", Headers: []HeaderMatch{
						{Name: "X-A", Kind: HeaderPresent, Invert: true}, {Name: "X-B", Kind: HeaderContains, Value: "contour", IgnoreCase: true}}}},
					{HeaderValueMatch: &HeaderValueMatchEntry{ExpectMatch: false, Value: "other", Headers: []HeaderMatch{{Name: "X-C", Kind: HeaderRegex, Value: "^a.*"}}}},
				}},
			}},
		},
		"two kinds in one entry": {
			in:     global(desc(contourv1.RateLimitDescriptorEntry{GenericKey: &contourv1.GenericKeyDescriptor{Value: "a"}, RemoteAddress: &contourv1.RemoteAddressDescriptor{}})),
			errMsg: "descriptor 0 entry 0: rate limit descriptor entry must have exactly one field set",
		},
		"empty entry": {
			in:     global(desc(remote), desc(contourv1.RateLimitDescriptorEntry{})),
			errMsg: "descriptor 1 entry 0: rate limit descriptor entry must have exactly one field set",
		},
		"descriptor without entries": {in: global(desc()), errMsg: "rate limit descriptor 0 must have at least one entry"},
		"generic key without value":  {in: global(desc(generic("k", ""))), errMsg: "descriptor 0 entry 0: genericKey must have a value"},
		"bad request header": {
			in: global(desc(header("x tenant", "tenant"))), errMsg: `descriptor 0 entry 0: requestHeader has an invalid headerName "x tenant"`,
		},
		"request header without key": {
			in: global(desc(header("X-Tenant", ""))), errMsg: "descriptor 0 entry 0: requestHeader must have a descriptorKey",
		},
		"value match without headers": {in: global(desc(match(true, "v"))), errMsg: "descriptor 0 entry 0: requestHeaderValueMatch must have at least one header"},
		"value match without value": {
			in: global(desc(match(true, "", contourv1.HeaderMatchCondition{Name: "X-A", Present: true}))), errMsg: "descriptor 0 entry 0: requestHeaderValueMatch must have a value",
		},
		"value match with a bad condition": {
			in:     global(desc(match(true, "v", contourv1.HeaderMatchCondition{Name: "X-A"}))),
			errMsg: `descriptor 0 entry 0: requestHeaderValueMatch: header condition on "X-A" must set exactly one of present, notpresent, exact, notexact, contains, notcontains and regex`,
		},
		"value match with a bad regex": {
			in:     global(desc(match(true, "v", contourv1.HeaderMatchCondition{Name: "X-A", Regex: "(("}))),
			errMsg: "descriptor 0 entry 0: requestHeaderValueMatch: header condition on \"X-A\": regex \"((\" is not a valid regular expression: error parsing regexp: missing closing ): `((`",
		},
	}
	for name, tc := range tests {
		t.Run("virtual host: "+name, func(t *testing.T) {
			p := root("default", "p", "p.example.com", route("/", svcRef("kuard", 8080)))
			p.Spec.VirtualHost.RateLimitPolicy = tc.in
			other := root("default", "other", "other.example.com", route("/", svcRef("kuard", 8080)))
			d := Build(objects(p, other, service("default", "kuard", 8080)), Config{})
			diff(t, []string{"valid"}, reasons(d, nn("default", "other")))
			if tc.errMsg != "" {
				diff(t, []string{"VirtualHostError/RateLimitPolicyNotValid"}, reasons(d, nn("default", "p")))
				diff(t, "Spec.VirtualHost.RateLimitPolicy is invalid: "+tc.errMsg, d.Statuses[nn("default", "p")].Errors[0].Message)
				diff(t, []string(nil), httpRoutes(d, "p.example.com"))
				return
			}
			diff(t, []string{"valid"}, reasons(d, nn("default", "p")))
			diff(t, tc.want, vhostNamed(d, "p.example.com").GlobalRateLimit)
		})
		t.Run("route: "+name, func(t *testing.T) {
			d, routes := twoRoutes("/limited", func(r *contourv1.Route) { r.RateLimitPolicy = tc.in })
			if tc.errMsg != "" {
				wantSecondRouteRefused(t, d, "RouteError/RateLimitPolicyNotValid", "routes[1]: route.rateLimitPolicy is invalid: "+tc.errMsg)
				return
			}
			diff(t, []string{"valid"}, reasons(d, nn("default", "p")))
			diff(t, tc.want, routes[0].GlobalRateLimit)
			diff(t, (*GlobalRateLimit)(nil), routes[1].GlobalRateLimit)
		})
	}
}

// A route whose global policy is disabled keeps the virtual host's off
// it, on its redirect to HTTPS too (Contour's VhRateLimits IGNORE);
// others keep it.
func TestGlobalRateLimitDisabledOnRoute(t *testing.T) {
	p := withTLS(root("default", "p", "p.example.com", route("/", svcRef("kuard", 8080)), route("/free", svcRef("kuard", 8080))), "tls")
	p.Spec.VirtualHost.RateLimitPolicy = &contourv1.RateLimitPolicy{Global: &contourv1.GlobalRateLimitPolicy{
		Descriptors: []contourv1.RateLimitDescriptor{{Entries: []contourv1.RateLimitDescriptorEntry{{RemoteAddress: &contourv1.RemoteAddressDescriptor{}}}}},
	}}
	p.Spec.Routes[1].RateLimitPolicy = &contourv1.RateLimitPolicy{Global: &contourv1.GlobalRateLimitPolicy{Disabled: true}}
	d := Build(objects(p, service("default", "kuard", 8080), tlsSecret(t, "default", "tls")), Config{})
	diff(t, []string{"valid"}, reasons(d, nn("default", "p")))
	want := &GlobalRateLimit{Descriptors: []RateLimitDescriptor{{Entries: []RateLimitEntry{{RemoteAddress: true}}}}}
	svh := secureVhost(d, "p.example.com")
	diff(t, want, svh.GlobalRateLimit)
	diff(t, want, vhostNamed(d, "p.example.com").GlobalRateLimit)
	for _, routes := range [][]*Route{svh.Routes, vhostNamed(d, "p.example.com").Routes} {
		for _, r := range routes {
			diff(t, r.PathMatch.Value == "/free", r.DisableVirtualHostGlobalRateLimit)
			diff(t, (*GlobalRateLimit)(nil), r.GlobalRateLimit)
		}
	}
}

// vhostNamed is the plain-HTTP virtual host fqdn, nil when not served.
func vhostNamed(d *DAG, fqdn string) *VirtualHost {
	for _, vh := range d.HTTP {
		if vh.Name == fqdn {
			return vh
		}
	}
	return nil
}

// Contour's rateLimitService.defaultGlobalRateLimitPolicy is the global
// policy of every virtual host without one of its own, unless it opts
// out with global.disabled; an invalid default is an error on the
// virtual hosts it would apply to.
func TestDefaultGlobalRateLimitPolicy(t *testing.T) {
	entries := func(es ...contourv1.RateLimitDescriptorEntry) *contourv1.GlobalRateLimitPolicy {
		return &contourv1.GlobalRateLimitPolicy{Descriptors: []contourv1.RateLimitDescriptor{{Entries: es}}}
	}
	def := entries(contourv1.RateLimitDescriptorEntry{GenericKey: &contourv1.GenericKeyDescriptor{Key: "default", Value: "yes"}})
	own := entries(contourv1.RateLimitDescriptorEntry{RemoteAddress: &contourv1.RemoteAddressDescriptor{}})
	defModel := &GlobalRateLimit{Descriptors: []RateLimitDescriptor{{Entries: []RateLimitEntry{{GenericKey: &GenericKeyEntry{Key: "default", Value: "yes"}}}}}}
	ownModel := &GlobalRateLimit{Descriptors: []RateLimitDescriptor{{Entries: []RateLimitEntry{{RemoteAddress: true}}}}}
	tests := map[string]struct {
		policy *contourv1.RateLimitPolicy
		def    *contourv1.GlobalRateLimitPolicy
		want   *GlobalRateLimit
		errMsg string
	}{
		"no default":                    {want: nil},
		"no policy takes the default":   {def: def, want: defModel},
		"a local policy only":           {policy: &contourv1.RateLimitPolicy{Local: &contourv1.LocalRateLimitPolicy{Requests: 1, Unit: "hour"}}, def: def, want: defModel},
		"a global without descriptors":  {policy: &contourv1.RateLimitPolicy{Global: &contourv1.GlobalRateLimitPolicy{}}, def: def, want: defModel},
		"its own replaces the default":  {policy: &contourv1.RateLimitPolicy{Global: own}, def: def, want: ownModel},
		"disabled opts out":             {policy: &contourv1.RateLimitPolicy{Global: &contourv1.GlobalRateLimitPolicy{Disabled: true}}, def: def},
		"disabled with descriptors too": {policy: &contourv1.RateLimitPolicy{Global: &contourv1.GlobalRateLimitPolicy{Disabled: true, Descriptors: own.Descriptors}}, def: def},
		"an invalid default": {
			def:    entries(contourv1.RateLimitDescriptorEntry{}),
			errMsg: "Default Global RateLimit Policy is invalid: descriptor 0 entry 0: rate limit descriptor entry must have exactly one field set",
		},
		"an invalid default, opted out": {policy: &contourv1.RateLimitPolicy{Global: &contourv1.GlobalRateLimitPolicy{Disabled: true}}, def: entries(contourv1.RateLimitDescriptorEntry{})},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := root("default", "p", "p.example.com", route("/", svcRef("kuard", 8080)))
			p.Spec.VirtualHost.RateLimitPolicy = tc.policy
			cfg := Config{DefaultGlobalRateLimitPolicy: tc.def}
			objs := objects(p, service("default", "kuard", 8080))
			d := Build(objs, cfg)
			if tc.errMsg != "" {
				diff(t, []string{"VirtualHostError/RateLimitPolicyNotValid"}, reasons(d, nn("default", "p")))
				diff(t, tc.errMsg, d.Statuses[nn("default", "p")].Errors[0].Message)
				diff(t, []string(nil), httpRoutes(d, "p.example.com"))
				return
			}
			diff(t, []string{"valid"}, reasons(d, nn("default", "p")))
			diff(t, tc.want, vhostNamed(d, "p.example.com").GlobalRateLimit)
			// Routes keep their own: the default is the virtual host's.
			diff(t, (*GlobalRateLimit)(nil), vhostNamed(d, "p.example.com").Routes[0].GlobalRateLimit)
			// The incremental builder agrees.
			diff(t, tc.want, vhostNamed(NewBuilder(cfg).Build(objs), "p.example.com").GlobalRateLimit)
		})
	}
}
