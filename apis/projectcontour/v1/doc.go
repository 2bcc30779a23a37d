// Package v1 holds the projectcontour.io/v1 API types that proxyctl serves:
// HTTPProxy and TLSCertificateDelegation.
//
// The types are schema-compatible with Contour's API of the same group and
// version: field names, optionality, defaults and validation match, so an
// object written for Contour is accepted, stored and read back unchanged.
//
// Three different things in this package are called conditions:
//   - MatchCondition: a rule a request must satisfy (path, header, query) to
//     be routed by a Route or to reach an included HTTPProxy.
//   - DetailedCondition: a status condition (normally `Valid`) that carries
//     lists of error and warning SubConditions.
//   - SubCondition: one error or warning inside a DetailedCondition.
//
// +k8s:deepcopy-gen=package
// +groupName=projectcontour.io
package v1
