// Package bootstrap writes the Envoy bootstrap that points an Envoy at
// proxyctl's xDS server.
//
// The bootstrap holds only what Envoy needs before it can ask for the rest:
// the ADS cluster (with mutual TLS when configured) and the admin interface.
// Everything else (listeners, routes, clusters, endpoints, secrets) Envoy gets
// from the xDS server, so a bootstrap never goes stale when HTTPProxies
// change.
package bootstrap
