// Package xdstest helps tests outside package xds look into what the
// Translator serves: the Snapshot of a DAG, its resources as typed
// messages rather than bytes (to put them in a static Envoy bootstrap, or
// to check them), a type's version. Production code never imports it; it
// serves the Translator's Snapshots as they are.
package xdstest

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/xds"
)

// Translate returns what a new Translator for cfg serves for d.
func Translate(d *dag.DAG, cfg xds.ListenerConfig) (*xds.Snapshot, error) {
	t, err := xds.NewTranslator(cfg)
	if err != nil {
		return nil, err
	}
	return t.Snapshot(d)
}

// Decode unmarshals the resources of typeURL in s, as messages of type
// M: Decode[listener.Listener](s, resourcev3.ListenerType).
func Decode[M any, PM interface {
	*M
	proto.Message
}](s *xds.Snapshot, typeURL string) ([]*M, error) {
	ts := s.Type(typeURL)
	if ts == nil {
		return nil, nil
	}
	out := make([]*M, len(ts.Resources))
	for i, res := range ts.Resources {
		m := PM(new(M))
		if err := proto.Unmarshal(res.Value, m); err != nil {
			return nil, fmt.Errorf("xdstest: %s %q: %w", typeURL, res.Name, err)
		}
		out[i] = m
	}
	return out, nil
}

// Version returns the version of typeURL in s, or "" for a type not
// served.
func Version(s *xds.Snapshot, typeURL string) string {
	if t := s.Type(typeURL); t != nil {
		return t.Version
	}
	return ""
}
