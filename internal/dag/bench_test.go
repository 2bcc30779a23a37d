package dag

import (
	"fmt"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// benchObjects is n tenants, each with a Service and its EndpointSlice, a
// root (every tenth with TLS, sharing one delegated certificate) that
// includes a child in its namespace, and three routes with policies.
func benchObjects(b *testing.B, n int) *Objects {
	objs := objects(tlsSecret(b, "certs", "wild"), delegation("certs", "d", "wild", "*"))
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("ns%d", i%100)
		name := fmt.Sprintf("app%d", i)
		svc := service(ns, name, 80)
		objs.Services[nn(ns, name)] = svc
		es := endpointSlice(ns, name+"-x", name, "", 8080, fmt.Sprintf("10.%d.%d.1", i/256%256, i%256), fmt.Sprintf("10.%d.%d.2", i/256%256, i%256))
		objs.EndpointSlices[nn(ns, es.Name)] = es

		r := withIncludes(root(ns, name, name+".example.com",
			route("/", svcRef(name, 80)),
			contourv1.Route{
				Conditions:    []contourv1.MatchCondition{{Prefix: "/api"}, {Header: &contourv1.HeaderMatchCondition{Name: "x-v", Exact: "2"}}},
				Services:      []contourv1.Service{weighted(name, 80, 80), weighted(name+"-canary", 80, 20)},
				TimeoutPolicy: &contourv1.TimeoutPolicy{Response: "5s"},
				RetryPolicy:   &contourv1.RetryPolicy{NumRetries: 2},
			},
		), include(name+"-child", "", "/child"))
		if i%10 == 0 {
			withTLS(r, "certs/wild")
		}
		objs.HTTPProxies[nn(ns, name)] = r
		c := child(ns, name+"-child", route("/", svcRef(name, 80)), contourv1.Route{
			Conditions:         []contourv1.MatchCondition{{Exact: "/login"}},
			Services:           []contourv1.Service{svcRef(name, 80)},
			LoadBalancerPolicy: &contourv1.LoadBalancerPolicy{Strategy: "Cookie"},
		})
		objs.HTTPProxies[nn(ns, c.Name)] = c
		canary := service(ns, name+"-canary", 80)
		objs.Services[nn(ns, canary.Name)] = canary
	}
	return objs
}

// BenchmarkBuild measures a build from scratch, and one change on a
// Builder warmed on the objects: a root whose route prefix changes, or an
// EndpointSlice whose addresses do. Each change alternates between two
// versions (two pointers), so every iteration is a real change.
func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("proxies=%d", n), func(b *testing.B) {
			objs := benchObjects(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				Build(objs, Config{})
			}
		})
	}
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("incremental/root/proxies=%d", n), func(b *testing.B) {
			objs := benchObjects(b, n)
			key := nn("ns7", "app7")
			v1 := objs.HTTPProxies[key]
			v2 := v1.DeepCopy()
			v2.Spec.Routes[0].Conditions = []contourv1.MatchCondition{{Prefix: "/v2"}}
			benchIncremental(b, objs, func(i int) {
				objs.HTTPProxies[key] = [2]*contourv1.HTTPProxy{v2, v1}[i%2]
			})
		})
		b.Run(fmt.Sprintf("incremental/endpointslice/proxies=%d", n), func(b *testing.B) {
			objs := benchObjects(b, n)
			key := nn("ns7", "app7-x")
			v1 := objs.EndpointSlices[key]
			v2 := v1.DeepCopy()
			v2.Endpoints[0].Addresses = []string{"10.200.0.1"}
			benchIncremental(b, objs, func(i int) {
				objs.EndpointSlices[key] = [2]*discoveryv1.EndpointSlice{v2, v1}[i%2]
			})
		})
	}
}

// benchIncremental times change(i) and a Build on a Builder warmed on
// objs.
func benchIncremental(b *testing.B, objs *Objects, change func(i int)) {
	bl := NewBuilder(Config{})
	bl.Build(objs)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		change(i)
		bl.Build(objs)
		i++
	}
}
