// Package httpserver serves proxyctl's operational endpoints: liveness,
// readiness, metrics, who leads, and the debug endpoints.
//
// They start before the leader election so that a replica that never leads is
// still live, ready and observable. The debug endpoints (pprof, /debug/dag)
// listen on their own address, loopback by default, because they expose the
// whole configuration.
package httpserver
