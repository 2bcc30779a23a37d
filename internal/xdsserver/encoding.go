package xdsserver

import (
	"sync"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// encodings lets every stream send one encoding of a response. A
// state-of-the-world response of a type is the same on every stream but for
// its nonce, and so is the first incremental response of a wildcard
// subscription: the encoding without the nonce is made once per version of
// the type, and each stream's message is that encoding followed by its own
// nonce field (protobuf fields may come in any order). Marshalling a 10,000
// resource response for each of 50 Envoys would otherwise copy and allocate
// every byte 50 times.
//
// It knows a response by its resources slice, the very backing array and not
// merely equal elements: the cache's responses share their type's slices,
// so a response whose slice is one registered here, with nothing else set
// but version, type and nonce, is one of them.
//
// The encodings live here, not in the typeData, so that the versions the
// cache keeps as history (see typeData.prev) do not keep theirs: at 10,000
// proxies each full encoding is megabytes.
type encodings struct {
	mu sync.RWMutex
	// byType keeps the current and the previous version of each type:
	// responses of the previous one may still be on their way out.
	byType map[string][2]*encoded
}

// encoded is one version of a type and its encodings, without nonce, of
// the responses carrying every resource, made on first use.
type encoded struct {
	d           *typeData
	sotw, delta func() ([]byte, error)
}

func newEncodings() *encodings { return &encodings{byType: map[string][2]*encoded{}} }

// add registers d, the new version of its type.
func (e *encodings) add(d *typeData) {
	enc := &encoded{
		d:     d,
		sotw:  encodeOnce(&discoveryv3.DiscoveryResponse{VersionInfo: d.version, TypeUrl: d.url, Resources: d.anys}),
		delta: encodeOnce(&discoveryv3.DeltaDiscoveryResponse{SystemVersionInfo: d.version, TypeUrl: d.url, Resources: d.deltas}),
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.byType[d.url]
	e.byType[d.url] = [2]*encoded{enc, cur[0]}
}

func (e *encodings) lookup(url string, match func(*typeData) bool) *encoded {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, enc := range e.byType[url] {
		if enc != nil && match(enc.d) {
			return enc
		}
	}
	return nil
}

// sotw returns the shared encoding of r without its nonce, if r is one of
// the cache's state-of-the-world responses.
func (e *encodings) sotw(r *discoveryv3.DiscoveryResponse) ([]byte, bool) {
	if len(r.Resources) == 0 || r.Canary || r.ControlPlane != nil || len(r.ProtoReflect().GetUnknown()) > 0 {
		return nil, false
	}
	enc := e.lookup(r.TypeUrl, func(d *typeData) bool {
		return len(d.anys) == len(r.Resources) && &d.anys[0] == &r.Resources[0] && d.version == r.VersionInfo
	})
	if enc == nil {
		return nil, false
	}
	b, err := enc.sotw()
	return b, err == nil
}

// delta returns the shared encoding of r without its nonce, if r is one of
// the cache's incremental responses carrying every resource of its type.
func (e *encodings) delta(r *discoveryv3.DeltaDiscoveryResponse) ([]byte, bool) {
	if len(r.Resources) == 0 || len(r.RemovedResources) > 0 || len(r.RemovedResourceNames) > 0 ||
		r.ControlPlane != nil || len(r.ProtoReflect().GetUnknown()) > 0 {
		return nil, false
	}
	enc := e.lookup(r.TypeUrl, func(d *typeData) bool {
		return len(d.deltas) == len(r.Resources) && &d.deltas[0] == &r.Resources[0] && d.version == r.SystemVersionInfo
	})
	if enc == nil {
		return nil, false
	}
	b, err := enc.delta()
	return b, err == nil
}

// Field numbers of the nonce, which each stream appends itself.
var (
	sotwNonce  = fieldNumber(&discoveryv3.DiscoveryResponse{}, "nonce")
	deltaNonce = fieldNumber(&discoveryv3.DeltaDiscoveryResponse{}, "nonce")
)

func fieldNumber(m proto.Message, name protoreflect.Name) protowire.Number {
	return m.ProtoReflect().Descriptor().Fields().ByName(name).Number()
}

// withNonce appends the nonce field to a shared body, into a buffer of its
// own: body is never written to.
func withNonce(n protowire.Number, nonce string) []byte {
	if nonce == "" {
		return nil
	}
	b := make([]byte, 0, protowire.SizeTag(n)+protowire.SizeBytes(len(nonce)))
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendString(b, nonce)
}

// encodeOnce returns a function making m's encoding on first call, for
// bodies nobody may need (a type no Envoy asks for). An error leaves the
// stream to marshal the message itself, and report it.
func encodeOnce(m proto.Message) func() ([]byte, error) {
	return sync.OnceValues(func() ([]byte, error) { return proto.Marshal(m) })
}
