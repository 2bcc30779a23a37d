// Package cluster starts a real etcd and kube-apiserver for tests, and stops
// them.
//
// Tests run against the real API server (real validation, status
// subresource, conflicts, Leases) rather than fakes wherever behaviour
// depends on it. The binaries are built from source into <repo>/bin by
// `make tools`.
//
// Tests use Start, which stops everything when the test ends:
//
//	c := cluster.Start(t, cluster.WithAuditLog())
//	ns := c.NewNamespace(t)
//	client := kubernetes.NewForConfigOrDie(c.RESTConfig())
//
// TestMain-shared clusters and tools use New and Stop.
//
// There is no controller manager, scheduler or kubelet: nothing creates
// EndpointSlices, default ServiceAccounts or runs Pods. Tests create the
// objects they need themselves.
package cluster
