// Package xdstest gives tests outside package xds the Envoy resources the
// Translator serves for a DAG, as typed messages rather than bytes: to put
// them in a static Envoy bootstrap, or to look into them. Production code
// never imports it; it serves the Translator's Snapshots as they are.
package xdstest

import (
	"fmt"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/xds"
)

// Resources are the resources of a Snapshot, decoded, each list sorted by
// name as the Snapshot has them.
type Resources struct {
	Listeners    []*listener.Listener
	Routes       []*route.RouteConfiguration
	ScopedRoutes []*route.ScopedRouteConfiguration
	Clusters     []*cluster.Cluster
	Endpoints    []*endpoint.ClusterLoadAssignment
	Secrets      []*tls.Secret
}

// Translate returns what a new Translator for cfg serves for d.
func Translate(d *dag.DAG, cfg xds.ListenerConfig) (Resources, error) {
	t, err := xds.NewTranslator(cfg)
	if err != nil {
		return Resources{}, err
	}
	s, err := t.Snapshot(d)
	if err != nil {
		return Resources{}, err
	}
	return Decode(s)
}

// Decode unmarshals every resource of s.
func Decode(s *xds.Snapshot) (Resources, error) {
	var r Resources
	var err error
	for i := range s.Types {
		ts := &s.Types[i]
		switch ts.TypeURL {
		case resourcev3.ListenerType:
			r.Listeners, err = decode[listener.Listener](ts)
		case resourcev3.RouteType:
			r.Routes, err = decode[route.RouteConfiguration](ts)
		case resourcev3.ScopedRouteType:
			r.ScopedRoutes, err = decode[route.ScopedRouteConfiguration](ts)
		case resourcev3.ClusterType:
			r.Clusters, err = decode[cluster.Cluster](ts)
		case resourcev3.EndpointType:
			r.Endpoints, err = decode[endpoint.ClusterLoadAssignment](ts)
		case resourcev3.SecretType:
			r.Secrets, err = decode[tls.Secret](ts)
		default:
			err = fmt.Errorf("xdstest: unknown type %s", ts.TypeURL)
		}
		if err != nil {
			return Resources{}, err
		}
	}
	return r, nil
}

// decode unmarshals the resources of ts as messages of type M.
func decode[M any, PM interface {
	*M
	proto.Message
}](ts *xds.TypeSnapshot) ([]*M, error) {
	out := make([]*M, len(ts.Resources))
	for i, res := range ts.Resources {
		m := PM(new(M))
		if err := proto.Unmarshal(res.Value, m); err != nil {
			return nil, fmt.Errorf("xdstest: %s %q: %w", ts.TypeURL, res.Name, err)
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
