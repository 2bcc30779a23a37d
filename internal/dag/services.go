package dag

import (
	"errors"
	"fmt"
	"net"
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
	// idleConnection is timeoutPolicy.idleConnection: Envoy applies it to
	// the cluster's upstream connections, so routes asking for different
	// values need different clusters.
	idleConnection Timeout
	slow           *SlowStart
	// hostRewrite is the Host the requests get (the service's rewrite,
	// else the route's): the server name for a TLS upstream, as in
	// Contour.
	hostRewrite string
}

// svcError is a service reference that cannot be used. Its condition
// type is ServiceError unless condType says otherwise.
type svcError struct {
	reason   string
	msg      string
	condType string
}

// conditionType is the condition type to record the error under.
func (e *svcError) conditionType() string {
	if e.condType != "" {
		return e.condType
	}
	return contourv1.ConditionTypeServiceError
}

// cluster returns the shared Cluster for service s of namespace ns with
// the given settings.
func (b *rootBuild) cluster(ns string, s contourv1.Service, set clusterSettings) (*Cluster, *svcError) {
	key := types.NamespacedName{Namespace: ns, Name: s.Name}
	if s.Name == "" {
		return nil, &svcError{reason: contourv1.ReasonServiceUnresolvedReference, msg: "service name must not be empty"}
	}
	// Contour checks the range first, whether or not the Service exists.
	if s.Port < 1 || s.Port > 65535 {
		return nil, &svcError{reason: contourv1.ReasonServicePortInvalid, msg: fmt.Sprintf("port %d of service %q is not a valid port number", s.Port, key.String())}
	}
	// No Service name has a "/" (Kubernetes forbids it), so none is found:
	// looking one up could only find an object that cannot exist, and
	// would make cluster names ambiguous ("a" "b/c" against "a/b" "c").
	var svc *corev1.Service
	if !strings.Contains(s.Name, "/") {
		svc = b.service(key)
	}
	if svc == nil {
		return nil, &svcError{reason: contourv1.ReasonServiceUnresolvedReference, msg: fmt.Sprintf("service %q not found", key.String())}
	}
	// A port the Service does not define is an unresolved reference, as
	// in Contour (people alert on the reason); the message says which.
	port := servicePort(svc, s.Port)
	if port == nil {
		return nil, &svcError{reason: contourv1.ReasonServiceUnresolvedReference, msg: fmt.Sprintf("port %d is not defined on service %q", s.Port, key.String())}
	}
	// healthPort only matters with a health check (Contour ignores it
	// otherwise); it must be a port of the same Service.
	var health *corev1.ServicePort
	if set.hc != nil && s.HealthPort != 0 && s.HealthPort != s.Port {
		if s.HealthPort < 1 || s.HealthPort > 65535 {
			return nil, &svcError{reason: contourv1.ReasonServicePortInvalid, msg: fmt.Sprintf("healthPort %d of service %q is not a valid port number", s.HealthPort, key.String())}
		}
		if health = servicePort(svc, s.HealthPort); health == nil {
			return nil, &svcError{reason: contourv1.ReasonServiceUnresolvedReference, msg: fmt.Sprintf("healthPort %d is not defined on service %q", s.HealthPort, key.String())}
		}
	}

	external := ""
	if svc.Spec.Type == corev1.ServiceTypeExternalName && svc.Spec.ExternalName != "" {
		if msg := b.bl.checkExternalName(key, svc.Spec.ExternalName); msg != "" {
			return nil, &svcError{reason: contourv1.ReasonServiceUnresolvedReference, msg: msg}
		}
		external = svc.Spec.ExternalName
	}

	protocol := annotatedProtocol(svc, port)
	if s.Protocol != nil {
		switch p := *s.Protocol; p {
		case ProtocolH2, ProtocolH2C, ProtocolTLS:
			protocol = p
		default:
			return nil, &svcError{reason: "UnsupportedProtocol", msg: fmt.Sprintf("protocol %q of service %q is not supported; use h2, h2c or tls", p, key.String())}
		}
	}

	var uv *UpstreamValidation
	if s.UpstreamValidation != nil {
		var serr *svcError
		if uv, serr = b.upstreamValidation(ns, s, protocol); serr != nil {
			return nil, serr
		}
	}

	c := Cluster{
		Service:      key,
		Port:         port.Port,
		PortName:     port.Name,
		Protocol:     protocol,
		LoadBalancer: set.lb,
		HealthCheck:  set.hc,
		IdleTimeout:  set.idleConnection,
		SlowStart:    set.slow,
		Validation:   uv,
		ExternalName: external,
		// The cluster-wide settings of the configuration file, as Contour
		// applies them to every Service's cluster.
		MaxRequestsPerConnection: b.bl.cfg.UpstreamMaxRequestsPerConnection,
		CircuitBreakers:          serviceCircuitBreakers(svc, b.bl.cfg.CircuitBreakers),
	}
	if external != "" && b.bl.cfg.DNSLookupFamily != "auto" {
		c.DNSLookupFamily = b.bl.cfg.DNSLookupFamily
	}
	if health != nil {
		c.HealthPort, c.HealthPortName = health.Port, health.Name
	}
	if (protocol == ProtocolTLS || protocol == ProtocolH2) && uv == nil {
		c.SNI = serverName(set.hostRewrite, external)
	}
	c.Name = key.Namespace + "/" + key.Name + "/" + strconv.Itoa(int(port.Port)) + "/" + b.bl.hashes.get(&c)
	if external != "" {
		// Envoy resolves the name itself: the Service's EndpointSlices, if
		// anyone made some, are not read (nor are they by Contour).
		return b.bl.sharedCluster(c, nil), nil
	}
	// Whether the cluster is made or shared, this root depends on the
	// endpoints it holds.
	return b.bl.sharedCluster(c, b.endpointSlices(key)), nil
}

// localhostNames are the names Contour refuses as an ExternalName, because
// they reach Envoy itself (its admin interface among others).
var localhostNames = map[string]bool{
	"localhost":               true,
	"localhost.localdomain":   true,
	"local.projectcontour.io": true,
}

// checkExternalName returns why Service key, of type ExternalName for
// name, cannot be an upstream, or "". As in Contour, ExternalName Services
// are refused unless enabled, and so are names that reach Envoy's own
// host: localhost and its synonyms, loopback, link-local and unspecified
// addresses. Beyond Contour, any name under "localhost." is refused too:
// resolvers answer them with loopback addresses (RFC 6761).
func (bl *Builder) checkExternalName(key types.NamespacedName, name string) string {
	if !bl.cfg.EnableExternalNameService {
		return fmt.Sprintf("%s is an ExternalName service, these are not currently enabled. See the enableExternalNameService config file setting (proxyctl serve --enable-external-name-service)", key.String())
	}
	n := strings.ToLower(strings.TrimSuffix(name, "."))
	if localhostNames[n] || strings.HasSuffix(n, ".localhost") {
		return fmt.Sprintf("%s is an ExternalName service that points to localhost, this is not allowed", key.String())
	}
	if ip := net.ParseIP(n); ip != nil && (ip.IsLoopback() || ip.IsUnspecified() || ip.IsLinkLocalUnicast()) {
		return fmt.Sprintf("%s is an ExternalName service that points to a loopback, link-local or unspecified IP address, this is not allowed", key.String())
	}
	return ""
}

// serverName is the SNI of a TLS upstream, as Contour picks it: the Host
// the requests are rewritten to, else the ExternalName. An IP address is
// no server name (RFC 6066): none is sent then.
func serverName(hostRewrite, externalName string) string {
	n := hostRewrite
	if n == "" {
		n = externalName
	}
	if net.ParseIP(n) != nil {
		return ""
	}
	return n
}

// upstreamValidation resolves a service's validation stanza as Contour
// does: the CA Secret (delegated when in another namespace) and the
// subject names, subjectName first. Contour ignores the stanza when the
// upstream protocol is not TLS; proxyctl refuses it, since the user asked
// for a verified upstream and would get a cleartext one.
func (b *rootBuild) upstreamValidation(ns string, s contourv1.Service, protocol string) (*UpstreamValidation, *svcError) {
	v := s.UpstreamValidation
	policyErr := func(format string, args ...any) *svcError {
		return &svcError{reason: "TLSUpstreamValidation",
			msg: fmt.Sprintf("Service [%s:%d] TLS upstream validation policy error: %s", s.Name, s.Port, fmt.Sprintf(format, args...))}
	}
	if protocol != ProtocolTLS && protocol != ProtocolH2 {
		return nil, policyErr("validation requires protocol tls or h2, the upstream protocol is %q", protocolName(protocol))
	}
	sk, ca, err := b.caSecret(ns, v.CACertificate)
	switch {
	case errors.Is(err, errNotDelegated):
		return nil, &svcError{condType: contourv1.ConditionTypeTLSError, reason: "CACertificateNotDelegated",
			msg: fmt.Sprintf("service.UpstreamValidation.CACertificate Secret %q is not configured for certificate delegation", sk.String())}
	case err != nil:
		return nil, policyErr("invalid CA Secret %q: %v", v.CACertificate, err)
	}
	names, err := subjectNames(v)
	if err != nil {
		return nil, policyErr("%v", err)
	}
	return &UpstreamValidation{CAName: sk.String(), CA: ca, SubjectNames: names}, nil
}

func protocolName(p string) string {
	if p == ProtocolHTTP1 {
		return "http/1.1"
	}
	return p
}

// servicePort returns the port of svc numbered number, or nil.
func servicePort(svc *corev1.Service, number int) *corev1.ServicePort {
	for i := range svc.Spec.Ports {
		if int(svc.Spec.Ports[i].Port) == number {
			return &svc.Spec.Ports[i]
		}
	}
	return nil
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

// endpointsKey is a Service port, by name, with the port health checks
// go to.
type endpointsKey struct {
	svc            types.NamespacedName
	portName       string
	healthPortName string
}

// serviceEndpoints returns the ready endpoints of the Service port named
// portName, from the Service's EndpointSlices, deduplicated and sorted.
// When healthPortName is not empty, each endpoint's HealthPort is the
// number its slice gives that port (as Contour does, for the slice's
// endpoints only: a slice without it leaves health checks on the serving
// port). Within one Build, the result is shared by every cluster of that
// port.
func (bl *Builder) serviceEndpoints(svc types.NamespacedName, portName, healthPortName string, sl []sliceRef) []Endpoint {
	cacheKey := endpointsKey{svc, portName, healthPortName}
	if eps, ok := bl.endpoints[cacheKey]; ok {
		return eps
	}
	var eps []Endpoint
	for _, ref := range sl {
		s := ref.s
		if s.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		var healthPort uint32
		if healthPortName != "" {
			for _, p := range s.Ports {
				if p.Name != nil && *p.Name == healthPortName && p.Port != nil && *p.Port >= 1 && *p.Port <= 65535 {
					healthPort = uint32(*p.Port)
				}
			}
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
					eps = append(eps, Endpoint{Address: addr, Port: uint32(*p.Port), HealthPort: healthPort})
				}
			}
		}
	}
	slices.SortFunc(eps, func(a, b Endpoint) int {
		if c := strings.Compare(a.Address, b.Address); c != 0 {
			return c
		}
		if c := int(a.Port) - int(b.Port); c != 0 {
			return c
		}
		return int(a.HealthPort) - int(b.HealthPort)
	})
	// One address and port is one endpoint, even when two slices give it
	// different health ports (the lowest is kept).
	eps = slices.CompactFunc(eps, func(a, b Endpoint) bool { return a.Address == b.Address && a.Port == b.Port })
	if bl.endpoints == nil {
		bl.endpoints = map[endpointsKey][]Endpoint{}
	}
	bl.endpoints[cacheKey] = eps
	return eps
}
