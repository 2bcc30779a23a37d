package envoy

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/log"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/anypb"
)

// ADS is a minimal xDS server for tests: go-control-plane's ADS server over a
// snapshot cache, on a loopback port.
type ADS struct {
	cache    cachev3.SnapshotCache
	listener net.Listener
	server   *grpc.Server

	mu      sync.Mutex
	version int
}

// ADSOptions describe an ADS server to start.
type ADSOptions struct {
	// Address is the IP to listen on; 127.0.0.1 by default. Only loopback
	// or an address of a test's network namespace makes sense.
	Address string
	// TLS, if set, is the server's TLS configuration (set ClientAuth and
	// ClientCAs for mutual TLS).
	TLS *tls.Config
}

// StartADS starts an ADS server on a free port and stops it when the test
// ends.
func StartADS(t testing.TB, opts ADSOptions) *ADS {
	t.Helper()
	if opts.Address == "" {
		opts.Address = "127.0.0.1"
	}
	l, err := net.Listen("tcp", net.JoinHostPort(opts.Address, "0"))
	if err != nil {
		t.Fatalf("ADS: %v", err)
	}
	var grpcOpts []grpc.ServerOption
	if opts.TLS != nil {
		grpcOpts = append(grpcOpts, grpc.Creds(credentials.NewTLS(opts.TLS)))
	}
	a := &ADS{
		// ADS mode: answer only once Envoy asked for everything it needs.
		cache:    cachev3.NewSnapshotCache(true, cachev3.IDHash{}, log.LoggerFuncs{}),
		listener: l,
		server:   grpc.NewServer(grpcOpts...),
	}
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(a.server, serverv3.NewServer(context.Background(), a.cache, nil))
	go a.server.Serve(l) //nolint:errcheck // returns once stopped
	// Stop, not GracefulStop: Envoy's streams never end on their own.
	t.Cleanup(a.server.Stop)
	return a
}

// Address returns the IP the server listens on.
func (a *ADS) Address() string { return a.listener.Addr().(*net.TCPAddr).IP.String() }

// Port returns the port the server listens on.
func (a *ADS) Port() int { return a.listener.Addr().(*net.TCPAddr).Port }

// Set serves resources to the Envoy with node id nodeID, as a new snapshot
// version. Resource types left out are served empty.
func (a *ADS) Set(nodeID string, resources map[resource.Type][]types.Resource) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.version++
	// A type missing from a snapshot has no version, which the cache takes
	// for "Envoy is up to date": it never answers Envoy's first request
	// for that type, and Envoy waits its initial fetch timeout (15s) for
	// it. Serve every type, empty if need be.
	all := make(map[resource.Type][]types.Resource, len(snapshotTypes))
	for _, typ := range snapshotTypes {
		all[typ] = []types.Resource{}
	}
	for typ, rs := range resources {
		all[typ] = rs
	}
	snap, err := cachev3.NewSnapshot(strconv.Itoa(a.version), all)
	if err != nil {
		return err
	}
	if err := snap.Consistent(); err != nil {
		return fmt.Errorf("inconsistent snapshot: %w", err)
	}
	return a.cache.SetSnapshot(context.Background(), nodeID, snap)
}

// snapshotTypes are the resource types an ADS snapshot always serves.
var snapshotTypes = []resource.Type{
	resource.ClusterType, resource.EndpointType, resource.ListenerType, resource.RouteType,
	resource.SecretType, resource.RuntimeType,
}

// DirectResponseListener returns a listener on address:port whose every
// request is answered with status and body by Envoy itself.
func DirectResponseListener(name, address string, port int, status uint32, body string) (*listenerv3.Listener, error) {
	router, err := anypb.New(&routerv3.Router{})
	if err != nil {
		return nil, err
	}
	hcm, err := anypb.New(&hcmv3.HttpConnectionManager{
		StatPrefix: name,
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{
			Name: name,
			VirtualHosts: []*routev3.VirtualHost{{
				Name:    name,
				Domains: []string{"*"},
				Routes: []*routev3.Route{{
					Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
					Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{
						Status: status,
						Body:   &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: body}},
					}},
				}},
			}},
		}},
		HttpFilters: []*hcmv3.HttpFilter{{
			Name:       "envoy.filters.http.router",
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router},
		}},
	})
	if err != nil {
		return nil, err
	}
	l := &listenerv3.Listener{
		Name: name,
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address:       address,
			PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
		}}},
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       "envoy.filters.network.http_connection_manager",
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm},
			}},
		}},
	}
	return l, l.ValidateAll()
}
