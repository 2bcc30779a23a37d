package dag

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// Reasons of the traffic policies' errors, as Contour has them.
const (
	reasonCORSPolicyDidNotParse       = "PolicyDidNotParse"
	reasonRateLimitPolicyNotValid     = "RateLimitPolicyNotValid"
	reasonCookieRewritePolicesInvalid = "CookieRewritePoliciesInvalid"
	reasonSlowStartInvalid            = "SlowStartInvalid"
	// Contour leaves these to its CRD validation; proxyctl checks them
	// too, since Envoy would refuse the whole route configuration.
	reasonInternalRedirectPolicyNotValid = "InternalRedirectPolicyNotValid"
)

// corsPolicy validates a virtual host's corsPolicy as Contour does. An
// allowed origin is exact when it is "*" or exactly scheme://host[:port],
// else a regular expression; the errors read as Contour's.
func corsPolicy(p *contourv1.CORSPolicy) (*CORSPolicy, error) {
	if p == nil {
		return nil, nil
	}
	if len(p.AllowOrigin) == 0 {
		return nil, fmt.Errorf("invalid allowed origin configuration with length 0")
	}
	out := &CORSPolicy{
		AllowCredentials:    p.AllowCredentials,
		AllowPrivateNetwork: p.AllowPrivateNetwork,
	}
	for _, o := range p.AllowOrigin {
		if o == "*" || isOrigin(o) {
			out.AllowOrigins = append(out.AllowOrigins, CORSOrigin{Value: o})
			continue
		}
		if err := checkRegex(o, false); err != nil {
			return nil, fmt.Errorf("invalid allowed origin %q: allowed origin is invalid exact match and invalid regex match", o)
		}
		out.AllowOrigins = append(out.AllowOrigins, CORSOrigin{Value: o, Regex: true})
	}
	if len(p.AllowMethods) == 0 {
		return nil, fmt.Errorf("invalid allowed methods configuration with length 0")
	}
	out.AllowMethods = corsValues(p.AllowMethods)
	out.AllowHeaders = corsValues(p.AllowHeaders)
	out.ExposeHeaders = corsValues(p.ExposeHeaders)
	for _, lists := range [][]string{out.AllowMethods, out.AllowHeaders, out.ExposeHeaders} {
		for _, v := range lists {
			// Envoy joins them with commas into one header value.
			if v == "" || strings.ContainsAny(v, ",\r\n\x00") {
				return nil, fmt.Errorf("invalid header value %q", v)
			}
		}
	}
	if p.MaxAge != "" {
		d, err := time.ParseDuration(p.MaxAge)
		if err != nil {
			return nil, fmt.Errorf("unable to parse timeout string %q: %v", p.MaxAge, err)
		}
		if d < 0 {
			return nil, fmt.Errorf("invalid max age value %q", p.MaxAge)
		}
		// Envoy takes whole seconds; "0" tells browsers not to cache.
		out.MaxAge = strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10)
	}
	return out, nil
}

// isOrigin reports whether o is exactly an Origin header's value:
// scheme://host[:port], nothing else.
func isOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && u.Scheme != "" && u.Host != "" && u.Scheme+"://"+u.Host == o
}

func corsValues(vs []contourv1.CORSHeaderValue) []string {
	if len(vs) == 0 {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// envoyErrorStatuses are the 4xx and 5xx codes Envoy's HttpStatus enum
// defines: Envoy refuses any other as a rate limit's answer.
var envoyErrorStatuses = []uint32{400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414,
	415, 416, 417, 421, 422, 423, 424, 426, 428, 429, 431, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511}

// rateLimitPolicy validates the local part of a rateLimitPolicy as
// Contour does: a bucket of requests+burst tokens, refilled with
// requests tokens every unit. The global part is refused elsewhere.
func rateLimitPolicy(p *contourv1.RateLimitPolicy) (*LocalRateLimit, error) {
	if p == nil || p.Local == nil {
		return nil, nil
	}
	l := p.Local
	if l.Requests == 0 {
		return nil, fmt.Errorf("invalid requests value %d in local rate limit policy", l.Requests)
	}
	out := &LocalRateLimit{TokensPerFill: l.Requests, StatusCode: l.ResponseStatusCode}
	if l.Burst > 1<<32-1-l.Requests {
		return nil, fmt.Errorf("invalid burst value %d in local rate limit policy", l.Burst)
	}
	out.MaxTokens = l.Requests + l.Burst
	switch l.Unit {
	case "second":
		out.FillInterval = time.Second
	case "minute":
		out.FillInterval = time.Minute
	case "hour":
		out.FillInterval = time.Hour
	default:
		return nil, fmt.Errorf("invalid unit %q in local rate limit policy", l.Unit)
	}
	if l.ResponseStatusCode != 0 && !slices.Contains(envoyErrorStatuses, l.ResponseStatusCode) {
		return nil, fmt.Errorf("invalid response status code %d in local rate limit policy: Envoy answers only the 4xx and 5xx codes it knows", l.ResponseStatusCode)
	}
	seen := map[string]bool{}
	for _, h := range l.ResponseHeadersToAdd {
		name := http.CanonicalHeaderKey(h.Name)
		if seen[name] {
			return nil, fmt.Errorf("duplicate header addition: %q", name)
		}
		seen[name] = true
		if !validHeaderName(name) || strings.HasPrefix(name, ":") || strings.EqualFold(name, "host") {
			return nil, fmt.Errorf("invalid header name %q", h.Name)
		}
		if strings.ContainsAny(h.Value, "\r\n\x00") {
			return nil, fmt.Errorf("invalid value of header %q", name)
		}
		out.ResponseHeaders = append(out.ResponseHeaders, Header{Name: name, Value: h.Value})
	}
	return out, nil
}

// internalRedirect validates an internalRedirectPolicy. Contour's CRD
// allows only these codes and cross-scheme values; a proxy written
// without its validation gets the same answer here.
func internalRedirect(p *contourv1.HTTPInternalRedirectPolicy) (*InternalRedirect, *policyError) {
	if p == nil {
		return nil, nil
	}
	bad := func(format string, args ...any) (*InternalRedirect, *policyError) {
		return nil, &policyError{contourv1.ConditionTypeRouteError, reasonInternalRedirectPolicyNotValid,
			"internalRedirectPolicy: " + fmt.Sprintf(format, args...)}
	}
	out := &InternalRedirect{MaxRedirects: p.MaxInternalRedirects, DenyRepeatedRoute: p.DenyRepeatedRouteRedirect}
	switch p.AllowCrossSchemeRedirect {
	case "", "Never":
		out.CrossScheme = "Never"
	case "Always", "SafeOnly":
		out.CrossScheme = p.AllowCrossSchemeRedirect
	default:
		return bad("allowCrossSchemeRedirect %q must be Always, Never or SafeOnly", p.AllowCrossSchemeRedirect)
	}
	for _, c := range p.RedirectResponseCodes {
		switch c {
		case 301, 302, 303, 307, 308:
		default:
			return bad("redirectResponseCodes: %d is not one of 301, 302, 303, 307, 308", c)
		}
		if !slices.Contains(out.StatusCodes, uint32(c)) {
			out.StatusCodes = append(out.StatusCodes, uint32(c))
		}
	}
	slices.Sort(out.StatusCodes)
	return out, nil
}

// cookieRewrites validates cookieRewritePolicies as Contour does: one
// policy per cookie, each rewriting something. The result is sorted by
// cookie name.
func cookieRewrites(ps []contourv1.CookieRewritePolicy) ([]CookieRewrite, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	out := make([]CookieRewrite, 0, len(ps))
	seen := map[string]bool{}
	for _, p := range ps {
		if seen[p.Name] {
			return nil, fmt.Errorf("duplicate cookie rewrite rule for cookie %q", p.Name)
		}
		seen[p.Name] = true
		if p.Name == "" || strings.ContainsAny(p.Name, "()<>@,;:\\\"/[]?={} \t\x7f") || hasControl(p.Name) {
			return nil, fmt.Errorf("invalid cookie name %q", p.Name)
		}
		r := CookieRewrite{Name: p.Name, Secure: p.Secure}
		if p.PathRewrite != nil {
			if v := p.PathRewrite.Value; v == "" || strings.Contains(v, ";") || hasControl(v) {
				return nil, fmt.Errorf("invalid path %q for cookie %q", v, p.Name)
			}
			r.Path = &p.PathRewrite.Value
		}
		if p.DomainRewrite != nil {
			if v := p.DomainRewrite.Value; !validDomain(v) {
				return nil, fmt.Errorf("invalid domain %q for cookie %q", v, p.Name)
			}
			r.Domain = &p.DomainRewrite.Value
		}
		if p.SameSite != nil {
			switch *p.SameSite {
			case "Strict", "Lax", "None":
			default:
				return nil, fmt.Errorf("invalid sameSite %q for cookie %q: use Strict, Lax or None", *p.SameSite, p.Name)
			}
			r.SameSite = p.SameSite
		}
		if r.Path == nil && r.Domain == nil && r.Secure == nil && r.SameSite == nil {
			return nil, fmt.Errorf("no attributes rewritten for cookie %q", p.Name)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b CookieRewrite) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// validDomain is the CRD's pattern for a cookie domain: DNS labels.
func validDomain(d string) bool {
	if d == "" {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}

// slowStart validates a service's slowStartPolicy as Contour does; the
// policy is only for RoundRobin and WeightedLeastRequest clusters.
func slowStart(p *contourv1.SlowStartPolicy, lb string) (*SlowStart, error) {
	if p == nil {
		return nil, nil
	}
	switch lb {
	case "", LBRoundRobin, LBWeightedLeastRequest:
	default:
		return nil, fmt.Errorf("slow start is only supported with RoundRobin or WeightedLeastRequest load balancer strategy")
	}
	w, err := time.ParseDuration(p.Window)
	if err != nil {
		return nil, fmt.Errorf("error parsing window: %s on slow start", err)
	}
	if w <= 0 {
		return nil, fmt.Errorf("window %q must be positive on slow start", p.Window)
	}
	out := &SlowStart{Window: w, Aggression: 1, MinWeightPercent: p.MinimumWeightPercent}
	if p.Aggression != "" {
		a, err := strconv.ParseFloat(p.Aggression, 64)
		if err != nil {
			return nil, fmt.Errorf("error parsing aggression: %q is not a decimal number on slow start", p.Aggression)
		}
		if a <= 0 || a > 1e6 {
			return nil, fmt.Errorf("aggression %q must be greater than 0 on slow start", p.Aggression)
		}
		out.Aggression = a
	}
	if out.MinWeightPercent > 100 {
		return nil, fmt.Errorf("minWeightPercent %d must be at most 100 on slow start", out.MinWeightPercent)
	}
	return out, nil
}

// globalRateLimitPolicy validates the global part of a rateLimitPolicy
// as Contour does: disabled, or no descriptors, is no policy; each entry
// sets exactly one kind. Contour leaves the rest to its CRD's validation
// (at least one entry per descriptor, non-empty values); proxyctl checks
// it too, since Envoy would refuse the whole route configuration.
func globalRateLimitPolicy(p *contourv1.RateLimitPolicy) (*GlobalRateLimit, error) {
	if p == nil || p.Global == nil || p.Global.Disabled || len(p.Global.Descriptors) == 0 {
		return nil, nil
	}
	out := &GlobalRateLimit{}
	for i, d := range p.Global.Descriptors {
		if len(d.Entries) == 0 {
			return nil, fmt.Errorf("rate limit descriptor %d must have at least one entry", i)
		}
		var rd RateLimitDescriptor
		for j, e := range d.Entries {
			entry, err := rateLimitEntry(e)
			if err != nil {
				return nil, fmt.Errorf("descriptor %d entry %d: %v", i, j, err)
			}
			rd.Entries = append(rd.Entries, entry)
		}
		out.Descriptors = append(out.Descriptors, rd)
	}
	return out, nil
}

// globalRateLimitOptedOut reports whether a virtual host's policy opts
// out of the default global rate limit policy.
func globalRateLimitOptedOut(p *contourv1.RateLimitPolicy) bool {
	return p != nil && p.Global != nil && p.Global.Disabled
}

func rateLimitEntry(e contourv1.RateLimitDescriptorEntry) (RateLimitEntry, error) {
	var out RateLimitEntry
	set := 0
	if g := e.GenericKey; g != nil {
		set++
		if g.Value == "" {
			return out, fmt.Errorf("genericKey must have a value")
		}
		out.GenericKey = &GenericKeyEntry{Key: g.Key, Value: g.Value}
	}
	if h := e.RequestHeader; h != nil {
		set++
		if !rateLimitHeaderName(h.HeaderName) {
			return out, fmt.Errorf("requestHeader has an invalid headerName %q", h.HeaderName)
		}
		if h.DescriptorKey == "" {
			return out, fmt.Errorf("requestHeader must have a descriptorKey")
		}
		out.RequestHeader = &RequestHeaderEntry{Header: h.HeaderName, Key: h.DescriptorKey}
	}
	if m := e.RequestHeaderValueMatch; m != nil {
		set++
		if len(m.Headers) == 0 {
			return out, fmt.Errorf("requestHeaderValueMatch must have at least one header")
		}
		if m.Value == "" {
			return out, fmt.Errorf("requestHeaderValueMatch must have a value")
		}
		hv := &HeaderValueMatchEntry{ExpectMatch: m.ExpectMatch, Value: m.Value}
		for k := range m.Headers {
			hm, cerr := parseHeaderCondition(&m.Headers[k])
			if cerr != nil {
				return out, fmt.Errorf("requestHeaderValueMatch: %s", cerr.msg)
			}
			if !rateLimitHeaderName(hm.Name) {
				return out, fmt.Errorf("requestHeaderValueMatch has an invalid header name %q", hm.Name)
			}
			hv.Headers = append(hv.Headers, hm)
		}
		out.HeaderValueMatch = hv
	}
	if e.RemoteAddress != nil {
		set++
		out.RemoteAddress = true
	}
	if set != 1 {
		return out, fmt.Errorf("rate limit descriptor entry must have exactly one field set")
	}
	return out, nil
}

// rateLimitHeaderName reports whether Envoy takes name as the header of a
// rate limit action: a token, or a pseudo-header such as ":path".
func rateLimitHeaderName(name string) bool {
	return validHeaderName(strings.TrimPrefix(name, ":"))
}
