package xds

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"

	cache "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
)

// Resource is one Envoy resource as it goes on the wire.
type Resource struct {
	Name string
	// Value is the resource's deterministic protobuf encoding: the value
	// of the google.protobuf.Any it is sent in. It is never modified once
	// in a Snapshot, so every stream can send the same bytes.
	Value []byte
	// Version is a digest of Value: the resource's version in incremental
	// (delta) xDS, equal on every replica for equal bytes.
	Version string
}

// TypeSnapshot is every resource of one type.
type TypeSnapshot struct {
	TypeURL string
	// Version is a digest of the resources' names and versions, in order,
	// so equal resources give equal versions on every replica, and a type
	// whose resources did not change keeps its version (and is not pushed).
	Version string
	// Resources are sorted by Name, without duplicates.
	Resources []Resource
}

// Snapshot is the configuration every Envoy gets, one TypeSnapshot per
// served type in PushOrder. It is immutable once made.
type Snapshot struct {
	Types []TypeSnapshot
	// refs are what the Translator's parts reference, for Consistent.
	refs []*refs
}

// PushOrder is the order in which an ADS server sends the types that
// changed together: clusters and their endpoints before the listeners and
// routes that use them (make before break); then listeners, the scopes of
// the HTTP listener and the route configurations, in the order Envoy asks
// for them (it subscribes to a route configuration once a listener or scope
// names it, and warms the listener or scope until it has arrived).
var PushOrder = []string{
	resourcev3.ClusterType,
	resourcev3.EndpointType,
	resourcev3.ListenerType,
	resourcev3.ScopedRouteType,
	resourcev3.RouteType,
	resourcev3.SecretType,
}

// Type returns the resources of typeURL, or nil for a type not served.
func (s *Snapshot) Type(typeURL string) *TypeSnapshot {
	for i := range s.Types {
		if s.Types[i].TypeURL == typeURL {
			return &s.Types[i]
		}
	}
	return nil
}

// marshal is the one encoding of a resource: deterministic, so equal
// messages give equal bytes on every replica.
func marshal(m proto.Message) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("xds: marshal %s %q: %w", m.ProtoReflect().Descriptor().FullName(), cache.GetResourceName(m), err)
	}
	return b, nil
}

// NewResource names value and digests it.
func NewResource(name string, value []byte) Resource {
	sum := sha256.Sum256(value)
	return Resource{Name: name, Value: value, Version: hex.EncodeToString(sum[:8])}
}

// NewTypeSnapshot versions items, which are sorted by name.
func NewTypeSnapshot(typeURL string, items []Resource) TypeSnapshot {
	h := sha256.New()
	for _, it := range items {
		writeString(h, it.Name)
		writeString(h, it.Version)
	}
	return TypeSnapshot{TypeURL: typeURL, Version: hex.EncodeToString(h.Sum(nil)[:8]), Resources: items}
}

// writeString writes s length-prefixed, so that no two lists of strings
// hash alike.
func writeString(h hash.Hash, s string) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
	h.Write([]byte(s))
}
