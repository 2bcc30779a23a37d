//go:build linux

package envoy

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/proxyctl/proxyctl/test/cluster"
	"github.com/proxyctl/proxyctl/test/netns"
)

// TestEnvoyProxiesToNamespaceBackend puts an echo backend in a network
// namespace of the test and has the real Envoy route to it: the harnesses
// together make a small network.
func TestEnvoyProxiesToNamespaceBackend(t *testing.T) {
	ns := netns.New(t)
	backend := ns.ServeEcho(t, "", "backend-a")
	host, portStr, _ := net.SplitHostPort(backend[len("http://"):])
	backendPort, _ := strconv.Atoi(portStr)

	ports, err := cluster.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	l, err := DirectResponseListener("ingress", "127.0.0.1", ports[0], 200, "unused")
	if err != nil {
		t.Fatal(err)
	}
	// Swap the direct response for a route to the backend's cluster.
	var hcm hcmv3.HttpConnectionManager
	if err := l.FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	hcm.GetRouteConfig().VirtualHosts[0].Routes[0].Action = &routev3.Route_Route{Route: &routev3.RouteAction{
		ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "backend"},
	}}
	if err := l.FilterChains[0].Filters[0].GetTypedConfig().MarshalFrom(&hcm); err != nil {
		t.Fatal(err)
	}
	c := &clusterv3.Cluster{
		Name:                 "backend",
		ConnectTimeout:       durationpb.New(time.Second),
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: "backend",
			Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
						Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(backendPort)},
					}}},
				}},
			}}}},
		},
	}
	ads := StartADS(t, ADSOptions{})
	if err := ads.Set("envoy", map[resource.Type][]types.Resource{
		resource.ListenerType: {l}, resource.ClusterType: {c},
	}); err != nil {
		t.Fatal(err)
	}
	e := Start(t, Options{XDSAddress: ads.Address(), XDSPort: ads.Port()})
	if err := e.WaitReady(20 * time.Second); err != nil {
		t.Fatal(err)
	}

	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/through/envoy", ports[0]), nil)
	req.Host = "app.test"
	resp, err := ns.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var echo netns.Echo
	if err := json.NewDecoder(resp.Body).Decode(&echo); err != nil {
		t.Fatalf("%s: %v", resp.Status, err)
	}
	if echo.Name != "backend-a" || echo.Path != "/through/envoy" || echo.Host != "app.test" {
		t.Errorf("echo %+v", echo)
	}
	// Envoy reached the backend over the veth pair, from the host's end.
	if rh, _, _ := net.SplitHostPort(echo.Remote); rh != ns.HostIP() {
		t.Errorf("backend saw the request from %s, want the host's veth address %s", echo.Remote, ns.HostIP())
	}
}
