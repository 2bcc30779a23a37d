package xdsserver

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/proxyctl/proxyctl/internal/xds"
)

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
func checkDelta(t *testing.T, r *discoveryv3.DeltaDiscoveryResponse, want *xds.TypeSnapshot, names, removed []string) {
	t.Helper()
	if r.GetSystemVersionInfo() != want.Version {
		t.Errorf("%s: system version %q, want %q", want.TypeURL, r.GetSystemVersionInfo(), want.Version)
	}
	var got []string
	for _, dr := range r.GetResources() {
		got = append(got, dr.GetName())
		i := slices.IndexFunc(want.Resources, func(w xds.Resource) bool { return w.Name == dr.GetName() })
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
