// Package status writes, on the leader only, the HTTPProxy status the DAG
// implies, touching only the objects whose status is stale.
//
// It renders the DAG's per-proxy results as the status Contour users know
// (currentStatus, description, the Valid condition with its errors and
// warnings) and writes through the status subresource. Writing only what
// differs keeps the API server's load proportional to what changed; writing
// nothing before the became-leader channel closes keeps replicas from
// fighting over the same objects.
package status
