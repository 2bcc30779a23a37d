// Package election tests leader election between proxyctl replicas: real
// processes of the real binary, on one Lease, against a real API server.
package election

import (
	"fmt"
	"os"
	"testing"

	"github.com/proxyctl/proxyctl/test/cluster"
)

// kube is shared by the package's tests; each test uses its own namespace,
// and so its own Lease.
var kube *cluster.Cluster

func TestMain(m *testing.M) {
	c, err := cluster.New(cluster.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test control plane:", err)
		os.Exit(1)
	}
	kube = c
	code := m.Run()
	if code != 0 {
		_ = c.DumpLogs(os.Stderr, 30)
	}
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the test control plane:", err)
	}
	os.Exit(code)
}
