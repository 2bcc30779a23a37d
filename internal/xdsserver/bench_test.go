package xdsserver

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/xds"
)

// benchEnvoys is how many state-of-the-world Envoys BenchmarkServerChange
// serves, as the bench harness's simulated fleet.
const benchEnvoys = 50

// BenchmarkServerChange is one proxy's change at n proxies, through all the
// server does for it in process: translate the new DAG, check the
// snapshot, set it, answer the route watches of benchEnvoys
// state-of-the-world Envoys, and take their ACKs, each a request naming
// every route configuration (decoded by the server's codec, the
// subscription updated as go-control-plane's server does, the watch parked
// again). Only gRPC's transport is left out.
func BenchmarkServerChange(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("proxies=%d", n), func(b *testing.B) {
			d := sortedDAG(n)
			log := logrus.New()
			log.SetLevel(logrus.PanicLevel)
			srv, err := NewServer(ServerConfig{Listeners: xds.ListenerConfig{HTTPPort: 8080, HTTPSPort: 8443}, Log: log})
			if err != nil {
				b.Fatal(err)
			}
			srv.OnChange(d)
			var names []string
			for _, r := range srv.cache.data(resource.RouteType).resources {
				names = append(names, r.Name)
			}
			ack, err := proto.Marshal(&discoveryv3.DiscoveryRequest{TypeUrl: resource.RouteType, ResourceNames: names})
			if err != nil {
				b.Fatal(err)
			}
			type envoy struct {
				sub *stream.Subscription
				ch  chan cachev3.Response
			}
			envoys := make([]*envoy, benchEnvoys)
			codec := wireCodec{names: &nameLists{}}
			// take receives e's response and ACKs it as a server would.
			take := func(e *envoy) {
				resp := <-e.ch
				e.sub.SetReturnedResources(resp.GetReturnedResources())
				v, err := resp.GetVersion()
				if err != nil {
					b.Fatal(err)
				}
				req := &discoveryv3.DiscoveryRequest{}
				if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(ack)}, req); err != nil {
					b.Fatal(err)
				}
				req.VersionInfo = v
				e.sub.SetResourceSubscription(req.GetResourceNames())
				if _, err := srv.cache.CreateWatch(req, e.sub, e.ch); err != nil {
					b.Fatal(err)
				}
			}
			for i := range envoys {
				sub := stream.NewSotwSubscription(names, false)
				e := &envoy{sub: &sub, ch: make(chan cachev3.Response, 1)}
				if _, err := srv.cache.CreateWatch(&discoveryv3.DiscoveryRequest{TypeUrl: resource.RouteType, ResourceNames: names}, e.sub, e.ch); err != nil {
					b.Fatal(err)
				}
				take(e)
				envoys[i] = e
			}

			// Proxy n/2 alternates between two versions: every iteration
			// is a change.
			alt := *d
			alt.HTTP = slices.Clone(d.HTTP)
			vh := *alt.HTTP[n/2]
			vh.Routes = []*dag.Route{{PathMatch: dag.PathMatch{Kind: dag.PathPrefix, Value: "/changed"}, Clusters: vh.Routes[0].Clusters}}
			alt.HTTP[n/2] = &vh
			b.ReportAllocs()
			cpu0 := processCPU(b)
			i := 0
			for b.Loop() {
				next := d
				if i%2 == 0 {
					next = &alt
				}
				i++
				srv.OnChange(next)
				for _, e := range envoys {
					take(e)
				}
			}
			// CPU time, unlike wall time, barely depends on what else runs
			// on the machine (GC included: it is part of the cost).
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the user and system CPU time the process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sortedDAG is testDAG(n) with its lists sorted by name, as dag.Build
// gives them.
func sortedDAG(n int) *dag.DAG {
	d := testDAG(n)
	slices.SortFunc(d.HTTP, func(a, b *dag.VirtualHost) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(d.Clusters, func(a, b *dag.Cluster) int { return strings.Compare(a.Name, b.Name) })
	return d
}
