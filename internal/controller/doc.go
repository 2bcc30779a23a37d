// Package controller is a replica's event loop: it caches the watched objects,
// rebuilds the DAG after each change that matters, and hands every DAG to its
// observers.
//
// One goroutine owns the object cache, so the DAG is always built from one
// consistent view without locks. Informer callbacks only hand objects to that
// goroutine; a burst of events is batched with a short, bounded hold-off; and
// updates the DAG cannot see (status only, among them our own status writes)
// are dropped, or every write would trigger a rebuild. The first DAG is built
// only once every object of the initial lists is in the cache, so a
// restarting replica never serves, or writes status from, a partial view.
// The observers are the xDS server (every replica) and the status writer
// (leader only), all given at construction.
//
// The controller builds no clients and no informers: it subscribes to the
// informers it is given (cmd/proxyctl builds them, applies Trim, starts and
// stops them), so tests feed it from fake clientsets.
package controller
