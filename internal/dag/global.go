package dag

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Validate reports the first entry of a cluster-wide header policy that
// cannot be served, as Contour refuses it when it reads its configuration
// file: a name that is not an HTTP header name. Beyond Contour, which
// fails every route later instead: Host on responses, and Host taken from
// a request header (Envoy has no per-service rewrite from a header).
// onResponses says which direction the policy is for.
func (g GlobalHeaders) Validate(onResponses bool) error {
	for name, value := range g.Set {
		canon := http.CanonicalHeaderKey(name)
		if !validHeaderName(canon) {
			return fmt.Errorf("invalid header name %q", name)
		}
		if canon != "Host" {
			continue
		}
		if onResponses {
			return fmt.Errorf("the Host header cannot be set on responses")
		}
		if hostRewriteHeader.MatchString(value) {
			return fmt.Errorf("the Host header cannot be taken from a request header (%q) cluster-wide", value)
		}
	}
	for _, name := range g.Remove {
		if !validHeaderName(http.CanonicalHeaderKey(name)) {
			return fmt.Errorf("invalid header name %q", name)
		}
	}
	return nil
}

// globalHeaders is a GlobalHeaders made ready to merge: names in
// canonical form, sorted, each once.
type globalHeaders struct {
	set    []Header
	remove []string
	host   string
}

func newGlobalHeaders(g GlobalHeaders) *globalHeaders {
	if len(g.Set) == 0 && len(g.Remove) == 0 {
		return nil
	}
	out := &globalHeaders{}
	// Two spellings of one name ("x-a" and "X-A") keep the value of the
	// first in byte order, so every replica agrees.
	seen := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(g.Set)) {
		canon := http.CanonicalHeaderKey(name)
		if seen[canon] {
			continue
		}
		seen[canon] = true
		if canon == "Host" {
			out.host = g.Set[name]
			continue
		}
		out.set = append(out.set, Header{Name: canon, Value: g.Set[name]})
	}
	slices.SortFunc(out.set, func(a, b Header) int { return strings.Compare(a.Name, b.Name) })
	for _, name := range g.Remove {
		out.remove = append(out.remove, http.CanonicalHeaderKey(name))
	}
	slices.Sort(out.remove)
	out.remove = slices.Compact(out.remove)
	return out
}

// merge returns a service's policy p with the cluster-wide policy g
// added, as Contour merges them: a header p sets keeps p's value, the
// others get g's (with the service's dynamic values expanded), and the
// removals are the union. g's Host applies when neither the service nor
// its route rewrites the Host (routeHost). p is not modified; nil g
// returns p.
func (g *globalHeaders) merge(p *HeadersPolicy, dynamic []Header, routeHost bool) *HeadersPolicy {
	if g == nil {
		return p
	}
	out := &HeadersPolicy{}
	if p != nil {
		*out = *p
		out.Set = slices.Clone(p.Set)
		out.Remove = slices.Clone(p.Remove)
	}
	for _, h := range g.set {
		if !slices.ContainsFunc(out.Set, func(x Header) bool { return x.Name == h.Name }) {
			out.Set = append(out.Set, Header{Name: h.Name, Value: expandDynamic(h.Value, dynamic)})
		}
	}
	for _, name := range g.remove {
		if !slices.Contains(out.Remove, name) {
			out.Remove = append(out.Remove, name)
		}
	}
	if g.host != "" && out.HostRewrite == "" && out.HostRewriteHeader == "" && !routeHost {
		out.HostRewrite = expandDynamic(g.host, dynamic)
	}
	slices.SortFunc(out.Set, func(a, b Header) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(out.Remove)
	if len(out.Set) == 0 && len(out.Remove) == 0 && out.HostRewrite == "" && out.HostRewriteHeader == "" {
		return nil
	}
	return out
}
