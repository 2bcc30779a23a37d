// Package election tests leader election between proxyctl replicas: real
// processes of the real binary, on one Lease, against a real API server.
package election

import (
	"testing"

	"github.com/proxyctl/proxyctl/test/cluster"
)

// kube is shared by the package's tests; each test uses its own namespace,
// and so its own Lease.
var kube *cluster.Cluster

func TestMain(m *testing.M) { cluster.Main(m, cluster.Options{}, &kube) }
