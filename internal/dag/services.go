package dag

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// Annotation prefixes that name the Service ports speaking a given
// upstream protocol, e.g. projectcontour.io/upstream-protocol.h2: "80,grpc".
var upstreamProtocolAnnotations = []string{
	"projectcontour.io/upstream-protocol.",
	"contour.heptio.com/upstream-protocol.",
}

// clusterSettings are the per-route settings that make a cluster distinct
// from another cluster of the same Service port.
type clusterSettings struct {
	lb string
	hc *HealthCheck
}

// svcError is a service reference that cannot be used.
type svcError struct {
	reason string
	msg    string
}

// cluster returns the shared Cluster for service s of namespace ns with
// the given settings, creating it on first use.
func (b *builder) cluster(ns string, s contourv1.Service, set clusterSettings) (*Cluster, *svcError) {
	key := types.NamespacedName{Namespace: ns, Name: s.Name}
	if s.Name == "" {
		return nil, &svcError{contourv1.ReasonServiceUnresolvedReference, "service name must not be empty"}
	}
	svc := b.service(key)
	if svc == nil {
		return nil, &svcError{contourv1.ReasonServiceUnresolvedReference, fmt.Sprintf("service %q not found", key.String())}
	}
	if s.Port < 1 || s.Port > 65535 {
		return nil, &svcError{contourv1.ReasonServicePortInvalid, fmt.Sprintf("port %d of service %q is not a valid port number", s.Port, key.String())}
	}
	var port *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if int(svc.Spec.Ports[i].Port) == s.Port {
			port = &svc.Spec.Ports[i]
			break
		}
	}
	if port == nil {
		return nil, &svcError{contourv1.ReasonServicePortInvalid, fmt.Sprintf("port %d is not defined on service %q", s.Port, key.String())}
	}

	protocol := annotatedProtocol(svc, port)
	if s.Protocol != nil {
		switch p := *s.Protocol; p {
		case ProtocolH2, ProtocolH2C, ProtocolTLS:
			protocol = p
		default:
			return nil, &svcError{"UnsupportedProtocol", fmt.Sprintf("protocol %q of service %q is not supported; use h2, h2c or tls", p, key.String())}
		}
	}

	c := &Cluster{
		Service:      key,
		Port:         port.Port,
		PortName:     port.Name,
		Protocol:     protocol,
		LoadBalancer: set.lb,
		HealthCheck:  set.hc,
	}
	c.Name = fmt.Sprintf("%s/%s/%d/%s", key.Namespace, key.Name, port.Port, settingsHash(c))
	if existing, ok := b.clusters[c.Name]; ok {
		return existing, nil
	}
	c.Endpoints = b.serviceEndpoints(key, port.Name)
	b.clusters[c.Name] = c
	return c, nil
}

// settingsHash is a short, stable digest of a cluster's settings.
func settingsHash(c *Cluster) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "port=%s;protocol=%s;lb=%s", c.PortName, c.Protocol, c.LoadBalancer)
	if hc := c.HealthCheck; hc != nil {
		fmt.Fprintf(&sb, ";hc=%q,%q,%d,%d,%d,%d,%v", hc.Path, hc.Host, hc.Interval, hc.Timeout,
			hc.UnhealthyThreshold, hc.HealthyThreshold, hc.ExpectedStatuses)
	}
	sum := sha256.Sum256([]byte(sb.String()))
	return hex.EncodeToString(sum[:5])
}

// annotatedProtocol reads the upstream protocol of port from the Service's
// annotations, which list port names or numbers per protocol.
func annotatedProtocol(svc *corev1.Service, port *corev1.ServicePort) string {
	if len(svc.Annotations) == 0 {
		return ProtocolHTTP1
	}
	number := strconv.Itoa(int(port.Port))
	// A fixed order keeps the answer deterministic when a port is listed
	// under several protocols.
	for _, proto := range []string{ProtocolH2, ProtocolH2C, ProtocolTLS} {
		for _, prefix := range upstreamProtocolAnnotations {
			v, ok := svc.Annotations[prefix+proto]
			if !ok {
				continue
			}
			for _, item := range strings.Split(v, ",") {
				item = strings.TrimSpace(item)
				if item == "" {
					continue
				}
				if item == number || (port.Name != "" && item == port.Name) {
					return proto
				}
			}
		}
	}
	return ProtocolHTTP1
}

// serviceEndpoints returns the ready endpoints of the Service port named
// portName, from every EndpointSlice of the Service, deduplicated and
// sorted. The result is shared by every cluster of that port.
func (b *builder) serviceEndpoints(svc types.NamespacedName, portName string) []Endpoint {
	cacheKey := svc.Namespace + "/" + svc.Name + "/" + portName
	if eps, ok := b.endpoints[cacheKey]; ok {
		return eps
	}
	var eps []Endpoint
	for _, s := range b.slicesByService[svc] {
		if s.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		for _, p := range s.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			if name != portName || p.Port == nil || *p.Port < 1 || *p.Port > 65535 {
				continue
			}
			for _, ep := range s.Endpoints {
				if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
					continue
				}
				for _, addr := range ep.Addresses {
					if addr == "" {
						continue
					}
					eps = append(eps, Endpoint{Address: addr, Port: uint32(*p.Port)})
				}
			}
		}
	}
	slices.SortFunc(eps, func(a, b Endpoint) int {
		if c := strings.Compare(a.Address, b.Address); c != 0 {
			return c
		}
		return int(a.Port) - int(b.Port)
	})
	eps = slices.Compact(eps)
	b.endpoints[cacheKey] = eps
	return eps
}
