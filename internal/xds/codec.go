package xds

import (
	"fmt"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// exactCodec is the xDS server's gRPC codec: protobuf, as gRPC's own, but
// each message is marshalled into, and unmarshalled from, a buffer of
// exactly its size. gRPC's codec takes buffers from a pool in size tiers,
// and every message over 32 KiB gets a 1 MiB one: a response of a few
// hundred resources to each of 50 Envoys kept tens of megabytes in that
// pool. A response's bytes are garbage once written, which the collector
// reclaims.
type exactCodec struct{}

func (exactCodec) Name() string { return "proto" }

func (exactCodec) Marshal(v any) (mem.BufferSlice, error) {
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

func (exactCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("xds: cannot unmarshal into %T: not a protobuf message", v)
	}
	return proto.Unmarshal(data.Materialize(), m)
}
