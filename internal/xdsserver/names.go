package xdsserver

import (
	"bytes"
	"errors"
	"sync"
	"unicode/utf8"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// nameLists decodes the resource names of state-of-the-world requests
// once per distinct list, for every stream.
//
// A state-of-the-world Envoy names every resource it wants in every
// request of a named type, ACKs included: with scoped routes at 10,000
// proxies, each ACK of a route configuration names 10,000 of them (0.3
// MB), and every change brings one such ACK from every Envoy. Decoding
// them was most of the server's work per change (10,000 strings per ACK,
// for 50 Envoys), although the lists are nearly always equal: every Envoy
// names the same route configurations. So a request whose names are a
// list seen recently, byte for byte, gets that list's []string, shared
// and never written to (go-control-plane's server and the cache only read
// it), and the cache recognizes the shared list to check once whether it
// names every resource (see typeData.covers).
type nameLists struct {
	mu    sync.Mutex
	lists []nameList // most recently used first
}

type nameList struct {
	raw   []byte // the resource_names fields as encoded, copied
	names []string
}

const (
	// maxNameLists is how many distinct lists are kept: the route
	// configurations, ClusterLoadAssignments and secrets of a fleet,
	// and the lists of Envoys that are one change behind.
	maxNameLists = 8
	// minSharedNames is the encoded size from which a list is shared;
	// smaller ones are decoded as usual.
	minSharedNames = 4096
)

var requestResourceNames = fieldNumber(&discoveryv3.DiscoveryRequest{}, "resource_names")

// unmarshalRequest decodes b into req, sharing its resource names with the
// previous requests that had the same ones. It reports false, having done
// nothing, when the names are too few to share or not encoded as one run
// of fields; the caller then decodes b as usual.
func (l *nameLists) unmarshalRequest(b []byte, req *discoveryv3.DiscoveryRequest) (bool, error) {
	start, end, ok := namesRun(b)
	if !ok || end-start < minSharedNames {
		return false, nil
	}
	names, err := l.intern(b[start:end])
	if err != nil {
		return true, err
	}
	rest := make([]byte, 0, len(b)-(end-start))
	rest = append(append(rest, b[:start]...), b[end:]...)
	if err := proto.Unmarshal(rest, req); err != nil {
		return true, err
	}
	req.ResourceNames = names
	return true, nil
}

// namesRun finds the resource_names fields of an encoded DiscoveryRequest:
// [start, end), and false unless they are one run of fields (as every
// encoder writes a repeated field) or b is malformed.
func namesRun(b []byte) (start, end int, ok bool) {
	start, end = -1, -1
	for i := 0; i < len(b); {
		num, typ, n := protowire.ConsumeTag(b[i:])
		if n < 0 {
			return 0, 0, false
		}
		m := protowire.ConsumeFieldValue(num, typ, b[i+n:])
		if m < 0 {
			return 0, 0, false
		}
		if num == requestResourceNames {
			if typ != protowire.BytesType || end >= 0 && end != i {
				return 0, 0, false
			}
			if start < 0 {
				start = i
			}
			end = i + n + m
		}
		i += n + m
	}
	return start, end, start >= 0
}

// intern returns the names encoded in raw, a run of resource_names
// fields, decoding them only if raw is not a list kept.
func (l *nameLists) intern(raw []byte) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, nl := range l.lists {
		if bytes.Equal(nl.raw, raw) {
			copy(l.lists[1:i+1], l.lists[:i])
			l.lists[0] = nl
			return nl.names, nil
		}
	}
	nl := nameList{raw: bytes.Clone(raw)}
	// One string holds every name's bytes; the names are parts of it.
	all := string(nl.raw)
	for i := 0; i < len(raw); {
		_, _, n := protowire.ConsumeTag(raw[i:])
		v, m := protowire.ConsumeBytes(raw[i+n:])
		if m < 0 {
			return nil, errors.New("xds: malformed resource name")
		}
		if !utf8.Valid(v) {
			return nil, errors.New("xds: resource name is not valid UTF-8")
		}
		from := i + n + m - len(v)
		nl.names = append(nl.names, all[from:from+len(v)])
		i += n + m
	}
	if len(l.lists) < maxNameLists {
		l.lists = append(l.lists, nameList{})
	}
	copy(l.lists[1:], l.lists[:len(l.lists)-1])
	l.lists[0] = nl
	return nl.names, nil
}
