// Package e2e runs proxyctl the way users do: real API server, replicas as
// separate processes, and (for traffic) a real Envoy bootstrapped by
// `proxyctl bootstrap`, with backends in a network namespace of the test's
// own.
package e2e

import (
	"testing"

	"github.com/proxyctl/proxyctl/test/cluster"
)

// kube is shared by the package's tests; each test works in namespaces of
// its own.
var kube *cluster.Cluster

func TestMain(m *testing.M) { cluster.Main(m, cluster.Options{}, &kube) }
