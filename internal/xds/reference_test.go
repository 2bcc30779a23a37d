package xds

// The reference translation: the whole DAG into typed Envoy resources at
// once, with no memo and no splicing of encoded parts, then marshaled
// into a Snapshot. It is what the Translator's tests (golden files, fuzz,
// settings) compare the served Snapshot against, and it is test code only:
// production serves what the Translator makes. Tests outside this package
// use xdstest.Translate instead.

import (
	"fmt"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cache "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/proxyctl/proxyctl/internal/dag"
)

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
		Clusters:     clusters(d.Clusters, cfg),
		Endpoints:    endpoints(d.Clusters),
		Secrets:      secrets(d.Secrets),
	}
	extClusters, extEndpoints := extensionClusters(d.ExtensionClusters, cfg.ConnectTimeout)
	r.Clusters = append(r.Clusters, extClusters...)
	r.Endpoints = append(r.Endpoints, extEndpoints...)
	r.Listeners = sortByName(r.Listeners, (*listener.Listener).GetName)
	r.Routes = sortByName(r.Routes, (*route.RouteConfiguration).GetName)
	r.ScopedRoutes = sortByName(r.ScopedRoutes, (*route.ScopedRouteConfiguration).GetName)
	r.Clusters = sortByName(r.Clusters, (*cluster.Cluster).GetName)
	r.Endpoints = sortByName(r.Endpoints, (*endpoint.ClusterLoadAssignment).GetClusterName)
	r.Secrets = sortByName(r.Secrets, (*tls.Secret).GetName)
	return r
}

// NewSnapshot marshals r, which Translate has sorted, into a Snapshot. It
// first checks r is consistent: every route configuration a listener names
// and every ClusterLoadAssignment a cluster names is present, and nothing
// else. It is the reference the Translator's incremental snapshots are
// tested against.
func NewSnapshot(r Resources) (*Snapshot, error) {
	groups := []struct {
		typ   types.ResponseType
		url   string
		items []types.Resource
	}{
		{types.Cluster, resourcev3.ClusterType, asResources(r.Clusters)},
		{types.Endpoint, resourcev3.EndpointType, asResources(r.Endpoints)},
		{types.Listener, resourcev3.ListenerType, asResources(r.Listeners)},
		{types.ScopedRoute, resourcev3.ScopedRouteType, asResources(r.ScopedRoutes)},
		{types.Route, resourcev3.RouteType, asResources(r.Routes)},
		{types.Secret, resourcev3.SecretType, asResources(r.Secrets)},
	}
	check := &cache.Snapshot{}
	for _, g := range groups {
		check.Resources[g.typ] = cache.NewResources("", g.items)
	}
	if err := check.Consistent(); err != nil {
		return nil, fmt.Errorf("xds: inconsistent snapshot: %w", err)
	}

	s := &Snapshot{}
	for _, g := range groups {
		items := make([]Resource, len(g.items))
		for i, it := range g.items {
			b, err := marshal(it)
			if err != nil {
				return nil, err
			}
			items[i] = NewResource(cache.GetResourceName(it), b)
		}
		s.Types = append(s.Types, NewTypeSnapshot(g.url, items))
	}
	return s, nil
}

func asResources[T types.Resource](s []T) []types.Resource {
	out := make([]types.Resource, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// routeConfigurations returns one "http/<key>" per HTTP scope (see
// httpScopes) and one "https/<fqdn>" per secure virtual host that routes
// HTTP.
func routeConfigurations(d *dag.DAG) []*route.RouteConfiguration {
	var out []*route.RouteConfiguration
	for _, s := range httpScopes(d.HTTP) {
		vhosts := make([]*route.VirtualHost, len(s.vhosts))
		for i, vh := range s.vhosts {
			vhosts[i] = virtualHost(vh)
		}
		out = append(out, routeConfiguration(httpRoutePrefix+s.key, vhosts))
	}
	var fallback []*route.VirtualHost
	for _, vh := range d.HTTPS {
		if servesHTTP(vh) {
			out = append(out, routeConfiguration(httpsRoutePrefix+vh.Name, []*route.VirtualHost{virtualHost(&vh.VirtualHost)}))
			if vh.FallbackCertificate != nil {
				fallback = append(fallback, virtualHost(&vh.VirtualHost))
			}
		}
	}
	if len(fallback) > 0 {
		out = append(out, routeConfiguration(FallbackRouteName, fallback))
	}
	return out
}

// scopedRouteConfigurations returns one scope per HTTP scope key, selecting
// the route configuration "http/<key>" for requests whose scope header
// (set by the listener's scope filter) is key.
func scopedRouteConfigurations(d *dag.DAG) []*route.ScopedRouteConfiguration {
	var out []*route.ScopedRouteConfiguration
	for _, s := range httpScopes(d.HTTP) {
		out = append(out, scopedRouteConfiguration(s.key))
	}
	return out
}

func clusters(cs []*dag.Cluster, cfg ListenerConfig) []*cluster.Cluster {
	out := make([]*cluster.Cluster, 0, len(cs))
	for _, c := range cs {
		if c != nil {
			out = append(out, envoyCluster(c, cfg))
		}
	}
	return out
}

// endpoints returns one ClusterLoadAssignment per cluster, named as the
// cluster (its EDS service_name), even when the cluster has no endpoints:
// Envoy then knows the cluster is empty rather than waiting for it. A
// cluster found by DNS (a JWKS server, an ExternalName Service) has its
// address inline and none.
func endpoints(cs []*dag.Cluster) []*endpoint.ClusterLoadAssignment {
	out := make([]*endpoint.ClusterLoadAssignment, 0, len(cs))
	for _, c := range cs {
		if c != nil && !c.ResolvedByDNS() {
			out = append(out, clusterLoadAssignment(c))
		}
	}
	return out
}

// secrets returns the serving certificates, sent over SDS under the DAG's
// secret name ("namespace/name"), which is what filter chains refer to.
func secrets(ss []*dag.Secret) []*tls.Secret {
	out := make([]*tls.Secret, 0, len(ss))
	for _, s := range ss {
		if s != nil {
			out = append(out, envoySecret(s))
		}
	}
	return out
}

func extensionClusters(cs []*dag.ExtensionCluster, connectTimeout time.Duration) ([]*cluster.Cluster, []*endpoint.ClusterLoadAssignment) {
	var clusters []*cluster.Cluster
	var cla []*endpoint.ClusterLoadAssignment
	for _, c := range cs {
		if c != nil {
			clusters = append(clusters, extensionCluster(c, connectTimeout))
			cla = append(cla, extensionLoadAssignment(c))
		}
	}
	return clusters, cla
}
