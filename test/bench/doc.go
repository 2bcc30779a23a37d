// Package bench is proxyctl's benchmark harness (`make bench`): real API
// server, R replicas, C simulated Envoys, N HTTPProxies, and the figures issue
// 4 sets targets for.
//
// It starts a real etcd and kube-apiserver, R proxyctl replicas with leader
// election and C simulated Envoys, creates N HTTPProxies with their Services
// and EndpointSlices as fast as the API server takes them, and measures time
// to valid status, status writes per proxy, the latency of one change to
// valid status and to every Envoy, how fast fresh Envoys get the full
// configuration, the leader's memory and the DAG rebuild time. Measuring
// through the real pieces, not mocks, is what makes the numbers worth
// comparing with Contour's.
//
// Run returns a Result; the proxyctl-bench command prints it as a table and
// appends it to .bench/results.jsonl.
package bench
