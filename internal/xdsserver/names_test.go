package xdsserver

import (
	"fmt"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

func manyNames(n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s/app%05d.example.com", prefix, i)
	}
	return out
}

// TestCodecSharesNameLists: requests naming the same long list decode to
// what proto.Unmarshal gives, and share one []string; another list, a
// short one, or names not in one run decode as usual.
func TestCodecSharesNameLists(t *testing.T) {
	codec := wireCodec{names: &nameLists{}}
	decode := func(b []byte) *discoveryv3.DiscoveryRequest {
		t.Helper()
		got := &discoveryv3.DiscoveryRequest{}
		if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, got); err != nil {
			t.Fatal(err)
		}
		want := &discoveryv3.DiscoveryRequest{}
		if err := proto.Unmarshal(b, want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Fatalf("decoded request differs from proto.Unmarshal's (-want +got):\n%s", diff)
		}
		return got
	}
	encode := func(r *discoveryv3.DiscoveryRequest) []byte {
		b, err := proto.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	names := manyNames(1000, "http")
	a := decode(encode(&discoveryv3.DiscoveryRequest{Node: &corev3.Node{Id: "a"}, VersionInfo: "1", ResourceNames: names, TypeUrl: "t", ResponseNonce: "7"}))
	b := decode(encode(&discoveryv3.DiscoveryRequest{VersionInfo: "2", ResourceNames: names, TypeUrl: "t", ResponseNonce: "8"}))
	if &a.ResourceNames[0] != &b.ResourceNames[0] {
		t.Errorf("two requests with the same names do not share them")
	}
	other := decode(encode(&discoveryv3.DiscoveryRequest{ResourceNames: manyNames(1000, "https"), TypeUrl: "t"}))
	if &other.ResourceNames[0] == &a.ResourceNames[0] {
		t.Errorf("requests with other names share a list")
	}
	short1 := decode(encode(&discoveryv3.DiscoveryRequest{ResourceNames: []string{"x"}, TypeUrl: "t"}))
	short2 := decode(encode(&discoveryv3.DiscoveryRequest{ResourceNames: []string{"x"}, TypeUrl: "t"}))
	if &short1.ResourceNames[0] == &short2.ResourceNames[0] {
		t.Errorf("short lists are shared")
	}
	// Names split around another field: legal protobuf, decoded as usual.
	split := encode(&discoveryv3.DiscoveryRequest{ResourceNames: names[:500]})
	split = protowire.AppendTag(split, 4, protowire.BytesType)
	split = protowire.AppendString(split, "t")
	split = append(split, encode(&discoveryv3.DiscoveryRequest{ResourceNames: names[500:]})...)
	if got := decode(split); len(got.ResourceNames) != 1000 {
		t.Errorf("split names: %d decoded, want 1000", len(got.ResourceNames))
	}

	bad := encode(&discoveryv3.DiscoveryRequest{ResourceNames: names})
	bad[len(bad)-1] = 0xff // the last name's last byte: not UTF-8
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(bad)}, &discoveryv3.DiscoveryRequest{}); err == nil {
		t.Errorf("a name that is not UTF-8 was accepted")
	}
}

// TestCacheCoverOfSharedLists: the ADS rule (a request that does not name
// every resource waits) holds for shared name lists, whose check the cache
// remembers per list.
func TestCacheCoverOfSharedLists(t *testing.T) {
	o := objs{}
	all := manyNames(minCoverNames+10, "ns")
	for _, n := range all {
		o[n] = "endpoints of " + n
	}
	c := NewCache(nil)
	setSnapshot(t, c, snapshotOf(replaced(base(), resource.EndpointType, o)))
	lacking := all[1:] // one shared slice, as the codec hands out
	for i := range 2 { // the second time from the remembered check
		sub := stream.NewSotwSubscription(lacking, false)
		ch := make(chan cachev3.Response, 1)
		cancel, err := c.CreateWatch(&cachev3.Request{TypeUrl: resource.EndpointType, ResourceNames: lacking}, &sub, ch)
		if err != nil {
			t.Fatal(err)
		}
		if len(ch) > 0 {
			t.Fatalf("request %d lacking %q was answered", i, all[0])
		}
		cancel()
	}
	for i := range 2 {
		sub := stream.NewSotwSubscription(all, false)
		ch := make(chan cachev3.Response, 1)
		if _, err := c.CreateWatch(&cachev3.Request{TypeUrl: resource.EndpointType, ResourceNames: all}, &sub, ch); err != nil {
			t.Fatal(err)
		}
		if len(ch) != 1 {
			t.Fatalf("request %d naming every resource was not answered", i)
		}
	}
}
