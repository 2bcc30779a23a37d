// Package xds turns the routing model (dag.DAG) into Envoy v3 resources and
// packs them into go-control-plane snapshots.
//
// Translation is a pure function: the same DAG and ListenerConfig always give
// the same resources, in the same order, byte for byte once marshalled
// deterministically. Every slice of Resources is sorted by resource name.
package xds

import (
	"sort"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// Names of the resources Translate makes that do not come from the DAG.
const (
	// HTTPListenerName is the plain-HTTP listener.
	HTTPListenerName = "ingress_http"
	// HTTPSListenerName is the TLS listener (one filter chain per SNI name).
	HTTPSListenerName = "ingress_https"
	// httpsRoutePrefix prefixes the fqdn to name a TLS virtual host's route
	// configuration: "https/<fqdn>".
	httpsRoutePrefix = "https/"
	// FallbackRouteName is the route configuration of the fallback
	// certificate's filter chain: every virtual host that enables it.
	FallbackRouteName = "ingress_fallbackcert"
	// fallbackChainName names that filter chain; the '_' keeps it apart
	// from every fqdn, which name the other chains.
	fallbackChainName = "fallback_certificate"
)

// Defaults applied by Translate when a ListenerConfig field is zero.
const (
	DefaultAddress   = "0.0.0.0"
	DefaultHTTPPort  = 8080
	DefaultHTTPSPort = 8443
)

// ListenerConfig says where Envoy listens and how it treats request paths.
// Zero fields take the Default values above.
type ListenerConfig struct {
	HTTPAddress  string
	HTTPPort     uint32
	HTTPSAddress string
	HTTPSPort    uint32
	// NumTrustedHops is how many proxies in front of Envoy append to
	// X-Forwarded-For: the client's address is that many entries from
	// the right. 0 trusts no header: the client is the TCP peer.
	NumTrustedHops uint32
	// DisableMergeSlashes keeps repeated slashes in request paths; by
	// default Envoy merges them ("//a//b" is "/a/b"), as with Contour.
	DisableMergeSlashes bool
}

func (c ListenerConfig) withDefaults() ListenerConfig {
	if c.HTTPAddress == "" {
		c.HTTPAddress = DefaultAddress
	}
	if c.HTTPPort == 0 {
		c.HTTPPort = DefaultHTTPPort
	}
	if c.HTTPSAddress == "" {
		c.HTTPSAddress = DefaultAddress
	}
	if c.HTTPSPort == 0 {
		c.HTTPSPort = DefaultHTTPSPort
	}
	return c
}

// Resources is the Envoy configuration derived from one DAG. Each slice is
// sorted by resource name and holds no duplicates.
type Resources struct {
	Listeners []*listener.Listener
	Routes    []*route.RouteConfiguration
	// ScopedRoutes select the HTTP listener's route configuration by
	// Host (see scopes.go).
	ScopedRoutes []*route.ScopedRouteConfiguration
	Clusters     []*cluster.Cluster
	Endpoints    []*endpoint.ClusterLoadAssignment
	Secrets      []*tls.Secret
}

// Translate converts d into Envoy resources. A nil DAG gives the empty
// configuration: an HTTP listener without scopes, so every request is
// answered 404.
func Translate(d *dag.DAG, cfg ListenerConfig) Resources {
	if d == nil {
		d = &dag.DAG{}
	}
	cfg = cfg.withDefaults()
	r := Resources{
		Listeners:    listeners(d, cfg),
		Routes:       routeConfigurations(d),
		ScopedRoutes: scopedRouteConfigurations(d),
		Clusters:     clusters(d.Clusters),
		Endpoints:    endpoints(d.Clusters),
		Secrets:      secrets(d.Secrets),
	}
	r.Listeners = sortByName(r.Listeners, (*listener.Listener).GetName)
	r.Routes = sortByName(r.Routes, (*route.RouteConfiguration).GetName)
	r.ScopedRoutes = sortByName(r.ScopedRoutes, (*route.ScopedRouteConfiguration).GetName)
	r.Clusters = sortByName(r.Clusters, (*cluster.Cluster).GetName)
	r.Endpoints = sortByName(r.Endpoints, (*endpoint.ClusterLoadAssignment).GetClusterName)
	r.Secrets = sortByName(r.Secrets, (*tls.Secret).GetName)
	return r
}

// sortByName sorts s stably by name and drops later entries with a name
// already seen, so a DAG listing something twice cannot produce a
// configuration Envoy rejects.
func sortByName[T any](s []T, name func(T) string) []T {
	// The DAG's lists come sorted; checking is cheaper than sorting 10,000
	// names again.
	if !sort.SliceIsSorted(s, func(i, j int) bool { return name(s[i]) < name(s[j]) }) {
		sort.SliceStable(s, func(i, j int) bool { return name(s[i]) < name(s[j]) })
	}
	out := s[:0]
	for i, v := range s {
		if i > 0 && name(v) == name(s[i-1]) {
			continue
		}
		out = append(out, v)
	}
	return out
}

// adsConfigSource tells Envoy to fetch a resource over the ADS stream it
// already has.
func adsConfigSource() *core.ConfigSource {
	return &core.ConfigSource{
		ResourceApiVersion:    core.ApiVersion_V3,
		ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
	}
}

// toAny packs m deterministically so that equal messages always give equal
// bytes (anypb.New does not promise that).
func toAny(m proto.Message) *anypb.Any {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		// Only invalid UTF-8 in a string field can fail here; the DAG
		// holds Go strings built from Kubernetes objects, which are valid.
		panic("xds: marshal " + string(m.ProtoReflect().Descriptor().FullName()) + ": " + err.Error())
	}
	return &anypb.Any{
		TypeUrl: "type.googleapis.com/" + string(m.ProtoReflect().Descriptor().FullName()),
		Value:   b,
	}
}

func duration(d time.Duration) *durationpb.Duration { return durationpb.New(d) }

// timeout converts a model timeout; Infinite becomes 0s, which Envoy reads
// as "disabled". The caller checks IsSet first.
func timeout(t dag.Timeout) *durationpb.Duration {
	if t.Infinite {
		return duration(0)
	}
	return duration(t.Duration)
}
