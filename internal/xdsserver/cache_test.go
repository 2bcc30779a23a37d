package xdsserver

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/proxyctl/proxyctl/internal/xds"
	"github.com/proxyctl/proxyctl/internal/xds/xdstest"
)

// waitTimeout bounds every wait for the server; tests never sleep.
const waitTimeout = 10 * time.Second

// objs is one type's resources, name to value. The values are any bytes:
// the cache never looks inside.
type objs map[string]string

// snapshotOf is an xds.Snapshot with every type of xds.PushOrder, empty if not in m.
func snapshotOf(m map[string]objs) *xds.Snapshot {
	s := &xds.Snapshot{}
	for _, url := range xds.PushOrder {
		var items []xds.Resource
		for _, name := range slices.Sorted(maps.Keys(m[url])) {
			items = append(items, xds.NewResource(name, []byte(m[url][name])))
		}
		s.Types = append(s.Types, xds.NewTypeSnapshot(url, items))
	}
	return s
}

// base is two clusters and their endpoints, a listener, its routes and a
// secret.
func base() map[string]objs {
	return map[string]objs{
		resource.ClusterType:     {"c1": "cluster 1", "c2": "cluster 2"},
		resource.EndpointType:    {"c1": "endpoints 1", "c2": "endpoints 2"},
		resource.ListenerType:    {"http": "listener"},
		resource.RouteType:       {"http": "routes"},
		resource.ScopedRouteType: {"http": "scope"},
		resource.SecretType:      {"s1": "secret"},
	}
}

// replaced returns a copy of m with the resources of url replaced by o.
func replaced(m map[string]objs, url string, o objs) map[string]objs {
	out := maps.Clone(m)
	out[url] = o
	return out
}

func setSnapshot(t testing.TB, c *Cache, s *xds.Snapshot) {
	t.Helper()
	if err := c.SetSnapshot(s); err != nil {
		t.Fatal(err)
	}
}

// harness is the real go-control-plane ADS server over a Cache, on an
// in-process gRPC connection.
type harness struct {
	t       *testing.T
	cache   *Cache
	created chan string   // the type URL of each watch the server opened
	closed  chan struct{} // a stream ended on the server, its watches cancelled
	client  discoveryv3.AggregatedDiscoveryServiceClient
}

// watchedCache tells the test when the server has opened a watch, so a test
// knows a request was handled (answered or parked) without sleeping.
type watchedCache struct {
	*Cache
	created chan<- string
}

func (w watchedCache) CreateWatch(req *cachev3.Request, sub cachev3.Subscription, ch chan cachev3.Response) (func(), error) {
	cancel, err := w.Cache.CreateWatch(req, sub, ch)
	w.created <- req.GetTypeUrl()
	return cancel, err
}

func (w watchedCache) CreateDeltaWatch(req *cachev3.DeltaRequest, sub cachev3.Subscription, ch chan cachev3.DeltaResponse) (func(), error) {
	cancel, err := w.Cache.CreateDeltaWatch(req, sub, ch)
	w.created <- req.GetTypeUrl()
	return cancel, err
}

func newHarness(t *testing.T) *harness {
	log, _ := logtest.NewNullLogger()
	h := &harness{t: t, cache: NewCache(log), created: make(chan string, 100), closed: make(chan struct{}, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	closed := func(int64, *corev3.Node) {
		select {
		case h.closed <- struct{}{}:
		default: // nobody waiting: never hold up the server
		}
	}
	xds := newADSServer(ctx, watchedCache{Cache: h.cache, created: h.created},
		serverv3.CallbackFuncs{StreamClosedFunc: closed, DeltaStreamClosedFunc: closed})

	ln := bufconn.Listen(1 << 20)
	// The server's own codec, so every test also checks that the shared
	// encodings arrive as the messages they stand for.
	gs := grpc.NewServer(grpc.ForceServerCodecV2(wireCodec{enc: h.cache.enc}))
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, xds)
	go func() { _ = gs.Serve(ln) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		gs.Stop()
	})
	h.client = discoveryv3.NewAggregatedDiscoveryServiceClient(conn)
	return h
}

// waitWatch waits until the server has handled a request for url.
func (h *harness) waitWatch(url string) {
	h.t.Helper()
	select {
	case got := <-h.created:
		if got != url {
			h.t.Fatalf("the server opened a watch for %s, want %s", got, url)
		}
	case <-time.After(waitTimeout):
		h.t.Fatalf("the server opened no watch for %s", url)
	}
}

// receive starts copying a stream's responses to a channel.
func receive[R any](ctx context.Context, recv func() (R, error)) <-chan R {
	ch := make(chan R, 100)
	go func() {
		defer close(ch)
		for {
			r, err := recv()
			if err != nil {
				return
			}
			select {
			case ch <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// next waits for the next response on ch.
func next[R any](t *testing.T, ch <-chan R) R {
	t.Helper()
	select {
	case r, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return r
	case <-time.After(waitTimeout):
		var zero R
		t.Fatal("no response")
		return zero
	}
}

// parked counts the watches the cache holds, by type.
func (c *Cache) parked() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for url, ts := range c.types {
		if n := len(ts.sotw) + len(ts.delta); n > 0 {
			out[url] = n
		}
	}
	return out
}

// requests are what an Envoy asks for first; answered in xds.PushOrder.
var requests = []struct {
	url   string
	names []string
}{
	{resource.SecretType, []string{"s1"}},
	{resource.RouteType, []string{"http"}},
	{resource.ScopedRouteType, nil},
	{resource.ListenerType, nil},
	{resource.EndpointType, []string{"c1", "c2"}},
	{resource.ClusterType, nil},
}

// TestCacheNothingBeforeFirstSnapshot: requests wait, unanswered, until the
// first snapshot, which answers all of them, in xds.PushOrder. Had anything been
// answered before, it would arrive first on the stream.
func TestCacheNothingBeforeFirstSnapshot(t *testing.T) {
	t.Run("sotw", func(t *testing.T) {
		h := newHarness(t)
		envoy := h.sotw("envoy")
		for _, r := range requests {
			envoy.request(r.url, "", r.names...)
		}
		if got := len(h.cache.parked()); got != len(xds.PushOrder) {
			t.Fatalf("%d types with parked watches, want %d", got, len(xds.PushOrder))
		}
		s := snapshotOf(base())
		setSnapshot(t, h.cache, s)
		for _, url := range xds.PushOrder {
			checkSotw(t, envoy.expect(url), s.Type(url))
		}
		if got := h.cache.parked(); len(got) != 0 {
			t.Errorf("watches left after the first snapshot: %v", got)
		}
	})
	t.Run("delta", func(t *testing.T) {
		h := newHarness(t)
		envoy, _ := h.delta("envoy")
		for _, r := range requests {
			envoy.request(r.url, r.names, nil)
		}
		if got := len(h.cache.parked()); got != len(xds.PushOrder) {
			t.Fatalf("%d types with parked watches, want %d", got, len(xds.PushOrder))
		}
		s := snapshotOf(base())
		setSnapshot(t, h.cache, s)
		for _, url := range xds.PushOrder {
			ts := s.Type(url)
			var names []string
			for _, r := range ts.Resources {
				names = append(names, r.Name)
			}
			checkDelta(t, envoy.expect(url), ts, names, nil)
		}
	})
}

// TestCachePushOrder: a snapshot changing every type reaches each stream in
// xds.PushOrder, whatever order the watches were made in.
func TestCachePushOrder(t *testing.T) {
	changed := map[string]objs{
		resource.ClusterType:     {"c1": "cluster 1 v2", "c2": "cluster 2 v2"},
		resource.EndpointType:    {"c1": "endpoints 1 v2", "c2": "endpoints 2 v2"},
		resource.ListenerType:    {"http": "listener v2"},
		resource.RouteType:       {"http": "routes v2"},
		resource.ScopedRouteType: {"http": "scope v2"},
		resource.SecretType:      {"s1": "secret v2"},
	}
	t.Run("sotw", func(t *testing.T) {
		h := newHarness(t)
		setSnapshot(t, h.cache, snapshotOf(base()))
		envoy := h.sotw("envoy")
		for _, r := range requests {
			envoy.request(r.url, "", r.names...)
			envoy.ack(envoy.expect(r.url), r.names...)
		}
		s := snapshotOf(changed)
		setSnapshot(t, h.cache, s)
		for _, url := range xds.PushOrder {
			checkSotw(t, envoy.expect(url), s.Type(url))
		}
	})
	t.Run("delta", func(t *testing.T) {
		h := newHarness(t)
		setSnapshot(t, h.cache, snapshotOf(base()))
		envoy, _ := h.delta("envoy")
		for _, r := range requests {
			envoy.request(r.url, r.names, nil)
			envoy.ack(envoy.expect(r.url))
		}
		s := snapshotOf(changed)
		setSnapshot(t, h.cache, s)
		for _, url := range xds.PushOrder {
			names := slices.Sorted(maps.Keys(changed[url]))
			checkDelta(t, envoy.expect(url), s.Type(url), names, nil)
		}
	})
}

// TestCacheCancel: a cancelled watch is never answered; cancelling twice is
// harmless.
func TestCacheCancel(t *testing.T) {
	tests := map[string]func(t *testing.T, c *Cache) (cancel func(), answered func() bool){
		"sotw": func(t *testing.T, c *Cache) (func(), func() bool) {
			ch := make(chan cachev3.Response, 1)
			cancel, err := c.CreateWatch(&cachev3.Request{TypeUrl: resource.ClusterType}, stream.NewSotwSubscription(nil, true), ch)
			if err != nil {
				t.Fatal(err)
			}
			return cancel, func() bool { return len(ch) > 0 }
		},
		"delta": func(t *testing.T, c *Cache) (func(), func() bool) {
			ch := make(chan cachev3.DeltaResponse, 1)
			cancel, err := c.CreateDeltaWatch(&cachev3.DeltaRequest{TypeUrl: resource.ClusterType}, stream.NewDeltaSubscription(nil, nil, nil, true), ch)
			if err != nil {
				t.Fatal(err)
			}
			return cancel, func() bool { return len(ch) > 0 }
		},
	}
	for name, watch := range tests {
		t.Run(name, func(t *testing.T) {
			c := NewCache(nil)
			cancel, cancelledGot := watch(t, c)
			_, keptGot := watch(t, c)
			cancel()
			cancel()
			// SetSnapshot sends before it returns, so the channels show
			// what it did.
			setSnapshot(t, c, snapshotOf(base()))
			if cancelledGot() {
				t.Error("a cancelled watch was answered")
			}
			if !keptGot() {
				t.Error("the watch not cancelled was not answered")
			}
			if got := c.parked(); len(got) != 0 {
				t.Errorf("watches left: %v", got)
			}
		})
	}
}

// TestCacheConcurrency: many streams send the same shared Anys at once,
// and watches come and go while snapshots change; run with -race.
func TestCacheConcurrency(t *testing.T) {
	t.Run("streams", func(t *testing.T) {
		h := newHarness(t)
		var sotws []*sotwClient
		var deltas []*deltaClient
		for i := range 8 {
			s := h.sotw(fmt.Sprintf("sotw-%d", i))
			d, _ := h.delta(fmt.Sprintf("delta-%d", i))
			for _, r := range requests {
				s.request(r.url, "", r.names...)
				d.request(r.url, r.names, nil)
			}
			sotws, deltas = append(sotws, s), append(deltas, d)
		}
		snap := snapshotOf(base())
		setSnapshot(t, h.cache, snap) // every stream marshals at once
		for i := range sotws {
			for _, url := range xds.PushOrder {
				checkSotw(t, sotws[i].expect(url), snap.Type(url))
				deltas[i].expect(url)
			}
		}
	})
	t.Run("watches and snapshots", func(t *testing.T) {
		c := NewCache(nil)
		snaps := []*xds.Snapshot{snapshotOf(base()), snapshotOf(replaced(base(), resource.EndpointType, objs{"c1": "endpoints 1 v2", "c2": "endpoints 2"}))}
		done := make(chan error)
		go func() {
			for i := range 200 {
				if err := c.SetSnapshot(snaps[i%2]); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		for range 200 {
			ch := make(chan cachev3.Response, 1)
			cancel, err := c.CreateWatch(&cachev3.Request{TypeUrl: resource.EndpointType, ResourceNames: []string{"c1", "c2"}}, stream.NewSotwSubscription([]string{"c1", "c2"}, true), ch)
			if err != nil {
				t.Fatal(err)
			}
			dch := make(chan cachev3.DeltaResponse, 1)
			dcancel, err := c.CreateDeltaWatch(&cachev3.DeltaRequest{TypeUrl: resource.EndpointType}, stream.NewDeltaSubscription(nil, nil, nil, true), dch)
			if err != nil {
				t.Fatal(err)
			}
			cancel()
			dcancel()
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestCacheRefusesInvalidSnapshot: a snapshot the cache cannot serve is
// refused, and the previous one stays.
func TestCacheRefusesInvalidSnapshot(t *testing.T) {
	tests := map[string]func(s *xds.Snapshot){
		"type twice":               func(s *xds.Snapshot) { s.Types = append(s.Types, s.Types[0]) },
		"type without version":     func(s *xds.Snapshot) { s.Types[0].Version = "" },
		"resource with no version": func(s *xds.Snapshot) { s.Types[0].Resources[0].Version = "" },
		"not sorted": func(s *xds.Snapshot) {
			r := s.Types[0].Resources
			r[0], r[1] = r[1], r[0]
		},
		"duplicate name": func(s *xds.Snapshot) { s.Types[0].Resources[1].Name = s.Types[0].Resources[0].Name },
	}
	for name, breakIt := range tests {
		t.Run(name, func(t *testing.T) {
			c := NewCache(nil)
			good := snapshotOf(base())
			setSnapshot(t, c, good)
			bad := snapshotOf(replaced(base(), resource.ClusterType, objs{"c1": "cluster 1 v2", "c2": "cluster 2 v2"}))
			breakIt(bad)
			if err := c.SetSnapshot(bad); err == nil {
				t.Fatal("SetSnapshot accepted an invalid snapshot")
			}
			ch := make(chan cachev3.Response, 1)
			if _, err := c.CreateWatch(&cachev3.Request{TypeUrl: resource.ClusterType}, stream.NewSotwSubscription(nil, true), ch); err != nil {
				t.Fatal(err)
			}
			if got, want := (<-ch).GetResponseVersion(), xdstest.Version(good, resource.ClusterType); got != want {
				t.Errorf("serving version %q, want the previous snapshot's %q", got, want)
			}
		})
	}
	if err := NewCache(nil).SetSnapshot(nil); err == nil {
		t.Error("SetSnapshot accepted nil")
	}
}

func TestCacheFetchUnsupported(t *testing.T) {
	c := NewCache(nil)
	setSnapshot(t, c, snapshotOf(base()))
	if _, err := c.Fetch(context.Background(), &cachev3.Request{TypeUrl: resource.ClusterType}); err == nil {
		t.Error("Fetch succeeded; want an error saying REST is not supported")
	}
}

// BenchmarkCacheAck: an Envoy ACKs a type of 10,000 resources that did not
// change: the cache parks the watch.
func BenchmarkCacheAck(b *testing.B) {
	const n = 10000
	o := objs{}
	for i := range n {
		o[fmt.Sprintf("ns%d/svc/80", i)] = fmt.Sprintf("endpoints %d", i)
	}
	names := slices.Sorted(maps.Keys(o))
	s := snapshotOf(replaced(base(), resource.EndpointType, o))
	v := xdstest.Version(s, resource.EndpointType)

	for _, wildcard := range []bool{true, false} {
		var subscribe []string
		if !wildcard {
			subscribe = names
		}
		b.Run(fmt.Sprintf("sotw/wildcard=%v", wildcard), func(b *testing.B) {
			c := NewCache(nil)
			setSnapshot(b, c, s)
			sub := stream.NewSotwSubscription(subscribe, true)
			ch := make(chan cachev3.Response, 1)
			if _, err := c.CreateWatch(&cachev3.Request{TypeUrl: resource.EndpointType, ResourceNames: subscribe}, sub, ch); err != nil {
				b.Fatal(err)
			}
			sub.SetReturnedResources((<-ch).GetReturnedResources())
			ack := &cachev3.Request{TypeUrl: resource.EndpointType, VersionInfo: v, ResourceNames: subscribe}
			b.ReportAllocs()
			for b.Loop() {
				cancel, err := c.CreateWatch(ack, sub, ch)
				if err != nil {
					b.Fatal(err)
				}
				cancel()
			}
			if len(ch) > 0 {
				b.Fatal("an ACK was answered")
			}
		})
		b.Run(fmt.Sprintf("delta/wildcard=%v", wildcard), func(b *testing.B) {
			c := NewCache(nil)
			setSnapshot(b, c, s)
			sub := stream.NewDeltaSubscription(subscribe, nil, nil, true)
			ch := make(chan cachev3.DeltaResponse, 1)
			if _, err := c.CreateDeltaWatch(&cachev3.DeltaRequest{TypeUrl: resource.EndpointType, ResourceNamesSubscribe: subscribe}, sub, ch); err != nil {
				b.Fatal(err)
			}
			sub.SetReturnedResources((<-ch).GetReturnedResources())
			ack := &cachev3.DeltaRequest{TypeUrl: resource.EndpointType, ResponseNonce: "1"}
			b.ReportAllocs()
			for b.Loop() {
				cancel, err := c.CreateDeltaWatch(ack, sub, ch)
				if err != nil {
					b.Fatal(err)
				}
				cancel()
			}
			if len(ch) > 0 {
				b.Fatal("an ACK was answered")
			}
		})
	}
}

// TestCacheReusesUnchangedAnys: a snapshot sharing all but one resource of
// a type with the one before (as the Translator's are) makes one new Any
// for that type; the others are the previous data's.
func TestCacheReusesUnchangedAnys(t *testing.T) {
	c := NewCache(nil)
	s1 := snapshotOf(base())
	setSnapshot(t, c, s1)
	before := c.data(resource.EndpointType)

	s2 := &xds.Snapshot{Types: slices.Clone(s1.Types)}
	for i := range s2.Types {
		if ts := &s2.Types[i]; ts.TypeURL == resource.EndpointType {
			rs := slices.Clone(ts.Resources)
			rs[1] = xds.NewResource(rs[1].Name, []byte("endpoints 2, changed"))
			*ts = xds.NewTypeSnapshot(ts.TypeURL, rs)
		}
	}
	setSnapshot(t, c, s2)
	after := c.data(resource.EndpointType)
	if after == before {
		t.Fatal("the changed type kept its data")
	}
	if after.anys[0] != before.anys[0] || after.deltas[0] != before.deltas[0] {
		t.Errorf("the unchanged resource got a new Any")
	}
	if after.anys[1] == before.anys[1] || string(after.anys[1].GetValue()) != "endpoints 2, changed" {
		t.Errorf("the changed resource kept its old Any")
	}
	if got := after.versions()["c2"]; got != after.resources[1].Version {
		t.Errorf("version of c2 = %q, want %q", got, after.resources[1].Version)
	}
}
