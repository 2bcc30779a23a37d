// Package xdsclient is a simulated Envoy: one state-of-the-world ADS stream
// that subscribes as Envoy does and ACKs every response.
//
// It subscribes to wildcard Listeners and Clusters, then the Routes,
// Endpoints and Secrets they name. Tests and benchmarks use it to see exactly
// what a replica serves, without running a thousand real Envoys.
package xdsclient
