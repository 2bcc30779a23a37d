package xdsserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/sirupsen/logrus"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/proxyctl/proxyctl/internal/xds"
)

// Cache serves one xds.Snapshot to every Envoy through go-control-plane's ADS
// server (state of the world and incremental). It implements cachev3.Cache.
//
// It answers like cachev3.NewSnapshotCache(true /*ads*/, ...) with one
// snapshot for every node, but every resource is marshalled once, by the
// Translator: SetSnapshot wraps the bytes of each type
// that changed in Anys once, and every response of that type, on every
// stream, carries that same slice.
//
// Sends never block: a watch is answered under the mutex with a
// non-blocking send, so a cancelled watch is never answered (the delta
// server closes its channel right after cancelling). go-control-plane's
// servers keep at most one watch per type on a stream and drain the stream's
// channel before they open the next one, so the channel always has room. If
// a send finds it full all the same (a caller breaking that rule), the
// response is dropped and logged, and the watch stays open: the next
// snapshot that changes its type answers it.
//
// Costs, with n resources in a type: SetSnapshot builds each changed type
// in one O(n) merge with the type before, allocating only for the
// resources that changed, and checks each parked state-of-the-world watch
// of it in O(1) (see rebase); it leaves the other types and their watches
// alone. A delta answer is O(n), because go-control-plane writes into the
// version map a delta response hands it, so each needs its own copy. A
// state-of-the-world ACK is O(1) for a wildcard subscription; for a named
// one the ADS check must read the names the request brings, O(n) map
// lookups outside the mutex, done once per distinct list the server's
// codec shares (see nameLists); a delta ACK compares O(n) versions outside
// the mutex. None of them allocates per resource.
//
// Fetch (REST, unary xDS) is not supported: Envoys use ADS.
type Cache struct {
	log logrus.FieldLogger

	// setMu serializes SetSnapshot, so a new snapshot's types are prepared
	// from served without holding mu.
	setMu  sync.Mutex
	served map[string]*typeData // by type URL; guarded by setMu

	// enc shares each served type's encoding between streams.
	enc *encodings

	mu    sync.Mutex
	types map[string]*typeState // by type URL; guarded by mu
}

var _ cachev3.Cache = (*Cache)(nil)

// NewCache returns a Cache that answers nothing until the first SetSnapshot.
func NewCache(log logrus.FieldLogger) *Cache {
	if log == nil {
		log = logrus.StandardLogger()
	}
	return &Cache{log: log, served: map[string]*typeData{}, enc: newEncodings(), types: map[string]*typeState{}}
}

// typeState is one type URL: what is served of it and the watches waiting
// for it. Watches are kept per type so a snapshot touches only the watches
// of the types it changes.
type typeState struct {
	url string
	// data is nil while the type is not served: before the first snapshot,
	// or when the snapshot has no such type. Watches of it wait.
	data  *typeData
	sotw  map[*sotwWatch]struct{}
	delta map[*deltaWatch]struct{}
}

// typeData is one version of a type, built once by SetSnapshot and shared,
// read only, by every response.
type typeData struct {
	url       string
	version   string
	resources []xds.Resource          // sorted by name
	anys      []*anypb.Any            // every resource, for SotW responses
	deltas    []*discoveryv3.Resource // the same Anys, named and versioned, for delta responses
	// versionMap is name -> xds.Resource.Version, cloned into delta
	// version maps: made on first use (versions), as only incremental
	// streams need it.
	versionsOnce sync.Once
	versionMap   map[string]string
	// prev is the data this one replaced, and so on back for at most
	// historyDepth versions; diffs caches, by older version, the Anys of the
	// resources that are new or changed since it: what a named
	// state-of-the-world subscription holding that version is sent (see
	// newSotwResponse). Both guarded by Cache.mu.
	prev  *typeData
	diffs map[string][]*anypb.Any

	// covers remembers, for the shared name lists of requests (see
	// nameLists), whether they name every resource of d: most requests
	// of a type bring the same list, and checking it is O(resources).
	coversMu sync.Mutex
	covers   []coverage
}

// coverage is whether the request name list names covers a typeData,
// and if not one name it lacks.
type coverage struct {
	names   []string
	covered bool
	missing string
}

// maxCovers bounds typeData.covers; minCoverNames is the length from which
// a list is remembered.
const (
	maxCovers     = 8
	minCoverNames = 256
)

// historyDepth is how many versions back a stream may be and still be sent
// only what changed: a stream that has not acknowledged one response when
// the next snapshots come (a burst of changes) misses versions.
const historyDepth = 4

// link records old as the data d replaced, and forgets what is more than
// historyDepth versions old. Called with Cache.mu held.
func (d *typeData) link(old *typeData) {
	d.prev = old
	t := d
	for range historyDepth {
		if t = t.prev; t == nil {
			return
		}
	}
	t.prev, t.diffs = nil, nil
}

// changedSince returns the Anys of the resources of d that are new or
// differ from the version version, and false if that version is not one of
// the last historyDepth. Called with Cache.mu held.
func (d *typeData) changedSince(version string) ([]*anypb.Any, bool) {
	if version == "" {
		return nil, false
	}
	if c, ok := d.diffs[version]; ok {
		return c, true
	}
	old := d.prev
	for i := 0; old != nil && old.version != version; i++ {
		if i == historyDepth {
			return nil, false
		}
		old = old.prev
	}
	if old == nil {
		return nil, false
	}
	changed := []*anypb.Any{}
	alongside(old.resources, d.resources, func(i, j int) {
		if j < 0 || old.resources[j].Version != d.resources[i].Version {
			changed = append(changed, d.anys[i])
		}
	})
	if d.diffs == nil {
		d.diffs = map[string][]*anypb.Any{}
	}
	d.diffs[version] = changed
	return changed, true
}

// alongside calls f(i, j) for each resource of d, i its index there and j
// the index of the same name in old, or -1. Both are sorted by name: one
// merge, whose names are mostly the very strings of old (the Translator
// shares unchanged resources), so comparing them is cheap.
func alongside(old, d []xds.Resource, f func(i, j int)) {
	j := 0
	for i, r := range d {
		for j < len(old) && old[j].Name < r.Name {
			j++
		}
		if j < len(old) && old[j].Name == r.Name {
			f(i, j)
		} else {
			f(i, -1)
		}
	}
}

// versions returns d's map of resource versions by name.
func (d *typeData) versions() map[string]string {
	d.versionsOnce.Do(func() {
		d.versionMap = make(map[string]string, len(d.resources))
		for _, r := range d.resources {
			d.versionMap[r.Name] = r.Version
		}
	})
	return d.versionMap
}

// has reports whether d has a resource called name.
func (d *typeData) has(name string) bool {
	_, ok := slices.BinarySearchFunc(d.resources, name, func(r xds.Resource, name string) int { return strings.Compare(r.Name, name) })
	return ok
}

// newTypeData prepares t for every stream. The Anys of resources that old
// (the type's data before, or nil) has with the same bytes are old's: a
// change of one resource of 10,000 makes one Any, not 10,000, and no map.
func newTypeData(t *xds.TypeSnapshot, old *typeData) (*typeData, error) {
	if t.TypeURL == "" {
		return nil, errors.New("xds: snapshot has a type without a type URL")
	}
	if t.Version == "" {
		// Envoy's first request carries version "": an empty version would
		// read as "already up to date".
		return nil, fmt.Errorf("xds: %s has no version", t.TypeURL)
	}
	n := len(t.Resources)
	d := &typeData{
		url:       t.TypeURL,
		version:   t.Version,
		resources: t.Resources,
		anys:      make([]*anypb.Any, n),
		deltas:    make([]*discoveryv3.Resource, n),
	}
	var anys []anypb.Any
	var deltas []discoveryv3.Resource
	if old == nil {
		// One allocation for all the Anys and one for all the delta
		// Resources.
		anys, deltas = make([]anypb.Any, n), make([]discoveryv3.Resource, n)
	} else {
		alongside(old.resources, t.Resources, func(i, j int) {
			if j >= 0 && sameBytes(old.resources[j], t.Resources[i]) {
				d.anys[i], d.deltas[i] = old.anys[j], old.deltas[j]
			}
		})
	}
	for i, r := range t.Resources {
		if i > 0 && t.Resources[i-1].Name >= r.Name {
			return nil, fmt.Errorf("xds: %s resources not sorted by name or duplicated at %q", t.TypeURL, r.Name)
		}
		if r.Version == "" {
			// Delta compares versions; "" would match a resource never sent.
			return nil, fmt.Errorf("xds: %s %q has no version", t.TypeURL, r.Name)
		}
		if d.anys[i] != nil {
			continue // old's
		}
		a, dr := &anypb.Any{}, &discoveryv3.Resource{}
		if anys != nil {
			a, dr = &anys[i], &deltas[i]
		}
		a.TypeUrl, a.Value = t.TypeURL, r.Value
		d.anys[i] = a
		dr.Name, dr.Version, dr.Resource = r.Name, r.Version, a
		d.deltas[i] = dr
	}
	return d, nil
}

// sameBytes reports whether a and b are one resource: same name, version
// and encoding (the very bytes, which an Any shares).
func sameBytes(a, b xds.Resource) bool {
	return a.Name == b.Name && a.Version == b.Version && len(a.Value) == len(b.Value) &&
		(len(a.Value) == 0 || &a.Value[0] == &b.Value[0])
}

// delta returns the delta resource called name; name is in d.versions().
func (d *typeData) delta(name string) *discoveryv3.Resource {
	i, _ := slices.BinarySearchFunc(d.resources, name, func(r xds.Resource, name string) int { return strings.Compare(r.Name, name) })
	return d.deltas[i]
}

// SetSnapshot makes s the configuration every Envoy gets, and answers the
// open watches of each type whose version changed, type by type in
// xds.PushOrder, so an ADS stream receives clusters and endpoints before the
// listeners and routes that use them. Types whose version did not change
// keep their prepared responses. An invalid s (types duplicated, a type or
// resource without a version, resources not sorted by name) is refused and
// the previous snapshot stays.
func (c *Cache) SetSnapshot(s *xds.Snapshot) error {
	if s == nil {
		return errors.New("xds: nil snapshot")
	}
	c.setMu.Lock()
	defer c.setMu.Unlock()

	// Prepare the changed types outside mu, so streams are not held up
	// while their Anys are built.
	next := make(map[string]*typeData, len(s.Types))
	var changed []string // in push order
	for _, t := range pushOrdered(s) {
		if next[t.TypeURL] != nil {
			return fmt.Errorf("xds: snapshot has %s twice", t.TypeURL)
		}
		if d := c.served[t.TypeURL]; d != nil && d.version == t.Version {
			next[t.TypeURL] = d
			continue
		}
		d, err := newTypeData(t, c.served[t.TypeURL])
		if err != nil {
			return err
		}
		c.enc.add(d)
		next[t.TypeURL] = d
		changed = append(changed, t.TypeURL)
	}
	for url := range c.served {
		if next[url] == nil {
			changed = append(changed, url) // no longer served: its watches wait
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	for _, url := range changed {
		ts := c.state(url)
		old := ts.data
		ts.data = next[url]
		if ts.data != nil && old != nil {
			ts.data.link(old)
		}
		c.answerChanged(ts, old)
		c.forget(ts)
	}
	c.served = next
	return nil
}

// pushOrdered returns s's types in xds.PushOrder, any others after them.
func pushOrdered(s *xds.Snapshot) []*xds.TypeSnapshot {
	rank := func(url string) int {
		if i := slices.Index(xds.PushOrder, url); i >= 0 {
			return i
		}
		return len(xds.PushOrder)
	}
	out := make([]*xds.TypeSnapshot, len(s.Types))
	for i := range s.Types {
		out[i] = &s.Types[i]
	}
	slices.SortStableFunc(out, func(a, b *xds.TypeSnapshot) int { return cmp.Compare(rank(a.TypeURL), rank(b.TypeURL)) })
	return out
}

// answerChanged answers the watches of ts, whose data just changed from
// old, that the new data satisfies. Called with mu held.
func (c *Cache) answerChanged(ts *typeState, old *typeData) {
	d := ts.data
	var added []string
	if len(ts.sotw) > 0 {
		added = addedNames(old, d)
	}
	for w := range ts.sotw {
		w.rebase(d, added)
		if w.ready(d) && send[cachev3.Response](c.log, w.ch, newSotwResponse(w.req, w.sub, d), w.req.GetTypeUrl()) {
			delete(ts.sotw, w)
		}
	}
	for w := range ts.delta {
		if r := newDeltaResponse(w.req, w.sub, d); r != nil && send[cachev3.DeltaResponse](c.log, w.ch, r, w.req.GetTypeUrl()) {
			delete(ts.delta, w)
		}
	}
}

// addedNames are the names of d that old does not have.
func addedNames(old, d *typeData) []string {
	if d == nil {
		return nil
	}
	var out []string
	for _, r := range d.resources {
		if old == nil {
			out = append(out, r.Name)
		} else if !old.has(r.Name) {
			out = append(out, r.Name)
		}
	}
	return out
}

// send hands r to ch without blocking (see Cache) and reports whether it
// did. Called with mu held.
func send[R any](log logrus.FieldLogger, ch chan<- R, r R, url string) bool {
	select {
	case ch <- r:
		return true
	default:
		log.WithField("type", url).Error("xds: a stream's response channel is full; dropping the response, the watch stays open for the next snapshot")
		return false
	}
}

// state returns the typeState of url, made if needed. Called with mu held.
func (c *Cache) state(url string) *typeState {
	ts := c.types[url]
	if ts == nil {
		ts = &typeState{url: url, sotw: map[*sotwWatch]struct{}{}, delta: map[*deltaWatch]struct{}{}}
		c.types[url] = ts
	}
	return ts
}

// forget drops ts if it is neither served nor watched, so clients asking
// for made-up types leave nothing behind. Called with mu held.
func (c *Cache) forget(ts *typeState) {
	// A cancel may come after ts was dropped and another made for url.
	if ts.data == nil && len(ts.sotw) == 0 && len(ts.delta) == 0 && c.types[ts.url] == ts {
		delete(c.types, ts.url)
	}
}

// data returns what is served of url now, or nil.
func (c *Cache) data(url string) *typeData {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ts := c.types[url]; ts != nil {
		return ts.data
	}
	return nil
}

// noCancel is the cancel function of a watch answered at once.
func noCancel() {}

// sotwWatch is a state-of-the-world request waiting for a snapshot.
type sotwWatch struct {
	req *cachev3.Request
	sub cachev3.Subscription
	ch  chan cachev3.Response

	// For a non-wildcard subscription, whether its names cover every
	// resource of the type's current data (the ADS rule), and if not one
	// name they lack. Kept up to date by rebase, so that a snapshot checks
	// a parked watch in O(1) rather than O(resources).
	covered bool
	missing string
}

// CreateWatch answers req at once if the snapshot has something for it,
// and otherwise parks it until a snapshot does. See ready for the rule.
func (c *Cache) CreateWatch(req *cachev3.Request, sub cachev3.Subscription, ch chan cachev3.Response) (func(), error) {
	url := req.GetTypeUrl()
	w := &sotwWatch{req: req, sub: sub, ch: ch}
	// The ADS check reads every resource name: do it outside mu, against
	// the data served now, and again below only if a snapshot came between.
	var d *typeData
	if !sub.IsWildcard() {
		d = c.data(url)
		w.coverShared(d)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	ts := c.state(url)
	if ts.data != d {
		w.cover(ts.data)
	}
	if w.ready(ts.data) && send[cachev3.Response](c.log, ch, newSotwResponse(req, sub, ts.data), url) {
		c.forget(ts)
		return noCancel, nil
	}
	ts.sotw[w] = struct{}{}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(ts.sotw, w)
		c.forget(ts)
	}, nil
}

// coverShared is cover, looked up in d's covers when the request's names
// are a shared list (nameLists) that made the subscription's names: then
// only the first request bringing that list costs O(resources).
func (w *sotwWatch) coverShared(d *typeData) {
	names := w.req.GetResourceNames()
	if d == nil || w.sub.IsWildcard() || len(names) < minCoverNames || len(w.sub.SubscribedResources()) != len(names) {
		w.cover(d)
		return
	}
	same := func(c coverage) bool { return len(c.names) == len(names) && &c.names[0] == &names[0] }
	d.coversMu.Lock()
	i := slices.IndexFunc(d.covers, same)
	var c coverage
	if i >= 0 {
		c = d.covers[i]
	}
	d.coversMu.Unlock()
	if i >= 0 {
		w.covered, w.missing = c.covered, c.missing
		return
	}
	w.cover(d)
	d.coversMu.Lock()
	defer d.coversMu.Unlock()
	if !slices.ContainsFunc(d.covers, same) {
		// The list is kept alive with its result, so its address cannot
		// come back as another list's.
		d.covers = append(d.covers, coverage{names: names, covered: w.covered, missing: w.missing})
		if len(d.covers) > maxCovers {
			d.covers = d.covers[1:]
		}
	}
}

// cover computes covered and missing against d from scratch: O(resources).
func (w *sotwWatch) cover(d *typeData) {
	w.covered, w.missing = true, ""
	if d == nil || w.sub.IsWildcard() {
		return
	}
	names := w.sub.SubscribedResources()
	for _, r := range d.resources {
		if _, ok := names[r.Name]; !ok {
			w.covered, w.missing = false, r.Name
			return
		}
	}
}

// rebase brings covered and missing from the previous data to d, whose
// names not in the previous data are added. A watch that covered the old
// names covers d if it names the added ones; a watch that lacked a name
// still does while d has it. Only when that name is gone is it O(resources).
func (w *sotwWatch) rebase(d *typeData, added []string) {
	if w.sub.IsWildcard() {
		return
	}
	names := w.sub.SubscribedResources()
	if w.covered {
		for _, a := range added {
			if _, ok := names[a]; !ok {
				w.covered, w.missing = false, a
				return
			}
		}
		return
	}
	if d != nil {
		if d.has(w.missing) {
			return
		}
	}
	w.cover(d)
}

// ready reports whether w is answered by d, as SnapshotCache with ads=true
// would answer it:
//   - nothing is served of the type (before the first snapshot, or a type
//     the snapshot lacks): wait, so Envoy never gets an empty configuration;
//   - the request's version is d's, and the stream was last sent d (or d is
//     empty): the client has everything, wait (an ACK);
//   - a non-wildcard request that does not name every resource of the type
//     waits (the ADS rule: Envoy asks again once it has the clusters and
//     listeners that name them, and never applies a partial set);
//   - otherwise answer, with every resource of the type.
//
// "Last sent d" reads the one name newSotwResponse records, so an ACK costs
// O(1); see newSotwResponse.
func (w *sotwWatch) ready(d *typeData) bool {
	if d == nil {
		return false
	}
	if w.req.GetVersionInfo() == d.version &&
		(len(d.resources) == 0 || w.sub.ReturnedResources()[d.resources[0].Name] == d.version) {
		return false
	}
	return w.sub.IsWildcard() || w.covered
}

// sotwResponse is a state-of-the-world response sharing its type's Anys.
type sotwResponse struct {
	req      *cachev3.Request
	resp     discoveryv3.DiscoveryResponse // the server sets its Nonce: one per response
	returned map[string]string
}

var _ cachev3.Response = (*sotwResponse)(nil)

// newSotwResponse answers req with every resource of d. Called with mu
// held. Under the ADS rule a
// non-wildcard request is only answered once it names all of them, so the
// full list serves every request. But a non-wildcard subscription (route
// configurations, ClusterLoadAssignments, secrets) that holds one of the
// last historyDepth versions gets only what changed since: the xDS protocol lets a
// state-of-the-world response of these types carry some of the resources
// (Envoy updates those it carries and keeps the others), so one proxy's
// change costs one route configuration on the wire, not all of them.
// Listeners, clusters and scopes are wildcard subscriptions and always get
// every resource, as the protocol requires.
//
// The returned-resources map records a single entry, the first resource
// name, at d's version, rather than every name: go-control-plane's
// Subscription.SetResourceSubscription deletes from this map the names a
// later request no longer lists, so it cannot be shared between streams,
// and a full copy per response would cost O(resources) per stream. One entry
// is enough because every response carries all of d: an entry at d's
// version means the stream has all of d. If the client stops naming that
// entry's resource while d still has it, the ADS rule parks the watch
// anyway; once d changes, so does the version.
func newSotwResponse(req *cachev3.Request, sub cachev3.Subscription, d *typeData) *sotwResponse {
	r := &sotwResponse{req: req, returned: make(map[string]string, 1)}
	r.resp.VersionInfo = d.version
	r.resp.TypeUrl = req.GetTypeUrl()
	r.resp.Resources = d.anys
	if !sub.IsWildcard() {
		if changed, ok := d.changedSince(holds(sub)); ok {
			r.resp.Resources = changed
		}
	}
	if len(d.resources) > 0 {
		r.returned[d.resources[0].Name] = d.version
	}
	return r
}

// holds is the version of its type a state-of-the-world subscription was
// last sent all of, "" if unknown: the one entry newSotwResponse records,
// unless the client has since stopped naming that resource.
func holds(sub cachev3.Subscription) string {
	returned := sub.ReturnedResources()
	if len(returned) != 1 {
		return ""
	}
	for _, v := range returned {
		return v
	}
	return ""
}

func (r *sotwResponse) GetDiscoveryResponse() (*discoveryv3.DiscoveryResponse, error) {
	return &r.resp, nil
}
func (r *sotwResponse) GetRequest() *discoveryv3.DiscoveryRequest { return r.req }
func (r *sotwResponse) GetVersion() (string, error)               { return r.resp.VersionInfo, nil }
func (r *sotwResponse) GetResponseVersion() string                { return r.resp.VersionInfo }
func (r *sotwResponse) GetReturnedResources() map[string]string   { return r.returned }
func (r *sotwResponse) GetContext() context.Context               { return context.Background() }

// deltaWatch is an incremental request waiting for a change.
type deltaWatch struct {
	req *cachev3.DeltaRequest
	sub cachev3.Subscription
	ch  chan cachev3.DeltaResponse
}

// CreateDeltaWatch answers req at once if the client lacks a resource
// version or knows a resource that is gone, and otherwise parks it until a
// snapshot changes that. See newDeltaResponse.
func (c *Cache) CreateDeltaWatch(req *cachev3.DeltaRequest, sub cachev3.Subscription, ch chan cachev3.DeltaResponse) (func(), error) {
	url := req.GetTypeUrl()
	// Comparing versions reads every resource: do it outside mu, against
	// the data served now, and again below only if a snapshot came between.
	d := c.data(url)
	r := newDeltaResponse(req, sub, d)

	c.mu.Lock()
	defer c.mu.Unlock()
	ts := c.state(url)
	if ts.data != d {
		r = newDeltaResponse(req, sub, ts.data)
	}
	if r != nil && send[cachev3.DeltaResponse](c.log, ch, r, url) {
		c.forget(ts)
		return noCancel, nil
	}
	w := &deltaWatch{req: req, sub: sub, ch: ch}
	ts.delta[w] = struct{}{}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(ts.delta, w)
		c.forget(ts)
	}, nil
}

// deltaResponse is an incremental response sharing its type's Resources.
type deltaResponse struct {
	req  *cachev3.DeltaRequest
	resp discoveryv3.DeltaDiscoveryResponse // the server sets its Nonce: one per response
	next map[string]string
}

var _ cachev3.DeltaResponse = (*deltaResponse)(nil)

// newDeltaResponse returns what the delta subscription sub is sent from d,
// or nil if nothing (then the watch waits), as go-control-plane's
// createDeltaResponse computes it:
//   - a wildcard subscription gets every resource of d whose version differs
//     from the one sub was last sent, and as removed the names it was sent
//     that d lacks;
//   - otherwise, the same for the subscribed names only;
//   - the first request of a wildcard subscription (no response nonce yet)
//     is answered even if empty, or Envoy never finishes initialising.
//
// Nothing is allocated unless there is something to send. The version map
// of the response is a new one each time: the server writes into it when
// the client unsubscribes.
func newDeltaResponse(req *cachev3.DeltaRequest, sub cachev3.Subscription, d *typeData) *deltaResponse {
	if d == nil {
		return nil // nothing served: wait, even for a first wildcard request
	}
	returned := sub.ReturnedResources()
	versions := d.versions()
	var resources []*discoveryv3.Resource
	var removed []string
	var next map[string]string
	if sub.IsWildcard() {
		stale := 0
		for _, r := range d.resources {
			if v, ok := returned[r.Name]; !ok || v != r.Version {
				stale++
			}
		}
		switch stale {
		case 0:
		case len(d.deltas):
			resources = d.deltas
		default:
			resources = make([]*discoveryv3.Resource, 0, stale)
			for i, r := range d.resources {
				if v, ok := returned[r.Name]; !ok || v != r.Version {
					resources = append(resources, d.deltas[i])
				}
			}
		}
		// With nothing stale every name of d was returned, so a map no
		// larger than d has nothing else.
		if stale > 0 || len(returned) > len(d.resources) {
			for name := range returned {
				if _, ok := versions[name]; !ok {
					removed = append(removed, name)
				}
			}
		}
		if len(resources) == 0 && len(removed) == 0 && req.GetResponseNonce() != "" {
			return nil
		}
		next = maps.Clone(versions)
	} else {
		subscribed := sub.SubscribedResources()
		present := 0
		for name := range subscribed {
			v, ok := versions[name]
			if !ok {
				if _, sent := returned[name]; sent {
					removed = append(removed, name)
				}
				continue
			}
			present++
			if returned[name] != v {
				resources = append(resources, d.delta(name))
			}
		}
		if len(resources) == 0 && len(removed) == 0 {
			return nil
		}
		// Map iteration order is random; responses should not be.
		slices.SortFunc(resources, func(a, b *discoveryv3.Resource) int { return strings.Compare(a.Name, b.Name) })
		if present == len(d.resources) {
			next = maps.Clone(versions)
		} else {
			next = make(map[string]string, present)
			for name := range subscribed {
				if v, ok := versions[name]; ok {
					next[name] = v
				}
			}
		}
	}
	slices.Sort(removed)

	r := &deltaResponse{req: req, next: next}
	r.resp.TypeUrl = req.GetTypeUrl()
	r.resp.SystemVersionInfo = d.version
	r.resp.Resources = resources
	r.resp.RemovedResources = removed
	return r
}

func (r *deltaResponse) GetDeltaDiscoveryResponse() (*discoveryv3.DeltaDiscoveryResponse, error) {
	return &r.resp, nil
}
func (r *deltaResponse) GetDeltaRequest() *discoveryv3.DeltaDiscoveryRequest { return r.req }
func (r *deltaResponse) GetSystemVersion() (string, error) {
	return r.resp.SystemVersionInfo, nil
}
func (r *deltaResponse) GetResponseVersion() string              { return r.resp.SystemVersionInfo }
func (r *deltaResponse) GetNextVersionMap() map[string]string    { return r.next }
func (r *deltaResponse) GetReturnedResources() map[string]string { return r.next }
func (r *deltaResponse) GetContext() context.Context             { return context.Background() }

// Fetch is REST (unary) xDS, which proxyctl does not serve: every Envoy
// uses ADS, and the gRPC server registers only the ADS service.
func (c *Cache) Fetch(context.Context, *cachev3.Request) (cachev3.Response, error) {
	return nil, errors.New("xds: fetch (REST xDS) is not supported; use ADS")
}
