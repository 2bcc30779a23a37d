// Package config reads the configuration file of `proxyctl serve
// --config-path`: Contour's contour.yaml, with the same keys, types and
// meanings, so a Contour user's file keeps its meaning.
//
// Reading is strict. An unknown key, a value of the wrong type or a bad
// value is an *Error naming the file, the line and the key. A Contour key
// proxyctl does not serve yet is refused the same way (see refused.go),
// never ignored: a setting that silently does nothing is worse than one
// that stops the start.
package config

import (
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// Parameters is the whole file. The yaml tags are Contour's key names;
// the few keys Contour does not have are marked as proxyctl's.
type Parameters struct {
	InCluster       bool    `yaml:"incluster"`
	Kubeconfig      string  `yaml:"kubeconfig"`
	KubeClientQPS   float32 `yaml:"kubernetesClientQPS"`
	KubeClientBurst int     `yaml:"kubernetesClientBurst"`

	// Server has no keys left in Contour (xds-server-type is gone).
	Server  struct{} `yaml:"server"`
	Gateway *Gateway `yaml:"gateway"`

	IngressStatusAddress string `yaml:"ingress-status-address"`

	AccessLogFormat       string   `yaml:"accesslog-format"`
	AccessLogFormatString string   `yaml:"accesslog-format-string"`
	AccessLogFields       []string `yaml:"json-fields"`
	AccessLogLevel        string   `yaml:"accesslog-level"`

	TLS TLS `yaml:"tls"`

	DisablePermitInsecure     bool `yaml:"disablePermitInsecure"`
	DisableAllowChunkedLength bool `yaml:"disableAllowChunkedLength"`
	DisableMergeSlashes       bool `yaml:"disableMergeSlashes"`

	Compression                Compression `yaml:"compression"`
	ServerHeaderTransformation string      `yaml:"serverHeaderTransformation"`
	EnableExternalNameService  bool        `yaml:"enableExternalNameService"`

	Timeouts Timeouts `yaml:"timeouts"`
	Policy   Policy   `yaml:"policy"`

	EnvoyServiceNamespace string   `yaml:"envoy-service-namespace"`
	EnvoyServiceName      string   `yaml:"envoy-service-name"`
	DefaultHTTPVersions   []string `yaml:"default-http-versions"`

	Cluster  Cluster  `yaml:"cluster"`
	Network  Network  `yaml:"network"`
	Listener Listener `yaml:"listener"`

	RateLimitService RateLimitService `yaml:"rateLimitService"`
	GlobalExtAuth    GlobalExtAuth    `yaml:"globalExtAuth"`

	Metrics                  Metrics           `yaml:"metrics"`
	Tracing                  *Tracing          `yaml:"tracing"`
	FeatureFlags             []string          `yaml:"featureFlags"`
	OMEnforcedHealthListener *Address          `yaml:"omEnforcedHealthListener"`
	RuntimeSettings          map[string]string `yaml:"runtime-settings"`

	// set holds the line of every key the file gives a value (not null),
	// by path ("timeouts.request-timeout"), for IsSet and for errors.
	set map[string]int
	// file is the name errors give.
	file string
}

// NamespacedName is a Secret or a Gateway.
type NamespacedName struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
}

type Gateway struct {
	GatewayRef NamespacedName `yaml:"gatewayRef"`
}

// TLS is Contour's tls section: downstream TLS defaults.
type TLS struct {
	MinimumProtocolVersion string         `yaml:"minimum-protocol-version"`
	MaximumProtocolVersion string         `yaml:"maximum-protocol-version"`
	CipherSuites           []string       `yaml:"cipher-suites"`
	ECDHCurves             []string       `yaml:"ecdh-curves"`
	FallbackCertificate    NamespacedName `yaml:"fallback-certificate"`
	EnvoyClientCertificate NamespacedName `yaml:"envoy-client-certificate"`
	Fingerprint            *Fingerprint   `yaml:"fingerprint"`
}

type Fingerprint struct {
	JA3 *bool `yaml:"ja3"`
	JA4 *bool `yaml:"ja4"`
}

// UpstreamTLS is cluster.upstream-tls.
type UpstreamTLS struct {
	MinimumProtocolVersion string   `yaml:"minimum-protocol-version"`
	MaximumProtocolVersion string   `yaml:"maximum-protocol-version"`
	CipherSuites           []string `yaml:"cipher-suites"`
	ECDHCurves             []string `yaml:"ecdh-curves"`
}

type Compression struct {
	Algorithm string `yaml:"algorithm"`
}

// Timeouts are Contour's timeouts section; each a duration, "infinity"
// (or "infinite") for none, or "0s" for Envoy's default.
type Timeouts struct {
	RequestTimeout                string `yaml:"request-timeout"`
	ConnectionIdleTimeout         string `yaml:"connection-idle-timeout"`
	StreamIdleTimeout             string `yaml:"stream-idle-timeout"`
	MaxConnectionDuration         string `yaml:"max-connection-duration"`
	DelayedCloseTimeout           string `yaml:"delayed-close-timeout"`
	ConnectionShutdownGracePeriod string `yaml:"connection-shutdown-grace-period"`
	ConnectTimeout                string `yaml:"connect-timeout"`
}

// HeadersPolicy sets and removes headers on every route.
type HeadersPolicy struct {
	Set    map[string]string `yaml:"set"`
	Remove []string          `yaml:"remove"`
}

type Policy struct {
	RequestHeaders  HeadersPolicy `yaml:"request-headers"`
	ResponseHeaders HeadersPolicy `yaml:"response-headers"`
	ApplyToIngress  bool          `yaml:"applyToIngress"`
}

// CircuitBreakers are cluster.circuit-breakers, Contour's global defaults.
type CircuitBreakers struct {
	MaxConnections        uint32 `yaml:"maxConnections"`
	MaxPendingRequests    uint32 `yaml:"maxPendingRequests"`
	MaxRequests           uint32 `yaml:"maxRequests"`
	MaxRetries            uint32 `yaml:"maxRetries"`
	PerHostMaxConnections uint32 `yaml:"perHostMaxConnections"`
}

type Cluster struct {
	DNSLookupFamily               string           `yaml:"dns-lookup-family"`
	MaxRequestsPerConnection      *uint32          `yaml:"max-requests-per-connection"`
	PerConnectionBufferLimitBytes *uint32          `yaml:"per-connection-buffer-limit-bytes"`
	CircuitBreakers               *CircuitBreakers `yaml:"circuit-breakers"`
	UpstreamTLS                   UpstreamTLS      `yaml:"upstream-tls"`
}

type Network struct {
	NumTrustedHops       uint32 `yaml:"num-trusted-hops"`
	AdminPort            int    `yaml:"admin-port"`
	StripTrailingHostDot bool   `yaml:"strip-trailing-host-dot"`
}

type SocketOptions struct {
	TOS          int32 `yaml:"tos"`
	TrafficClass int32 `yaml:"traffic-class"`
}

// Listener is Contour's listener section, plus use-proxy-protocol, which
// Contour takes only as a flag.
type Listener struct {
	ConnectionBalancer                   string        `yaml:"connection-balancer"`
	MaxRequestsPerConnection             *uint32       `yaml:"max-requests-per-connection"`
	PerConnectionBufferLimitBytes        *uint32       `yaml:"per-connection-buffer-limit-bytes"`
	SocketOptions                        SocketOptions `yaml:"socket-options"`
	MaxRequestsPerIOCycle                *uint32       `yaml:"max-requests-per-io-cycle"`
	HTTP2MaxConcurrentStreams            *uint32       `yaml:"http2-max-concurrent-streams"`
	MaxConnectionsPerListener            *uint32       `yaml:"max-connections-per-listener"`
	MaxConnectionsToAcceptPerSocketEvent *uint32       `yaml:"max-connections-to-accept-per-socket-event"`
	// UseProxyProtocol is proxyctl's: Contour has only --use-proxy-protocol.
	UseProxyProtocol bool `yaml:"use-proxy-protocol"`
}

type RateLimitService struct {
	ExtensionService             string                           `yaml:"extensionService"`
	Domain                       string                           `yaml:"domain"`
	FailOpen                     bool                             `yaml:"failOpen"`
	EnableXRateLimitHeaders      bool                             `yaml:"enableXRateLimitHeaders"`
	EnableResourceExhaustedCode  bool                             `yaml:"enableResourceExhaustedCode"`
	DefaultGlobalRateLimitPolicy *contourv1.GlobalRateLimitPolicy `yaml:"defaultGlobalRateLimitPolicy"`
}

type GlobalExtAuth struct {
	ExtensionService string                                     `yaml:"extensionService"`
	ServiceType      string                                     `yaml:"serviceType"`
	HTTPSettings     *contourv1.HTTPAuthorizationServerSettings `yaml:"httpSettings"`
	AuthPolicy       *AuthPolicy                                `yaml:"authPolicy"`
	ResponseTimeout  string                                     `yaml:"responseTimeout"`
	FailOpen         bool                                       `yaml:"failOpen"`
	WithRequestBody  *RequestBody                               `yaml:"withRequestBody"`
}

type AuthPolicy struct {
	Disabled bool              `yaml:"disabled"`
	Context  map[string]string `yaml:"context"`
}

type RequestBody struct {
	MaxRequestBytes     uint32 `yaml:"maxRequestBytes"`
	AllowPartialMessage bool   `yaml:"allowPartialMessage"`
	PackAsBytes         bool   `yaml:"packAsBytes"`
}

type MetricsServer struct {
	Address    string `yaml:"address"`
	Port       int    `yaml:"port"`
	ServerCert string `yaml:"server-certificate-path"`
	ServerKey  string `yaml:"server-key-path"`
	CABundle   string `yaml:"ca-certificate-path"`
}

type Metrics struct {
	Contour MetricsServer `yaml:"contour"`
	Envoy   MetricsServer `yaml:"envoy"`
}

type Tracing struct {
	IncludePodDetail *bool       `yaml:"includePodDetail"`
	ServiceName      *string     `yaml:"serviceName"`
	OverallSampling  *string     `yaml:"overallSampling"`
	ClientSampling   *string     `yaml:"clientSampling"`
	RandomSampling   *string     `yaml:"randomSampling"`
	MaxPathTagLength *uint32     `yaml:"maxPathTagLength"`
	CustomTags       []CustomTag `yaml:"customTags"`
	ExtensionService string      `yaml:"extensionService"`
}

type CustomTag struct {
	TagName           string `yaml:"tagName"`
	Literal           string `yaml:"literal"`
	RequestHeaderName string `yaml:"requestHeaderName"`
}

type Address struct {
	Address string `yaml:"address"`
	Port    int    `yaml:"port"`
}
