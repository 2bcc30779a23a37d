package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// TLSCertificateDelegation lets HTTPProxies in other namespaces use TLS
// Secrets of the namespace it lives in.
//
// +kubebuilder:resource:scope=Namespaced,path=tlscertificatedelegations,singular=tlscertificatedelegation,shortName=tlscerts
// +kubebuilder:subresource:status
type TLSCertificateDelegation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`

	Spec TLSCertificateDelegationSpec `json:"spec"`

	// Status is written by the controller.
	// +optional
	Status TLSCertificateDelegationStatus `json:"status,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// TLSCertificateDelegationList is a list of TLSCertificateDelegation
// objects.
type TLSCertificateDelegationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	Items           []TLSCertificateDelegation `json:"items"`
}

// TLSCertificateDelegationSpec lists which Secrets are shared with which
// namespaces.
type TLSCertificateDelegationSpec struct {
	Delegations []CertificateDelegation `json:"delegations"`
}

// CertificateDelegation shares one Secret of the delegation's namespace.
type CertificateDelegation struct {
	// SecretName is the Secret shared.
	SecretName string `json:"secretName"`

	// TargetNamespaces may reference the Secret as "namespace/name". "*"
	// means every namespace; an empty list shares with nobody.
	TargetNamespaces []string `json:"targetNamespaces"`
}

// TLSCertificateDelegationStatus is what the controller reports about a
// TLSCertificateDelegation.
type TLSCertificateDelegationStatus struct {
	// Conditions follow the same conventions as HTTPProxyStatus.Conditions.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchMergeKey=type
	// +patchStrategy=merge
	Conditions []DetailedCondition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}
