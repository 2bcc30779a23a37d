// Package apis is the root of proxyctl's Kubernetes API types and of the
// clients, listers and informers generated from them.
//
// The types live in projectcontour/v1 and are schema-compatible with
// Contour's projectcontour.io/v1 API. Everything under generated/ and the
// CRD manifests in examples/crds are produced by hack/update-codegen.sh;
// the test in this package fails when they are stale.
package apis
