package v1

// Route sends the requests that satisfy its conditions to its services, or
// answers them itself with a redirect or a direct response.
type Route struct {
	// Conditions are ANDed together. At most one of them may be a path
	// condition (prefix, exact or regex).
	// +optional
	Conditions []MatchCondition `json:"conditions,omitempty"`

	// Services receive the matching requests, split by weight.
	// +optional
	Services []Service `json:"services,omitempty"`

	// EnableWebsockets allows WebSocket upgrades on this route.
	// +optional
	EnableWebsockets bool `json:"enableWebsockets,omitempty"`

	// PermitInsecure serves this route over plain HTTP even when the
	// virtual host has TLS, instead of redirecting to HTTPS.
	// +optional
	PermitInsecure bool `json:"permitInsecure,omitempty"`

	// AuthPolicy adjusts, for this route, the authorization policy set on
	// the virtual host.
	// +optional
	AuthPolicy *AuthorizationPolicy `json:"authPolicy,omitempty"`

	// TimeoutPolicy sets the request timeouts of the route.
	// +optional
	TimeoutPolicy *TimeoutPolicy `json:"timeoutPolicy,omitempty"`

	// RetryPolicy sets how failed requests are retried.
	// +optional
	RetryPolicy *RetryPolicy `json:"retryPolicy,omitempty"`

	// HealthCheckPolicy actively checks the route's endpoints over HTTP.
	// +optional
	HealthCheckPolicy *HTTPHealthCheckPolicy `json:"healthCheckPolicy,omitempty"`

	// LoadBalancerPolicy spreads requests across endpoints.
	// +optional
	LoadBalancerPolicy *LoadBalancerPolicy `json:"loadBalancerPolicy,omitempty"`

	// PathRewritePolicy rewrites the request path after routing.
	// +optional
	PathRewritePolicy *PathRewritePolicy `json:"pathRewritePolicy,omitempty"`

	// RequestHeadersPolicy edits request headers on the way upstream. The
	// Host header may be set from another header with "%REQ(Header-Name)%".
	// +optional
	RequestHeadersPolicy *HeadersPolicy `json:"requestHeadersPolicy,omitempty"`

	// ResponseHeadersPolicy edits response headers on the way back. The
	// Host header cannot be set here.
	// +optional
	ResponseHeadersPolicy *HeadersPolicy `json:"responseHeadersPolicy,omitempty"`

	// CookieRewritePolicies rewrite attributes of Set-Cookie headers.
	// Cookie names must be unique within the list.
	// +optional
	CookieRewritePolicies []CookieRewritePolicy `json:"cookieRewritePolicies,omitempty"`

	// RateLimitPolicy limits the request rate of this route.
	// +optional
	RateLimitPolicy *RateLimitPolicy `json:"rateLimitPolicy,omitempty"`

	// RequestRedirectPolicy answers with an HTTP redirect instead of
	// proxying.
	// +optional
	RequestRedirectPolicy *HTTPRequestRedirectPolicy `json:"requestRedirectPolicy,omitempty"`

	// DirectResponsePolicy answers with a fixed response instead of
	// proxying.
	// +optional
	DirectResponsePolicy *HTTPDirectResponsePolicy `json:"directResponsePolicy,omitempty"`

	// InternalRedirectPolicy lets the proxy follow upstream redirects
	// itself.
	// +optional
	InternalRedirectPolicy *HTTPInternalRedirectPolicy `json:"internalRedirectPolicy,omitempty"`

	// JWTVerificationPolicy chooses which JWT provider, if any, this
	// route requires.
	// +optional
	JWTVerificationPolicy *JWTVerificationPolicy `json:"jwtVerificationPolicy,omitempty"`

	// IPAllowFilterPolicy admits only requests from the listed ranges and
	// replaces any IP filter set on the virtual host.
	// +optional
	IPAllowFilterPolicy []IPFilterPolicy `json:"ipAllowPolicy,omitempty"`

	// IPDenyFilterPolicy rejects requests from the listed ranges and
	// replaces any IP filter set on the virtual host.
	// +optional
	IPDenyFilterPolicy []IPFilterPolicy `json:"ipDenyPolicy,omitempty"`
}

// Service is a Kubernetes Service port that receives traffic.
type Service struct {
	// Name of the Service, in the HTTPProxy's namespace.
	Name string `json:"name"`

	// Port is the Service port number.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65536
	// +kubebuilder:validation:ExclusiveMinimum=false
	// +kubebuilder:validation:ExclusiveMaximum=true
	Port int `json:"port"`

	// HealthPort is the port health checks are sent to; Port when unset.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	HealthPort int `json:"healthPort,omitempty"`

	// Protocol overrides the upstream protocol: h2, h2c or tls. When unset
	// the Service's annotations decide.
	// +optional
	// +kubebuilder:validation:Enum=h2;h2c;tls
	Protocol *string `json:"protocol,omitempty"`

	// Weight is this service's share of the route's traffic. For a mirror
	// it is the percentage of requests mirrored (all when unset).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Weight int64 `json:"weight,omitempty"`

	// UpstreamValidation verifies the certificate the backend presents.
	// +optional
	UpstreamValidation *UpstreamValidation `json:"validation,omitempty"`

	// Mirror sends this service a copy of the route's traffic and ignores
	// its responses. A route may have at most one mirror.
	Mirror bool `json:"mirror,omitempty"`

	// RequestHeadersPolicy edits request headers sent to this service.
	// +optional
	RequestHeadersPolicy *HeadersPolicy `json:"requestHeadersPolicy,omitempty"`

	// ResponseHeadersPolicy edits response headers from this service.
	// +optional
	ResponseHeadersPolicy *HeadersPolicy `json:"responseHeadersPolicy,omitempty"`

	// CookieRewritePolicies rewrite Set-Cookie attributes in responses
	// from this service.
	// +optional
	CookieRewritePolicies []CookieRewritePolicy `json:"cookieRewritePolicies,omitempty"`

	// SlowStartPolicy ramps traffic up gradually to new endpoints.
	// +optional
	SlowStartPolicy *SlowStartPolicy `json:"slowStartPolicy,omitempty"`
}

// UpstreamValidation says how the backend's certificate is verified.
//
// +kubebuilder:validation:XValidation:message="subjectNames[0] must equal subjectName if set",rule="has(self.subjectNames) ? self.subjectNames[0] == self.subjectName : true"
type UpstreamValidation struct {
	// CACertificate names a Secret (optionally "namespace/name") whose
	// ca.crt key holds the CA bundle the backend certificate must chain to.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	CACertificate string `json:"caSecret"`

	// SubjectName must appear in the backend certificate's subject
	// alternative names. Superseded by SubjectNames.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=250
	SubjectName string `json:"subjectName"`

	// SubjectNames lists accepted subject alternative names; at least one
	// must appear in the backend certificate. The first entry must equal
	// SubjectName.
	// +optional
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	SubjectNames []string `json:"subjectNames"`
}

// SlowStartPolicy ramps traffic up over a window for endpoints that just
// joined. It works with the RoundRobin and WeightedLeastRequest
// strategies only.
type SlowStartPolicy struct {
	// Window is how long the ramp-up lasts, as a Go duration.
	// +required
	// +kubebuilder:validation:Pattern=`^(((\d*(\.\d*)?h)|(\d*(\.\d*)?m)|(\d*(\.\d*)?s)|(\d*(\.\d*)?ms)|(\d*(\.\d*)?us)|(\d*(\.\d*)?µs)|(\d*(\.\d*)?ns))+)$`
	Window string `json:"window"`

	// Aggression shapes the ramp-up curve: "1.0" is linear, larger values
	// hold traffic back longer. Must be greater than zero.
	// +optional
	// +kubebuilder:default=`1.0`
	// +kubebuilder:validation:Pattern=`^([0-9]+([.][0-9]+)?|[.][0-9]+)$`
	Aggression string `json:"aggression"`

	// MinimumWeightPercent is the share of its full weight a new endpoint
	// starts with.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	MinimumWeightPercent uint32 `json:"minWeightPercent"`
}

// HeadersPolicy sets and removes HTTP headers. Setting Host on a request
// also sets the SNI name used towards a TLS upstream; Host cannot be set
// on a response.
type HeadersPolicy struct {
	// Set adds each header, replacing any existing value.
	// +optional
	Set []HeaderValue `json:"set,omitempty"`

	// Remove deletes the named headers.
	// +optional
	Remove []string `json:"remove,omitempty"`
}

// HeaderValue is a header name and its value.
type HeaderValue struct {
	// Name of the header.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Value of the header.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	Value string `json:"value"`
}

// CookieRewritePolicy rewrites attributes of the Set-Cookie header for
// one cookie name.
type CookieRewritePolicy struct {
	// Name of the cookie to rewrite.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:Pattern=`^[^()<>@,;:\\"\/[\]?={} \t\x7f\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f]+$`
	Name string `json:"name"`

	// PathRewrite replaces the Path attribute.
	// +optional
	PathRewrite *CookiePathRewrite `json:"pathRewrite,omitempty"`

	// DomainRewrite replaces the Domain attribute.
	// +optional
	DomainRewrite *CookieDomainRewrite `json:"domainRewrite,omitempty"`

	// Secure sets or clears the Secure attribute.
	// +optional
	Secure *bool `json:"secure,omitempty"`

	// SameSite replaces the SameSite attribute.
	// +optional
	// +kubebuilder:validation:Enum=Strict;Lax;None
	SameSite *string `json:"sameSite,omitempty"`
}

// CookiePathRewrite is the new value of a cookie's Path attribute.
type CookiePathRewrite struct {
	// Value is the new Path.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:Pattern=`^[^;\x7f\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f]+$`
	Value string `json:"value"`
}

// CookieDomainRewrite is the new value of a cookie's Domain attribute.
type CookieDomainRewrite struct {
	// Value is the new Domain.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:Pattern="^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
	Value string `json:"value"`
}

// PathRewritePolicy rewrites the request path once the route has been
// chosen; it does not influence routing.
type PathRewritePolicy struct {
	// ReplacePrefix swaps a matched path prefix for another.
	// +optional
	ReplacePrefix []ReplacePrefix `json:"replacePrefix,omitempty"`
}

// ReplacePrefix replaces one routing prefix of the request path.
type ReplacePrefix struct {
	// Prefix selects which prefix, as built by the include chain, is
	// replaced. When empty every prefix is replaced.
	// +optional
	// +kubebuilder:validation:MinLength=1
	Prefix string `json:"prefix,omitempty"`

	// Replacement is the new prefix.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	Replacement string `json:"replacement"`
}

// HTTPRequestRedirectPolicy answers matching requests with a redirect.
// Fields left empty keep the value of the original request.
type HTTPRequestRedirectPolicy struct {
	// Scheme of the Location header: http or https.
	// +optional
	// +kubebuilder:validation:Enum=http;https
	Scheme *string `json:"scheme,omitempty"`

	// Hostname of the Location header; no wildcards.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Hostname *string `json:"hostname,omitempty"`

	// Port of the Location header.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port *int32 `json:"port,omitempty"`

	// StatusCode of the redirect response.
	// +optional
	// +kubebuilder:default=302
	StatusCode *RedirectResponseCode `json:"statusCode,omitempty"`

	// Path replaces the whole request path. Mutually exclusive with
	// Prefix.
	// +optional
	// +kubebuilder:validation:Pattern=`^\/.*$`
	Path *string `json:"path,omitempty"`

	// Prefix replaces the matched prefix (or path). Mutually exclusive
	// with Path.
	// +optional
	// +kubebuilder:validation:Pattern=`^\/.*$`
	Prefix *string `json:"prefix,omitempty"`
}

// RedirectResponseCode is an HTTP redirect status code.
// +kubebuilder:validation:Enum=301;302;303;307;308
type RedirectResponseCode uint32

// HTTPDirectResponsePolicy answers matching requests with a fixed
// response.
type HTTPDirectResponsePolicy struct {
	// StatusCode of the response.
	// +required
	// +kubebuilder:validation:Minimum=200
	// +kubebuilder:validation:Maximum=599
	StatusCode int `json:"statusCode"`

	// Body of the response; none when empty. Keep it short.
	// +optional
	Body string `json:"body,omitempty"`
}

// HTTPInternalRedirectPolicy lets the proxy follow upstream redirects
// instead of returning them to the client.
type HTTPInternalRedirectPolicy struct {
	// MaxInternalRedirects caps how many redirects one request may follow.
	// +optional
	MaxInternalRedirects uint32 `json:"maxInternalRedirects,omitempty"`

	// RedirectResponseCodes are the upstream status codes followed; only
	// 302 when empty.
	// +optional
	RedirectResponseCodes []RedirectResponseCode `json:"redirectResponseCodes,omitempty"`

	// AllowCrossSchemeRedirect says whether a redirect may change scheme:
	// Always, Never, or SafeOnly (HTTPS to HTTP is allowed, not the
	// reverse).
	// +optional
	// +kubebuilder:validation:Enum=Always;Never;SafeOnly
	// +kubebuilder:default=Never
	AllowCrossSchemeRedirect string `json:"allowCrossSchemeRedirect,omitempty"`

	// DenyRepeatedRouteRedirect refuses redirects back to a route already
	// visited by this request.
	// +optional
	DenyRepeatedRouteRedirect bool `json:"denyRepeatedRouteRedirect,omitempty"`
}
