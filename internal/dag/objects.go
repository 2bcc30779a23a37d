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
	// DefaultGlobalRateLimitPolicy, when set, is the global rate limit
	// policy of every virtual host that has none of its own and does not
	// opt out with rateLimitPolicy.global.disabled (Contour's
	// rateLimitService.defaultGlobalRateLimitPolicy). It is not modified.
	DefaultGlobalRateLimitPolicy *contourv1.GlobalRateLimitPolicy
}
