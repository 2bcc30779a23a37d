// Package xdsserver serves the snapshots package xds translates to every
// Envoy over ADS (state of the world and incremental), from every replica.
//
// Why a package of its own: translation is a pure function of the DAG
// (package xds, no goroutines, no network), while serving is concurrent,
// long-lived and about the wire: a cache that holds each resource encoded
// once and answers every stream's watches (Cache), the gRPC codec that
// sends that one encoding plus each stream's nonce (wireCodec, encodings),
// the gRPC server with its keepalives and mutual TLS (Server,
// ServerTLSConfig) and its metrics. The two change for different reasons
// and are tested differently (golden files and fuzzers there, streams
// here), and this way a change to one never touches the other's files.
//
// The dependency runs one way: xdsserver imports xds (Translator,
// Snapshot, Checker) and dag; xds knows nothing of serving. The name says
// what it is from the caller's side (xdsserver.NewServer in cmd/proxyctl),
// without colliding with go-control-plane's own "server" packages.
//
// The server refuses, counts and logs a snapshot that fails xds.Checker (a
// route to a missing cluster, say) and keeps serving the last good one: an
// Envoy would wait for the missing resource or reject the update. The
// check itself stays in xds because it reads the references the
// Translator records while translating.
//
// Until the first DAG arrives the cache holds Envoys' requests open
// without answering, so a restarting replica never hands an Envoy an
// empty configuration. The controller hands DAGs over through Handoff,
// which translates on a goroutine of its own so the event loop never
// waits for xDS.
package xdsserver
