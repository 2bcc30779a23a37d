package xds

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

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
	ts, _ := newTypeSnapshot(typeURL, items)
	return ts
}

func newTypeSnapshot(typeURL string, items []Resource) (TypeSnapshot, digest) {
	var d digest
	for _, it := range items {
		d.add(it)
	}
	return TypeSnapshot{TypeURL: typeURL, Version: d.version(len(items)), Resources: items}, d
}

// digest is what a type's version is made from: the sum, lane by lane
// modulo 2^64, of one sha256 term per resource (its name and version). A
// sum does not depend on order, and a changed resource changes it by its
// old and new terms only, so the Translator versions a type after a
// one-resource change in O(1) and gets exactly the version that digesting
// every resource gives, on every replica. (Versions are 64 bits, as the
// resources' own: they tell changes apart, they do not resist forgery.)
type digest [4]uint64

func term(r Resource) [4]uint64 {
	// Length-prefixed, so no two (name, version) pairs read alike.
	var buf [128]byte
	b := binary.AppendUvarint(buf[:0], uint64(len(r.Name)))
	b = append(b, r.Name...)
	b = binary.AppendUvarint(b, uint64(len(r.Version)))
	b = append(b, r.Version...)
	sum := sha256.Sum256(b)
	var t [4]uint64
	for i := range t {
		t[i] = binary.LittleEndian.Uint64(sum[8*i:])
	}
	return t
}

func (d *digest) add(r Resource) {
	t := term(r)
	for i := range d {
		d[i] += t[i]
	}
}

func (d *digest) sub(r Resource) {
	t := term(r)
	for i := range d {
		d[i] -= t[i]
	}
}

// version is the type version of n resources whose terms sum to d.
func (d digest) version(n int) string {
	var b [8 * (len(digest{}) + 1)]byte
	for i, v := range d {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	binary.LittleEndian.PutUint64(b[8*len(d):], uint64(n))
	sum := sha256.Sum256(b[:])
	return hex.EncodeToString(sum[:8])
}
