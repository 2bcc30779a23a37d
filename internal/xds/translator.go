package xds

import (
	"fmt"
	"slices"
	"strings"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	cache "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// Translator turns DAGs into Snapshots, translating and marshalling only
// what changed since the DAGs before.
//
// It relies on dag.Builder's guarantee that a DAG shares every unchanged
// virtual host, cluster and secret (the same pointer) with the DAG before
// it, and that nothing in a DAG is modified once built. Its output is
// exactly NewSnapshot(Translate(d, cfg)), byte for byte and version for
// version (the tests hold it to that), so every replica serves the same
// configuration however many DAGs each has seen.
//
// The big resources are assembled from memoized parts: the HTTP route
// configurations from one encoded virtual host per DAG virtual host, the
// listener ingress_https from one encoded filter chain per secure
// virtual host. A Translator is not safe for concurrent use.
type Translator struct {
	cfg ListenerConfig

	vhosts   memo[*dag.VirtualHost, vhostPart]
	scopes   memo[string, scopePart]
	secure   memo[*dag.SecureVirtualHost, secureParts]
	clusters memo[*dag.Cluster, clusterParts]
	// extensions are the ExtensionServices' clusters.
	extensions memo[*dag.ExtensionCluster, clusterParts]
	secrets    memo[*dag.Secret, Resource]

	// httpListener depends on cfg and on the wildcard hosts' parents, which
	// its scope filter knows: httpListenerKey is that filter's script.
	httpListener     Resource
	httpListenerRefs *refs
	httpListenerKey  string
	// The fixed fields of the HTTP route configurations and ingress_https
	// after and around their repeated virtual hosts and filter chains.
	routesTail                 []byte
	httpsHead, httpsTail       []byte
	fallbackHead, fallbackTail []byte
	// fallbackChain is the encoded fallback filter chain of the fallback
	// certificate fallbackName.
	fallbackName  string
	fallbackChain []byte

	prev translated
	// patched counts the snapshots made by patching (incremental.go).
	patched int
}

// vhostPart is one encoded HTTP virtual host, the clusters it routes to,
// and, for when it is alone in its scope (nearly always), the scope key it
// was made for, its route configuration and its scope.
type vhostPart struct {
	enc       []byte
	refs      *refs
	key       string
	route     Resource
	scope     Resource
	scopeRefs *refs
}

// scopePart is one scope of the HTTP listener and the route configuration
// it names.
type scopePart struct {
	res  Resource
	refs *refs
}

// secureParts is what one secure virtual host contributes.
type secureParts struct {
	// chain is the encoded filter chain, nil when the virtual host cannot
	// be served.
	chain     []byte
	chainName string
	// route is its "https/<fqdn>" route configuration, when it routes HTTP.
	route *Resource
	// refs are what the chain and the route configuration name.
	refs *refs
	// fallbackVhost is its encoded virtual host in the fallback route
	// configuration, when it routes HTTP and enables the fallback
	// certificate.
	fallbackVhost []byte
}

// clusterParts is a cluster and its ClusterLoadAssignment; the latter has
// no Name for a cluster found by DNS, which has none.
type clusterParts struct {
	cluster, endpoints Resource
	refs               *refs
}

// translated is what the previous Translate made, to reuse whole resources
// and types when their parts did not change.
type translated struct {
	chains     []*dag.SecureVirtualHost
	ingressTLS *Resource
	snap       *Snapshot
	// refs are the references of every part of snap that has any.
	refs []*refs
	// fallback are the virtual hosts of the fallback route configuration,
	// fallbackRoute that configuration, fallbackName the certificate of
	// the fallback chain in ingressTLS ("" for none).
	fallback      []*dag.SecureVirtualHost
	fallbackRoute *Resource
	fallbackName  string

	// in are the DAG's lists as the DAG gave them, for the next Snapshot
	// to find by pointer what changed (see incremental.go); sorted says
	// its HTTP virtual hosts, clusters and secrets came strictly sorted by
	// name, without nil. oneEach says every HTTP virtual host had a scope
	// of its own, lower that their names are in lower case, wild are the
	// wildcard parents, digests each type's version digest.
	in      dag.DAG
	sorted  bool
	oneEach bool
	lower   bool
	wild    map[string]bool
	digests map[string]digest
}

// NewTranslator returns a Translator for Envoy listeners at cfg.
func NewTranslator(cfg ListenerConfig) (*Translator, error) {
	cfg = cfg.withDefaults()
	t := &Translator{cfg: cfg}
	var err error
	if _, t.routesTail, err = around(routeConfiguration(httpRoutePrefix+"placeholder", nil), "virtual_hosts"); err != nil {
		return nil, err
	}
	if t.fallbackHead, t.fallbackTail, err = around(routeConfiguration(FallbackRouteName, nil), "virtual_hosts"); err != nil {
		return nil, err
	}
	// An HTTPS listener with one placeholder chain, to cut out its fixed
	// fields.
	https := listeners(&dag.DAG{HTTPS: []*dag.SecureVirtualHost{{
		VirtualHost: dag.VirtualHost{Name: "placeholder"}, Secret: &dag.Secret{Name: "placeholder"},
	}}}, cfg)[1]
	https.FilterChains = nil
	if t.httpsHead, t.httpsTail, err = around(https, "filter_chains"); err != nil {
		return nil, err
	}
	return t, nil
}

// Snapshot translates d. An error means a resource could not be encoded, a
// bug in translation; the caller keeps serving what it had. The snapshot
// carries what each of its parts references, for Consistent.
func (t *Translator) Snapshot(d *dag.DAG) (*Snapshot, error) {
	if d == nil {
		d = &dag.DAG{}
	}
	if snap, ok, err := t.incremental(d); err != nil || ok {
		return snap, err
	}
	next := translated{
		in: dag.DAG{HTTP: d.HTTP, HTTPS: d.HTTPS, Clusters: d.Clusters, Secrets: d.Secrets, ExtensionClusters: d.ExtensionClusters},
		sorted: strictlySorted(d.HTTP, func(vh *dag.VirtualHost) string { return vh.Name }) &&
			strictlySorted(d.Clusters, func(c *dag.Cluster) string { return c.Name }) &&
			strictlySorted(d.Secrets, func(s *dag.Secret) string { return s.Name }),
		digests: map[string]digest{},
	}
	httpListener, httpRoutes, scopes, err := t.httpRoutes(d, &next)
	if err != nil {
		return nil, err
	}
	next.refs = append(next.refs, t.httpListenerRefs)
	routes, ingressTLS, err := t.secureHosts(d, &next)
	if err != nil {
		return nil, err
	}
	routes = sortByName(append(httpRoutes, routes...), resourceName)
	listeners := []Resource{httpListener}
	if ingressTLS != nil {
		listeners = sortByName(append(listeners, *ingressTLS), resourceName)
	}
	clusters, endpoints, err := t.upstreams(d, &next)
	if err != nil {
		return nil, err
	}
	secrets, err := t.secretResources(d)
	if err != nil {
		return nil, err
	}

	next.snap = &Snapshot{Types: []TypeSnapshot{
		t.reuseType(&next, resourcev3.ClusterType, clusters),
		t.reuseType(&next, resourcev3.EndpointType, endpoints),
		t.reuseType(&next, resourcev3.ListenerType, listeners),
		t.reuseType(&next, resourcev3.ScopedRouteType, scopes),
		t.reuseType(&next, resourcev3.RouteType, routes),
		t.reuseType(&next, resourcev3.SecretType, secrets),
	}, refs: next.refs}
	t.prev = next
	t.vhosts.sweep()
	t.scopes.sweep()
	t.secure.sweep()
	t.clusters.sweep()
	t.extensions.sweep()
	t.secrets.sweep()
	return next.snap, nil
}

// httpRoutes gives the HTTP listener, its scopes and their route
// configurations (see scopes.go). A scope of one virtual host, nearly all
// of them, reuses the route configuration memoized with the virtual host;
// a wildcard's scope is spliced from its virtual hosts' encodings.
func (t *Translator) httpRoutes(d *dag.DAG, next *translated) (lis Resource, routes, scopes []Resource, err error) {
	vhs := sortByName(nonNil(d.HTTP), func(vh *dag.VirtualHost) string { return vh.Name })
	wild := wildcardParents(vhs)
	next.wild = wild
	if lis, err = t.httpListenerFor(wild); err != nil {
		return Resource{}, nil, nil, err
	}
	// Nearly always every virtual host is a scope of its own, and the
	// keys come in name order: then no grouping is needed.
	keys := make([]string, len(vhs))
	oneEach := true
	for i, vh := range vhs {
		keys[i] = scopeKey(vh.Name, wild)
		oneEach = oneEach && (i == 0 || keys[i] > keys[i-1])
	}
	next.oneEach = oneEach
	next.lower = !slices.ContainsFunc(vhs, func(vh *dag.VirtualHost) bool { return strings.ToLower(vh.Name) != vh.Name })
	if oneEach {
		routes, scopes = make([]Resource, 0, len(vhs)), make([]Resource, 0, len(vhs))
		for i, vh := range vhs {
			p, err := t.vhostFor(vh, keys[i])
			if err != nil {
				return Resource{}, nil, nil, err
			}
			routes, scopes = append(routes, p.route), append(scopes, p.scope)
			if !p.refs.empty() {
				next.refs = append(next.refs, p.refs)
			}
			next.refs = append(next.refs, p.scopeRefs)
		}
		return lis, routes, scopes, nil
	}

	routes, scopes = []Resource{}, []Resource{}
	for _, s := range httpScopes(vhs) {
		parts := make([][]byte, len(s.vhosts))
		for i, vh := range s.vhosts {
			p, err := t.vhostFor(vh, s.key)
			if err != nil {
				return Resource{}, nil, nil, err
			}
			parts[i] = p.enc
			if !p.refs.empty() {
				next.refs = append(next.refs, p.refs)
			}
		}
		name := httpRoutePrefix + s.key
		routes = append(routes, NewResource(name, splice(t.routesHead(name), t.routesTail, routeConfigurationVirtualHosts, parts)))
		sp, err := t.scopes.get(s.key, func() (scopePart, error) { return scopeFor(s.key) })
		if err != nil {
			return Resource{}, nil, nil, err
		}
		scopes = append(scopes, sp.res)
		next.refs = append(next.refs, sp.refs)
	}
	return lis, routes, scopes, nil
}

// vhostFor returns vh's memoized part, made for the scope key key: the
// same virtual host under another key (a wildcard parent came or went) is
// made again and memoized in its place, so the memo always holds the part
// the last snapshot used (incremental.go removes a changed host's
// resources by the names of that part).
func (t *Translator) vhostFor(vh *dag.VirtualHost, key string) (vhostPart, error) {
	p, err := t.vhosts.get(vh, func() (vhostPart, error) { return t.vhostPart(vh, key) })
	if err != nil || p.key == key {
		return p, err
	}
	if p, err = t.vhostPart(vh, key); err != nil {
		return p, err
	}
	t.vhosts.put(vh, p)
	return p, nil
}

// vhostPart encodes vh, and its route configuration and scope as the only
// virtual host of the scope key.
func (t *Translator) vhostPart(vh *dag.VirtualHost, key string) (vhostPart, error) {
	v := virtualHost(vh)
	b, err := marshal(v)
	if err != nil {
		return vhostPart{}, err
	}
	name := httpRoutePrefix + key
	rc := NewResource(name, splice(t.routesHead(name), t.routesTail, routeConfigurationVirtualHosts, [][]byte{b}))
	sp, err := scopeFor(key)
	if err != nil {
		return vhostPart{}, err
	}
	return vhostPart{enc: b, refs: virtualHostRefs(v), key: key, route: rc, scope: sp.res, scopeRefs: sp.refs}, nil
}

// scopeFor is the scope of key and what it references.
func scopeFor(key string) (scopePart, error) {
	sc := scopedRouteConfiguration(key)
	r, err := encode(sc)
	return scopePart{res: r, refs: &refs{routes: []string{sc.GetRouteConfigurationName()}}}, err
}

// routesHead is the encoding of an HTTP route configuration's fields before
// its virtual hosts: its name alone (field 1; virtual_hosts is field 2).
func (t *Translator) routesHead(name string) []byte {
	b := protowire.AppendTag(nil, routeConfigurationName, protowire.BytesType)
	return protowire.AppendString(b, name)
}

// httpListenerFor returns the HTTP listener, whose scope filter knows the
// wildcard parents wild; made again only when they change.
func (t *Translator) httpListenerFor(wild map[string]bool) (Resource, error) {
	key := scopeScript(wild)
	if t.httpListener.Name != "" && key == t.httpListenerKey {
		return t.httpListener, nil
	}
	http := listeners(&dag.DAG{}, t.cfg)[0]
	http.FilterChains[0].Filters[0] = httpConnectionManager(HTTPListenerName, scopedRoutes{wild}, t.cfg, false, nil, extAuthzFilter(t.cfg.GlobalAuthorization)...)
	r, err := encode(http)
	if err != nil {
		return Resource{}, err
	}
	lr, err := listenerRefs(http)
	if err != nil {
		return Resource{}, err
	}
	t.httpListener, t.httpListenerRefs, t.httpListenerKey = r, lr, key
	return r, nil
}

// secureHosts gives the "https/<fqdn>" route configurations of the secure
// virtual hosts that route HTTP (and the fallback route configuration when
// any enables the fallback certificate), and the listener ingress_https
// with a filter chain per servable one, plus the fallback chain (nil when
// there is no chain).
func (t *Translator) secureHosts(d *dag.DAG, next *translated) ([]Resource, *Resource, error) {
	var routes []Resource
	var served, fallback []*dag.SecureVirtualHost
	chains := map[*dag.SecureVirtualHost]secureParts{}
	for _, vh := range nonNil(d.HTTPS) {
		p, err := t.secure.get(vh, func() (secureParts, error) { return t.secureParts(vh) })
		if err != nil {
			return nil, nil, err
		}
		if p.chain != nil {
			served = append(served, vh)
			chains[vh] = p
		}
		if p.route != nil {
			routes = append(routes, *p.route)
		}
		if p.chain != nil || p.route != nil {
			next.refs = append(next.refs, p.refs)
		}
		if p.fallbackVhost != nil {
			fallback = append(fallback, vh)
		}
	}
	served = sortByName(served, func(vh *dag.SecureVirtualHost) string { return chains[vh].chainName })
	fallback = sortByName(fallback, func(vh *dag.SecureVirtualHost) string { return vh.Name })
	next.chains, next.fallback = served, fallback
	if len(fallback) > 0 {
		// As Translate: the first fallback host by name names the secret.
		next.fallbackName = fallback[0].FallbackCertificate.Name
		if slices.Equal(fallback, t.prev.fallback) && t.prev.fallbackRoute != nil {
			next.fallbackRoute = t.prev.fallbackRoute
		} else {
			parts := make([][]byte, len(fallback))
			for i, vh := range fallback {
				parts[i] = chains[vh].fallbackVhost
			}
			r := NewResource(FallbackRouteName, splice(t.fallbackHead, t.fallbackTail, routeConfigurationVirtualHosts, parts))
			next.fallbackRoute = &r
		}
		routes = append(routes, *next.fallbackRoute)
	}
	switch {
	case len(served) == 0:
		return routes, nil, nil
	case slices.Equal(served, t.prev.chains) && next.fallbackName == t.prev.fallbackName && t.prev.ingressTLS != nil:
		next.ingressTLS = t.prev.ingressTLS
	default:
		type named struct {
			name string
			b    []byte
		}
		parts := make([]named, 0, len(served)+1)
		for _, vh := range served {
			parts = append(parts, named{chains[vh].chainName, chains[vh].chain})
		}
		if next.fallbackName != "" {
			fc, err := t.fallbackFilterChain(next.fallbackName)
			if err != nil {
				return nil, nil, err
			}
			// In name order, as Translate sorts the chains.
			i, _ := slices.BinarySearchFunc(parts, fallbackChainName, func(p named, n string) int { return strings.Compare(p.name, n) })
			parts = slices.Insert(parts, i, named{fallbackChainName, fc})
		}
		elems := make([][]byte, len(parts))
		for i, p := range parts {
			elems[i] = p.b
		}
		r := NewResource(HTTPSListenerName, splice(t.httpsHead, t.httpsTail, listenerFilterChains, elems))
		next.ingressTLS = &r
	}
	return routes, next.ingressTLS, nil
}

// fallbackFilterChain returns the encoded fallback chain of the fallback
// certificate name, made once per name.
func (t *Translator) fallbackFilterChain(name string) ([]byte, error) {
	if t.fallbackChain != nil && t.fallbackName == name {
		return t.fallbackChain, nil
	}
	b, err := marshal(fallbackFilterChain(name, t.cfg))
	if err != nil {
		return nil, err
	}
	t.fallbackName, t.fallbackChain = name, b
	return b, nil
}

// upstreams gives the clusters and their ClusterLoadAssignments, named
// alike.
func (t *Translator) upstreams(d *dag.DAG, next *translated) (clusters, endpoints []Resource, err error) {
	cs := sortByName(nonNil(d.Clusters), func(c *dag.Cluster) string { return c.Name })
	clusters = make([]Resource, 0, len(cs))
	endpoints = make([]Resource, 0, len(cs))
	for _, c := range cs {
		p, err := t.clusters.get(c, func() (clusterParts, error) { return clusterResources(c, t.cfg) })
		if err != nil {
			return nil, nil, err
		}
		clusters = append(clusters, p.cluster)
		if p.endpoints.Name != "" {
			endpoints = append(endpoints, p.endpoints)
		}
		next.refs = append(next.refs, p.refs)
	}
	for _, c := range nonNil(d.ExtensionClusters) {
		p, err := t.extensions.get(c, func() (clusterParts, error) { return extensionResources(c, t.cfg.ConnectTimeout) })
		if err != nil {
			return nil, nil, err
		}
		clusters = append(clusters, p.cluster)
		endpoints = append(endpoints, p.endpoints)
		next.refs = append(next.refs, p.refs)
	}
	if len(d.ExtensionClusters) > 0 {
		// Both lists come sorted; together they may not be.
		clusters = sortByName(clusters, resourceName)
		endpoints = sortByName(endpoints, resourceName)
	}
	return clusters, endpoints, nil
}

func (t *Translator) secretResources(d *dag.DAG) ([]Resource, error) {
	ss := sortByName(nonNil(d.Secrets), func(s *dag.Secret) string { return s.Name })
	out := make([]Resource, 0, len(ss))
	for _, s := range ss {
		r, err := t.secrets.get(s, func() (Resource, error) { return encode(envoySecret(s)) })
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// nonNil copies s without its nil entries: sortByName sorts in place, and
// the DAG's slices are not ours to sort.
func nonNil[T any](s []*T) []*T {
	out := make([]*T, 0, len(s))
	for _, v := range s {
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}

func resourceName(r Resource) string { return r.Name }

func (t *Translator) secureParts(vh *dag.SecureVirtualHost) (secureParts, error) {
	p := secureParts{refs: &refs{}}
	if fc := secureFilterChain(vh, t.cfg); fc != nil {
		b, err := marshal(fc)
		if err != nil {
			return p, err
		}
		p.chain, p.chainName = b, fc.GetName()
		r, err := filterChainRefs(fc)
		if err != nil {
			return p, err
		}
		p.refs.add(r)
	}
	if servesHTTP(vh) {
		rc := routeConfiguration(httpsRoutePrefix+vh.Name, []*route.VirtualHost{virtualHost(&vh.VirtualHost)})
		r, err := encode(rc)
		if err != nil {
			return p, err
		}
		p.route = &r
		p.refs.add(routeConfigurationRefs(rc))
		if vh.FallbackCertificate != nil {
			if p.fallbackVhost, err = marshal(virtualHost(&vh.VirtualHost)); err != nil {
				return p, err
			}
		}
	}
	return p, nil
}

func clusterResources(c *dag.Cluster, cfg ListenerConfig) (clusterParts, error) {
	if c.ResolvedByDNS() {
		// Envoy resolves the address itself: no ClusterLoadAssignment.
		return encodeClusterParts(envoyCluster(c, cfg), nil)
	}
	return encodeClusterParts(envoyCluster(c, cfg), clusterLoadAssignment(c))
}

// encodeClusterParts encodes a cluster, and its endpoints unless cla is
// nil, with the references the consistency check follows.
func encodeClusterParts(ec *cluster.Cluster, cla *endpoint.ClusterLoadAssignment) (clusterParts, error) {
	cr, err := encode(ec)
	if err != nil {
		return clusterParts{}, err
	}
	refs, err := clusterRefs(ec)
	if err != nil {
		return clusterParts{}, err
	}
	if cla == nil {
		return clusterParts{cluster: cr, refs: refs}, nil
	}
	er, err := encode(cla)
	if err != nil {
		return clusterParts{}, err
	}
	return clusterParts{cluster: cr, endpoints: er, refs: refs}, nil
}

// encode marshals m into a Resource named as go-control-plane names it.
func encode(m proto.Message) (Resource, error) {
	b, err := marshal(m)
	if err != nil {
		return Resource{}, err
	}
	return NewResource(cache.GetResourceName(m), b), nil
}

// reuseType returns the previous snapshot's TypeSnapshot when items are
// the same resources, so its version is not computed again and the
// serving cache sees an unchanged type. It records the type's digest in
// next.
func (t *Translator) reuseType(next *translated, typeURL string, items []Resource) TypeSnapshot {
	var old *TypeSnapshot
	if prev := t.prev.snap; prev != nil {
		old = prev.Type(typeURL)
	}
	if old == nil {
		ts, dg := newTypeSnapshot(typeURL, items)
		next.digests[typeURL] = dg
		return ts
	}
	if sameResources(old.Resources, items) {
		next.digests[typeURL] = t.prev.digests[typeURL]
		return *old
	}
	// The digest of the type before, less the terms of the resources gone
	// or changed, plus those of the new ones: hashing only what changed.
	dg := t.prev.digests[typeURL]
	i, j := 0, 0
	for i < len(old.Resources) || j < len(items) {
		switch {
		case j == len(items) || i < len(old.Resources) && old.Resources[i].Name < items[j].Name:
			dg.sub(old.Resources[i])
			i++
		case i == len(old.Resources) || items[j].Name < old.Resources[i].Name:
			dg.add(items[j])
			j++
		default:
			if old.Resources[i].Version != items[j].Version {
				dg.sub(old.Resources[i])
				dg.add(items[j])
			}
			i, j = i+1, j+1
		}
	}
	next.digests[typeURL] = dg
	return TypeSnapshot{TypeURL: typeURL, Version: dg.version(len(items)), Resources: items}
}

func sameResources(a, b []Resource) bool {
	return slices.EqualFunc(a, b, func(x, y Resource) bool { return x.Name == y.Name && x.Version == y.Version })
}

// Field numbers of the repeated fields the Translator assembles itself.
var (
	routeConfigurationVirtualHosts = fieldNumber(&route.RouteConfiguration{}, "virtual_hosts")
	routeConfigurationName         = fieldNumber(&route.RouteConfiguration{}, "name")
	listenerFilterChains           = fieldNumber(&listener.Listener{}, "filter_chains")
)

func fieldNumber(m proto.Message, name protoreflect.Name) protowire.Number {
	return m.ProtoReflect().Descriptor().Fields().ByName(name).Number()
}

// around returns the deterministic encodings of m's fields numbered below
// and above the repeated message field named field, which must be empty.
// Deterministic marshalling writes fields in number order, so
// head + elements + tail is exactly the encoding of m with those elements
// (a test checks it against proto.Marshal).
func around(m proto.Message, field protoreflect.Name) (head, tail []byte, err error) {
	fd := m.ProtoReflect().Descriptor().Fields().ByName(field)
	if fd == nil || !fd.IsList() || fd.Kind() != protoreflect.MessageKind {
		return nil, nil, fmt.Errorf("xds: %s has no repeated message field %s", m.ProtoReflect().Descriptor().FullName(), field)
	}
	if m.ProtoReflect().Has(fd) {
		return nil, nil, fmt.Errorf("xds: %s.%s must be empty", m.ProtoReflect().Descriptor().FullName(), field)
	}
	part := func(keep func(protowire.Number) bool) ([]byte, error) {
		c := proto.Clone(m).ProtoReflect()
		var drop []protoreflect.FieldDescriptor
		c.Range(func(f protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			if !keep(f.Number()) {
				drop = append(drop, f)
			}
			return true
		})
		for _, f := range drop {
			c.Clear(f)
		}
		return marshal(c.Interface())
	}
	if head, err = part(func(n protowire.Number) bool { return n < fd.Number() }); err != nil {
		return nil, nil, err
	}
	if tail, err = part(func(n protowire.Number) bool { return n > fd.Number() }); err != nil {
		return nil, nil, err
	}
	return head, tail, nil
}

// splice encodes head, then each element as field number n, then tail.
func splice(head, tail []byte, n protowire.Number, elems [][]byte) []byte {
	size := len(head) + len(tail)
	for _, e := range elems {
		size += protowire.SizeTag(n) + protowire.SizeBytes(len(e))
	}
	out := make([]byte, 0, size)
	out = append(out, head...)
	for _, e := range elems {
		out = protowire.AppendTag(out, n, protowire.BytesType)
		out = protowire.AppendBytes(out, e)
	}
	return append(out, tail...)
}

// memo keeps one value per key across translations; sweep drops the
// values the last translation did not ask for, so the memo holds no more
// than one DAG's worth.
type memo[K comparable, V any] struct {
	m   map[K]*memoSlot[V]
	gen uint64
}

type memoSlot[V any] struct {
	v    V
	used uint64
}

// get returns k's value, making it with mk on first use.
func (m *memo[K, V]) get(k K, mk func() (V, error)) (V, error) {
	if m.m == nil {
		m.m = map[K]*memoSlot[V]{}
	}
	if s, ok := m.m[k]; ok {
		s.used = m.gen
		return s.v, nil
	}
	v, err := mk()
	if err != nil {
		return v, err
	}
	m.m[k] = &memoSlot[V]{v: v, used: m.gen}
	return v, nil
}

// peek returns k's value without marking it used.
func (m *memo[K, V]) peek(k K) (V, bool) {
	s, ok := m.m[k]
	if !ok {
		var zero V
		return zero, false
	}
	return s.v, true
}

// put replaces k's value, marking it used.
func (m *memo[K, V]) put(k K, v V) {
	if m.m == nil {
		m.m = map[K]*memoSlot[V]{}
	}
	m.m[k] = &memoSlot[V]{v: v, used: m.gen}
}

// forget drops k's value: an incremental translation replaced its key.
func (m *memo[K, V]) forget(k K) { delete(m.m, k) }

func (m *memo[K, V]) sweep() {
	for k, s := range m.m {
		if s.used != m.gen {
			delete(m.m, k)
		}
	}
	m.gen++
}
