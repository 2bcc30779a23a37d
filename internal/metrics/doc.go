// Package metrics builds the Prometheus registry each proxyctl process reports
// to.
//
// Each process builds one registry and passes it to the components that
// report, so nothing is registered in a global and tests can build as many as
// they like.
package metrics
