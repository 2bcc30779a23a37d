package dag

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// matchConds are the validated conditions of one route or include.
type matchConds struct {
	hasPath bool
	path    PathMatch
	headers []HeaderMatch
	queries []QueryMatch
}

// condError is a rejected condition: the reason constant and a message.
type condError struct {
	reason string
	msg    string
}

// parseConditions validates conds and converts them. Includes may only
// use prefix path conditions.
func parseConditions(conds []contourv1.MatchCondition, include bool) (matchConds, *condError) {
	var mc matchConds
	pathErr := func(format string, args ...any) (matchConds, *condError) {
		return matchConds{}, &condError{contourv1.ReasonPathMatchConditionsNotValid, fmt.Sprintf(format, args...)}
	}
	for _, c := range conds {
		n := 0
		for _, v := range []string{c.Prefix, c.Exact, c.Regex} {
			if v != "" {
				n++
			}
		}
		if n > 1 {
			return pathErr("a condition may set only one of prefix, exact and regex")
		}
		if n == 1 {
			if mc.hasPath {
				return pathErr("more than one path condition (prefix, exact or regex) is not allowed")
			}
			mc.hasPath = true
		}
		switch {
		case c.Prefix != "":
			if !strings.HasPrefix(c.Prefix, "/") {
				return pathErr("prefix %q must start with \"/\"", c.Prefix)
			}
			mc.path = PathMatch{Kind: PathPrefix, Value: c.Prefix}
		case c.Exact != "":
			if include {
				return pathErr("exact path conditions are not allowed on includes (exact %q)", c.Exact)
			}
			if !strings.HasPrefix(c.Exact, "/") {
				return pathErr("exact path %q must start with \"/\"", c.Exact)
			}
			mc.path = PathMatch{Kind: PathExact, Value: c.Exact}
		case c.Regex != "":
			if include {
				return pathErr("regex path conditions are not allowed on includes (regex %q)", c.Regex)
			}
			if err := checkRegex(c.Regex, false); err != nil {
				return pathErr("%v", err)
			}
			mc.path = PathMatch{Kind: PathRegex, Value: c.Regex}
		}
		if c.Header != nil {
			hm, err := parseHeaderCondition(c.Header)
			if err != nil {
				return matchConds{}, err
			}
			mc.headers = append(mc.headers, hm)
		}
		if c.QueryParameter != nil {
			qm, err := parseQueryCondition(c.QueryParameter)
			if err != nil {
				return matchConds{}, err
			}
			mc.queries = append(mc.queries, qm)
		}
	}
	if err := headerConflicts(mc.headers); err != nil {
		return matchConds{}, err
	}
	sortHeaders(mc.headers)
	sortQueries(mc.queries)
	return mc, nil
}

func parseHeaderCondition(h *contourv1.HeaderMatchCondition) (HeaderMatch, *condError) {
	bad := func(format string, args ...any) (HeaderMatch, *condError) {
		return HeaderMatch{}, &condError{contourv1.ReasonHeaderMatchConditionsNotValid, fmt.Sprintf(format, args...)}
	}
	if strings.TrimSpace(h.Name) == "" {
		return bad("header condition must name a header")
	}
	hm := HeaderMatch{Name: h.Name, IgnoreCase: h.IgnoreCase, TreatMissingAsEmpty: h.TreatMissingAsEmpty}
	n := 0
	if h.Present {
		n++
		hm.Kind = HeaderPresent
	}
	if h.NotPresent {
		n++
		hm.Kind, hm.Invert = HeaderPresent, true
	}
	if h.Exact != "" {
		n++
		hm.Kind, hm.Value = HeaderExact, h.Exact
	}
	if h.NotExact != "" {
		n++
		hm.Kind, hm.Value, hm.Invert = HeaderExact, h.NotExact, true
	}
	if h.Contains != "" {
		n++
		hm.Kind, hm.Value = HeaderContains, h.Contains
	}
	if h.NotContains != "" {
		n++
		hm.Kind, hm.Value, hm.Invert = HeaderContains, h.NotContains, true
	}
	if h.Regex != "" {
		n++
		hm.Kind, hm.Value = HeaderRegex, h.Regex
	}
	if n != 1 {
		return bad("header condition on %q must set exactly one of present, notpresent, exact, notexact, contains, notcontains and regex", h.Name)
	}
	if hm.Kind == HeaderRegex {
		if err := checkRegex(hm.Value, hm.IgnoreCase); err != nil {
			return bad("header condition on %q: %v", h.Name, err)
		}
	}
	return hm, nil
}

// headerConflicts rejects header conditions no request can satisfy: two
// different exact values for one header, or contains and notcontains of
// the same value.
func headerConflicts(hs []HeaderMatch) *condError {
	exact := map[string]string{}
	contains := map[string]bool{}
	for _, h := range hs {
		name := strings.ToLower(h.Name)
		switch {
		case h.Kind == HeaderExact && !h.Invert:
			if v, ok := exact[name]; ok && v != h.Value {
				return &condError{contourv1.ReasonHeaderMatchConditionsNotValid,
					fmt.Sprintf("header %q cannot have two different exact conditions (%q and %q)", h.Name, v, h.Value)}
			}
			exact[name] = h.Value
		case h.Kind == HeaderContains:
			k := name + "\x00" + h.Value
			if prev, ok := contains[k]; ok && prev != h.Invert {
				return &condError{contourv1.ReasonHeaderMatchConditionsNotValid,
					fmt.Sprintf("header %q cannot both contain and not contain %q", h.Name, h.Value)}
			}
			contains[k] = h.Invert
		}
	}
	return nil
}

func parseQueryCondition(q *contourv1.QueryParameterMatchCondition) (QueryMatch, *condError) {
	bad := func(format string, args ...any) (QueryMatch, *condError) {
		return QueryMatch{}, &condError{contourv1.ReasonQueryParameterMatchConditionsNotValid, fmt.Sprintf(format, args...)}
	}
	if strings.TrimSpace(q.Name) == "" {
		return bad("query parameter condition must name a parameter")
	}
	qm := QueryMatch{Name: q.Name, IgnoreCase: q.IgnoreCase}
	n := 0
	set := func(kind QueryMatchKind, v string) {
		if v != "" {
			n++
			qm.Kind, qm.Value = kind, v
		}
	}
	set(QueryExact, q.Exact)
	set(QueryPrefix, q.Prefix)
	set(QuerySuffix, q.Suffix)
	set(QueryRegex, q.Regex)
	set(QueryContains, q.Contains)
	if q.Present {
		n++
		qm.Kind, qm.Value = QueryPresent, ""
	}
	if n != 1 {
		return bad("query parameter condition on %q must set exactly one of exact, prefix, suffix, regex, contains and present", q.Name)
	}
	if qm.Kind == QueryRegex {
		if err := checkRegex(qm.Value, qm.IgnoreCase); err != nil {
			return bad("query parameter condition on %q: %v", q.Name, err)
		}
	}
	return qm, nil
}

func compareHeader(a, b HeaderMatch) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if a.Kind != b.Kind {
		return int(a.Kind) - int(b.Kind)
	}
	if c := strings.Compare(a.Value, b.Value); c != 0 {
		return c
	}
	if c := compareBool(a.Invert, b.Invert); c != 0 {
		return c
	}
	if c := compareBool(a.IgnoreCase, b.IgnoreCase); c != 0 {
		return c
	}
	return compareBool(a.TreatMissingAsEmpty, b.TreatMissingAsEmpty)
}

func compareQuery(a, b QueryMatch) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if a.Kind != b.Kind {
		return int(a.Kind) - int(b.Kind)
	}
	if c := strings.Compare(a.Value, b.Value); c != 0 {
		return c
	}
	return compareBool(a.IgnoreCase, b.IgnoreCase)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}

func sortHeaders(hs []HeaderMatch) { slices.SortStableFunc(hs, compareHeader) }
func sortQueries(qs []QueryMatch)  { slices.SortStableFunc(qs, compareQuery) }

// joinPrefix appends prefix b to prefix a with exactly one slash between
// them. An empty a means "no prefix yet"; a b of "/" keeps a as it is, so
// a child's "/" route under an include of "/blog" matches "/blog".
func joinPrefix(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "" || b == "/":
		return a
	}
	return strings.TrimSuffix(a, "/") + "/" + strings.TrimPrefix(b, "/")
}

// mergePath puts a route's own path condition behind the prefix its
// include chain built (empty when there is none).
func mergePath(prefix string, own matchConds) PathMatch {
	if !own.hasPath {
		if prefix == "" {
			prefix = "/"
		}
		return PathMatch{Kind: PathPrefix, Value: prefix}
	}
	switch own.path.Kind {
	case PathPrefix:
		return PathMatch{Kind: PathPrefix, Value: joinPrefix(prefix, own.path.Value)}
	case PathExact:
		return PathMatch{Kind: PathExact, Value: joinPrefix(prefix, own.path.Value)}
	default:
		p := strings.TrimSuffix(prefix, "/")
		if p == "" {
			return own.path
		}
		r := own.path.Value
		if !strings.HasPrefix(r, "/") {
			p += "/"
		}
		// The group keeps an alternation in r from swallowing the prefix.
		return PathMatch{Kind: PathRegex, Value: regexp.QuoteMeta(p) + "(?:" + r + ")"}
	}
}

// matchKey is a canonical text of a route's match, equal for routes that
// match exactly the same requests as written. It also breaks ties when
// routes are sorted, so its text must not change; strconv writes what
// fmt's %q, %d and %t would, for less.
func matchKey(pm PathMatch, hs []HeaderMatch, qs []QueryMatch) string {
	var sb strings.Builder
	sb.WriteString(strconv.Itoa(int(pm.Kind)))
	sb.WriteString(strconv.Quote(pm.Value))
	var hk []string
	if len(hs) > 0 {
		hk = make([]string, 0, len(hs))
	}
	for _, h := range hs {
		b := make([]byte, 0, 2*len(h.Name)+2*len(h.Value)+32)
		b = strconv.AppendQuote(b, strings.ToLower(h.Name))
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(h.Kind), 10)
		b = append(b, '/')
		b = strconv.AppendQuote(b, h.Value)
		for _, v := range []bool{h.Invert, h.IgnoreCase, h.TreatMissingAsEmpty} {
			b = append(b, '/')
			b = strconv.AppendBool(b, v)
		}
		hk = append(hk, string(b))
	}
	slices.Sort(hk)
	for _, h := range hk {
		sb.WriteString("|h")
		sb.WriteString(h)
	}
	var qk []string
	if len(qs) > 0 {
		qk = make([]string, 0, len(qs))
	}
	for _, q := range qs {
		b := make([]byte, 0, 2*len(q.Name)+2*len(q.Value)+16)
		b = strconv.AppendQuote(b, q.Name)
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(q.Kind), 10)
		b = append(b, '/')
		b = strconv.AppendQuote(b, q.Value)
		b = append(b, '/')
		b = strconv.AppendBool(b, q.IgnoreCase)
		qk = append(qk, string(b))
	}
	slices.Sort(qk)
	for _, q := range qk {
		sb.WriteString("|q")
		sb.WriteString(q)
	}
	return sb.String()
}

// describeMatch renders a route's match for people.
func describeMatch(pm PathMatch, hs []HeaderMatch, qs []QueryMatch) string {
	var parts []string
	switch pm.Kind {
	case PathPrefix:
		parts = append(parts, fmt.Sprintf("prefix %q", pm.Value))
	case PathExact:
		parts = append(parts, fmt.Sprintf("exact %q", pm.Value))
	case PathRegex:
		parts = append(parts, fmt.Sprintf("regex %q", pm.Value))
	}
	for _, h := range hs {
		parts = append(parts, fmt.Sprintf("header %q", h.Name))
	}
	for _, q := range qs {
		parts = append(parts, fmt.Sprintf("query parameter %q", q.Name))
	}
	return strings.Join(parts, ", ")
}
