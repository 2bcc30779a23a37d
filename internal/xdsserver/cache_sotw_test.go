package xdsserver

import (
	"bytes"
	"context"
	"slices"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/proxyctl/proxyctl/internal/xds"
	"github.com/proxyctl/proxyctl/internal/xds/xdstest"
)

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
func checkSotw(t *testing.T, r *discoveryv3.DiscoveryResponse, want *xds.TypeSnapshot) {
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
func only(t *xds.TypeSnapshot, names ...string) *xds.TypeSnapshot {
	out := *t
	out.Resources = slices.DeleteFunc(slices.Clone(t.Resources), func(r xds.Resource) bool { return !slices.Contains(names, r.Name) })
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
	s := snapshot(t, testDAG(3))
	setSnapshot(t, h.cache, s)
	a, b := h.sotw("envoy-a"), h.sotw("envoy-b")
	for _, url := range xds.PushOrder {
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

// TestCacheSotwRules: when a state-of-the-world request is answered at once
// and when it waits.
func TestCacheSotwRules(t *testing.T) {
	s := snapshotOf(base())
	v := xdstest.Version(s, resource.EndpointType)
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
		if r.GetResponseVersion() != xdstest.Version(s, resource.ClusterType) {
			t.Errorf("answered with version %q, want %q", r.GetResponseVersion(), xdstest.Version(s, resource.ClusterType))
		}
	default:
		t.Error("the watch was not answered by the next snapshot")
	}
}
