package xdsserver

import (
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

func TestWireCodecRoundTrip(t *testing.T) {
	in := &discoveryv3.DiscoveryResponse{VersionInfo: "v1", TypeUrl: "t", Nonce: "1",
		Resources: []*anypb.Any{{TypeUrl: "t", Value: make([]byte, 100<<10)}}}
	c := wireCodec{enc: newEncodings()}
	data, err := c.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := data.Len(), proto.Size(in); got != want {
		t.Errorf("marshalled into %d bytes, want exactly %d", got, want)
	}
	out := &discoveryv3.DiscoveryResponse{}
	if err := c.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, out) {
		t.Error("round trip changed the message")
	}
	if _, err := c.Marshal("not a message"); err == nil {
		t.Error("Marshal accepted a string")
	}
	if err := c.Unmarshal(data, new(int)); err == nil {
		t.Error("Unmarshal accepted an *int")
	}
	if c.Name() != "proto" {
		t.Errorf("Name = %q, want proto (what gRPC clients send)", c.Name())
	}
}

// TestWireCodecSharesEncodings: the cache's responses are sent as their
// type's one encoding plus the stream's nonce, and decode to exactly the
// message; anything else is marshalled on its own.
func TestWireCodecSharesEncodings(t *testing.T) {
	c := NewCache(nil)
	snap := snapshot(t, testDAG(20))
	if err := c.SetSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	codec := wireCodec{enc: c.enc}
	d := c.data(resourcev3.ClusterType)

	decode := func(data mem.BufferSlice, into proto.Message) {
		t.Helper()
		if err := codec.Unmarshal(data, into); err != nil {
			t.Fatal(err)
		}
	}
	for name, nonce := range map[string]string{"with nonce": "42", "without nonce": ""} {
		t.Run(name, func(t *testing.T) {
			sotw := &discoveryv3.DiscoveryResponse{VersionInfo: d.version, TypeUrl: d.url, Resources: d.anys, Nonce: nonce}
			data, err := codec.Marshal(sotw)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := c.enc.lookup(d.url, func(x *typeData) bool { return x == d }).sotw()
			if len(data) != 2 || &data[0].ReadOnlyData()[0] != &body[0] {
				t.Errorf("a SotW response of the cache was not sent as the shared encoding")
			}
			got := &discoveryv3.DiscoveryResponse{}
			decode(data, got)
			if !proto.Equal(got, sotw) {
				t.Errorf("the shared SotW encoding decodes to another message")
			}

			delta := &discoveryv3.DeltaDiscoveryResponse{SystemVersionInfo: d.version, TypeUrl: d.url, Resources: d.deltas, Nonce: nonce}
			data, err = codec.Marshal(delta)
			if err != nil {
				t.Fatal(err)
			}
			body, _ = c.enc.lookup(d.url, func(x *typeData) bool { return x == d }).delta()
			if len(data) != 2 || &data[0].ReadOnlyData()[0] != &body[0] {
				t.Errorf("a full delta response of the cache was not sent as the shared encoding")
			}
			gotDelta := &discoveryv3.DeltaDiscoveryResponse{}
			decode(data, gotDelta)
			if !proto.Equal(gotDelta, delta) {
				t.Errorf("the shared delta encoding decodes to another message")
			}
		})
	}

	// Look-alikes are marshalled whole: another slice, another version, a
	// field the shared encoding does not carry.
	copied := append([]*anypb.Any(nil), d.anys...)
	for name, r := range map[string]*discoveryv3.DiscoveryResponse{
		"other slice":   {VersionInfo: d.version, TypeUrl: d.url, Resources: copied},
		"other version": {VersionInfo: "x", TypeUrl: d.url, Resources: d.anys},
		"canary":        {VersionInfo: d.version, TypeUrl: d.url, Resources: d.anys, Canary: true},
		"empty":         {VersionInfo: d.version, TypeUrl: d.url},
	} {
		data, err := codec.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) != 1 {
			t.Errorf("%s: sent as a shared encoding", name)
		}
		got := &discoveryv3.DiscoveryResponse{}
		decode(data, got)
		if !proto.Equal(got, r) {
			t.Errorf("%s: round trip changed the message", name)
		}
	}
	removed := &discoveryv3.DeltaDiscoveryResponse{SystemVersionInfo: d.version, TypeUrl: d.url, Resources: d.deltas, RemovedResources: []string{"gone"}}
	if data, err := codec.Marshal(removed); err != nil || len(data) != 1 {
		t.Errorf("a delta response with removals was sent as a shared encoding (%d buffers, %v)", len(data), err)
	}
}
