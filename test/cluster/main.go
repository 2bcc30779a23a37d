package cluster

import (
	"fmt"
	"os"
	"testing"
)

// Main runs a test package against one control plane shared by all its
// tests, for a TestMain:
//
//	var kube *cluster.Cluster
//	func TestMain(m *testing.M) { cluster.Main(m, cluster.Options{}, &kube) }
//
// It sets *shared before the tests run, prints the control plane's logs if
// a test failed, stops it and exits with the tests' result.
func Main(m *testing.M, opts Options, shared **Cluster) {
	c, err := New(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test control plane:", err)
		os.Exit(1)
	}
	*shared = c
	code := m.Run()
	if code != 0 {
		_ = c.DumpLogs(os.Stderr, 30)
	}
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the test control plane:", err)
	}
	os.Exit(code)
}
