package v1

// ExtensionServiceReference points at an ExtensionService object.
type ExtensionServiceReference struct {
	// APIVersion of the ExtensionService; projectcontour.io/v1alpha1 when
	// empty.
	// +optional
	// +kubebuilder:validation:MinLength=1
	APIVersion string `json:"apiVersion,omitempty"`

	// Namespace of the ExtensionService; the referring object's namespace
	// when empty.
	// +optional
	// +kubebuilder:validation:MinLength=1
	Namespace string `json:"namespace,omitempty"`

	// Name of the ExtensionService.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name,omitempty"`
}

// AuthorizationServiceType is the protocol an external authorization
// server speaks.
// +kubebuilder:validation:Enum=grpc;http
type AuthorizationServiceType string

const (
	// AuthorizationGRPCService is the Envoy ext_authz gRPC protocol (the
	// default).
	AuthorizationGRPCService AuthorizationServiceType = "grpc"
	// AuthorizationHTTPService is the raw HTTP ext_authz protocol.
	AuthorizationHTTPService AuthorizationServiceType = "http"
)

// AuthorizationServer sends requests to an external server for an allow
// or deny decision before they are routed.
//
// +kubebuilder:validation:XValidation:message="httpSettings can only be set when serviceType is 'http'",rule="!has(self.httpSettings) || (has(self.serviceType) && self.serviceType == 'http')"
type AuthorizationServer struct {
	// ExtensionServiceRef is the ExtensionService that runs the
	// authorization server.
	// +optional
	ExtensionServiceRef ExtensionServiceReference `json:"extensionRef,omitempty"`

	// ServiceType is the protocol of the server: grpc (when empty) or
	// http.
	// +optional
	ServiceType AuthorizationServiceType `json:"serviceType,omitempty"`

	// HTTPServerSettings configure an http authorization server.
	// +optional
	HTTPServerSettings *HTTPAuthorizationServerSettings `json:"httpSettings,omitempty"`

	// AuthPolicy is the default policy; routes may override it.
	// +optional
	AuthPolicy *AuthorizationPolicy `json:"authPolicy,omitempty"`

	// ResponseTimeout bounds the wait for a decision, as a Go duration or
	// "infinity".
	// +optional
	// +kubebuilder:validation:Pattern=`^(((\d*(\.\d*)?h)|(\d*(\.\d*)?m)|(\d*(\.\d*)?s)|(\d*(\.\d*)?ms)|(\d*(\.\d*)?us)|(\d*(\.\d*)?µs)|(\d*(\.\d*)?ns))+|infinity|infinite)$`
	ResponseTimeout string `json:"responseTimeout,omitempty"`

	// FailOpen lets requests through when the server cannot be reached.
	// Intended only for migrations.
	// +optional
	FailOpen bool `json:"failOpen,omitempty"`

	// WithRequestBody also sends (part of) the request body to the
	// server.
	// +optional
	WithRequestBody *AuthorizationServerBufferSettings `json:"withRequestBody,omitempty"`
}

// HTTPAuthorizationServerSettings configure an authorization server that
// speaks plain HTTP.
type HTTPAuthorizationServerSettings struct {
	// PathPrefix is prepended to the request path in the check request.
	// +optional
	PathPrefix string `json:"pathPrefix,omitempty"`

	// AllowedAuthorizationHeaders are the client request headers copied
	// into the check request.
	// +optional
	AllowedAuthorizationHeaders []HTTPAuthorizationServerAllowedHeaders `json:"allowedAuthorizationHeaders,omitempty"`

	// AllowedUpstreamHeaders are the check response headers copied into
	// the request sent upstream.
	// +optional
	AllowedUpstreamHeaders []HTTPAuthorizationServerAllowedHeaders `json:"allowedUpstreamHeaders,omitempty"`
}

// HTTPAuthorizationServerAllowedHeaders matches header names. Exactly one
// of Exact, Prefix, Suffix and Contains should be set.
type HTTPAuthorizationServerAllowedHeaders struct {
	// Exact matches names equal to this string.
	// +optional
	Exact string `json:"exact,omitempty"`

	// Prefix matches names starting with this string.
	// +optional
	Prefix string `json:"prefix,omitempty"`

	// Suffix matches names ending with this string.
	// +optional
	Suffix string `json:"suffix,omitempty"`

	// Contains matches names containing this string.
	// +optional
	Contains string `json:"contains,omitempty"`

	// IgnoreCase compares names case-insensitively.
	// +optional
	IgnoreCase bool `json:"ignoreCase,omitempty"`
}

// AuthorizationServerBufferSettings say how much of the request body is
// buffered and sent to the authorization server.
type AuthorizationServerBufferSettings struct {
	// MaxRequestBytes is the most body bytes held in memory.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=1024
	MaxRequestBytes uint32 `json:"maxRequestBytes,omitempty"`

	// AllowPartialMessage sends the first MaxRequestBytes of a larger body
	// instead of rejecting the request.
	// +optional
	AllowPartialMessage bool `json:"allowPartialMessage,omitempty"`

	// PackAsBytes sends the body as raw bytes rather than as a string.
	// +optional
	PackAsBytes bool `json:"packAsBytes,omitempty"`
}

// AuthorizationPolicy adjusts external authorization for a scope (a
// virtual host or a route).
type AuthorizationPolicy struct {
	// Disabled turns authorization off within the scope.
	// +optional
	Disabled bool `json:"disabled,omitempty"`

	// Context entries are sent to the authorization server with each
	// check. Inner scopes override keys of outer ones.
	// +optional
	Context map[string]string `json:"context,omitempty"`
}

// CORSHeaderValue is an HTTP method or header name used in a CORS header.
// +kubebuilder:validation:Pattern="^[a-zA-Z0-9!#$%&'*+.^_`|~-]+$"
type CORSHeaderValue string

// CORSPolicy is the cross-origin resource sharing policy of a virtual
// host.
type CORSPolicy struct {
	// AllowCredentials lets browsers send credentials cross-origin.
	// +optional
	AllowCredentials bool `json:"allowCredentials,omitempty"`

	// AllowOrigin lists allowed origins: "*", an exact
	// "scheme://host[:port]", or a regular expression (not a glob).
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinItems=1
	AllowOrigin []string `json:"allowOrigin"`

	// AllowMethods fills access-control-allow-methods.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinItems=1
	AllowMethods []CORSHeaderValue `json:"allowMethods"`

	// AllowHeaders fills access-control-allow-headers.
	// +optional
	// +kubebuilder:validation:MinItems=1
	AllowHeaders []CORSHeaderValue `json:"allowHeaders,omitempty"`

	// ExposeHeaders fills access-control-expose-headers.
	// +optional
	// +kubebuilder:validation:MinItems=1
	ExposeHeaders []CORSHeaderValue `json:"exposeHeaders,omitempty"`

	// MaxAge is how long browsers may cache a preflight answer, as a Go
	// duration; "0" disables caching.
	// +optional
	// +kubebuilder:validation:Pattern=`^(((\d*(\.\d*)?h)|(\d*(\.\d*)?m)|(\d*(\.\d*)?s)|(\d*(\.\d*)?ms)|(\d*(\.\d*)?us)|(\d*(\.\d*)?µs)|(\d*(\.\d*)?ns))+|0)$`
	MaxAge string `json:"maxAge,omitempty"`

	// AllowPrivateNetwork answers private network access preflights.
	AllowPrivateNetwork bool `json:"allowPrivateNetwork,omitempty"`
}

// JWTProvider is an issuer of JSON Web Tokens that routes can require.
type JWTProvider struct {
	// Name identifies the provider within the virtual host.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Default makes every route require this provider unless it opts
	// out. At most one provider may be the default.
	// +optional
	Default bool `json:"default,omitempty"`

	// Issuer the token's "iss" claim must equal; unchecked when empty.
	// +optional
	Issuer string `json:"issuer,omitempty"`

	// Audiences of which the token's "aud" claim must contain one;
	// unchecked when empty.
	// +optional
	Audiences []string `json:"audiences,omitempty"`

	// RemoteJWKS is where the signing keys are fetched from. Exactly one
	// of RemoteJWKS and LocalJWKS is set.
	// +optional
	RemoteJWKS RemoteJWKS `json:"remoteJWKS,omitzero"`

	// LocalJWKS reads the signing keys from a Secret in the proxy's
	// namespace.
	// +optional
	LocalJWKS LocalJWKS `json:"localJWKS,omitzero"`

	// ForwardJWT passes the verified token on to the backend.
	// +optional
	ForwardJWT bool `json:"forwardJWT,omitempty"`
}

// LocalJWKS is a JSON Web Key Set kept in a Kubernetes Secret.
type LocalJWKS struct {
	// SecretName is the Secret holding the key set.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	SecretName string `json:"secretName"`

	// Key is the Secret data key whose value is the key set.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	Key string `json:"key"`
}

// RemoteJWKS is an HTTP(S) endpoint serving a JSON Web Key Set.
type RemoteJWKS struct {
	// URI of the key set.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	URI string `json:"uri"`

	// UpstreamValidation verifies the key server's certificate.
	// +optional
	UpstreamValidation *UpstreamValidation `json:"validation,omitempty"`

	// Timeout for fetching the key set, as a Go duration (default 1s).
	// +optional
	// +kubebuilder:validation:Pattern=`^(((\d*(\.\d*)?h)|(\d*(\.\d*)?m)|(\d*(\.\d*)?s)|(\d*(\.\d*)?ms)|(\d*(\.\d*)?us)|(\d*(\.\d*)?µs)|(\d*(\.\d*)?ns))+)$`
	Timeout string `json:"timeout,omitempty"`

	// CacheDuration is how long the key set is cached, as a Go duration
	// (the proxy default is 5m).
	// +optional
	// +kubebuilder:validation:Pattern=`^(((\d*(\.\d*)?h)|(\d*(\.\d*)?m)|(\d*(\.\d*)?s)|(\d*(\.\d*)?ms)|(\d*(\.\d*)?us)|(\d*(\.\d*)?µs)|(\d*(\.\d*)?ns))+)$`
	CacheDuration string `json:"cacheDuration,omitempty"`

	// DNSLookupFamily restricts name resolution of the URI's host: v4,
	// v6, or auto (IPv6 first, then IPv4). The controller-wide setting
	// applies when empty.
	// +optional
	// +kubebuilder:validation:Enum=auto;v4;v6
	DNSLookupFamily string `json:"dnsLookupFamily,omitempty"`
}

// JWTVerificationPolicy chooses JWT verification for a route. At most one
// of Require and Disabled may be set.
type JWTVerificationPolicy struct {
	// Require names the provider this route requires, overriding the
	// default provider.
	// +optional
	Require string `json:"require,omitempty"`

	// Disabled turns JWT verification off for this route.
	// +optional
	Disabled bool `json:"disabled,omitempty"`
}

// IPFilterSource says which address an IP filter looks at.
// +kubebuilder:validation:Enum=Peer;Remote
type IPFilterSource string

const (
	// IPFilterSourcePeer filters on the address of the TCP peer,
	// ignoring PROXY protocol and X-Forwarded-For.
	IPFilterSourcePeer IPFilterSource = "Peer"
	// IPFilterSourceRemote filters on the client's address as derived
	// from PROXY protocol and X-Forwarded-For.
	IPFilterSourceRemote IPFilterSource = "Remote"
)

// IPFilterPolicy is one IP filter rule.
type IPFilterPolicy struct {
	// Source chooses the address filtered on: Peer or Remote.
	Source IPFilterSource `json:"source"`

	// CIDR is the IPv4 or IPv6 range matched; a bare address matches
	// just itself.
	CIDR string `json:"cidr"`
}
