// Package status writes, on the leader only, the status the DAG implies
// for each HTTPProxy and ExtensionService, touching only the objects whose
// status is stale.
//
// The DAG reports facts (errors, warnings, orphaned); render, in this
// package, is the one place that turns them into the status Contour users
// know (currentStatus, description, the Valid condition with its errors and
// warnings). Both writers share one core (core.go): leader gating, a
// client-go rate-limited workqueue, workers, conflict retries, backoff and
// metrics; each kind only supplies how to read its object, render and
// compare its status, and write it. Writing only what differs keeps the
// API server's load proportional to what changed; writing nothing before
// the became-leader channel closes keeps replicas from fighting over the
// same objects.
package status
