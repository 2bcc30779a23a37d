package xds

import (
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

func TestExactCodecRoundTrip(t *testing.T) {
	in := &discoveryv3.DiscoveryResponse{VersionInfo: "v1", TypeUrl: "t", Nonce: "1",
		Resources: []*anypb.Any{{TypeUrl: "t", Value: make([]byte, 100<<10)}}}
	c := exactCodec{}
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
