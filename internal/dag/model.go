package dag

import (
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// DAG is the routing model built from one set of Objects. Every slice is
// sorted as documented so the model, and what is derived from it, is
// deterministic.
//
// A DAG and everything it points to is immutable: neither Build nor its
// consumers may modify it. A Builder's later DAGs share the unchanged
// parts of earlier ones: the virtual hosts, routes, clusters and secrets
// of every root whose inputs did not change are the same pointers, and so
// is every ProxyStatus equal to the previous one for its proxy (and the
// lists and the Statuses map themselves when nothing in them changed). A
// consumer may therefore memoize what it derives from a part by pointer.
type DAG struct {
	// HTTP is the plain-HTTP listener's virtual hosts, sorted by Name. A
	// TLS virtual host appears here too, with routes that redirect to HTTPS
	// unless they permit insecure requests.
	HTTP []*VirtualHost
	// HTTPS is the TLS listener's virtual hosts, one filter chain each,
	// selected by SNI; sorted by Name.
	HTTPS []*SecureVirtualHost
	// Clusters is every upstream cluster a route or tcpproxy refers to,
	// sorted by Name, each listed once.
	Clusters []*Cluster
	// Secrets is every TLS secret a virtual host serves, sorted by Name.
	Secrets []*Secret
	// Statuses holds one result per HTTPProxy in Objects.
	Statuses map[types.NamespacedName]*ProxyStatus
	// ExtensionClusters is the cluster of every valid ExtensionService,
	// referenced or not (as in Contour), sorted by Name.
	ExtensionClusters []*ExtensionCluster
	// ExtensionStatuses holds one result per ExtensionService in Objects.
	ExtensionStatuses map[types.NamespacedName]*ExtensionStatus
}

// VirtualHost is one fqdn's routes.
type VirtualHost struct {
	// Name is the fqdn, possibly with a leading "*." wildcard.
	Name string
	// Routes are in the order Envoy must try them: most specific first.
	Routes []*Route
	// IPFilter, when set, admits or rejects requests by client address,
	// unless a route has a filter of its own.
	IPFilter *IPFilter
	// CORS, when set, is the host's cross-origin resource sharing policy:
	// Envoy answers preflight requests and adds the response headers.
	CORS *CORSPolicy
	// RateLimit, when set, limits the host's requests unless a route has
	// a limit of its own.
	RateLimit *LocalRateLimit
	// GlobalRateLimit, when set, is what the host's requests ask the rate
	// limit service about, unless a route has a global policy of its own
	// or disables the host's.
	GlobalRateLimit *GlobalRateLimit
}

// GlobalRateLimit is a global rate limit policy: for each request, Envoy
// generates every descriptor it can and asks the rate limit service
// whether any of them is over its limit. The limits themselves are the
// service's configuration.
type GlobalRateLimit struct {
	// Descriptors are in the order written.
	Descriptors []RateLimitDescriptor
}

// RateLimitDescriptor is an ordered list of entries; it is generated
// only when every entry yields a key and value for the request.
type RateLimitDescriptor struct {
	Entries []RateLimitEntry
}

// RateLimitEntry yields one key and value of a descriptor. Exactly one
// of its fields is set.
type RateLimitEntry struct {
	// GenericKey is a fixed entry.
	GenericKey *GenericKeyEntry
	// RequestHeader takes its value from a request header; no entry when
	// the header is missing.
	RequestHeader *RequestHeaderEntry
	// HeaderValueMatch is a fixed entry "header_match"=Value, generated
	// when the request's headers match Headers (ExpectMatch) or when they
	// do not (!ExpectMatch).
	HeaderValueMatch *HeaderValueMatchEntry
	// RemoteAddress is the entry "remote_address"=the client's address.
	RemoteAddress bool
}

// GenericKeyEntry is the entry Key=Value; an empty Key is Envoy's
// "generic_key".
type GenericKeyEntry struct {
	Key   string
	Value string
}

// RequestHeaderEntry is the entry Key=the value of the header Header.
type RequestHeaderEntry struct {
	Header string
	Key    string
}

// HeaderValueMatchEntry is the entry "header_match"=Value, depending on
// whether the request's headers match all of Headers.
type HeaderValueMatchEntry struct {
	// Headers are in the order written.
	Headers     []HeaderMatch
	ExpectMatch bool
	Value       string
}

// CORSPolicy is a virtual host's CORS policy.
type CORSPolicy struct {
	// AllowOrigins are the origins allowed, in the order written.
	AllowOrigins     []CORSOrigin
	AllowMethods     []string
	AllowHeaders     []string
	ExposeHeaders    []string
	AllowCredentials bool
	// MaxAge is how long a preflight answer may be cached: "" is the
	// browser's default, else seconds ("0" disables caching).
	MaxAge              string
	AllowPrivateNetwork bool
}

// CORSOrigin is one allowed origin: an exact origin (or "*", any origin),
// compared without case, or an RE2 regular expression.
type CORSOrigin struct {
	Value string
	Regex bool
}

// LocalRateLimit is a token bucket, kept by each Envoy on its own: it
// holds MaxTokens, and gets TokensPerFill back every FillInterval. A
// request with no token left is answered StatusCode (0: 429) with
// ResponseHeaders added.
type LocalRateLimit struct {
	MaxTokens       uint32
	TokensPerFill   uint32
	FillInterval    time.Duration
	StatusCode      uint32
	ResponseHeaders []Header // in the order written
}

// InternalRedirect lets Envoy follow an upstream's redirect itself.
type InternalRedirect struct {
	// MaxRedirects is how many redirects one request may follow (0 is
	// Envoy's default, 1).
	MaxRedirects uint32
	// StatusCodes are the redirect codes followed; empty is Envoy's
	// default, 302 only.
	StatusCodes []uint32
	// CrossScheme is "Never" (the default), "Always" or "SafeOnly"
	// (Envoy's safe_cross_scheme: from HTTPS to HTTP, not the reverse).
	CrossScheme string
	// DenyRepeatedRoute refuses a redirect to a route already visited.
	DenyRepeatedRoute bool
}

// CookieRewrite rewrites the attributes of the Set-Cookie response
// header of the cookie Name; nil or empty fields are kept as they are.
type CookieRewrite struct {
	Name     string
	Path     *string
	Domain   *string
	Secure   *bool
	SameSite *string
}

// SlowStart ramps up the traffic of a cluster's new endpoints over
// Window: an endpoint's weight is scaled by (time since it became
// healthy / Window)^(1/Aggression), never below MinWeightPercent.
type SlowStart struct {
	Window           time.Duration
	Aggression       float64
	MinWeightPercent uint32
}

// IPFilter admits (Allow) or rejects the requests whose client address is
// in one of its ranges.
type IPFilter struct {
	Allow bool
	// Rules are in the order written; a request matches when any does.
	Rules []IPFilterRule
}

// IPFilterRule is one address range, matched against the TCP peer's
// address or (Remote) the client's address derived from X-Forwarded-For
// with the configured number of trusted hops.
type IPFilterRule struct {
	Remote bool
	// Address is the range's first address ("10.0.0.0", "2001:db8::"),
	// PrefixLen its length in bits.
	Address   string
	PrefixLen uint32
}

// SecureVirtualHost is a virtual host on the TLS listener.
type SecureVirtualHost struct {
	VirtualHost
	// Secret is the serving certificate; nil with Passthrough.
	Secret *Secret
	// MinTLSVersion and MaxTLSVersion are "1.2" or "1.3"; empty means the
	// default (minimum 1.2, maximum 1.3).
	MinTLSVersion string
	MaxTLSVersion string
	// Passthrough forwards the TLS stream to TCPProxy without terminating it.
	Passthrough bool
	// TCPProxy, when set, makes this a TCP virtual host: the (terminated or
	// passed-through) stream goes to its clusters and Routes is empty.
	TCPProxy *TCPProxy
	// JWTProviders are the token issuers its routes may require (see
	// Route.JWTProvider), in the order written.
	JWTProviders []JWTProvider
	// ClientValidation, when set, asks clients for a certificate during
	// the handshake and checks it.
	ClientValidation *ClientValidation
	// FallbackCertificate, when set, is served to TLS clients that send no
	// server name or an unknown one; their requests are routed by Host to
	// every virtual host that has it.
	FallbackCertificate *Secret
	// Authorization, when set, checks every request with an external
	// authorization server first, unless its route disables it.
	Authorization *ExternalAuthorization
}

// ClientValidation is how a TLS virtual host checks client certificates.
type ClientValidation struct {
	// CA is the PEM bundle of trusted CAs; nil only with SkipVerify.
	CA []byte
	// SkipVerify accepts any client certificate (Envoy still asks for
	// one, and forwards its details).
	SkipVerify bool
	// Optional lets clients without a certificate in; a certificate that
	// is sent is still checked.
	Optional bool
	// CRL, when set, is a PEM list of revoked certificates; with
	// CRLLeafOnly only the client's own certificate is checked against
	// it, not its intermediates.
	CRL         []byte
	CRLLeafOnly bool
	// Forward, when set, puts these details of the client certificate in
	// the X-Forwarded-Client-Cert header sent upstream.
	Forward *ForwardClientCert
}

// ForwardClientCert selects the client certificate details sent upstream.
type ForwardClientCert struct {
	Subject, Cert, Chain, DNS, URI bool
}

// PathMatchKind says how a route matches the request path.
type PathMatchKind int

const (
	PathPrefix PathMatchKind = iota // Value is a prefix ("/" matches all)
	PathExact                       // Value is the whole path
	PathRegex                       // Value is an RE2 regular expression
)

// PathMatch matches the request path.
type PathMatch struct {
	Kind  PathMatchKind
	Value string
}

// HeaderMatchKind says how a header condition compares.
type HeaderMatchKind int

const (
	HeaderPresent  HeaderMatchKind = iota // the header is present
	HeaderExact                           // value equals Value
	HeaderContains                        // value contains Value
	HeaderRegex                           // value matches the RE2 regex Value
)

// HeaderMatch is one header condition.
type HeaderMatch struct {
	Name string
	Kind HeaderMatchKind
	// Value is compared according to Kind; unused for HeaderPresent.
	Value string
	// Invert turns the match around (notpresent, notexact, notcontains).
	Invert     bool
	IgnoreCase bool
	// TreatMissingAsEmpty makes a missing header match as the empty string.
	TreatMissingAsEmpty bool
}

// QueryMatchKind says how a query-parameter condition compares.
type QueryMatchKind int

const (
	QueryExact QueryMatchKind = iota
	QueryPrefix
	QuerySuffix
	QueryContains
	QueryRegex
	QueryPresent
)

// QueryMatch is one query-parameter condition.
type QueryMatch struct {
	Name       string
	Kind       QueryMatchKind
	Value      string
	IgnoreCase bool
}

// Route is one match and what to do with the requests it matches. Exactly
// one of Clusters, Redirect and DirectResponse is set.
type Route struct {
	PathMatch     PathMatch
	HeaderMatches []HeaderMatch // sorted by Name, then Kind, then Value
	QueryMatches  []QueryMatch  // sorted by Name, then Kind, then Value

	// Clusters forwards to weighted upstreams, in cluster Name order.
	Clusters []*WeightedCluster
	// Redirect answers with a redirect (HTTP to HTTPS on TLS hosts).
	Redirect *Redirect
	// DirectResponse answers with a fixed status: 503 when no service
	// resolves, 502 when an include is missing.
	DirectResponse *DirectResponse

	// Mirror receives a copy of MirrorPercent percent (1 to 100) of the
	// requests; its responses are ignored.
	Mirror        *Cluster
	MirrorPercent uint32
	// Websocket allows the Upgrade: websocket handshake.
	Websocket bool
	// PrefixRewrite replaces the matched prefix when set.
	PrefixRewrite *string
	Timeouts      TimeoutPolicy
	Retry         *RetryPolicy
	// HashPolicies carry Cookie and RequestHash load-balancing keys.
	HashPolicies    []HashPolicy
	RequestHeaders  *HeadersPolicy
	ResponseHeaders *HeadersPolicy
	// IPFilter, when set, replaces the virtual host's.
	IPFilter *IPFilter
	// JWTProvider names the provider of the virtual host whose valid token
	// the route requires; empty requires none.
	JWTProvider string
	// RateLimit, when set, replaces the virtual host's.
	RateLimit *LocalRateLimit
	// GlobalRateLimit, when set, replaces the virtual host's.
	GlobalRateLimit *GlobalRateLimit
	// DisableVirtualHostGlobalRateLimit keeps the virtual host's global
	// rate limit policy off this route (its rateLimitPolicy.global says
	// disabled).
	DisableVirtualHostGlobalRateLimit bool
	// InternalRedirect, when set, makes Envoy follow upstream redirects.
	InternalRedirect *InternalRedirect
	// CookieRewrites rewrite the Set-Cookie headers of every upstream's
	// responses (before those of a WeightedCluster), sorted by Name.
	CookieRewrites []CookieRewrite
	// AuthDisabled turns the virtual host's external authorization off
	// for this route; AuthContext are the context entries sent with each
	// of its checks, sorted by Name. Both are unset when the virtual host
	// has no authorization stanza.
	AuthDisabled bool
	AuthContext  []Header

	// Owner is the HTTPProxy whose routes stanza produced this route.
	Owner types.NamespacedName
}

// WeightedCluster is one upstream of a route with its share of traffic.
type WeightedCluster struct {
	Cluster *Cluster
	// Weight is the relative share; when every weight of a route is 0 the
	// traffic is split evenly.
	Weight          uint32
	RequestHeaders  *HeadersPolicy
	ResponseHeaders *HeadersPolicy
	// CookieRewrites are this service's, sorted by Name; for a cookie
	// both rewrite, a field set here wins over the route's.
	CookieRewrites []CookieRewrite
}

// Redirect is a redirect response.
type Redirect struct {
	// Scheme, when not empty, replaces the scheme ("https").
	Scheme   string
	Hostname string
	Port     uint32
	Path     string
	// Prefix, when not empty, replaces the matched path prefix (mutually
	// exclusive with Path).
	Prefix     string
	StatusCode uint32 // 301, 302, 303, 307 or 308
}

// DirectResponse is a fixed response.
type DirectResponse struct {
	StatusCode uint32
	Body       string
}

// Timeout is a duration that may be unset (use Envoy's default) or
// infinite (disable the timeout).
type Timeout struct {
	Duration time.Duration
	Infinite bool
}

// IsSet reports whether the timeout differs from the default.
func (t Timeout) IsSet() bool { return t.Infinite || t.Duration > 0 }

// TimeoutPolicy is a route's timeouts.
type TimeoutPolicy struct {
	Response Timeout
	Idle     Timeout
}

// RetryPolicy says when and how often Envoy retries a request.
type RetryPolicy struct {
	RetryOn              []string // Envoy retry_on conditions, sorted
	NumRetries           uint32
	PerTryTimeout        Timeout
	RetriableStatusCodes []uint32 // sorted
}

// HashPolicy is one input of consistent-hash load balancing.
type HashPolicy struct {
	Terminal bool
	// Exactly one of the following is set.
	Header     string // hash this request header
	QueryParam string // hash this query parameter
	SourceIP   bool   // hash the client address
	Cookie     string // hash this cookie (set by Envoy if absent)
	CookieTTL  time.Duration
	CookiePath string
}

// HeadersPolicy adds, replaces or removes headers.
type HeadersPolicy struct {
	Set    []Header // sorted by Name
	Remove []string // sorted
	// HostRewrite replaces the Host header (requests only).
	HostRewrite string
	// HostRewriteHeader, when set, replaces the Host header with the value
	// of this request header (a route's requests only).
	HostRewriteHeader string
}

// Header is one header name and value.
type Header struct {
	Name  string
	Value string
}

// TCPProxy forwards a TCP stream to weighted clusters.
type TCPProxy struct {
	Clusters []*WeightedCluster
}

// Upstream protocols of a Cluster.
const (
	ProtocolHTTP1 = ""
	ProtocolH2    = "h2"  // HTTP/2 over TLS
	ProtocolH2C   = "h2c" // HTTP/2 in cleartext
	ProtocolTLS   = "tls" // HTTP/1.1 over TLS
)

// Load-balancing strategies of a Cluster, named as in HTTPProxy.
const (
	LBRoundRobin           = "RoundRobin"
	LBWeightedLeastRequest = "WeightedLeastRequest"
	LBRandom               = "Random"
	LBCookie               = "Cookie"
	LBRequestHash          = "RequestHash"
)

// Cluster is one upstream: a Service port with the settings routes ask for.
// Routes asking for the same service port with the same settings share one
// Cluster.
type Cluster struct {
	// Name is unique and stable: "namespace/service/port/" plus a short hash
	// of the settings below, so that a change of settings makes a new
	// cluster rather than mutating one Envoy is using.
	Name string
	// Service is the Kubernetes Service; Port its port number.
	Service  types.NamespacedName
	Port     int32
	PortName string
	// Protocol is one of the Protocol constants.
	Protocol string
	// LoadBalancer is one of the LB constants; empty means RoundRobin.
	LoadBalancer string
	HealthCheck  *HealthCheck
	// HealthPort and HealthPortName are the Service port health checks go
	// to, when a health check is set and it differs from Port; else 0 and
	// "".
	HealthPort     int32
	HealthPortName string
	// IdleTimeout closes upstream connections idle this long
	// (timeoutPolicy.idleConnection); unset keeps Envoy's default.
	IdleTimeout Timeout
	// SlowStart, when set, ramps up new endpoints (RoundRobin and
	// WeightedLeastRequest only).
	SlowStart *SlowStart
	// Validation, when set, verifies the upstream's certificate (Protocol
	// is then h2 or tls).
	Validation *UpstreamValidation
	// Endpoints are the ready endpoints of the Service port, from its
	// EndpointSlices, sorted by Address then Port, each address and port
	// once.
	Endpoints []Endpoint
	// DNS, when set, makes this the cluster of a server Envoy finds by DNS
	// (a JWT key set server), not of a Service: Service, ports, settings
	// and Endpoints are unset.
	DNS *DNSUpstream
	// ExternalName, when set, is the spec.externalName of a Service of
	// type ExternalName: Envoy resolves it by DNS and connects to Port on
	// the addresses it finds (HealthPort for health checks); Endpoints is
	// empty.
	ExternalName string
	// DNSLookupFamily is how Envoy resolves ExternalName: "" (auto), "v4",
	// "v6" or "all".
	DNSLookupFamily string
	// SNI, when set, is the server name sent to a TLS upstream (Protocol
	// h2 or tls) without Validation, which sends its subject name: as in
	// Contour, the service's Host rewrite, else the route's, else the
	// ExternalName; never an IP address (RFC 6066).
	SNI string
	// MaxRequestsPerConnection, when not 0, closes each upstream
	// connection after that many requests.
	MaxRequestsPerConnection uint32
	// CircuitBreakers are the cluster's thresholds, each 0 for Envoy's
	// default: the Service's projectcontour.io/max-* annotations, else
	// Config.CircuitBreakers, as in Contour.
	CircuitBreakers CircuitBreakers
}

// ResolvedByDNS reports whether Envoy finds c's addresses itself, by DNS,
// rather than in a ClusterLoadAssignment sent over EDS.
func (c *Cluster) ResolvedByDNS() bool { return c.DNS != nil || c.ExternalName != "" }

// UpstreamValidation verifies an upstream's certificate: it must chain to
// CA and carry one of SubjectNames as a DNS subject alternative name.
type UpstreamValidation struct {
	// CAName is "namespace/name" of the Secret CA came from.
	CAName       string
	CA           []byte
	SubjectNames []string
}

// Endpoint is one ready backend address.
type Endpoint struct {
	Address string
	Port    uint32
	// HealthPort, when not 0, is where health checks go instead of Port.
	HealthPort uint32
}

// HealthCheck is an active health check of a cluster's endpoints. Path is
// empty for a TCP check.
type HealthCheck struct {
	Path               string
	Host               string
	Interval           time.Duration
	Timeout            time.Duration
	UnhealthyThreshold uint32
	HealthyThreshold   uint32
	ExpectedStatuses   []uint32
}

// Secret is a TLS certificate and key served by a virtual host.
type Secret struct {
	// Name is "namespace/name" of the Kubernetes Secret.
	Name string
	Cert []byte // PEM certificate chain
	Key  []byte // PEM private key
}

// ProxyStatus is what a build found about one HTTPProxy: its errors, its
// warnings and whether a root reaches it. These are facts only; the status
// package alone decides how they read as Contour's status (currentStatus,
// description and the Valid condition), so that every writer and every
// metric shows the same verdict.
type ProxyStatus struct {
	Proxy      types.NamespacedName
	Generation int64
	// Errors and Warnings are in the order found.
	Errors   []Condition
	Warnings []Condition
	// Orphaned is set on a proxy that is not a root (it has no
	// virtualhost) and that no root's delegation chain reaches.
	Orphaned bool
}

// Valid reports whether the proxy has no error and is not orphaned: what
// it defines is served.
func (s *ProxyStatus) Valid() bool { return len(s.Errors) == 0 && !s.Orphaned }

// Condition is one error or warning: Type is the part of the spec (e.g.
// "RouteError"), Reason what is wrong (e.g. "ServiceUnresolvedReference").
type Condition struct {
	Type    string
	Reason  string
	Message string
}
