package dag

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// Defaults of an active health check, as Contour has them: Build fills
// them in for the fields a policy leaves unset, and the translation of a
// HealthCheck with zero fields applies the same.
const (
	DefaultHealthCheckHost               = "contour-envoy-healthcheck"
	DefaultHealthCheckInterval           = 5 * time.Second
	DefaultHealthCheckTimeout            = 2 * time.Second
	DefaultHealthCheckUnhealthyThreshold = 3
	DefaultHealthCheckHealthyThreshold   = 2
)

// Cookie set by the proxy for session affinity (the Cookie strategy).
const (
	sessionAffinityCookie     = "X-Contour-Session-Affinity"
	sessionAffinityCookiePath = "/"
)

// policyError is an invalid policy: the condition type, reason and message.
type policyError struct {
	condType string
	reason   string
	msg      string
}

// parseTimeout reads a timeout of the HTTPProxy API: empty or "0s" is the
// default, "infinity"/"infinite" disables it, else a Go duration.
func parseTimeout(s string) (Timeout, error) {
	switch strings.TrimSpace(s) {
	case "":
		return Timeout{}, nil
	case "infinity", "infinite":
		return Timeout{Infinite: true}, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return Timeout{}, err
	}
	if d < 0 {
		return Timeout{}, fmt.Errorf("duration %q is negative", s)
	}
	return Timeout{Duration: d}, nil
}

// timeoutPolicy returns a route's timeouts and, apart, idleConnection,
// which Envoy applies to the upstream cluster rather than to the route.
func timeoutPolicy(tp *contourv1.TimeoutPolicy) (TimeoutPolicy, Timeout, *policyError) {
	if tp == nil {
		return TimeoutPolicy{}, Timeout{}, nil
	}
	bad := func(field, value string, err error) (TimeoutPolicy, Timeout, *policyError) {
		return TimeoutPolicy{}, Timeout{}, &policyError{contourv1.ConditionTypeRouteError, contourv1.ReasonTimeoutPolicyNotValid,
			fmt.Sprintf("timeoutPolicy.%s %q is not valid: %v", field, value, err)}
	}
	resp, err := parseTimeout(tp.Response)
	if err != nil {
		return bad("response", tp.Response, err)
	}
	idle, err := parseTimeout(tp.Idle)
	if err != nil {
		return bad("idle", tp.Idle, err)
	}
	idleConn, err := parseTimeout(tp.IdleConnection)
	if err != nil {
		return bad("idleConnection", tp.IdleConnection, err)
	}
	return TimeoutPolicy{Response: resp, Idle: idle}, idleConn, nil
}

// validRetryOn are the retry conditions Envoy understands.
var validRetryOn = map[string]bool{
	"5xx": true, "gateway-error": true, "reset": true, "reset-before-request": true,
	"connect-failure": true, "envoy-ratelimited": true, "retriable-4xx": true,
	"refused-stream": true, "retriable-status-codes": true, "retriable-headers": true,
	"http3-post-connect-failure": true, "cancelled": true, "deadline-exceeded": true,
	"internal": true, "resource-exhausted": true, "unavailable": true,
}

func retryPolicy(rp *contourv1.RetryPolicy) (*RetryPolicy, *policyError) {
	if rp == nil {
		return nil, nil
	}
	bad := func(format string, args ...any) (*RetryPolicy, *policyError) {
		return nil, &policyError{contourv1.ConditionTypeRouteError, contourv1.ReasonRetryPolicyNotValid, fmt.Sprintf(format, args...)}
	}
	r := &RetryPolicy{}
	switch {
	case rp.NumRetries == 0:
		r.NumRetries = 1
	case rp.NumRetries == -1:
		r.NumRetries = 0
	case rp.NumRetries < -1 || rp.NumRetries > 1<<31:
		return bad("retryPolicy.count %d is not valid: use -1 to disable retries or a positive count", rp.NumRetries)
	default:
		r.NumRetries = uint32(rp.NumRetries)
	}
	t, err := parseTimeout(rp.PerTryTimeout)
	if err != nil {
		return bad("retryPolicy.perTryTimeout %q is not valid: %v", rp.PerTryTimeout, err)
	}
	r.PerTryTimeout = t
	for _, on := range rp.RetryOn {
		if !validRetryOn[string(on)] {
			return bad("retryPolicy.retryOn %q is not a known retry condition", string(on))
		}
		r.RetryOn = append(r.RetryOn, string(on))
	}
	if len(r.RetryOn) == 0 {
		r.RetryOn = []string{"5xx"}
	}
	slices.Sort(r.RetryOn)
	r.RetryOn = slices.Compact(r.RetryOn)
	for _, code := range rp.RetriableStatusCodes {
		if code < 100 || code > 599 {
			return bad("retryPolicy.retriableStatusCodes %d is not an HTTP status code", code)
		}
		r.RetriableStatusCodes = append(r.RetriableStatusCodes, code)
	}
	slices.Sort(r.RetriableStatusCodes)
	r.RetriableStatusCodes = slices.Compact(r.RetriableStatusCodes)
	return r, nil
}

func httpHealthCheck(hc *contourv1.HTTPHealthCheckPolicy) (*HealthCheck, *policyError) {
	if hc == nil {
		return nil, nil
	}
	bad := func(format string, args ...any) (*HealthCheck, *policyError) {
		return nil, &policyError{contourv1.ConditionTypeRouteError, "HealthCheckPolicyNotValid", fmt.Sprintf(format, args...)}
	}
	if !strings.HasPrefix(hc.Path, "/") {
		return bad("healthCheckPolicy.path %q must start with \"/\"", hc.Path)
	}
	h, err := healthCheckCommon(hc.IntervalSeconds, hc.TimeoutSeconds, hc.UnhealthyThresholdCount, hc.HealthyThresholdCount)
	if err != "" {
		return bad("%s", err)
	}
	h.Path = hc.Path
	h.Host = hc.Host
	if h.Host == "" {
		h.Host = DefaultHealthCheckHost
	}
	for _, r := range hc.ExpectedStatuses {
		if r.Start < 100 || r.Start > 599 || r.End <= r.Start || r.End > 600 {
			return bad("healthCheckPolicy.expectedStatuses range [%d, %d) is not valid", r.Start, r.End)
		}
		for code := r.Start; code < r.End; code++ {
			h.ExpectedStatuses = append(h.ExpectedStatuses, uint32(code))
		}
	}
	slices.Sort(h.ExpectedStatuses)
	h.ExpectedStatuses = slices.Compact(h.ExpectedStatuses)
	return h, nil
}

func tcpHealthCheck(hc *contourv1.TCPHealthCheckPolicy) (*HealthCheck, *policyError) {
	if hc == nil {
		return nil, nil
	}
	h, err := healthCheckCommon(hc.IntervalSeconds, hc.TimeoutSeconds, int64(hc.UnhealthyThresholdCount), int64(hc.HealthyThresholdCount))
	if err != "" {
		return nil, &policyError{contourv1.ConditionTypeTCPProxyError, "HealthCheckPolicyNotValid", err}
	}
	return h, nil
}

const maxHCSeconds = 24 * 60 * 60

func healthCheckCommon(interval, timeout, unhealthy, healthy int64) (*HealthCheck, string) {
	switch {
	case interval < 0 || interval > maxHCSeconds:
		return nil, fmt.Sprintf("healthCheckPolicy.intervalSeconds %d is not valid", interval)
	case timeout < 0 || timeout > maxHCSeconds:
		return nil, fmt.Sprintf("healthCheckPolicy.timeoutSeconds %d is not valid", timeout)
	case unhealthy < 0 || unhealthy > 1<<20:
		return nil, fmt.Sprintf("healthCheckPolicy.unhealthyThresholdCount %d is not valid", unhealthy)
	case healthy < 0 || healthy > 1<<20:
		return nil, fmt.Sprintf("healthCheckPolicy.healthyThresholdCount %d is not valid", healthy)
	}
	h := &HealthCheck{
		Interval:           time.Duration(interval) * time.Second,
		Timeout:            time.Duration(timeout) * time.Second,
		UnhealthyThreshold: uint32(unhealthy),
		HealthyThreshold:   uint32(healthy),
	}
	if h.Interval == 0 {
		h.Interval = DefaultHealthCheckInterval
	}
	if h.Timeout == 0 {
		h.Timeout = DefaultHealthCheckTimeout
	}
	if h.UnhealthyThreshold == 0 {
		h.UnhealthyThreshold = DefaultHealthCheckUnhealthyThreshold
	}
	if h.HealthyThreshold == 0 {
		h.HealthyThreshold = DefaultHealthCheckHealthyThreshold
	}
	return h, ""
}

// loadBalancer returns the strategy and hash policies of lb, and a
// warning for each part of it that is ignored. As in Contour, an unknown
// strategy, and RequestHash without a usable hash policy, fall back to
// RoundRobin, and an unusable hash policy is skipped; unlike Contour, an
// unknown strategy is reported too.
func loadBalancer(lb *contourv1.LoadBalancerPolicy) (string, []HashPolicy, []string) {
	if lb == nil {
		return LBRoundRobin, nil, nil
	}
	switch lb.Strategy {
	case "", LBRoundRobin:
		return LBRoundRobin, nil, nil
	case LBWeightedLeastRequest, LBRandom:
		return lb.Strategy, nil, nil
	case LBCookie:
		return LBCookie, []HashPolicy{{Cookie: sessionAffinityCookie, CookiePath: sessionAffinityCookiePath}}, nil
	case LBRequestHash:
		hps, warnings := requestHashPolicies(lb.RequestHashPolicies)
		if len(hps) == 0 {
			warnings = append(warnings, "ignoring loadBalancerPolicy.strategy RequestHash without a usable request hash policy; RoundRobin is used")
			return LBRoundRobin, nil, warnings
		}
		return LBRequestHash, hps, warnings
	}
	return LBRoundRobin, nil, []string{fmt.Sprintf("ignoring unknown loadBalancerPolicy.strategy %q; RoundRobin is used", lb.Strategy)}
}

// requestHashPolicies converts the usable request hash policies: each
// hashes exactly one attribute, named once. Query parameter names are
// compared in lower case, as Contour does.
func requestHashPolicies(in []contourv1.RequestHashPolicy) ([]HashPolicy, []string) {
	var hps []HashPolicy
	var warnings []string
	ignore := func(i int, format string, args ...any) {
		warnings = append(warnings, fmt.Sprintf("ignoring loadBalancerPolicy.requestHashPolicies[%d]: ", i)+fmt.Sprintf(format, args...))
	}
	seen := map[string]bool{}
	for i, rhp := range in {
		n := 0
		if rhp.HeaderHashOptions != nil {
			n++
		}
		if rhp.QueryParameterHashOptions != nil {
			n++
		}
		if rhp.HashSourceIP {
			n++
		}
		if n != 1 {
			ignore(i, "it must set exactly one of hashSourceIP, headerHashOptions and queryParameterHashOptions")
			continue
		}
		hp := HashPolicy{Terminal: rhp.Terminal}
		var key string
		switch {
		case rhp.HeaderHashOptions != nil:
			hp.Header = http.CanonicalHeaderKey(rhp.HeaderHashOptions.HeaderName)
			if !validHeaderName(hp.Header) {
				ignore(i, "header name %q is not valid", rhp.HeaderHashOptions.HeaderName)
				continue
			}
			key = "header " + hp.Header
		case rhp.QueryParameterHashOptions != nil:
			hp.QueryParam = strings.ToLower(rhp.QueryParameterHashOptions.ParameterName)
			if hp.QueryParam == "" {
				ignore(i, "query parameter name is empty")
				continue
			}
			key = "query parameter " + hp.QueryParam
		default:
			hp.SourceIP = true
			key = "hashSourceIP"
		}
		if seen[key] {
			ignore(i, "%s is hashed already", key)
			continue
		}
		seen[key] = true
		hps = append(hps, hp)
	}
	return hps, warnings
}

// tcpLoadBalancer is loadBalancer for TCP, where hashing on requests does
// not apply: Cookie and RequestHash fall back to RoundRobin with a
// warning, as in Contour.
func tcpLoadBalancer(lb *contourv1.LoadBalancerPolicy) (string, []string) {
	if lb == nil {
		return LBRoundRobin, nil
	}
	switch lb.Strategy {
	case LBCookie, LBRequestHash:
		return LBRoundRobin, []string{fmt.Sprintf("ignoring tcpproxy.loadBalancerPolicy: the %s strategy does not apply to TCP; RoundRobin is used", lb.Strategy)}
	}
	strategy, _, warnings := loadBalancer(lb)
	return strategy, warnings
}

// Where a header policy is written: Host may be set on requests only, and
// only a route's request policy may take it from a request header (Envoy
// has no per-cluster host_rewrite_header).
type headersScope int

const (
	routeRequest headersScope = iota
	serviceRequest
	response
)

// hostRewriteHeader finds "%REQ(name)%" in a Host value, as Contour does:
// the Host is then rewritten from that request header.
var hostRewriteHeader = regexp.MustCompile(`%REQ\(([A-Za-z0-9-]+)\)%`)

// headersPolicy validates and converts a headers policy. Host in a request
// policy becomes a host rewrite; it cannot be set on responses. Values are
// expanded with dynamic (Contour's %CONTOUR_NAMESPACE% and the like); any
// other '%' is left for translation, which keeps Envoy's own command
// operators and escapes the rest.
func headersPolicy(hp *contourv1.HeadersPolicy, scope headersScope, dynamic []Header) (*HeadersPolicy, error) {
	if hp == nil {
		return nil, nil
	}
	out := &HeadersPolicy{}
	seen := map[string]bool{}
	for _, h := range hp.Set {
		name := http.CanonicalHeaderKey(h.Name)
		if !validHeaderName(name) {
			return nil, fmt.Errorf("invalid header name %q", h.Name)
		}
		if seen[name] {
			return nil, fmt.Errorf("duplicate header %q in set", name)
		}
		seen[name] = true
		if name == "Host" {
			if scope == response {
				return nil, fmt.Errorf("the Host header cannot be set on responses")
			}
			if m := hostRewriteHeader.FindStringSubmatch(h.Value); m != nil {
				if scope != routeRequest {
					return nil, fmt.Errorf("the Host header can be taken from a request header (%q) only in the route's requestHeadersPolicy, not a service's", h.Value)
				}
				out.HostRewriteHeader = http.CanonicalHeaderKey(m[1])
				continue
			}
			out.HostRewrite = h.Value
			continue
		}
		out.Set = append(out.Set, Header{Name: name, Value: expandDynamic(h.Value, dynamic)})
	}
	removed := map[string]bool{}
	for _, h := range hp.Remove {
		name := http.CanonicalHeaderKey(h)
		if !validHeaderName(name) {
			return nil, fmt.Errorf("invalid header name %q", h)
		}
		if removed[name] {
			continue
		}
		removed[name] = true
		out.Remove = append(out.Remove, name)
	}
	slices.SortFunc(out.Set, func(a, b Header) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(out.Remove)
	if len(out.Set) == 0 && len(out.Remove) == 0 && out.HostRewrite == "" && out.HostRewriteHeader == "" {
		return nil, nil
	}
	return out, nil
}

// Contour's dynamic header values, expanded by the control plane: the
// namespace of the HTTPProxy everywhere, the service's name and port in a
// service's policies.
const (
	dynNamespace   = "%CONTOUR_NAMESPACE%"
	dynServiceName = "%CONTOUR_SERVICE_NAME%"
	dynServicePort = "%CONTOUR_SERVICE_PORT%"
)

func routeDynamic(namespace string) []Header {
	return []Header{{dynNamespace, namespace}}
}

func serviceDynamic(namespace string, s contourv1.Service) []Header {
	return []Header{{dynNamespace, namespace}, {dynServiceName, s.Name}, {dynServicePort, strconv.Itoa(s.Port)}}
}

// expandDynamic replaces each dynamic variable (Name) of v by its Value.
func expandDynamic(v string, dynamic []Header) string {
	if !strings.Contains(v, "%CONTOUR_") {
		return v
	}
	for _, d := range dynamic {
		v = strings.ReplaceAll(v, d.Name, d.Value)
	}
	return v
}

// validHeaderName reports whether s is an RFC 7230 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// prefixReplacements validates a path rewrite policy: prefixes must be
// unique and an empty prefix (replace whatever matched) may not be mixed
// with others.
func prefixReplacements(prp *contourv1.PathRewritePolicy) ([]contourv1.ReplacePrefix, *policyError) {
	if prp == nil || len(prp.ReplacePrefix) == 0 {
		return nil, nil
	}
	bad := func(reason, format string, args ...any) ([]contourv1.ReplacePrefix, *policyError) {
		return nil, &policyError{contourv1.ConditionTypePrefixReplaceError, reason, fmt.Sprintf(format, args...)}
	}
	seen := map[string]bool{}
	for _, r := range prp.ReplacePrefix {
		if r.Prefix != "" && !strings.HasPrefix(r.Prefix, "/") {
			return bad("InvalidPrefix", "replacePrefix prefix %q must start with \"/\"", r.Prefix)
		}
		if r.Replacement == "" {
			return bad("EmptyReplacement", "replacePrefix for prefix %q has an empty replacement", r.Prefix)
		}
		p := normalizePrefix(r.Prefix)
		if seen[p] {
			return bad("DuplicateReplacement", "duplicate replacement prefix %q", r.Prefix)
		}
		seen[p] = true
	}
	if seen[""] && len(seen) > 1 {
		return bad("AmbiguousReplacement", "ambiguous prefix replacement: a replacement without a prefix cannot be combined with others")
	}
	return prp.ReplacePrefix, nil
}

func normalizePrefix(p string) string {
	if p == "/" {
		return p
	}
	return strings.TrimSuffix(p, "/")
}

// prefixRewrite picks the replacement for a route whose path prefix is
// routePrefix: the one naming that prefix, else the one without a prefix.
func prefixRewrite(reps []contourv1.ReplacePrefix, routePrefix string) *string {
	rp := normalizePrefix(routePrefix)
	var fallback *string
	for i := range reps {
		switch normalizePrefix(reps[i].Prefix) {
		case rp:
			v := reps[i].Replacement
			return &v
		case "":
			v := reps[i].Replacement
			fallback = &v
		}
	}
	return fallback
}

// redirect converts a request redirect policy.
func redirect(rp *contourv1.HTTPRequestRedirectPolicy) (*Redirect, *policyError) {
	bad := func(format string, args ...any) (*Redirect, *policyError) {
		return nil, &policyError{contourv1.ConditionTypeRouteError, "RequestRedirectPolicyNotValid", fmt.Sprintf(format, args...)}
	}
	r := &Redirect{StatusCode: 302}
	if rp.Scheme != nil {
		switch *rp.Scheme {
		case "http", "https":
			r.Scheme = *rp.Scheme
		default:
			return bad("requestRedirectPolicy.scheme %q must be http or https", *rp.Scheme)
		}
	}
	if rp.Hostname != nil {
		if *rp.Hostname == "" || strings.ContainsAny(*rp.Hostname, "*/ ") {
			return bad("requestRedirectPolicy.hostname %q is not a valid host name", *rp.Hostname)
		}
		r.Hostname = *rp.Hostname
	}
	if rp.Port != nil {
		if *rp.Port < 1 || *rp.Port > 65535 {
			return bad("requestRedirectPolicy.port %d is not a valid port", *rp.Port)
		}
		r.Port = uint32(*rp.Port)
	}
	if rp.StatusCode != nil {
		switch c := uint32(*rp.StatusCode); c {
		case 301, 302, 303, 307, 308:
			r.StatusCode = c
		default:
			return bad("requestRedirectPolicy.statusCode %d is not a redirect status", c)
		}
	}
	if rp.Path != nil && rp.Prefix != nil {
		return bad("requestRedirectPolicy cannot set both path and prefix")
	}
	if rp.Path != nil {
		if !strings.HasPrefix(*rp.Path, "/") {
			return bad("requestRedirectPolicy.path %q must start with \"/\"", *rp.Path)
		}
		r.Path = *rp.Path
	}
	if rp.Prefix != nil {
		if !strings.HasPrefix(*rp.Prefix, "/") {
			return bad("requestRedirectPolicy.prefix %q must start with \"/\"", *rp.Prefix)
		}
		r.Prefix = *rp.Prefix
	}
	return r, nil
}

func directResponse(dr *contourv1.HTTPDirectResponsePolicy) (*DirectResponse, *policyError) {
	if dr.StatusCode < 200 || dr.StatusCode > 599 {
		return nil, &policyError{contourv1.ConditionTypeRouteError, "DirectResponsePolicyNotValid",
			fmt.Sprintf("directResponsePolicy.statusCode %d must be between 200 and 599", dr.StatusCode)}
	}
	return &DirectResponse{StatusCode: uint32(dr.StatusCode), Body: dr.Body}, nil
}
