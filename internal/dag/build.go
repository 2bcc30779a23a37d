package dag

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// Build turns objs into the routing model and one status per HTTPProxy.
// It only reads objs, never panics, and returns equal results for equal
// inputs. A nil objs is treated as empty.
func Build(objs *Objects, cfg Config) *DAG {
	if objs == nil {
		objs = NewObjects()
	}
	b := newBuilder(objs, cfg)
	b.buildRoots()
	return b.result()
}

// builder holds the indexes and intermediate results of one Build.
type builder struct {
	objs *Objects
	cfg  Config

	rootNamespaces map[string]bool

	// proxies is every HTTPProxy by key; nil entries of the input are
	// replaced by empty objects so every key has one.
	proxies   map[types.NamespacedName]*contourv1.HTTPProxy
	proxyKeys []types.NamespacedName

	// slicesByService indexes EndpointSlices by the Service they belong to.
	slicesByService map[types.NamespacedName][]*discoveryv1.EndpointSlice
	// delegations maps a Secret to the namespaces it is shared with.
	delegations map[types.NamespacedName][]string

	status  map[types.NamespacedName]*statusAcc
	reached map[types.NamespacedName]bool

	templates map[types.NamespacedName]*proxyTemplate
	clusters  map[string]*Cluster
	endpoints map[string][]Endpoint
	secrets   map[types.NamespacedName]secretResult

	http  []*VirtualHost
	https []*SecureVirtualHost
}

func newBuilder(objs *Objects, cfg Config) *builder {
	b := &builder{
		objs:            objs,
		cfg:             cfg,
		rootNamespaces:  map[string]bool{},
		proxies:         make(map[types.NamespacedName]*contourv1.HTTPProxy, len(objs.HTTPProxies)),
		slicesByService: make(map[types.NamespacedName][]*discoveryv1.EndpointSlice, len(objs.EndpointSlices)),
		delegations:     map[types.NamespacedName][]string{},
		status:          make(map[types.NamespacedName]*statusAcc, len(objs.HTTPProxies)),
		reached:         make(map[types.NamespacedName]bool, len(objs.HTTPProxies)),
		templates:       make(map[types.NamespacedName]*proxyTemplate, len(objs.HTTPProxies)),
		clusters:        map[string]*Cluster{},
		endpoints:       map[string][]Endpoint{},
		secrets:         map[types.NamespacedName]secretResult{},
	}
	for _, ns := range cfg.RootNamespaces {
		b.rootNamespaces[ns] = true
	}
	for key, p := range objs.HTTPProxies {
		if p == nil {
			p = &contourv1.HTTPProxy{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
		}
		b.proxies[key] = p
		b.proxyKeys = append(b.proxyKeys, key)
		b.status[key] = &statusAcc{}
	}
	sort.Slice(b.proxyKeys, func(i, j int) bool { return lessName(b.proxyKeys[i], b.proxyKeys[j]) })

	for key, s := range objs.EndpointSlices {
		if s == nil {
			continue
		}
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		sk := types.NamespacedName{Namespace: key.Namespace, Name: svc}
		b.slicesByService[sk] = append(b.slicesByService[sk], s)
	}
	for key, d := range objs.Delegations {
		if d == nil {
			continue
		}
		for _, cd := range d.Spec.Delegations {
			sk := types.NamespacedName{Namespace: key.Namespace, Name: cd.SecretName}
			b.delegations[sk] = append(b.delegations[sk], cd.TargetNamespaces...)
		}
	}
	return b
}

func lessName(a, b types.NamespacedName) bool {
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

// service returns the Service named key, or nil.
func (b *builder) service(key types.NamespacedName) *corev1.Service {
	if b.objs.Services == nil {
		return nil
	}
	return b.objs.Services[key]
}

// result assembles the DAG: sorted vhosts, the clusters and secrets they
// use, and the statuses.
func (b *builder) result() *DAG {
	d := &DAG{Statuses: make(map[types.NamespacedName]*ProxyStatus, len(b.proxyKeys))}

	sort.Slice(b.http, func(i, j int) bool { return b.http[i].Name < b.http[j].Name })
	sort.Slice(b.https, func(i, j int) bool { return b.https[i].Name < b.https[j].Name })
	d.HTTP = b.http
	d.HTTPS = b.https

	clusters := map[string]*Cluster{}
	addWeighted := func(wcs []*WeightedCluster) {
		for _, wc := range wcs {
			if wc != nil && wc.Cluster != nil {
				clusters[wc.Cluster.Name] = wc.Cluster
			}
		}
	}
	addRoutes := func(routes []*Route) {
		for _, r := range routes {
			addWeighted(r.Clusters)
			if r.Mirror != nil {
				clusters[r.Mirror.Name] = r.Mirror
			}
		}
	}
	secrets := map[string]*Secret{}
	for _, vh := range d.HTTP {
		addRoutes(vh.Routes)
	}
	for _, svh := range d.HTTPS {
		addRoutes(svh.Routes)
		if svh.TCPProxy != nil {
			addWeighted(svh.TCPProxy.Clusters)
		}
		if svh.Secret != nil {
			secrets[svh.Secret.Name] = svh.Secret
		}
	}
	for _, c := range clusters {
		d.Clusters = append(d.Clusters, c)
	}
	sort.Slice(d.Clusters, func(i, j int) bool { return d.Clusters[i].Name < d.Clusters[j].Name })
	for _, s := range secrets {
		d.Secrets = append(d.Secrets, s)
	}
	sort.Slice(d.Secrets, func(i, j int) bool { return d.Secrets[i].Name < d.Secrets[j].Name })

	for _, key := range b.proxyKeys {
		d.Statuses[key] = b.proxyStatus(key)
	}
	return d
}
