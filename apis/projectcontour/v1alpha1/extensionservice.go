package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// ExtensionProtocolVersion is the version of the gRPC protocol Envoy
// speaks to an extension service. Only "v3" is served.
type ExtensionProtocolVersion string

const (
	// SupportProtocolVersion2 is the "v2" protocol, which Envoy no longer
	// speaks; the schema refuses it and the constant is kept for
	// compatibility only.
	SupportProtocolVersion2 ExtensionProtocolVersion = "v2"

	// SupportProtocolVersion3 is the "v3" protocol.
	SupportProtocolVersion3 ExtensionProtocolVersion = "v3"
)

// ExtensionServiceTarget is a Kubernetes Service, in the ExtensionService's
// namespace, that receives extension traffic.
type ExtensionServiceTarget struct {
	// Name of the Kubernetes Service.
	//
	// +required
	Name string `json:"name"`

	// Port of the Service to send traffic to (a Service may define
	// several).
	//
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65536
	// +kubebuilder:validation:ExclusiveMinimum=false
	// +kubebuilder:validation:ExclusiveMaximum=true
	Port int `json:"port"`

	// Weight is this Service's proportion of the traffic.
	//
	// +optional
	Weight uint32 `json:"weight,omitempty"`
}

// ExtensionServiceSpec is the desired state of an ExtensionService.
type ExtensionServiceSpec struct {
	// Services receive the extension's requests. Without weights the
	// traffic is spread evenly across them; otherwise in proportion to
	// their weights.
	//
	// +required
	// +kubebuilder:validation:MinItems=1
	Services []ExtensionServiceTarget `json:"services"`

	// UpstreamValidation verifies the services' certificate.
	//
	// +optional
	UpstreamValidation *contourv1.UpstreamValidation `json:"validation,omitempty"`

	// Protocol used to reach the services: h2 (HTTP/2 over TLS, the
	// default) or h2c (HTTP/2 in cleartext). The schema also accepts
	// http/1.1, which a gRPC service cannot speak.
	//
	// +optional
	// +kubebuilder:validation:Enum=http/1.1;h2;h2c
	Protocol *string `json:"protocol,omitempty"`

	// LoadBalancerPolicy spreads requests over the endpoints. Cookie and
	// RequestHash cannot be used for gRPC extension requests.
	//
	// +optional
	LoadBalancerPolicy *contourv1.LoadBalancerPolicy `json:"loadBalancerPolicy,omitempty"`

	// TimeoutPolicy bounds the requests to the services.
	//
	// +optional
	TimeoutPolicy *contourv1.TimeoutPolicy `json:"timeoutPolicy,omitempty"`

	// ProtocolVersion of the gRPC protocol Envoy speaks to the services;
	// only "v3".
	//
	// +optional
	// +kubebuilder:validation:Enum=v3
	ProtocolVersion ExtensionProtocolVersion `json:"protocolVersion,omitempty"`

	// CircuitBreakerPolicy is the circuit breaker budget of the
	// extension's cluster.
	//
	// +optional
	CircuitBreakerPolicy *CircuitBreakers `json:"circuitBreakerPolicy,omitempty"`
}

// CircuitBreakers are the thresholds of an upstream cluster; zero keeps
// Envoy's default.
type CircuitBreakers struct {
	// MaxConnections a single Envoy opens to the cluster; defaults to 1024.
	// +optional
	MaxConnections uint32 `json:"maxConnections,omitempty"`
	// MaxPendingRequests a single Envoy queues for the cluster; defaults
	// to 1024.
	// +optional
	MaxPendingRequests uint32 `json:"maxPendingRequests,omitempty"`
	// MaxRequests a single Envoy has in flight to the cluster; defaults to
	// 1024.
	// +optional
	MaxRequests uint32 `json:"maxRequests,omitempty"`
	// MaxRetries a single Envoy has in flight to the cluster; defaults to
	// 3.
	// +optional
	MaxRetries uint32 `json:"maxRetries,omitempty"`
	// PerHostMaxConnections a single Envoy opens to each endpoint.
	// +optional
	PerHostMaxConnections uint32 `json:"perHostMaxConnections,omitempty"`
}

// ExtensionServiceStatus is the observed state of an ExtensionService.
type ExtensionServiceStatus struct {
	// Conditions of the ExtensionService. proxyctl, as Contour, writes one,
	// `Valid`, of normal-true polarity, and leaves any other alone.
	//
	// +optional
	// +patchMergeKey=type
	// +patchStrategy=merge
	// +listType=map
	// +listMapKey=type
	Conditions []contourv1.DetailedCondition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// ExtensionService binds a network service to the HTTPProxy API, so that
// features such as external authorization can be implemented by a
// collaborating component.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,path=extensionservices,singular=extensionservice,shortName=extensionservice;extensionservices
type ExtensionService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ExtensionServiceSpec   `json:"spec,omitempty"`
	Status ExtensionServiceStatus `json:"status,omitempty"`
}

// ExtensionServiceList is a list of ExtensionServices.
//
// +kubebuilder:object:root=true
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type ExtensionServiceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ExtensionService `json:"items"`
}

// ConditionFor returns the condition of type condType, or nil.
func (s *ExtensionServiceStatus) ConditionFor(condType string) *contourv1.DetailedCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == condType {
			return &s.Conditions[i]
		}
	}
	return nil
}
