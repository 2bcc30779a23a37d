package xds

import (
	"bytes"
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
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

// waitTimeout bounds every wait for the server; tests never sleep.
const waitTimeout = 10 * time.Second

// objs is one type's resources, name to value. The values are any bytes:
// the cache never looks inside.
type objs map[string]string

// snapshotOf is a Snapshot with every type of PushOrder, empty if not in m.
func snapshotOf(m map[string]objs) *Snapshot {
	s := &Snapshot{}
	for _, url := range PushOrder {
		var items []Resource
		for _, name := range slices.Sorted(maps.Keys(m[url])) {
			items = append(items, newResource(name, []byte(m[url][name])))
		}
		s.Types = append(s.Types, newTypeSnapshot(url, items))
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

func setSnapshot(t testing.TB, c *Cache, s *Snapshot) {
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

// sotwClient is an Envoy on a state-of-the-world ADS stream.
type sotwClient struct {
	h      *harness
	stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node   *corev3.Node // sent on the first request only, as Envoy does
	recv   <-chan *discoveryv3.DiscoveryResponse
	nonce  map[string]string // of the last response, by type
}

func (h *harness) sotw(node string) *sotwClient {
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	s, err := h.client.StreamAggregatedResources(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return &sotwClient{h: h, stream: s, node: &corev3.Node{Id: node}, recv: receive(ctx, s.Recv), nonce: map[string]string{}}
}

// request asks for url, having version, and waits until the server handled
// it.
func (c *sotwClient) request(url, version string, names ...string) {
	c.h.t.Helper()
	req := &discoveryv3.DiscoveryRequest{Node: c.node, TypeUrl: url, VersionInfo: version, ResourceNames: names, ResponseNonce: c.nonce[url]}
	c.node = nil
	if err := c.stream.Send(req); err != nil {
		c.h.t.Fatal(err)
	}
	c.h.waitWatch(url)
}

// expect receives the next response and checks it is of url.
func (c *sotwClient) expect(url string) *discoveryv3.DiscoveryResponse {
	c.h.t.Helper()
	r := next(c.h.t, c.recv)
	if r.GetTypeUrl() != url {
		c.h.t.Fatalf("got a %s response (version %s), want %s", r.GetTypeUrl(), r.GetVersionInfo(), url)
	}
	c.nonce[url] = r.GetNonce()
	return r
}

// ack accepts r, still naming names.
func (c *sotwClient) ack(r *discoveryv3.DiscoveryResponse, names ...string) {
	c.h.t.Helper()
	c.request(r.GetTypeUrl(), r.GetVersionInfo(), names...)
}

// barrier asks again for secrets, which are answered at once (version ""):
// receiving them next proves no other response was queued before. Only for
// tests that do not otherwise use secrets.
func (c *sotwClient) barrier() {
	c.h.t.Helper()
	c.request(resource.SecretType, "")
	c.expect(resource.SecretType)
}

// checkSotw checks r carries every resource of want, byte for byte.
func checkSotw(t *testing.T, r *discoveryv3.DiscoveryResponse, want *TypeSnapshot) {
	t.Helper()
	if r.GetVersionInfo() != want.Version {
		t.Errorf("%s: version %q, want %q", want.TypeURL, r.GetVersionInfo(), want.Version)
	}
	if len(r.GetResources()) != len(want.Resources) {
		t.Fatalf("%s: %d resources, want %d", want.TypeURL, len(r.GetResources()), len(want.Resources))
	}
	for i, a := range r.GetResources() {
		if a.GetTypeUrl() != want.TypeURL || !bytes.Equal(a.GetValue(), want.Resources[i].Value) {
			t.Errorf("%s: resource %d is %s %q, want %q", want.TypeURL, i, a.GetTypeUrl(), a.GetValue(), want.Resources[i].Value)
		}
	}
}

// deltaClient is an Envoy on an incremental ADS stream.
type deltaClient struct {
	h      *harness
	stream discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	node   *corev3.Node
	recv   <-chan *discoveryv3.DeltaDiscoveryResponse
	nonce  map[string]string
}

func (h *harness) delta(node string) (*deltaClient, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	s, err := h.client.DeltaAggregatedResources(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return &deltaClient{h: h, stream: s, node: &corev3.Node{Id: node}, recv: receive(ctx, s.Recv), nonce: map[string]string{}}, cancel
}

// request (un)subscribes to names of url, acknowledging the last response
// of url, and waits until the server handled it.
func (c *deltaClient) request(url string, subscribe, unsubscribe []string) {
	c.h.t.Helper()
	req := &discoveryv3.DeltaDiscoveryRequest{Node: c.node, TypeUrl: url, ResourceNamesSubscribe: subscribe, ResourceNamesUnsubscribe: unsubscribe, ResponseNonce: c.nonce[url]}
	c.node = nil
	if err := c.stream.Send(req); err != nil {
		c.h.t.Fatal(err)
	}
	c.h.waitWatch(url)
}

func (c *deltaClient) expect(url string) *discoveryv3.DeltaDiscoveryResponse {
	c.h.t.Helper()
	r := next(c.h.t, c.recv)
	if r.GetTypeUrl() != url {
		c.h.t.Fatalf("got a %s delta response (version %s), want %s", r.GetTypeUrl(), r.GetSystemVersionInfo(), url)
	}
	c.nonce[url] = r.GetNonce()
	return r
}

func (c *deltaClient) ack(r *discoveryv3.DeltaDiscoveryResponse) {
	c.h.t.Helper()
	c.request(r.GetTypeUrl(), nil, nil)
}

// checkDelta checks r carries exactly the resources names of want, byte for
// byte with their versions, and removes exactly removed.
func checkDelta(t *testing.T, r *discoveryv3.DeltaDiscoveryResponse, want *TypeSnapshot, names, removed []string) {
	t.Helper()
	if r.GetSystemVersionInfo() != want.Version {
		t.Errorf("%s: system version %q, want %q", want.TypeURL, r.GetSystemVersionInfo(), want.Version)
	}
	var got []string
	for _, dr := range r.GetResources() {
		got = append(got, dr.GetName())
		i := slices.IndexFunc(want.Resources, func(w Resource) bool { return w.Name == dr.GetName() })
		if i < 0 {
			continue // reported by the diff below
		}
		w := want.Resources[i]
		if dr.GetVersion() != w.Version || dr.GetResource().GetTypeUrl() != want.TypeURL || !bytes.Equal(dr.GetResource().GetValue(), w.Value) {
			t.Errorf("%s %s: version %q, %s %q; want %q, %q", want.TypeURL, w.Name, dr.GetVersion(), dr.GetResource().GetTypeUrl(), dr.GetResource().GetValue(), w.Version, w.Value)
		}
	}
	if diff := cmp.Diff(names, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%s: resources (-want +got):\n%s", want.TypeURL, diff)
	}
	if diff := cmp.Diff(removed, r.GetRemovedResources(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%s: removed (-want +got):\n%s", want.TypeURL, diff)
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

// requests are what an Envoy asks for first; answered in PushOrder.
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
// first snapshot, which answers all of them, in PushOrder. Had anything been
// answered before, it would arrive first on the stream.
func TestCacheNothingBeforeFirstSnapshot(t *testing.T) {
	t.Run("sotw", func(t *testing.T) {
		h := newHarness(t)
		envoy := h.sotw("envoy")
		for _, r := range requests {
			envoy.request(r.url, "", r.names...)
		}
		if got := len(h.cache.parked()); got != len(PushOrder) {
			t.Fatalf("%d types with parked watches, want %d", got, len(PushOrder))
		}
		s := snapshotOf(base())
		setSnapshot(t, h.cache, s)
		for _, url := range PushOrder {
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
		if got := len(h.cache.parked()); got != len(PushOrder) {
			t.Fatalf("%d types with parked watches, want %d", got, len(PushOrder))
		}
		s := snapshotOf(base())
		setSnapshot(t, h.cache, s)
		for _, url := range PushOrder {
			ts := s.Type(url)
			var names []string
			for _, r := range ts.Resources {
				names = append(names, r.Name)
			}
			checkDelta(t, envoy.expect(url), ts, names, nil)
		}
	})
}

// TestCacheAckThenRoutesOnly: ACKs of the current version get nothing, and
// a snapshot changing only routes pushes only RDS. A response to an ACK
// would arrive before the RDS push; one to any other type before the CDS
// push of the next snapshot.
func TestCacheAckThenRoutesOnly(t *testing.T) {
	h := newHarness(t)
	envoy := h.sotw("envoy")
	s1 := snapshotOf(base())
	setSnapshot(t, h.cache, s1)
	for _, r := range requests {
		envoy.request(r.url, "", r.names...)
		resp := envoy.expect(r.url)
		checkSotw(t, resp, s1.Type(r.url))
		envoy.ack(resp, r.names...)
	}

	s2 := snapshotOf(replaced(base(), resource.RouteType, objs{"http": "routes v2"}))
	setSnapshot(t, h.cache, s2)
	rds := envoy.expect(resource.RouteType)
	checkSotw(t, rds, s2.Type(resource.RouteType))
	envoy.ack(rds, "http")

	s3 := snapshotOf(replaced(replaced(base(), resource.RouteType, objs{"http": "routes v2"}), resource.ClusterType, objs{"c1": "cluster 1 v3", "c2": "cluster 2"}))
	setSnapshot(t, h.cache, s3)
	checkSotw(t, envoy.expect(resource.ClusterType), s3.Type(resource.ClusterType))
}

// TestCachePushOrder: a snapshot changing every type reaches each stream in
// PushOrder, whatever order the watches were made in.
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
		for _, url := range PushOrder {
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
		for _, url := range PushOrder {
			names := slices.Sorted(maps.Keys(changed[url]))
			checkDelta(t, envoy.expect(url), s.Type(url), names, nil)
		}
	})
}

// TestCacheADSCoversEndpoints: the ADS rule. An EDS request naming only
// some of the snapshot's ClusterLoadAssignments waits until it names them
// all, or until a snapshot has no others.
func TestCacheADSCoversEndpoints(t *testing.T) {
	t.Run("subset waits, all answered", func(t *testing.T) {
		h := newHarness(t)
		s := snapshotOf(base())
		setSnapshot(t, h.cache, s)
		envoy := h.sotw("envoy")
		envoy.request(resource.EndpointType, "", "c1")
		envoy.barrier()
		envoy.request(resource.EndpointType, "", "c1", "c2")
		checkSotw(t, envoy.expect(resource.EndpointType), s.Type(resource.EndpointType))
	})
	t.Run("subset answered once the others are gone", func(t *testing.T) {
		h := newHarness(t)
		setSnapshot(t, h.cache, snapshotOf(base()))
		envoy := h.sotw("envoy")
		envoy.request(resource.ClusterType, "")
		envoy.ack(envoy.expect(resource.ClusterType))
		envoy.request(resource.EndpointType, "", "c1")
		envoy.barrier()

		s := snapshotOf(replaced(replaced(base(), resource.ClusterType, objs{"c1": "cluster 1"}), resource.EndpointType, objs{"c1": "endpoints 1"}))
		setSnapshot(t, h.cache, s)
		envoy.expect(resource.ClusterType)
		checkSotw(t, envoy.expect(resource.EndpointType), s.Type(resource.EndpointType))
	})
	t.Run("a new cluster's endpoints wait for Envoy to name them", func(t *testing.T) {
		h := newHarness(t)
		setSnapshot(t, h.cache, snapshotOf(base()))
		envoy := h.sotw("envoy")
		envoy.request(resource.ClusterType, "")
		envoy.ack(envoy.expect(resource.ClusterType))
		envoy.request(resource.EndpointType, "", "c1", "c2")
		eds := envoy.expect(resource.EndpointType)
		envoy.ack(eds, "c1", "c2")

		m := replaced(base(), resource.ClusterType, objs{"c1": "cluster 1", "c2": "cluster 2", "c3": "cluster 3"})
		m = replaced(m, resource.EndpointType, objs{"c1": "endpoints 1", "c2": "endpoints 2", "c3": "endpoints 3"})
		s := snapshotOf(m)
		setSnapshot(t, h.cache, s)
		cds := envoy.expect(resource.ClusterType)
		envoy.barrier() // EDS was not pushed
		envoy.ack(cds)
		envoy.request(resource.EndpointType, eds.GetVersionInfo(), "c1", "c2", "c3")
		// It holds the others: only the new one is sent.
		checkSotw(t, envoy.expect(resource.EndpointType), only(s.Type(resource.EndpointType), "c3"))
	})
}

// only is t with only the resources named names.
func only(t *TypeSnapshot, names ...string) *TypeSnapshot {
	out := *t
	out.Resources = slices.DeleteFunc(slices.Clone(t.Resources), func(r Resource) bool { return !slices.Contains(names, r.Name) })
	return &out
}

// TestCacheSotwSendsWhatChanged: a named state-of-the-world subscription
// that holds the previous version is sent only the resources that changed;
// one further behind, or a wildcard one, gets them all.
func TestCacheSotwSendsWhatChanged(t *testing.T) {
	h := newHarness(t)
	m := replaced(base(), resource.RouteType, objs{"a": "routes a", "b": "routes b", "c": "routes c"})
	setSnapshot(t, h.cache, snapshotOf(m))
	envoy := h.sotw("envoy")
	envoy.request(resource.ListenerType, "")
	envoy.ack(envoy.expect(resource.ListenerType))
	envoy.request(resource.RouteType, "", "a", "b", "c")
	rds := envoy.expect(resource.RouteType)
	envoy.ack(rds, "a", "b", "c")

	m = replaced(m, resource.RouteType, objs{"a": "routes a", "b": "routes b v2", "c": "routes c"})
	m = replaced(m, resource.ListenerType, objs{"http": "listener v2"})
	s := snapshotOf(m)
	setSnapshot(t, h.cache, s)
	envoy.ack(envoy.expect(resource.ListenerType))
	rds = envoy.expect(resource.RouteType)
	checkSotw(t, rds, only(s.Type(resource.RouteType), "b"))
	envoy.ack(rds, "a", "b", "c")

	// A second stream, fresh: everything.
	fresh := h.sotw("fresh")
	fresh.request(resource.RouteType, "", "a", "b", "c")
	checkSotw(t, fresh.expect(resource.RouteType), s.Type(resource.RouteType))

	// Two versions on, the first stream still follows: it acked the last.
	m = replaced(m, resource.RouteType, objs{"a": "routes a v2", "b": "routes b v2", "c": "routes c v2"})
	s = snapshotOf(m)
	setSnapshot(t, h.cache, s)
	rds = envoy.expect(resource.RouteType)
	checkSotw(t, rds, only(s.Type(resource.RouteType), "a", "c"))

	// Two snapshots before it acks: it is sent what changed since the
	// version it holds.
	m = replaced(m, resource.RouteType, objs{"a": "routes a v3", "b": "routes b v2", "c": "routes c v2"})
	setSnapshot(t, h.cache, snapshotOf(m))
	m = replaced(m, resource.RouteType, objs{"a": "routes a v3", "b": "routes b v3", "c": "routes c v2"})
	s = snapshotOf(m)
	setSnapshot(t, h.cache, s)
	envoy.ack(rds, "a", "b", "c")
	checkSotw(t, envoy.expect(resource.RouteType), only(s.Type(resource.RouteType), "a", "b"))
}

// TestCacheStreamsShareBytes: two Envoys get byte-identical responses,
// whose resources are the snapshot's encodings.
func TestCacheStreamsShareBytes(t *testing.T) {
	h := newHarness(t)
	s, err := NewSnapshot(Translate(fixtures()["tls-redirect"], testListenerConfig))
	if err != nil {
		t.Fatal(err)
	}
	setSnapshot(t, h.cache, s)
	a, b := h.sotw("envoy-a"), h.sotw("envoy-b")
	for _, url := range PushOrder {
		var names []string
		if url != resource.ClusterType && url != resource.ListenerType {
			for _, r := range s.Type(url).Resources {
				names = append(names, r.Name)
			}
		}
		a.request(url, "", names...)
		b.request(url, "", names...)
		ra, rb := a.expect(url), b.expect(url)
		checkSotw(t, ra, s.Type(url))
		checkSotw(t, rb, s.Type(url))
		if ra.GetVersionInfo() != rb.GetVersionInfo() || len(ra.GetResources()) != len(rb.GetResources()) {
			t.Fatalf("%s: the two Envoys got different responses", url)
		}
		for i := range ra.GetResources() {
			if !bytes.Equal(ra.GetResources()[i].GetValue(), rb.GetResources()[i].GetValue()) {
				t.Errorf("%s: resource %d differs between the two Envoys", url, i)
			}
		}
	}
}

// TestCacheResponsesShareAnys: every response of a type carries the same
// Anys, built once, wrapping the snapshot's bytes; each has its own
// DiscoveryResponse (the server sets its nonce) and its own
// returned-resources map (the server deletes from it).
func TestCacheResponsesShareAnys(t *testing.T) {
	c := NewCache(nil)
	s := snapshotOf(base())
	setSnapshot(t, c, s)
	var got []*sotwResponse
	for range 2 {
		ch := make(chan cachev3.Response, 1)
		sub := stream.NewSotwSubscription(nil, true)
		if _, err := c.CreateWatch(&cachev3.Request{TypeUrl: resource.ClusterType}, sub, ch); err != nil {
			t.Fatal(err)
		}
		got = append(got, (<-ch).(*sotwResponse))
	}
	a, b := got[0], got[1]
	if a.resp.Resources[0] != b.resp.Resources[0] {
		t.Errorf("the responses carry different Anys")
	}
	if &a.resp.Resources[0].Value[0] != &s.Type(resource.ClusterType).Resources[0].Value[0] {
		t.Errorf("the Any does not hold the snapshot's bytes")
	}
	delete(a.returned, "c1")
	if len(b.returned) != 1 {
		t.Errorf("responses share their returned-resources map")
	}
}

// TestCacheDelta: incremental xDS sends what the client lacks and removes
// what is gone, and waits while there is nothing.
func TestCacheDelta(t *testing.T) {
	h := newHarness(t)
	s1 := snapshotOf(base())
	setSnapshot(t, h.cache, s1)
	envoy, _ := h.delta("envoy")
	envoy.request(resource.ClusterType, nil, nil)
	cds := envoy.expect(resource.ClusterType)
	checkDelta(t, cds, s1.Type(resource.ClusterType), []string{"c1", "c2"}, nil)
	envoy.ack(cds)
	envoy.request(resource.EndpointType, []string{"c1", "c2"}, nil)
	eds := envoy.expect(resource.EndpointType)
	checkDelta(t, eds, s1.Type(resource.EndpointType), []string{"c1", "c2"}, nil)
	envoy.ack(eds)
	envoy.request(resource.RouteType, []string{"http"}, nil)
	envoy.ack(envoy.expect(resource.RouteType))

	// c1's endpoints change, c2 goes, c3 comes.
	m := replaced(base(), resource.ClusterType, objs{"c1": "cluster 1", "c3": "cluster 3"})
	m = replaced(m, resource.EndpointType, objs{"c1": "endpoints 1 v2", "c3": "endpoints 3"})
	s2 := snapshotOf(m)
	setSnapshot(t, h.cache, s2)
	cds = envoy.expect(resource.ClusterType)
	checkDelta(t, cds, s2.Type(resource.ClusterType), []string{"c3"}, []string{"c2"})
	eds = envoy.expect(resource.EndpointType)
	checkDelta(t, eds, s2.Type(resource.EndpointType), []string{"c1"}, []string{"c2"})
	envoy.ack(cds)
	envoy.request(resource.EndpointType, []string{"c3"}, []string{"c2"})
	checkDelta(t, envoy.expect(resource.EndpointType), s2.Type(resource.EndpointType), []string{"c3"}, nil)

	// The ACKs parked: the next thing on the stream is the next change.
	s3 := snapshotOf(replaced(m, resource.RouteType, objs{"http": "routes v3"}))
	setSnapshot(t, h.cache, s3)
	checkDelta(t, envoy.expect(resource.RouteType), s3.Type(resource.RouteType), []string{"http"}, nil)
}

// TestCacheDeltaFirstWildcardEmpty: the first wildcard request of a type
// with no resources is answered, empty, so Envoy finishes initialising.
func TestCacheDeltaFirstWildcardEmpty(t *testing.T) {
	h := newHarness(t)
	s := snapshotOf(replaced(base(), resource.ListenerType, nil))
	setSnapshot(t, h.cache, s)
	envoy, _ := h.delta("envoy")
	envoy.request(resource.ListenerType, nil, nil)
	checkDelta(t, envoy.expect(resource.ListenerType), s.Type(resource.ListenerType), nil, nil)
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

// TestCacheClosedStream: the delta server closes a stream's channel once it
// has cancelled the stream's watches; a snapshot after that must not send
// on it (that would panic).
func TestCacheClosedStream(t *testing.T) {
	h := newHarness(t)
	setSnapshot(t, h.cache, snapshotOf(base()))
	envoy, closeStream := h.delta("envoy")
	envoy.request(resource.ClusterType, nil, nil)
	envoy.ack(envoy.expect(resource.ClusterType))
	if got := h.cache.parked()[resource.ClusterType]; got != 1 {
		t.Fatalf("%d CDS watches parked, want 1", got)
	}
	closeStream()
	select {
	case <-h.closed:
	case <-time.After(waitTimeout):
		t.Fatal("the server did not close the stream")
	}
	if got := h.cache.parked(); len(got) != 0 {
		t.Errorf("watches left after the stream closed: %v", got)
	}
	setSnapshot(t, h.cache, snapshotOf(replaced(base(), resource.ClusterType, objs{"c1": "cluster 1 v2", "c2": "cluster 2"})))
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
			for _, url := range PushOrder {
				checkSotw(t, sotws[i].expect(url), snap.Type(url))
				deltas[i].expect(url)
			}
		}
	})
	t.Run("watches and snapshots", func(t *testing.T) {
		c := NewCache(nil)
		snaps := []*Snapshot{snapshotOf(base()), snapshotOf(replaced(base(), resource.EndpointType, objs{"c1": "endpoints 1 v2", "c2": "endpoints 2"}))}
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

// TestCacheSotwRules: when a state-of-the-world request is answered at once
// and when it waits.
func TestCacheSotwRules(t *testing.T) {
	s := snapshotOf(base())
	v := s.Version(resource.EndpointType)
	tests := map[string]struct {
		url     string
		version string
		names   []string
		acked   bool // the stream was sent the current version
		want    bool
	}{
		"new stream, no version":        {resource.ClusterType, "", nil, false, true},
		"older version":                 {resource.ClusterType, "old", nil, true, true},
		"ACK":                           {resource.EndpointType, v, []string{"c1", "c2"}, true, false},
		"ACK naming more":               {resource.EndpointType, v, []string{"c1", "c2", "c3"}, true, false},
		"current version, new stream":   {resource.EndpointType, v, []string{"c1", "c2"}, false, true},
		"names a subset":                {resource.EndpointType, "", []string{"c1"}, false, false},
		"names none that exist":         {resource.EndpointType, "", []string{"c9"}, false, false},
		"type not served":               {resource.RuntimeType, "", nil, false, false},
		"type not served, with version": {resource.RuntimeType, "x", nil, false, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := NewCache(nil)
			setSnapshot(t, c, s)
			sub := stream.NewSotwSubscription(tc.names, true)
			if tc.acked {
				ch := make(chan cachev3.Response, 1)
				if _, err := c.CreateWatch(&cachev3.Request{TypeUrl: tc.url, ResourceNames: tc.names}, sub, ch); err != nil {
					t.Fatal(err)
				}
				sub.SetReturnedResources((<-ch).GetReturnedResources())
			}
			ch := make(chan cachev3.Response, 1)
			cancel, err := c.CreateWatch(&cachev3.Request{TypeUrl: tc.url, VersionInfo: tc.version, ResourceNames: tc.names}, sub, ch)
			if err != nil {
				t.Fatal(err)
			}
			defer cancel()
			if got := len(ch) == 1; got != tc.want {
				t.Errorf("answered = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestCacheFullChannel: a response that cannot be sent without blocking is
// dropped and logged, and the watch stays for the next snapshot.
func TestCacheFullChannel(t *testing.T) {
	log, hook := logtest.NewNullLogger()
	c := NewCache(log)
	setSnapshot(t, c, snapshotOf(base()))
	ch := make(chan cachev3.Response, 1)
	ch <- nil // full
	if _, err := c.CreateWatch(&cachev3.Request{TypeUrl: resource.ClusterType}, stream.NewSotwSubscription(nil, true), ch); err != nil {
		t.Fatal(err)
	}
	if e := hook.LastEntry(); e == nil || e.Level != logrus.ErrorLevel {
		t.Errorf("no error logged for a full channel")
	}
	<-ch
	s := snapshotOf(replaced(base(), resource.ClusterType, objs{"c1": "cluster 1 v2"}))
	setSnapshot(t, c, s)
	select {
	case r := <-ch:
		if r.GetResponseVersion() != s.Version(resource.ClusterType) {
			t.Errorf("answered with version %q, want %q", r.GetResponseVersion(), s.Version(resource.ClusterType))
		}
	default:
		t.Error("the watch was not answered by the next snapshot")
	}
}

// TestCacheRefusesInvalidSnapshot: a snapshot the cache cannot serve is
// refused, and the previous one stays.
func TestCacheRefusesInvalidSnapshot(t *testing.T) {
	tests := map[string]func(s *Snapshot){
		"type twice":               func(s *Snapshot) { s.Types = append(s.Types, s.Types[0]) },
		"type without version":     func(s *Snapshot) { s.Types[0].Version = "" },
		"resource with no version": func(s *Snapshot) { s.Types[0].Resources[0].Version = "" },
		"not sorted": func(s *Snapshot) {
			r := s.Types[0].Resources
			r[0], r[1] = r[1], r[0]
		},
		"duplicate name": func(s *Snapshot) { s.Types[0].Resources[1].Name = s.Types[0].Resources[0].Name },
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
			if got, want := (<-ch).GetResponseVersion(), good.Version(resource.ClusterType); got != want {
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
	v := s.Version(resource.EndpointType)

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
