// Package v1alpha1 holds the projectcontour.io/v1alpha1 API types that
// proxyctl serves: ExtensionService, the binding of a network service (an
// external authorization server, a rate limit service) to the HTTPProxy
// API.
//
// The types are schema-compatible with Contour's API of the same group and
// version: an ExtensionService written for Contour is accepted, stored and
// read back unchanged.
//
// +k8s:deepcopy-gen=package
// +groupName=projectcontour.io
package v1alpha1
