package dag

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// fuzzInput is the JSON form of a fuzz case.
type fuzzInput struct {
	Proxies        []*contourv1.HTTPProxy                `json:"proxies"`
	Services       []*corev1.Service                     `json:"services"`
	Slices         []*discoveryv1.EndpointSlice          `json:"slices"`
	Secrets        []*corev1.Secret                      `json:"secrets"`
	Delegations    []*contourv1.TLSCertificateDelegation `json:"delegations"`
	RootNamespaces []string                              `json:"rootNamespaces"`
}

// FuzzBuild feeds Build JSON-decoded objects or, when the input is not
// JSON, objects derived from the bytes, and checks its invariants.
func FuzzBuild(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, cfg := fuzzObjects(t, data)
		d1 := Build(objs, cfg)
		d2 := Build(objs, cfg)
		if !cmp.Equal(d1, d2) {
			t.Fatalf("Build is not deterministic:\n%s", cmp.Diff(d1, d2))
		}
		checkInvariants(t, objs, d1)
	})
}

func fuzzObjects(t *testing.T, data []byte) (*Objects, Config) {
	var in fuzzInput
	if len(data) > 0 && data[0] == '{' {
		if err := json.Unmarshal(data, &in); err == nil {
			objs := NewObjects()
			for _, p := range in.Proxies {
				if p != nil {
					objs.HTTPProxies[nn(p.Namespace, p.Name)] = p
				}
			}
			for _, s := range in.Services {
				if s != nil {
					objs.Services[nn(s.Namespace, s.Name)] = s
				}
			}
			for _, s := range in.Slices {
				if s != nil {
					objs.EndpointSlices[nn(s.Namespace, s.Name)] = s
				}
			}
			for _, s := range in.Secrets {
				if s != nil {
					objs.Secrets[nn(s.Namespace, s.Name)] = s
				}
			}
			for _, d := range in.Delegations {
				if d != nil {
					objs.Delegations[nn(d.Namespace, d.Name)] = d
				}
			}
			return objs, Config{RootNamespaces: in.RootNamespaces}
		}
	}
	return generated(t, data), Config{}
}

// byteReader hands out fuzz bytes, then zeros.
type byteReader struct{ data []byte }

func (r *byteReader) next() int {
	if len(r.data) == 0 {
		return 0
	}
	b := r.data[0]
	r.data = r.data[1:]
	return int(b)
}

func pick[T any](r *byteReader, choices ...T) T { return choices[r.next()%len(choices)] }

// generated derives a small world from bytes: a few proxies over two
// namespaces, referring to a fixed set of services and secrets.
func generated(t testing.TB, data []byte) *Objects {
	r := &byteReader{data: data}
	objs := objects(
		service("a", "svc0", 80, 81), service("a", "svc1", 80), service("b", "svc0", 80),
		endpointSlice("a", "svc0-1", "svc0", "p80", 8080, "10.0.0.1", "!10.0.0.2"),
		endpointSlice("a", "svc0-2", "svc0", "p81", 8081, "10.0.0.1"),
		endpointSlice("a", "svc1-1", "svc1", "", 80, "10.0.1.1", "10.0.1.1"),
		tlsSecret(t, "a", "s"), tlsSecret(t, "b", "s"),
		&corev1.Secret{ObjectMeta: tlsSecret(t, "a", "bad").ObjectMeta, Type: corev1.SecretTypeTLS},
		delegation("b", "d", "s", "a"),
	)
	ann := objs.Services[nn("a", "svc1")]
	ann.Annotations = map[string]string{"projectcontour.io/upstream-protocol.h2c": "80"}

	conds := []func() []contourv1.MatchCondition{
		func() []contourv1.MatchCondition { return nil },
		func() []contourv1.MatchCondition { return []contourv1.MatchCondition{{Prefix: "/"}} },
		func() []contourv1.MatchCondition { return []contourv1.MatchCondition{{Prefix: "/a"}} },
		func() []contourv1.MatchCondition { return []contourv1.MatchCondition{{Prefix: "/a/"}} },
		func() []contourv1.MatchCondition { return []contourv1.MatchCondition{{Exact: "/a"}} },
		func() []contourv1.MatchCondition { return []contourv1.MatchCondition{{Regex: "/a.*|/b"}} },
		func() []contourv1.MatchCondition { return []contourv1.MatchCondition{{Regex: "(["}} },
		func() []contourv1.MatchCondition { return []contourv1.MatchCondition{{Prefix: "bad"}} },
		func() []contourv1.MatchCondition {
			return []contourv1.MatchCondition{{Prefix: "/h", Header: &contourv1.HeaderMatchCondition{Name: "x", Exact: "1"}}}
		},
		func() []contourv1.MatchCondition {
			return []contourv1.MatchCondition{{QueryParameter: &contourv1.QueryParameterMatchCondition{Name: "q", Present: true}}}
		},
		func() []contourv1.MatchCondition {
			return []contourv1.MatchCondition{{Header: &contourv1.HeaderMatchCondition{Name: "x"}}}
		},
	}
	names := []string{"p0", "p1", "p2", "p3"}
	nsn := []string{"a", "b"}
	nProxies := r.next()%6 + 1
	for i := 0; i < nProxies; i++ {
		p := child(pick(r, nsn...), pick(r, names...))
		if r.next()%2 == 0 {
			p.Spec.VirtualHost = &contourv1.VirtualHost{Fqdn: pick(r, "x.com", "y.com", "*.x.com", "", "bad host")}
			switch r.next() % 5 {
			case 1:
				p.Spec.VirtualHost.TLS = &contourv1.TLS{SecretName: pick(r, "s", "b/s", "bad", "none", "c/s", "/")}
			case 2:
				p.Spec.VirtualHost.TLS = &contourv1.TLS{Passthrough: true, MinimumProtocolVersion: pick(r, "", "1.3", "1.0")}
			}
		}
		nRoutes := r.next() % 4
		for j := 0; j < nRoutes; j++ {
			rt := contourv1.Route{Conditions: pick(r, conds...)(), PermitInsecure: r.next()%2 == 0}
			nSvcs := r.next() % 3
			for k := 0; k < nSvcs; k++ {
				rt.Services = append(rt.Services, contourv1.Service{
					Name:   pick(r, "svc0", "svc1", "missing", ""),
					Port:   pick(r, 80, 81, 0, 70000),
					Weight: int64(r.next() % 3),
					Mirror: r.next()%5 == 0,
				})
			}
			switch r.next() % 8 {
			case 1:
				rt.DirectResponsePolicy = &contourv1.HTTPDirectResponsePolicy{StatusCode: pick(r, 200, 404, 42)}
			case 2:
				rt.RequestRedirectPolicy = &contourv1.HTTPRequestRedirectPolicy{Scheme: ptr(pick(r, "https", "ftp"))}
			case 3:
				rt.LoadBalancerPolicy = &contourv1.LoadBalancerPolicy{Strategy: pick(r, "Cookie", "Random", "RequestHash")}
			case 4:
				rt.TimeoutPolicy = &contourv1.TimeoutPolicy{Response: pick(r, "1s", "infinity", "x")}
			case 5:
				rt.HealthCheckPolicy = &contourv1.HTTPHealthCheckPolicy{Path: pick(r, "/hc", "")}
			case 6:
				rt.PathRewritePolicy = &contourv1.PathRewritePolicy{ReplacePrefix: []contourv1.ReplacePrefix{{Replacement: "/"}}}
			case 7:
				rt.RequestHeadersPolicy = &contourv1.HeadersPolicy{Set: []contourv1.HeaderValue{{Name: pick(r, "Host", "x", "bad name"), Value: "v"}}}
			}
			p.Spec.Routes = append(p.Spec.Routes, rt)
		}
		nIncludes := r.next() % 3
		for j := 0; j < nIncludes; j++ {
			p.Spec.Includes = append(p.Spec.Includes, contourv1.Include{
				Name: pick(r, names...), Namespace: pick(r, "", "a", "b"), Conditions: pick(r, conds...)(),
			})
		}
		if r.next()%4 == 0 {
			p.Spec.TCPProxy = &contourv1.TCPProxy{}
			if r.next()%2 == 0 {
				p.Spec.TCPProxy.Include = &contourv1.TCPProxyInclude{Name: pick(r, names...)}
			} else {
				p.Spec.TCPProxy.Services = []contourv1.Service{{Name: pick(r, "svc0", "missing"), Port: 80}}
			}
		}
		objs.HTTPProxies[nn(p.Namespace, p.Name)] = p
	}
	return objs
}

// checkInvariants asserts what consumers of a DAG rely on.
func checkInvariants(t *testing.T, objs *Objects, d *DAG) {
	t.Helper()
	clusters := map[string]*Cluster{}
	for i, c := range d.Clusters {
		if i > 0 && d.Clusters[i-1].Name >= c.Name {
			t.Errorf("clusters not sorted or not unique: %q, %q", d.Clusters[i-1].Name, c.Name)
		}
		if !slices.IsSortedFunc(c.Endpoints, func(a, b Endpoint) int {
			if c := strings.Compare(a.Address, b.Address); c != 0 {
				return c
			}
			return int(a.Port) - int(b.Port)
		}) {
			t.Errorf("endpoints of %s not sorted", c.Name)
		}
		clusters[c.Name] = c
	}
	known := func(c *Cluster, where string) {
		if c == nil || clusters[c.Name] != c {
			t.Errorf("%s refers to a cluster not in DAG.Clusters: %+v", where, c)
		}
	}
	checkRoutes := func(vh string, routes []*Route) {
		if len(routes) == 0 {
			t.Errorf("virtual host %s has no routes", vh)
		}
		for i, r := range routes {
			actions := 0
			if len(r.Clusters) > 0 {
				actions++
			}
			if r.Redirect != nil {
				actions++
			}
			if r.DirectResponse != nil {
				actions++
			}
			if actions != 1 {
				t.Errorf("%s: route %s has %d actions", vh, summarize(r), actions)
			}
			for _, wc := range r.Clusters {
				known(wc.Cluster, vh)
			}
			if r.Mirror != nil {
				known(r.Mirror, vh)
			}
			if !slices.IsSortedFunc(r.HeaderMatches, compareHeader) || !slices.IsSortedFunc(r.QueryMatches, compareQuery) {
				t.Errorf("%s: route %s matches not sorted", vh, summarize(r))
			}
			if i > 0 {
				a := routeEntry{route: routes[i-1], key: matchKey(routes[i-1].PathMatch, routes[i-1].HeaderMatches, routes[i-1].QueryMatches)}
				b := routeEntry{route: r, key: matchKey(r.PathMatch, r.HeaderMatches, r.QueryMatches)}
				if compareRoutes(a, b) >= 0 {
					t.Errorf("%s: routes out of order or duplicated: %s, %s", vh, summarize(routes[i-1]), summarize(r))
				}
			}
		}
	}
	for i, vh := range d.HTTP {
		if i > 0 && d.HTTP[i-1].Name >= vh.Name {
			t.Errorf("HTTP vhosts not sorted: %q, %q", d.HTTP[i-1].Name, vh.Name)
		}
		checkRoutes(vh.Name, vh.Routes)
	}
	secrets := map[string]*Secret{}
	for i, s := range d.Secrets {
		if i > 0 && d.Secrets[i-1].Name >= s.Name {
			t.Errorf("secrets not sorted: %q, %q", d.Secrets[i-1].Name, s.Name)
		}
		secrets[s.Name] = s
	}
	for i, svh := range d.HTTPS {
		if i > 0 && d.HTTPS[i-1].Name >= svh.Name {
			t.Errorf("HTTPS vhosts not sorted: %q, %q", d.HTTPS[i-1].Name, svh.Name)
		}
		if svh.Passthrough != (svh.Secret == nil) {
			t.Errorf("%s: passthrough %t with secret %v", svh.Name, svh.Passthrough, svh.Secret)
		}
		if svh.Secret != nil && secrets[svh.Secret.Name] != svh.Secret {
			t.Errorf("%s: secret %s not in DAG.Secrets", svh.Name, svh.Secret.Name)
		}
		if svh.TCPProxy != nil {
			if len(svh.Routes) != 0 || len(svh.TCPProxy.Clusters) == 0 {
				t.Errorf("%s: tcpproxy with %d routes and %d clusters", svh.Name, len(svh.Routes), len(svh.TCPProxy.Clusters))
			}
			for _, wc := range svh.TCPProxy.Clusters {
				known(wc.Cluster, svh.Name)
			}
			continue
		}
		if svh.Passthrough {
			t.Errorf("%s: passthrough without tcpproxy", svh.Name)
		}
		checkRoutes(svh.Name, svh.Routes)
	}
	if len(d.Statuses) != len(objs.HTTPProxies) {
		t.Errorf("%d statuses for %d proxies", len(d.Statuses), len(objs.HTTPProxies))
	}
	for key := range objs.HTTPProxies {
		ps := d.Statuses[key]
		if ps == nil || ps.Proxy != key {
			t.Errorf("status of %s: %+v", key, ps)
			continue
		}
		switch ps.CurrentStatus {
		case contourv1.StatusValid:
			if len(ps.Errors) != 0 {
				t.Errorf("%s valid with errors %v", key, ps.Errors)
			}
		case contourv1.StatusInvalid, contourv1.StatusOrphaned:
			if len(ps.Errors) == 0 {
				t.Errorf("%s %s without errors", key, ps.CurrentStatus)
			}
		default:
			t.Errorf("%s: status %q", key, ps.CurrentStatus)
		}
	}
	// Every route's owner is a known proxy.
	for _, vh := range d.HTTP {
		for _, r := range vh.Routes {
			if _, ok := objs.HTTPProxies[r.Owner]; !ok {
				t.Errorf("route %s owned by unknown %s", summarize(r), r.Owner)
			}
		}
	}
}
