package crd

import (
	"testing"

	"github.com/proxyctl/proxyctl/test/cluster"
)

// kube is shared by the package's tests, each in namespaces of its own.
var kube *cluster.Cluster

func TestMain(m *testing.M) { cluster.Main(m, cluster.Options{}, &kube) }
