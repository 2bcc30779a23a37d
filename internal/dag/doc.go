// Package dag turns the cluster objects proxyctl watches into the routing
// model every other part serves from: virtual hosts, routes, clusters and
// secrets, plus one validation result per HTTPProxy.
//
// Build is a pure function: no goroutines, no clients, no Envoy types. The
// same Objects always give the same DAG, with every slice in a defined
// order, so that every replica derives byte-identical Envoy configuration
// and the same status. The xds and status packages consume a DAG; this
// package imports neither.
package dag
