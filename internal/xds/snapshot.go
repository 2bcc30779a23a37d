package xds

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cache "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
)

// NewSnapshot packs r into a snapshot. Each resource type carries its own
// version, a short hex SHA-256 of its resources' deterministic encoding, so
// a type whose resources did not change keeps its version (and is not
// pushed again), and every replica given the same DAG serves the same
// versions. The snapshot is checked with Consistent: every route
// configuration a listener names and every ClusterLoadAssignment a cluster
// names is present, and nothing else.
func NewSnapshot(r Resources) (*cache.Snapshot, error) {
	groups := []struct {
		typ   types.ResponseType
		items []types.Resource
	}{
		{types.Listener, asResources(r.Listeners)},
		{types.Route, asResources(r.Routes)},
		{types.Cluster, asResources(r.Clusters)},
		{types.Endpoint, asResources(r.Endpoints)},
		{types.Secret, asResources(r.Secrets)},
	}
	s := &cache.Snapshot{}
	for _, g := range groups {
		v, err := version(g.items)
		if err != nil {
			return nil, err
		}
		s.Resources[g.typ] = cache.NewResources(v, g.items)
	}
	if err := s.Consistent(); err != nil {
		return nil, fmt.Errorf("xds: inconsistent snapshot: %w", err)
	}
	return s, nil
}

func asResources[T types.Resource](s []T) []types.Resource {
	out := make([]types.Resource, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// version hashes the length-prefixed deterministic encoding of items, in
// order; Translate has already sorted them.
func version(items []types.Resource) (string, error) {
	h := sha256.New()
	opts := proto.MarshalOptions{Deterministic: true}
	var buf []byte
	var n [binary.MaxVarintLen64]byte
	for _, it := range items {
		var err error
		buf, err = opts.MarshalAppend(buf[:0], it)
		if err != nil {
			return "", fmt.Errorf("xds: marshal %s %q: %w", it.ProtoReflect().Descriptor().FullName(), cache.GetResourceName(it), err)
		}
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(buf)))])
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// SnapshotKey is the one key under which every Envoy's snapshot is kept:
// all Envoys get the same configuration.
const SnapshotKey = "proxyctl"

// AllNodes is a cache.NodeHash mapping every node to SnapshotKey, so one
// snapshot set with cache.SetSnapshot(ctx, SnapshotKey, s) serves any
// number of Envoys, whatever their node id.
type AllNodes struct{}

var _ cache.NodeHash = AllNodes{}

// ID implements cache.NodeHash.
func (AllNodes) ID(*core.Node) string { return SnapshotKey }
