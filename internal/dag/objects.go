package dag

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
)

// Objects is the input of Build: the watched objects, keyed by namespace and
// name. Build only reads them. Objects the controller filtered out (another
// ingress class, a namespace not watched) are simply absent.
//
// The objects are immutable: once an object is in Objects, nobody modifies
// it. A changed object is put in as a new pointer (informers deliver new
// objects); an update Build cannot see, such as one of status only, may
// keep the old pointer. A Builder relies on this: it takes an object whose
// pointer is unchanged to be unchanged. The maps may be modified between
// builds, never during one.
type Objects struct {
	HTTPProxies    map[types.NamespacedName]*contourv1.HTTPProxy
	Delegations    map[types.NamespacedName]*contourv1.TLSCertificateDelegation
	Services       map[types.NamespacedName]*corev1.Service
	EndpointSlices map[types.NamespacedName]*discoveryv1.EndpointSlice
	Secrets        map[types.NamespacedName]*corev1.Secret
	// ExtensionServices are the services Envoy calls itself (external
	// authorization); every one is validated, referenced or not.
	ExtensionServices map[types.NamespacedName]*contourv1alpha1.ExtensionService
}

// NewObjects returns an empty Objects with every map allocated.
func NewObjects() *Objects {
	return &Objects{
		HTTPProxies:    map[types.NamespacedName]*contourv1.HTTPProxy{},
		Delegations:    map[types.NamespacedName]*contourv1.TLSCertificateDelegation{},
		Services:       map[types.NamespacedName]*corev1.Service{},
		EndpointSlices: map[types.NamespacedName]*discoveryv1.EndpointSlice{},
		Secrets:        map[types.NamespacedName]*corev1.Secret{},

		ExtensionServices: map[types.NamespacedName]*contourv1alpha1.ExtensionService{},
	}
}

// Config holds the settings that change how objects are interpreted.
type Config struct {
	// RootNamespaces, when not empty, are the only namespaces whose
	// HTTPProxies may be roots (have a virtualhost).
	RootNamespaces []string
	// FallbackCertificate, when its Name is set, is the kubernetes.io/tls
	// Secret served to TLS clients that send no server name, or one no
	// virtual host has, by the virtual hosts that enable it.
	FallbackCertificate types.NamespacedName
	// EnableExternalNameService lets routes and tcpproxies send to
	// Services of type ExternalName (Envoy resolves spec.externalName).
	// Off by default, as in Contour: an ExternalName pointing at Envoy's
	// own admin interface, or at another tenant's Service by its cluster
	// DNS name, would be reachable from outside (CVE-2021-32783).
	EnableExternalNameService bool
	// DNSLookupFamily is how Envoy resolves external names: "auto" (or
	// empty: IPv6, else IPv4), "v4", "v6" or "all" (both, every address
	// kept), Contour's cluster.dns-lookup-family.
	DNSLookupFamily string
	// DisablePermitInsecure ignores routes[].permitInsecure everywhere: the
	// HTTP listener redirects every route of a TLS virtual host to HTTPS.
	DisablePermitInsecure bool
	// RequestHeaders and ResponseHeaders are set on, or removed from, the
	// requests and responses of every upstream of every route, unless the
	// route's or the service's own policy names the same header (Contour's
	// policy.request-headers and policy.response-headers). See
	// GlobalHeaders.
	RequestHeaders, ResponseHeaders GlobalHeaders
	// DefaultGlobalRateLimitPolicy, when set, is the global rate limit
	// policy of every virtual host that has none of its own and does not
	// opt out with rateLimitPolicy.global.disabled (Contour's
	// rateLimitService.defaultGlobalRateLimitPolicy). It is not modified.
	DefaultGlobalRateLimitPolicy *contourv1.GlobalRateLimitPolicy
	// GlobalExternalAuthorization, when set, is the authorization server
	// of every virtual host without one of its own (Contour's
	// globalExtAuth): TLS virtual hosts check their requests with it, a
	// proxy's virtualhost.authorization replaces it, and authPolicy
	// (its own, the virtual host's, a route's) turns it off. Its
	// extensionRef names the namespace. It is not modified.
	GlobalExternalAuthorization *contourv1.AuthorizationServer
	// UpstreamMaxRequestsPerConnection, when not 0, closes each upstream
	// connection of a Service's cluster after that many requests
	// (Contour's cluster.max-requests-per-connection). ExtensionServices
	// and JWT key set servers keep Envoy's default, as in Contour.
	UpstreamMaxRequestsPerConnection uint32
	// CircuitBreakers are the default thresholds of every cluster
	// (Contour's cluster.circuit-breakers): a Service's
	// projectcontour.io/max-* annotation wins for its own threshold, an
	// ExtensionService's circuitBreakerPolicy replaces them all. Zero
	// keeps Envoy's defaults.
	CircuitBreakers CircuitBreakers
}

// GlobalHeaders is a cluster-wide header policy. Validate it with
// (GlobalHeaders).Validate before building.
type GlobalHeaders struct {
	// Set maps header names to values; a Host on requests rewrites the
	// Host header of services that do not rewrite it themselves.
	Set map[string]string
	// Remove lists headers to remove.
	Remove []string
}
