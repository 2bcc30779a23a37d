package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of every type in this package.
const GroupName = "projectcontour.io"

var (
	// GroupVersion identifies this package's types: projectcontour.io/v1alpha1.
	GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

	// SchemeGroupVersion is the name the generated clientset expects for
	// GroupVersion.
	SchemeGroupVersion = GroupVersion

	// ExtensionServiceGVR is the resource the ExtensionService kind is
	// served under.
	ExtensionServiceGVR = GroupVersion.WithResource("extensionservices")

	// SchemeBuilder collects the functions that register this package's
	// types with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme registers this package's types with the given scheme.
	// Callers own the scheme; this package keeps no global one.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Kind returns the group-qualified kind for the given kind name.
func Kind(kind string) schema.GroupKind {
	return GroupVersion.WithKind(kind).GroupKind()
}

// Resource returns the group-qualified resource for the given resource name.
func Resource(resource string) schema.GroupResource {
	return GroupVersion.WithResource(resource).GroupResource()
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&ExtensionService{},
		&ExtensionServiceList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
