package xds

import (
	"fmt"
	"slices"
	"strings"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpproxy "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// refs are the names one part of a snapshot (a virtual host, a filter
// chain, a listener, a cluster) uses in resources of other types. Each
// part's refs are read from the Envoy messages when the part is made, and
// memoized with it, so checking a snapshot costs one lookup per reference
// and no decoding: cheap enough for every snapshot served.
type refs struct {
	clusters  []string // CDS: clusters routes, mirrors and TCP proxies send to
	endpoints []string // EDS: ClusterLoadAssignments of EDS clusters
	routes    []string // RDS: route configurations HTTP connection managers name
	secrets   []string // SDS: certificates of TLS transport sockets

	// verified is, per kind of refKinds, the consistency epoch at which
	// these references were last found in a snapshot; 0 for never.
	verified [4]uint64
}

func (r *refs) empty() bool {
	return len(r.clusters)+len(r.endpoints)+len(r.routes)+len(r.secrets) == 0
}

// refKinds are the types refs name, in the order of refs.names.
var refKinds = [...]struct{ typ, what string }{
	{resourcev3.ClusterType, "cluster"},
	{resourcev3.EndpointType, "ClusterLoadAssignment"},
	{resourcev3.RouteType, "route configuration"},
	{resourcev3.SecretType, "secret"},
}

// names are r's references of refKinds[k].
func (r *refs) names(k int) []string {
	switch k {
	case 0:
		return r.clusters
	case 1:
		return r.endpoints
	case 2:
		return r.routes
	}
	return r.secrets
}

// Consistent reports the first reference of s that names a resource s does
// not have: a route's cluster, an EDS cluster's ClusterLoadAssignment, a
// listener's route configuration or secret. Envoy would otherwise wait for
// the missing resource (listeners stuck warming, routes answering 503) or
// reject the update. A Snapshot made otherwise than by a Translator (the
// tests' reference, NewSnapshot, checks its input itself) carries no
// references and is always consistent here.
func (s *Snapshot) Consistent() error {
	for _, r := range s.refs {
		for k := range refKinds {
			if err := s.check(r, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// check reports the first of r's references of refKinds[k] that s lacks.
func (s *Snapshot) check(r *refs, k int) error {
	for _, name := range r.names(k) {
		if !s.has(refKinds[k].typ, name) {
			return fmt.Errorf("xds: inconsistent snapshot: %s %q is referenced but not in the snapshot", refKinds[k].what, name)
		}
	}
	return nil
}

// has reports whether s has a resource typ named name. Resources are
// sorted by name.
func (s *Snapshot) has(typ, name string) bool {
	t := s.Type(typ)
	if t == nil {
		return false
	}
	_, ok := slices.BinarySearchFunc(t.Resources, name, func(r Resource, n string) int { return strings.Compare(r.Name, n) })
	return ok
}

// Checker checks snapshots one after another, as the server does, by
// looking again only at what may have broken since the last check: the
// references of parts it has not verified yet, and the references of
// every part to a type that has lost a name since. A typical change
// (one proxy, one endpoint) costs a few lookups instead of one per
// reference of 10,000 proxies.
//
// It records what it verified in the refs themselves, which the
// Translator memoizes with their parts: one Checker per Translator,
// used from one goroutine. The zero value is ready to use.
type Checker struct {
	// names are each kind's resources as last checked, sorted by name.
	names [len(refKinds)][]Resource
	// epoch, per kind, grows whenever a name of that kind disappears:
	// a reference verified at an older epoch may be broken now.
	epoch [len(refKinds)]uint64
}

// Check is snap.Consistent(), looking again only at what may have broken
// since the last Check.
func (c *Checker) Check(snap *Snapshot) error {
	for k, kind := range refKinds {
		var now []Resource
		if t := snap.Type(kind.typ); t != nil {
			now = t.Resources
		}
		if c.epoch[k] == 0 || lostNames(c.names[k], now) {
			c.epoch[k]++
		}
		c.names[k] = now
	}
	for _, r := range snap.refs {
		for k := range refKinds {
			if r.verified[k] == c.epoch[k] {
				continue
			}
			if err := snap.check(r, k); err != nil {
				return err
			}
			r.verified[k] = c.epoch[k]
		}
	}
	return nil
}

// lostNames reports whether a name of before, sorted, is not in after,
// sorted. Resources an unchanged type shares make it one pass of pointer
// comparisons.
func lostNames(before, after []Resource) bool {
	if len(before) == 0 {
		return false
	}
	if len(after) > 0 && len(before) == len(after) && &before[0] == &after[0] {
		return false // the same slice: the type did not change
	}
	j := 0
	for _, b := range before {
		for j < len(after) && after[j].Name < b.Name {
			j++
		}
		if j == len(after) || after[j].Name != b.Name {
			return true
		}
	}
	return false
}

// virtualHostRefs are the clusters vh's routes send to or mirror to.
func virtualHostRefs(vh *route.VirtualHost) *refs {
	r := &refs{}
	for _, rt := range vh.GetRoutes() {
		a := rt.GetRoute()
		if a == nil {
			continue
		}
		if c := a.GetCluster(); c != "" {
			r.clusters = append(r.clusters, c)
		}
		for _, wc := range a.GetWeightedClusters().GetClusters() {
			r.clusters = append(r.clusters, wc.GetName())
		}
		for _, m := range a.GetRequestMirrorPolicies() {
			r.clusters = append(r.clusters, m.GetCluster())
		}
	}
	return r
}

// routeConfigurationRefs are the refs of every virtual host of rc.
func routeConfigurationRefs(rc *route.RouteConfiguration) *refs {
	r := &refs{}
	for _, vh := range rc.GetVirtualHosts() {
		r.add(virtualHostRefs(vh))
	}
	return r
}

// listenerRefs are the refs of every filter chain of l.
func listenerRefs(l *listener.Listener) (*refs, error) {
	r := &refs{}
	for _, fc := range l.GetFilterChains() {
		fr, err := filterChainRefs(fc)
		if err != nil {
			return nil, err
		}
		r.add(fr)
	}
	return r, nil
}

// filterChainRefs are the route configuration of fc's HTTP connection
// manager, the clusters of its TCP proxy and the secrets of its TLS
// transport socket. The typed configs are unpacked once, when the chain is
// made.
func filterChainRefs(fc *listener.FilterChain) (*refs, error) {
	r := &refs{}
	for _, f := range fc.GetFilters() {
		tc := f.GetTypedConfig()
		if tc == nil {
			continue
		}
		m, err := tc.UnmarshalNew()
		if err != nil {
			return nil, fmt.Errorf("xds: filter chain %q: unpack %s: %w", fc.GetName(), tc.GetTypeUrl(), err)
		}
		switch m := m.(type) {
		case *hcm.HttpConnectionManager:
			if rds := m.GetRds(); rds != nil {
				r.routes = append(r.routes, rds.GetRouteConfigName())
			}
			if rc := m.GetRouteConfig(); rc != nil {
				r.add(routeConfigurationRefs(rc))
			}
		case *tcpproxy.TcpProxy:
			if c := m.GetCluster(); c != "" {
				r.clusters = append(r.clusters, c)
			}
			for _, wc := range m.GetWeightedClusters().GetClusters() {
				r.clusters = append(r.clusters, wc.GetName())
			}
		}
	}
	secrets, err := transportSocketSecrets(fc.GetTransportSocket())
	if err != nil {
		return nil, fmt.Errorf("xds: filter chain %q: %w", fc.GetName(), err)
	}
	r.secrets = secrets
	return r, nil
}

// transportSocketSecrets are the SDS secrets a TLS transport socket names.
func transportSocketSecrets(ts *core.TransportSocket) ([]string, error) {
	tc := ts.GetTypedConfig()
	if tc == nil {
		return nil, nil
	}
	m, err := tc.UnmarshalNew()
	if err != nil {
		return nil, fmt.Errorf("unpack %s: %w", tc.GetTypeUrl(), err)
	}
	var common *tls.CommonTlsContext
	switch m := m.(type) {
	case *tls.DownstreamTlsContext:
		common = m.GetCommonTlsContext()
	case *tls.UpstreamTlsContext:
		common = m.GetCommonTlsContext()
	default:
		return nil, nil
	}
	var out []string
	for _, sds := range common.GetTlsCertificateSdsSecretConfigs() {
		out = append(out, sds.GetName())
	}
	if sds := common.GetValidationContextSdsSecretConfig(); sds != nil {
		out = append(out, sds.GetName())
	}
	return out, nil
}

// clusterRefs are the ClusterLoadAssignment of an EDS cluster and the
// secrets of its transport socket.
func clusterRefs(c *cluster.Cluster) (*refs, error) {
	r := &refs{}
	if c.GetType() == cluster.Cluster_EDS {
		name := c.GetEdsClusterConfig().GetServiceName()
		if name == "" {
			name = c.GetName()
		}
		r.endpoints = append(r.endpoints, name)
	}
	secrets, err := transportSocketSecrets(c.GetTransportSocket())
	if err != nil {
		return nil, fmt.Errorf("xds: cluster %q: %w", c.GetName(), err)
	}
	r.secrets = secrets
	return r, nil
}

func (r *refs) add(o *refs) {
	r.clusters = append(r.clusters, o.clusters...)
	r.endpoints = append(r.endpoints, o.endpoints...)
	r.routes = append(r.routes, o.routes...)
	r.secrets = append(r.secrets, o.secrets...)
}
