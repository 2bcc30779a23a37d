package dag

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
)

// rootEntry is the memo of one root virtual host: everything processing
// the root read (deps) and everything it produced (its virtual hosts and
// the status events and reached marks it caused). A Build reuses it as it
// is while the root still owns fqdn and every dependency is unchanged;
// but for the dropped mark, it is never modified after it is made.
type rootEntry struct {
	key  types.NamespacedName
	fqdn string
	deps deps

	// http and https are the root's virtual hosts on each listener; nil
	// when the root serves nothing there.
	http  *VirtualHost
	https *SecureVirtualHost

	// touches are the proxies the root's processing recorded something
	// on, sorted by key: the errors and warnings in the order found, and
	// whether it reached them.
	touches []touch

	// clusters are the names of the clusters http and https refer to,
	// each once; secrets are the Secrets https serves (its certificate and
	// the fallback certificate), each once. Build counts references by
	// name, so the DAG lists exactly the clusters and secrets served
	// virtual hosts use.
	clusters []string
	secrets  []types.NamespacedName

	// dropped is set when the entry stops being its root's.
	dropped bool
}

// touch is what one root recorded on one proxy.
type touch struct {
	key     types.NamespacedName
	reached bool
	acc     statusAcc
}

// touchOf returns what e recorded on key, or nil.
func (e *rootEntry) touchOf(key types.NamespacedName) *touch {
	i, ok := slices.BinarySearchFunc(e.touches, key, func(t touch, k types.NamespacedName) int { return compareName(t.key, k) })
	if !ok {
		return nil
	}
	return &e.touches[i]
}

// dependents are the entries that read one input. Most inputs are read by
// one root, so the first entry is kept inline. Dropped entries are removed
// lazily, once they are half the list, so dropping an entry does not
// search the lists of the popular inputs it read.
type dependents struct {
	first *rootEntry
	more  []*rootEntry
	dead  int
}

func (d *dependents) add(e *rootEntry) {
	if d.first == nil {
		d.first = e
		return
	}
	d.more = append(d.more, e)
}

func (d *dependents) each(f func(*rootEntry)) {
	if d.first != nil {
		f(d.first)
	}
	for _, e := range d.more {
		f(e)
	}
}

// dropped notes that one of the entries was dropped, and reports whether
// any entry is left.
func (d *dependents) dropped() bool {
	d.dead++
	n := len(d.more)
	if d.first != nil {
		n++
	}
	if 2*d.dead < n {
		return true
	}
	var live dependents
	d.each(func(e *rootEntry) {
		if !e.dropped {
			live.add(e)
		}
	})
	*d = live
	return d.first != nil
}

// touchRecord collects, while one root is processed, what it records on
// each proxy: errors, warnings, and whether the walk reached it.
type touchRecord struct {
	touches []*touch
	index   map[types.NamespacedName]*touch // once touches is long
}

// touch returns the record of key, adding it on first use.
func (r *touchRecord) touch(key types.NamespacedName) *touch {
	if r.index != nil {
		if t := r.index[key]; t != nil {
			return t
		}
	} else {
		for _, t := range r.touches {
			if t.key == key {
				return t
			}
		}
	}
	t := &touch{key: key}
	r.touches = append(r.touches, t)
	if r.index != nil {
		r.index[key] = t
	} else if len(r.touches) > smallList {
		r.index = make(map[types.NamespacedName]*touch, 2*len(r.touches))
		for _, t := range r.touches {
			r.index[t.key] = t
		}
	}
	return t
}

// newRootEntry makes the memo entry of root key for fqdn from what its
// processing read and recorded, with the virtual hosts it produced.
func newRootEntry(key types.NamespacedName, fqdn string, rd *reads, r *touchRecord, vh *VirtualHost, svh *SecureVirtualHost) *rootEntry {
	e := &rootEntry{
		key:     key,
		fqdn:    fqdn,
		deps:    rd.deps(),
		http:    vh,
		https:   svh,
		touches: make([]touch, len(r.touches)),
	}
	for i, t := range r.touches {
		e.touches[i] = *t
		// The entry is final: replaying it needs the conditions, not the
		// set that kept them unique.
		e.touches[i].acc.seen = nil
	}
	slices.SortFunc(e.touches, func(a, b touch) int { return compareName(a.key, b.key) })

	names := make([]string, 0, 4)
	addWeighted := func(wcs []*WeightedCluster) {
		for _, wc := range wcs {
			names = append(names, wc.Cluster.Name)
		}
	}
	addRoutes := func(routes []*Route) {
		for _, rt := range routes {
			addWeighted(rt.Clusters)
			if rt.Mirror != nil {
				names = append(names, rt.Mirror.Name)
			}
		}
	}
	if vh != nil {
		addRoutes(vh.Routes)
	}
	if svh != nil {
		addRoutes(svh.Routes)
		names = jwtClusters(names, svh)
		if svh.TCPProxy != nil {
			addWeighted(svh.TCPProxy.Clusters)
		}
		for _, s := range []*Secret{svh.Secret, svh.FallbackCertificate} {
			if s == nil {
				continue
			}
			// A Secret's Name is its key, "namespace/name"; neither part
			// can hold a '/'.
			ns, name, _ := strings.Cut(s.Name, "/")
			if k := (types.NamespacedName{Namespace: ns, Name: name}); !slices.Contains(e.secrets, k) {
				e.secrets = append(e.secrets, k)
			}
		}
	}
	slices.Sort(names)
	e.clusters = slices.Compact(names)
	return e
}

// extEntry is the memo of one ExtensionService: the object, what its
// processing read, and what it produced. It is reused while the object
// and every input read keep their pointers.
type extEntry struct {
	src     *contourv1alpha1.ExtensionService
	deps    deps
	cluster *ExtensionCluster // nil when invalid
	status  *ExtensionStatus
}

// valid reports whether every input e read is as it was.
func (e *extEntry) valid(bl *Builder) bool {
	return e.deps.unchanged(bl, bl.objs)
}

// clusterEntry is the Cluster shared under one name by every root, with
// the EndpointSlices its endpoints came from. The name says everything
// else about the cluster (service, port, and a digest of the settings),
// so the cluster stays current while its slices do. Every root that
// uses it recorded the same slices: when they change, every such root is
// processed again, and gets the new cluster.
type clusterEntry struct {
	c      *Cluster
	slices []sliceRef
	refs   int // memo entries whose virtual hosts use the cluster
}

// sharedCluster returns the Cluster named c.Name: the current one when it
// was made from the slices sl, else a new one, made from c and the
// endpoints of sl.
func (bl *Builder) sharedCluster(c Cluster, sl []sliceRef) *Cluster {
	ce := bl.clusters[c.Name]
	if ce != nil && sameSlices(ce.slices, sl) {
		return ce.c
	}
	made := c
	if c.ExternalName == "" {
		made.Endpoints = bl.serviceEndpoints(c.Service, c.PortName, c.HealthPortName, sl)
	}
	if ce == nil {
		ce = &clusterEntry{}
		bl.clusters[c.Name] = ce
	}
	ce.c, ce.slices = &made, sl
	// Listed so that the DAG takes the new pointer, or the entry goes
	// when no served virtual host uses it.
	bl.ch.cluster(c.Name)
	return &made
}

// sharedDNSCluster returns the Cluster of upstream up (a server Envoy
// finds by DNS), shared by name by every root that uses the same server
// with the same settings.
func (bl *Builder) sharedDNSCluster(up DNSUpstream) *Cluster {
	name := dnsClusterName(up)
	if ce := bl.clusters[name]; ce != nil && ce.c.DNS != nil {
		return ce.c
	}
	c := &Cluster{Name: name, DNS: &up}
	ce := bl.clusters[name]
	if ce == nil {
		ce = &clusterEntry{}
		bl.clusters[name] = ce
	}
	ce.c, ce.slices = c, nil
	// Listed so that the entry goes when no served virtual host uses it.
	bl.ch.cluster(name)
	return c
}

// secretEntry is the validated Secret of one key (or why it cannot be
// served), shared by every root that serves it, and kept while its
// *corev1.Secret is: validating a key pair is costly.
type secretEntry struct {
	src  *corev1.Secret
	sec  *Secret
	err  error
	refs int // memo entries whose virtual host serves the secret
}

// sharedSecret returns the serving certificate in src, the Secret key:
// the current one when it was made from src, else a new one, validated.
func (bl *Builder) sharedSecret(key types.NamespacedName, src *corev1.Secret) (*Secret, error) {
	se := bl.secrets[key]
	if se == nil || se.src != src {
		// Every root serving the old one read the old pointer: none of
		// them is reused, so none keeps the old *Secret.
		sec, err := validateTLSSecret(src)
		if sec != nil {
			sec.Name = key.String()
		}
		if se == nil {
			se = &secretEntry{}
			bl.secrets[key] = se
		}
		se.src, se.sec, se.err = src, sec, err
		bl.ch.secret(key)
	}
	return se.sec, se.err
}
