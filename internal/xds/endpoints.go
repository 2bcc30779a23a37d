package xds

import (
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"

	"github.com/proxyctl/proxyctl/internal/dag"
)

// endpoints returns one ClusterLoadAssignment per cluster, named as the
// cluster (its EDS service_name), even when the cluster has no endpoints:
// Envoy then knows the cluster is empty rather than waiting for it. A
// cluster found by DNS (a JWKS server, an ExternalName Service) has its
// address inline and none.
func endpoints(cs []*dag.Cluster) []*endpoint.ClusterLoadAssignment {
	out := make([]*endpoint.ClusterLoadAssignment, 0, len(cs))
	for _, c := range cs {
		if c != nil && !c.ResolvedByDNS() {
			out = append(out, clusterLoadAssignment(c))
		}
	}
	return out
}

func clusterLoadAssignment(c *dag.Cluster) *endpoint.ClusterLoadAssignment {
	cla := &endpoint.ClusterLoadAssignment{ClusterName: c.Name}
	if len(c.Endpoints) > 0 {
		lbs := make([]*endpoint.LbEndpoint, 0, len(c.Endpoints))
		for _, e := range c.Endpoints {
			ep := &endpoint.Endpoint{Address: socketAddress(e.Address, e.Port)}
			if e.HealthPort != 0 {
				// services[].healthPort: health checks go to this port.
				ep.HealthCheckConfig = &endpoint.Endpoint_HealthCheckConfig{PortValue: e.HealthPort}
			}
			lbs = append(lbs, &endpoint.LbEndpoint{
				HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: ep},
			})
		}
		cla.Endpoints = []*endpoint.LocalityLbEndpoints{{LbEndpoints: lbs}}
	}
	return cla
}
