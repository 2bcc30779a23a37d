package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// HTTPProxy describes how requests for a virtual host (or, for a child
// proxy, a slice of one) are routed to Kubernetes Services.
//
// +kubebuilder:resource:scope=Namespaced,path=httpproxies,singular=httpproxy,shortName=proxy;proxies
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="FQDN",type="string",JSONPath=".spec.virtualhost.fqdn",description="Fully qualified domain name of the virtual host"
// +kubebuilder:printcolumn:name="TLS Secret",type="string",JSONPath=".spec.virtualhost.tls.secretName",description="Secret holding the TLS certificate"
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.currentStatus",description="Current status of the HTTPProxy"
// +kubebuilder:printcolumn:name="Status Description",type="string",JSONPath=".status.description",description="Explanation of the current status"
type HTTPProxy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`

	Spec HTTPProxySpec `json:"spec"`

	// Status is written by the controller and reports whether the
	// HTTPProxy was accepted.
	// +optional
	// +kubebuilder:default={currentStatus: "NotReconciled", description: "Waiting for controller"}
	Status HTTPProxyStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// HTTPProxyList is a list of HTTPProxy objects.
type HTTPProxyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	Items           []HTTPProxy `json:"items"`
}

// HTTPProxySpec is the desired routing configuration of an HTTPProxy.
type HTTPProxySpec struct {
	// VirtualHost makes this HTTPProxy a root: the top of a routing tree
	// for one fully qualified domain name.
	// +optional
	VirtualHost *VirtualHost `json:"virtualhost,omitempty"`

	// Routes map matching requests to Services. They are ignored when
	// TCPProxy is set.
	// +optional
	Routes []Route `json:"routes,omitempty"`

	// TCPProxy forwards whole TCP connections instead of routing HTTP
	// requests.
	// +optional
	TCPProxy *TCPProxy `json:"tcpproxy,omitempty"`

	// Includes pull the routes of other HTTPProxies (possibly in other
	// namespaces) into this one.
	// +optional
	Includes []Include `json:"includes,omitempty"`

	// IngressClassName selects the controller that should serve this
	// HTTPProxy. The legacy kubernetes.io/ingress.class annotation, when
	// present, takes precedence.
	// +optional
	IngressClassName string `json:"ingressClassName,omitempty"`
}

// Include names another HTTPProxy whose routes are added to this one,
// optionally behind extra match conditions.
type Include struct {
	// Name of the included HTTPProxy.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Namespace of the included HTTPProxy; the including proxy's own
	// namespace when empty.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// Conditions are ANDed onto the conditions of every route of the
	// included proxy. At most one prefix is allowed; exact and regex path
	// conditions are not allowed here.
	// +optional
	Conditions []MatchCondition `json:"conditions,omitempty"`
}

// VirtualHost is the host-wide part of a root HTTPProxy.
type VirtualHost struct {
	// Fqdn is the host name served. A leading "*." makes it a wildcard.
	// +kubebuilder:validation:Pattern="^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
	Fqdn string `json:"fqdn"`

	// TLS enables HTTPS (or TLS passthrough) for the virtual host.
	// +optional
	TLS *TLS `json:"tls,omitempty"`

	// Authorization sends every request of the virtual host to an external
	// authorization server before it is routed. Requires TLS.
	// +optional
	Authorization *AuthorizationServer `json:"authorization,omitempty"`

	// CORSPolicy is the cross-origin resource sharing policy of the
	// virtual host.
	// +optional
	CORSPolicy *CORSPolicy `json:"corsPolicy,omitempty"`

	// RateLimitPolicy limits the request rate of the whole virtual host.
	// +optional
	RateLimitPolicy *RateLimitPolicy `json:"rateLimitPolicy,omitempty"`

	// JWTProviders are the JSON Web Token issuers that routes of this
	// virtual host may require.
	// +optional
	JWTProviders []JWTProvider `json:"jwtProviders,omitempty"`

	// IPAllowFilterPolicy admits only requests from the listed ranges.
	// Mutually exclusive with IPDenyFilterPolicy; routes may override it.
	// +optional
	IPAllowFilterPolicy []IPFilterPolicy `json:"ipAllowPolicy,omitempty"`

	// IPDenyFilterPolicy rejects requests from the listed ranges.
	// Mutually exclusive with IPAllowFilterPolicy; routes may override it.
	// +optional
	IPDenyFilterPolicy []IPFilterPolicy `json:"ipDenyPolicy,omitempty"`
}

// TLS configures TLS for a virtual host. The SNI name matched is the
// virtual host's fqdn.
type TLS struct {
	// SecretName names the kubernetes.io/tls Secret with the serving
	// certificate. It may be "namespace/name" when a
	// TLSCertificateDelegation allows it. Exactly one of SecretName and
	// Passthrough must be set.
	SecretName string `json:"secretName,omitempty"`

	// MinimumProtocolVersion is the lowest TLS version accepted: "1.2"
	// (the default) or "1.3".
	// +optional
	MinimumProtocolVersion string `json:"minimumProtocolVersion,omitempty"`

	// MaximumProtocolVersion is the highest TLS version accepted: "1.2" or
	// "1.3" (the default).
	// +optional
	MaximumProtocolVersion string `json:"maximumProtocolVersion,omitempty"`

	// Passthrough forwards the still-encrypted connection to the backend
	// instead of terminating TLS.
	// +optional
	Passthrough bool `json:"passthrough,omitempty"`

	// ClientValidation turns on client certificate (mutual TLS)
	// validation for the virtual host.
	// +optional
	ClientValidation *DownstreamValidation `json:"clientValidation,omitempty"`

	// EnableFallbackCertificate serves the controller's fallback
	// certificate to clients that send no SNI or an unknown one.
	EnableFallbackCertificate bool `json:"enableFallbackCertificate,omitempty"`
}

// DownstreamValidation says how client certificates are checked.
type DownstreamValidation struct {
	// CACertificate names a Secret (optionally "namespace/name") whose
	// ca.crt key holds the CA bundle client certificates must chain to.
	// +optional
	// +kubebuilder:validation:MinLength=1
	CACertificate string `json:"caSecret,omitempty"`

	// SkipClientCertValidation asks for a client certificate but does not
	// verify it; meant for use with an external authorization server that
	// does the checking.
	// +optional
	SkipClientCertValidation bool `json:"skipClientCertValidation"`

	// ForwardClientCertificate selects which parts of the client
	// certificate are passed upstream in x-forwarded-client-cert.
	// +optional
	ForwardClientCertificate *ClientCertificateDetails `json:"forwardClientCertificate,omitempty"`

	// CertificateRevocationList names a Secret (optionally
	// "namespace/name") whose crl.pem key holds PEM-encoded CRLs.
	// +optional
	// +kubebuilder:validation:MinLength=1
	CertificateRevocationList string `json:"crlSecret,omitempty"`

	// OnlyVerifyLeafCertCrl checks only the leaf certificate against the
	// CRLs.
	// +optional
	OnlyVerifyLeafCertCrl bool `json:"crlOnlyVerifyLeafCert"`

	// OptionalClientCertificate lets clients without a certificate
	// connect; certificates that are sent are still checked.
	// +optional
	OptionalClientCertificate bool `json:"optionalClientCertificate"`
}

// ClientCertificateDetails picks the client certificate fields forwarded
// in the x-forwarded-client-cert header.
type ClientCertificateDetails struct {
	// Subject forwards the certificate subject.
	// +optional
	Subject bool `json:"subject"`
	// Cert forwards the URL-encoded PEM leaf certificate.
	// +optional
	Cert bool `json:"cert"`
	// Chain forwards the URL-encoded PEM chain, leaf included.
	// +optional
	Chain bool `json:"chain"`
	// DNS forwards the DNS subject alternative names.
	// +optional
	DNS bool `json:"dns"`
	// URI forwards the URI subject alternative name.
	// +optional
	URI bool `json:"uri"`
}

// TCPProxy forwards TCP connections of a TLS virtual host (terminated or
// passed through) to Services.
type TCPProxy struct {
	// LoadBalancerPolicy spreads connections across endpoints. The Cookie
	// and RequestHash strategies do not apply to TCP.
	// +optional
	LoadBalancerPolicy *LoadBalancerPolicy `json:"loadBalancerPolicy,omitempty"`

	// Services receive the forwarded connections.
	// +optional
	Services []Service `json:"services"`

	// Include delegates the TCP proxy configuration to another HTTPProxy.
	// +optional
	Include *TCPProxyInclude `json:"include,omitempty"`

	// IncludesDeprecated is the original, plural spelling of Include. It
	// is still accepted for compatibility.
	// +optional
	IncludesDeprecated *TCPProxyInclude `json:"includes,omitempty"`

	// HealthCheckPolicy actively checks the health of the endpoints.
	// +optional
	HealthCheckPolicy *TCPHealthCheckPolicy `json:"healthCheckPolicy,omitempty"`
}

// TCPProxyInclude names the HTTPProxy that holds the TCP proxy
// configuration.
type TCPProxyInclude struct {
	// Name of the included HTTPProxy.
	Name string `json:"name"`

	// Namespace of the included HTTPProxy; the including proxy's own
	// namespace when empty.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// HTTPProxyStatus is what the controller last concluded about an
// HTTPProxy.
type HTTPProxyStatus struct {
	// CurrentStatus is one of "valid", "invalid" or "orphaned" (or
	// "NotReconciled" before any controller has looked at the object).
	// +optional
	CurrentStatus string `json:"currentStatus,omitempty"`

	// Description explains CurrentStatus in a sentence.
	// +optional
	Description string `json:"description,omitempty"`

	// LoadBalancer lists the addresses the proxy is reachable on.
	// +optional
	LoadBalancer corev1.LoadBalancerStatus `json:"loadBalancer,omitempty"`

	// Conditions hold the controller's `Valid` condition, true exactly
	// when CurrentStatus is "valid", with one error sub-condition per
	// problem found. Conditions of other types belong to other
	// controllers and are left alone.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchMergeKey=type
	// +patchStrategy=merge
	Conditions []DetailedCondition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}
