package xdsclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// State is what the client holds for one resource type.
type State struct {
	Version string
	// Resources maps resource name to its serialized form, so two clients
	// can be compared byte for byte.
	Resources map[string][]byte
	// Received is when this version arrived.
	Received time.Time
	// Responses counts the responses of this type so far.
	Responses int
	// Carried are the names of the resources the last response carried
	// (a response of a named type may carry only those that changed).
	Carried []string
}

// Client is one simulated Envoy.
type Client struct {
	conn   *grpc.ClientConn
	stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node   *corev3.Node

	mu    sync.Mutex
	state map[string]State
	// first is the first response of each type, kept for tests that
	// check what a server answers before anything else.
	first   map[string]State
	changed chan struct{} // closed and replaced on every update
	err     error
}

// Options configure Dial.
type Options struct {
	NodeID string
	// TLS, when set, dials with mutual TLS; nil dials plaintext.
	TLS *tls.Config
}

// Dial connects to addr and starts the ADS stream; the stream runs until
// Close or ctx is cancelled.
func Dial(ctx context.Context, addr string, o Options) (*Client, error) {
	creds := insecure.NewCredentials()
	if o.TLS != nil {
		creds = credentials.NewTLS(o.TLS)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, err
	}
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		conn.Close()
		return nil, err
	}
	id := o.NodeID
	if id == "" {
		id = "simulated-envoy"
	}
	c := &Client{
		conn: conn, stream: stream,
		node:    &corev3.Node{Id: id, Cluster: "proxyctl"},
		state:   map[string]State{},
		first:   map[string]State{},
		changed: make(chan struct{}),
	}
	for _, typ := range []string{resourcev3.ListenerType, resourcev3.ClusterType, resourcev3.ScopedRouteType} {
		if err := c.request(typ, "", "", nil); err != nil {
			conn.Close()
			return nil, err
		}
	}
	go c.receive()
	return c, nil
}

// Close ends the stream.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) request(typ, version, nonce string, names []string) error {
	return c.stream.Send(&discoveryv3.DiscoveryRequest{
		Node: c.node, TypeUrl: typ, VersionInfo: version, ResponseNonce: nonce, ResourceNames: names,
	})
}

// receive stores each response and ACKs it; when Listeners or Clusters
// change it subscribes to the Routes, Endpoints and Secrets they name, as
// Envoy does.
func (c *Client) receive() {
	subscribed := map[string][]string{}
	// Route configurations named by listeners and by scopes.
	var listenerRoutes, scopeRoutes []string
	for {
		resp, err := c.stream.Recv()
		if err != nil {
			c.update(func() { c.err = err })
			return
		}
		st := State{Version: resp.VersionInfo, Received: time.Now()}
		var routes, endpoints, secrets []string
		carried := make(map[string][]byte, len(resp.Resources))
		for _, any := range resp.Resources {
			carried[nameOf(any.Value)] = any.Value
			st.Carried = append(st.Carried, nameOf(any.Value))
			switch resp.TypeUrl {
			case resourcev3.ListenerType:
				r, s := listenerRefs(any.Value)
				routes, secrets = append(routes, r...), append(secrets, s...)
			case resourcev3.ClusterType:
				endpoints = append(endpoints, nameOf(any.Value))
			case resourcev3.ScopedRouteType:
				routes = append(routes, scopeRoute(any.Value))
			}
		}
		named := resp.TypeUrl == resourcev3.RouteType || resp.TypeUrl == resourcev3.EndpointType || resp.TypeUrl == resourcev3.SecretType
		c.update(func() {
			prev := c.state[resp.TypeUrl]
			st.Responses = prev.Responses + 1
			st.Resources = carried
			if named && prev.Resources != nil {
				// Keep what this response does not carry, in place: the map
				// is the client's own (State hands out copies), and copying
				// thousands of resources per response would cost the
				// benchmark more than the server it measures.
				st.Resources = prev.Resources
				maps.Copy(st.Resources, carried)
				if sub := subscribed[resp.TypeUrl]; sub != nil && len(st.Resources) > len(sub) {
					// Envoy forgets what it no longer asks for.
					for name := range st.Resources {
						if _, ok := slices.BinarySearch(sub, name); !ok {
							delete(st.Resources, name)
						}
					}
				}
			}
			c.state[resp.TypeUrl] = st
			if st.Responses == 1 {
				first := st
				first.Resources = maps.Clone(st.Resources)
				c.first[resp.TypeUrl] = first
			}
		})
		if err := c.request(resp.TypeUrl, resp.VersionInfo, resp.Nonce, subscribed[resp.TypeUrl]); err != nil {
			c.update(func() { c.err = err })
			return
		}
		// Listeners name route configurations and secrets; clusters name
		// their endpoints.
		refs := map[string][]string{}
		switch resp.TypeUrl {
		case resourcev3.ListenerType:
			listenerRoutes = routes
			refs[resourcev3.RouteType], refs[resourcev3.SecretType] = append(slices.Clone(routes), scopeRoutes...), secrets
		case resourcev3.ScopedRouteType:
			scopeRoutes = routes
			refs[resourcev3.RouteType] = append(slices.Clone(routes), listenerRoutes...)
		case resourcev3.ClusterType:
			refs[resourcev3.EndpointType] = endpoints
		}
		for typ, names := range refs {
			slices.Sort(names)
			names = slices.Compact(names)
			if slices.Equal(names, subscribed[typ]) {
				continue
			}
			subscribed[typ] = names
			c.mu.Lock()
			version := c.state[typ].Version
			c.mu.Unlock()
			if err := c.request(typ, version, "", names); err != nil {
				c.update(func() { c.err = err })
				return
			}
		}
	}
}

func (c *Client) update(f func()) {
	c.mu.Lock()
	f()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// State returns a copy of what the client holds for a type URL.
func (c *Client) State(typ string) State {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state[typ]
	st.Resources = maps.Clone(st.Resources)
	return st
}

// First returns the first response of a type URL, and false before it
// arrived.
func (c *Client) First(typ string) (State, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.first[typ]
	return st, ok
}

// Versions returns the version of every type received so far.
func (c *Client) Versions() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{}
	for typ, st := range c.state {
		out[typ] = st.Version
	}
	return out
}

// WaitFor blocks until cond holds for the client's state, the stream fails,
// or ctx ends. cond runs with the client locked and must not keep the
// state's maps, which the client updates in place.
func (c *Client) WaitFor(ctx context.Context, cond func(map[string]State) bool) error {
	for {
		c.mu.Lock()
		ok, err, changed := cond(c.state), c.err, c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		if err != nil {
			return fmt.Errorf("xds stream: %w", err)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// nameOf reads a resource's name without decoding the rest: Listener,
// Cluster, RouteConfiguration and Secret keep their name, and
// ClusterLoadAssignment its cluster_name, in field 1. A benchmark's
// simulated Envoys read thousands of resources; decoding them whole would
// cost more than the server being measured.
func nameOf(value []byte) string {
	for len(value) > 0 {
		num, typ, n := protowire.ConsumeTag(value)
		if n < 0 {
			return ""
		}
		value = value[n:]
		if num == 1 && typ == protowire.BytesType {
			name, n := protowire.ConsumeBytes(value)
			if n < 0 {
				return ""
			}
			return string(name)
		}
		if n = protowire.ConsumeFieldValue(num, typ, value); n < 0 {
			return ""
		}
		value = value[n:]
	}
	return ""
}

// scopeRoute is the route configuration a ScopedRouteConfiguration names.
func scopeRoute(value []byte) string {
	var sc routev3.ScopedRouteConfiguration
	if proto.Unmarshal(value, &sc) != nil {
		return ""
	}
	return sc.GetRouteConfigurationName()
}

// listenerRefs returns the route configurations (RDS) and secrets (SDS) a
// listener asks for.
func listenerRefs(value []byte) (routes, secrets []string) {
	var l listenerv3.Listener
	if proto.Unmarshal(value, &l) != nil {
		return nil, nil
	}
	for _, fc := range l.FilterChains {
		for _, f := range fc.Filters {
			var hcm hcmv3.HttpConnectionManager
			if f.GetTypedConfig().UnmarshalTo(&hcm) == nil {
				if rds := hcm.GetRds(); rds != nil {
					routes = append(routes, rds.RouteConfigName)
				}
			}
		}
		secrets = append(secrets, sdsNames(fc)...)
	}
	return routes, secrets
}
