// Package xds translates the DAG into Envoy v3 resources (listeners,
// routes, clusters, endpoints, secrets), packed as a versioned Snapshot.
//
// Translation is a pure function: the same DAG and ListenerConfig always
// give the same resources, in the same order, byte for byte once
// marshalled deterministically, so every replica serves identical versions
// and an Envoy that reconnects to another replica is pushed nothing new.
// The Translator memoizes by DAG pointer, so only what changed is
// translated again; a DAG that edits, adds or removes a few entries of the
// one before is patched into the previous snapshot in O(changed)
// (incremental.go). It records what each part references so that Checker
// can verify a snapshot's consistency cheaply. Serving the snapshots to
// Envoy is package xdsserver's job; this package knows nothing of it.
package xds
