// Package dag turns the cluster objects proxyctl watches into the routing
// model every other part serves from: virtual hosts, routes, clusters and
// secrets, plus one validation result per HTTPProxy.
//
// Build is a pure function: no goroutines, no clients, no Envoy types. The
// same Objects always give the same DAG, with every slice in a defined
// order, so that every replica derives byte-identical Envoy configuration
// and the same status. The xds and status packages consume a DAG; this
// package imports neither.
//
// A Builder is Build made incremental: it keeps, per root virtual host,
// what processing the root read and produced, and after a change only the
// roots that read a changed object are processed again. Its answer is
// always the one Build gives from scratch.
//
// Where things are: builder.go runs a Build (what changed, which roots to
// process again, the DAG assembled); inputs.go keeps the Builder's indexes
// of its inputs; reads.go is the only way a root's (or an
// ExtensionService's) processing reads an input, and records each read;
// memo.go holds what is reused across builds (one entry per root, the
// clusters and secrets they share). Validation, as Contour does it, is in
// the files named after what they validate: vhost.go, routes.go,
// services.go, secrets.go, policies.go and the features' own files.
package dag
