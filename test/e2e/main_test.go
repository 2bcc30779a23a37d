// Package e2e runs proxyctl the way users do: real API server, replicas as
// separate processes, and (for traffic) a real Envoy bootstrapped by
// `proxyctl bootstrap`, with backends in a network namespace of the test's
// own.
package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/proxyctl/proxyctl/test/cluster"
)

// kube is shared by the package's tests; each test works in namespaces of
// its own.
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
