package xds

import (
	"fmt"
	"testing"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// benchDAG has n virtual hosts, each with its own service and three routes
// (a header condition, a weighted split with a canary, a catch-all), and
// every tenth one also served over TLS.
func benchDAG(n int) *dag.DAG {
	var http []*dag.VirtualHost
	var https []*dag.SecureVirtualHost
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("ns%d", i)
		web := upstream(ns, "web", 80)
		canary := upstream(ns, "canary", 80)
		name := fmt.Sprintf("app%d.example.com", i)
		routes := []*dag.Route{
			prefix("/api", to(web), headers(dag.HeaderMatch{Name: "x-api", Kind: dag.HeaderPresent})),
			prefix("/beta", split(weight(web, 90), weight(canary, 10))),
			prefix("/", to(web)),
		}
		http = append(http, vhost(name, routes...))
		if i%10 == 0 {
			https = append(https, tlsHost(name, secret(ns, "tls"), routes...))
		}
	}
	return build(http, https...)
}

func BenchmarkTranslate(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		d := benchDAG(n)
		b.Run(fmt.Sprintf("vhosts=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Translate(d, ListenerConfig{})
			}
		})
	}
}

func BenchmarkNewSnapshot(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		r := Translate(benchDAG(n), ListenerConfig{})
		b.Run(fmt.Sprintf("vhosts=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NewSnapshot(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConsistent is the check every served snapshot goes through,
// here of a snapshot whose parts were all verified before (a change
// elsewhere): the common case.
func BenchmarkConsistent(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		tr, err := NewTranslator(ListenerConfig{})
		if err != nil {
			b.Fatal(err)
		}
		snap, err := tr.Snapshot(benchDAG(n))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("vhosts=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var c Checker
			if err := c.Check(snap); err != nil { // the first check looks at every reference
				b.Fatal(err)
			}
			for b.Loop() {
				if err := c.Check(snap); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
