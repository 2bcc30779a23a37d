package dag

import (
	"testing"

	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
)

// TestClusterSettings: the configuration file's cluster-wide settings
// reach every Service's cluster, a Service's projectcontour.io/max-*
// annotation wins over the global default for its own threshold, an
// ExtensionService's circuitBreakerPolicy replaces the defaults whole, as
// in Contour (httpproxy_processor.go, policy.go serviceCircuitBreakerPolicy,
// extension_processor.go).
func TestClusterSettings(t *testing.T) {
	plain := service("default", "plain", 80, 9000)
	annotated := service("default", "annotated", 80)
	annotated.Annotations = map[string]string{
		"projectcontour.io/max-connections":          "100",
		"projectcontour.io/per-host-max-connections": "9",
		// Not a number: absent, as Contour reads it.
		"projectcontour.io/max-requests": "many",
	}
	defaults := CircuitBreakers{MaxConnections: 10, MaxPendingRequests: 20, MaxRequests: 30, MaxRetries: 4, PerHostMaxConnections: 5}
	objs := objects(
		root("default", "a", "example.com", route("/a", svcRef("annotated", 80)), route("/", svcRef("plain", 80))),
		plain, annotated,
		extensionService("default", "own", contourv1alpha1.ExtensionServiceSpec{Services: extTargets("plain"),
			CircuitBreakerPolicy: &contourv1alpha1.CircuitBreakers{MaxRequests: 1}}),
		extensionService("default", "global", contourv1alpha1.ExtensionServiceSpec{Services: extTargets("plain")}),
	)

	d := Build(objs, Config{UpstreamMaxRequestsPerConnection: 3, CircuitBreakers: defaults})
	byService := map[string]*Cluster{}
	for _, c := range d.Clusters {
		byService[c.Service.Name] = c
	}
	diff(t, defaults, byService["plain"].CircuitBreakers)
	diff(t, CircuitBreakers{MaxConnections: 100, MaxPendingRequests: 20, MaxRequests: 30, MaxRetries: 4, PerHostMaxConnections: 9},
		byService["annotated"].CircuitBreakers)
	diff(t, uint32(3), byService["plain"].MaxRequestsPerConnection)
	diff(t, uint32(3), byService["annotated"].MaxRequestsPerConnection)
	byExt := map[string]*ExtensionCluster{}
	for _, c := range d.ExtensionClusters {
		byExt[c.Extension.Name] = c
	}
	diff(t, &CircuitBreakers{MaxRequests: 1}, byExt["own"].CircuitBreakers)
	diff(t, &defaults, byExt["global"].CircuitBreakers)

	// Without the settings: Envoy's defaults, but the annotations still
	// count; a cluster's settings are in its name.
	bare := Build(objs, Config{})
	byName := map[string]*Cluster{}
	for _, c := range bare.Clusters {
		byName[c.Service.Name] = c
	}
	diff(t, CircuitBreakers{}, byName["plain"].CircuitBreakers)
	diff(t, CircuitBreakers{MaxConnections: 100, PerHostMaxConnections: 9}, byName["annotated"].CircuitBreakers)
	diff(t, uint32(0), byName["plain"].MaxRequestsPerConnection)
	if byName["plain"].Name == byService["plain"].Name {
		t.Errorf("cluster name %s does not change with its settings", byName["plain"].Name)
	}
	for _, c := range bare.ExtensionClusters {
		if c.Extension.Name == "global" && c.CircuitBreakers != nil {
			t.Errorf("extension without policy has thresholds %+v without defaults", c.CircuitBreakers)
		}
	}
}
