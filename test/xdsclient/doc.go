// Package xdsclient is a simulated Envoy: one state-of-the-world ADS stream
// that subscribes as Envoy does and ACKs every response.
//
// It subscribes to wildcard Listeners, Clusters and scoped routes, then the
// Routes, Endpoints and Secrets they name. A response of a named type
// (Routes, Endpoints, Secrets) may carry only some of its resources: the
// client keeps the others, as Envoy does. Tests and benchmarks use it to see
// exactly what a replica serves, without running a thousand real Envoys.
package xdsclient
