package xds

import (
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"

	"github.com/proxyctl/proxyctl/internal/dag"
)

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
