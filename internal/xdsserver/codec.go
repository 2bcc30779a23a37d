package xdsserver

import (
	"fmt"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// wireCodec is the xDS server's gRPC codec: protobuf, as gRPC's own, with
// two differences that matter when one configuration goes to many Envoys.
// A response the cache made for every stream is sent as its shared
// encoding plus the stream's nonce (see encodings), not marshalled again.
// Any other message is marshalled into, and unmarshalled from, a buffer of
// exactly its size: gRPC's codec takes buffers from a pool in size tiers,
// and every message over 32 KiB gets a 1 MiB one, which with 50 Envoys kept
// tens of megabytes in that pool.
//
// It counts the bytes of every response it encodes, by type, in sent (when
// set): what one change costs on the wire.
//
// A state-of-the-world request's resource names are shared with the
// earlier requests that named the same ones, when names is set (see
// nameLists).
type wireCodec struct {
	enc   *encodings
	sent  *prometheus.CounterVec
	names *nameLists
}

func (wireCodec) Name() string { return "proto" }

func (c wireCodec) Marshal(v any) (mem.BufferSlice, error) {
	out, err := c.marshal(v)
	if err == nil && c.sent != nil {
		switch r := v.(type) {
		case *discoveryv3.DiscoveryResponse:
			c.sent.WithLabelValues(shortType(r.GetTypeUrl())).Add(float64(out.Len()))
		case *discoveryv3.DeltaDiscoveryResponse:
			c.sent.WithLabelValues(shortType(r.GetTypeUrl())).Add(float64(out.Len()))
		}
	}
	return out, err
}

func (c wireCodec) marshal(v any) (mem.BufferSlice, error) {
	switch r := v.(type) {
	case *discoveryv3.DiscoveryResponse:
		if body, ok := c.enc.sotw(r); ok {
			return mem.BufferSlice{mem.SliceBuffer(body), mem.SliceBuffer(withNonce(sotwNonce, r.Nonce))}, nil
		}
	case *discoveryv3.DeltaDiscoveryResponse:
		if body, ok := c.enc.delta(r); ok {
			return mem.BufferSlice{mem.SliceBuffer(body), mem.SliceBuffer(withNonce(deltaNonce, r.Nonce))}, nil
		}
	}
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("xds: cannot marshal %T: not a protobuf message", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (c wireCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("xds: cannot unmarshal into %T: not a protobuf message", v)
	}
	// One buffer is read in place: Unmarshal copies what it keeps.
	var b []byte
	if len(data) == 1 {
		b = data[0].ReadOnlyData()
	} else {
		b = data.Materialize()
	}
	if req, ok := v.(*discoveryv3.DiscoveryRequest); ok && c.names != nil {
		if done, err := c.names.unmarshalRequest(b, req); done {
			return err
		}
	}
	return proto.Unmarshal(b, m)
}
