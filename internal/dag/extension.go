package dag

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
)

// ExtensionCluster is the Envoy cluster of one valid ExtensionService: a
// gRPC service (an external authorization server, a rate limit service)
// that Envoy calls itself, spread over the endpoints of the Services the
// ExtensionService names.
type ExtensionCluster struct {
	// Name is "extension/<namespace>/<name>", as in Contour: one cluster
	// per ExtensionService, whatever its settings, so that a change of
	// settings updates the cluster Envoy is using.
	Name string
	// Extension is the ExtensionService.
	Extension types.NamespacedName
	// Protocol is ProtocolH2 (HTTP/2 over TLS, the default), ProtocolH2C
	// or ProtocolHTTP1.
	Protocol string
	// LoadBalancer is one of LBRoundRobin, LBWeightedLeastRequest and
	// LBRandom.
	LoadBalancer string
	// Validation, when set, verifies the services' certificate; SNI is
	// then its first subject name.
	Validation *UpstreamValidation
	SNI        string
	// ResponseTimeout is timeoutPolicy.response: the default time a
	// feature waits for the extension's answer.
	ResponseTimeout Timeout
	// IdleTimeout is timeoutPolicy.idleConnection: upstream connections
	// idle this long are closed.
	IdleTimeout Timeout
	// CircuitBreakers, when set, are the cluster's thresholds.
	CircuitBreakers *CircuitBreakers
	// Targets are the Services, in the order written.
	Targets []ExtensionTarget
}

// ExtensionTarget is one Service of an ExtensionCluster.
type ExtensionTarget struct {
	Service  types.NamespacedName
	Port     int32
	PortName string
	// Weight is the Service's share; when every target's weight is 0 the
	// traffic is spread evenly.
	Weight uint32
	// Endpoints are the ready endpoints of the Service port, sorted.
	Endpoints []Endpoint
}

// CircuitBreakers are the thresholds of a cluster; 0 keeps Envoy's
// default.
type CircuitBreakers struct {
	MaxConnections        uint32
	MaxPendingRequests    uint32
	MaxRequests           uint32
	MaxRetries            uint32
	PerHostMaxConnections uint32
}

// ExtensionStatus is the validation result of one ExtensionService: valid
// when it has no error. Contour's condition is `Valid`, with these errors
// and warnings as sub-conditions.
type ExtensionStatus struct {
	Extension  types.NamespacedName
	Generation int64
	// Errors and Warnings are in the order found.
	Errors   []Condition
	Warnings []Condition
}

// Valid reports whether the ExtensionService has no error.
func (s *ExtensionStatus) Valid() bool { return len(s.Errors) == 0 }

// ExtensionClusterName is the name of the cluster of ExtensionService
// key, as Contour names it.
func ExtensionClusterName(key types.NamespacedName) string {
	return "extension/" + key.Namespace + "/" + key.Name
}

// ExtensionCluster returns the cluster of ExtensionService key, nil when it
// does not exist or is not valid: what a feature configured outside the
// HTTPProxy API (a global authorization or rate limit service named in
// the configuration) sends its requests to.
func (d *DAG) ExtensionCluster(key types.NamespacedName) *ExtensionCluster {
	name := ExtensionClusterName(key)
	i, ok := slices.BinarySearchFunc(d.ExtensionClusters, name, func(c *ExtensionCluster, n string) int { return strings.Compare(c.Name, n) })
	if !ok {
		return nil
	}
	return d.ExtensionClusters[i]
}

// Reasons of ExtensionService conditions, as Contour has them.
const (
	reasonTimeoutPolicyNotValid = "TimeoutPolicyNotValid"
	reasonIgnoredField          = "IgnoredField"
	reasonCACertNotDelegated    = "CACertificateNotDelegated"
	reasonTLSUpstreamValidation = "TLSUpstreamValidation"
	reasonInconsistentProtocol  = "InconsistentProtocol"
	reasonUnsupportedService    = "UnsupportedServiceType"
)

// extBuild is the processing of one ExtensionService; it reads inputs
// through reads, which records each read.
type extBuild struct {
	reads
	key    types.NamespacedName
	status ExtensionStatus
}

func (x *extBuild) errorf(condType, reason, format string, args ...any) {
	x.status.Errors = append(x.status.Errors, Condition{Type: condType, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

func (x *extBuild) warnf(condType, reason, format string, args ...any) {
	x.status.Warnings = append(x.status.Warnings, Condition{Type: condType, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// syncExtensions brings the ExtensionServices' clusters and statuses up to
// date, noting each one whose cluster changed: the roots that read it are
// built again. They are few, so every one is checked on every Build.
func (bl *Builder) syncExtensions(ch *changes) {
	for key, e := range bl.extensions {
		src, ok := bl.objs.ExtensionServices[key]
		if !ok {
			delete(bl.extensions, key)
			ch.input(depKey{depExtension, key})
			ch.extension(key)
			continue
		}
		if src == e.src && e.valid(bl) {
			continue
		}
		ne := bl.buildExtension(key, src)
		bl.extensions[key] = ne
		if ne.cluster != e.cluster {
			ch.input(depKey{depExtension, key})
		}
		ch.extension(key)
	}
	for key, src := range bl.objs.ExtensionServices {
		if _, ok := bl.extensions[key]; ok {
			continue
		}
		bl.extensions[key] = bl.buildExtension(key, src)
		ch.input(depKey{depExtension, key})
		ch.extension(key)
	}
}

// buildExtension validates ExtensionService key as Contour does and makes
// its cluster. Any error leaves it without a cluster; warnings do not.
func (bl *Builder) buildExtension(key types.NamespacedName, src *contourv1alpha1.ExtensionService) *extEntry {
	x := &extBuild{reads: reads{bl: bl}, key: key}
	ext := src
	if ext == nil {
		ext = &contourv1alpha1.ExtensionService{}
	}
	x.status = ExtensionStatus{Extension: key, Generation: ext.Generation}
	c := x.cluster(&ext.Spec)
	e := &extEntry{src: src, deps: x.deps(), status: &x.status}
	if c != nil && x.status.Valid() {
		e.cluster = c
	}
	return e
}

func (x *extBuild) cluster(spec *contourv1alpha1.ExtensionServiceSpec) *ExtensionCluster {
	c := &ExtensionCluster{
		Name:      ExtensionClusterName(x.key),
		Extension: x.key,
		Protocol:  ProtocolH2,
	}
	if tp := spec.TimeoutPolicy; tp != nil {
		if err := x.timeouts(tp, c); err != nil {
			x.errorf(contourv1.ConditionTypeSpecError, reasonTimeoutPolicyNotValid, "spec.timeoutPolicy failed to parse: %s", err)
		}
		// The clients of an extension (Envoy's ext_authz filter) have a
		// request timeout only.
		if tp.Idle != "" {
			x.warnf(contourv1.ConditionTypeSpecError, reasonIgnoredField,
				"ignoring field %q; idle timeouts are not supported for ExtensionClusters", ".Spec.TimeoutPolicy.Idle")
		}
	}
	// The global defaults, unless the ExtensionService has a policy of
	// its own, which replaces them whole (as in Contour).
	if cb := x.bl.cfg.CircuitBreakers; cb.IsSet() {
		c.CircuitBreakers = &cb
	}
	if cb := spec.CircuitBreakerPolicy; cb != nil {
		c.CircuitBreakers = &CircuitBreakers{
			MaxConnections:        cb.MaxConnections,
			MaxPendingRequests:    cb.MaxPendingRequests,
			MaxRequests:           cb.MaxRequests,
			MaxRetries:            cb.MaxRetries,
			PerHostMaxConnections: cb.PerHostMaxConnections,
		}
	}
	lb, _, lbWarnings := loadBalancer(spec.LoadBalancerPolicy)
	for _, w := range lbWarnings {
		x.warnf(contourv1.ConditionTypeSpecError, reasonIgnoredField, "%s", w)
	}
	switch lb {
	case LBCookie, LBRequestHash:
		// gRPC requests of Envoy itself carry no cookie or client
		// request to hash: Contour falls back to the default.
		x.warnf(contourv1.ConditionTypeSpecError, reasonIgnoredField,
			"ignoring field %q; %s load balancer policy is not supported for ExtensionClusters", ".Spec.LoadBalancerPolicy", lb)
		lb = LBRoundRobin
	}
	c.LoadBalancer = lb
	if spec.Protocol != nil && *spec.Protocol != "" {
		switch p := *spec.Protocol; p {
		case ProtocolH2, ProtocolH2C:
			c.Protocol = p
		case "http/1.1":
			c.Protocol = ProtocolHTTP1
		default:
			// The schema allows only the three above.
			x.errorf(contourv1.ConditionTypeSpecError, "UnsupportedProtocol", "protocol %q is not supported; use h2 or h2c", p)
		}
	}
	if v := spec.UpstreamValidation; v != nil {
		uv, ok := x.upstreamValidation(v)
		if !ok {
			return nil
		}
		c.Validation = uv
		c.SNI = uv.SubjectNames[0]
		if c.Protocol != ProtocolH2 {
			x.errorf(contourv1.ConditionTypeSpecError, reasonInconsistentProtocol,
				"upstream TLS validation not supported for %q protocol", protocolName(c.Protocol))
		}
	}
	for _, t := range spec.Services {
		// Only Services of the ExtensionService's own namespace: a
		// reference elsewhere could reach into another tenant.
		svcKey := types.NamespacedName{Namespace: x.key.Namespace, Name: t.Name}
		var svc *corev1.Service
		if t.Name != "" && !strings.Contains(t.Name, "/") {
			svc = x.service(svcKey)
		}
		if svc == nil {
			x.errorf(contourv1.ConditionTypeServiceError, contourv1.ReasonServiceUnresolvedReference,
				"unresolved service %q: service not found", svcKey.String())
			continue
		}
		port := servicePort(svc, t.Port)
		if port == nil {
			x.errorf(contourv1.ConditionTypeServiceError, contourv1.ReasonServiceUnresolvedReference,
				"unresolved service %q: port %d is not defined", svcKey.String(), t.Port)
			continue
		}
		if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.ExternalName != "" {
			x.errorf(contourv1.ConditionTypeServiceError, reasonUnsupportedService,
				"Service %q is of unsupported type %q.", svcKey.String(), corev1.ServiceTypeExternalName)
			continue
		}
		c.Targets = append(c.Targets, ExtensionTarget{
			Service:   svcKey,
			Port:      port.Port,
			PortName:  port.Name,
			Weight:    t.Weight,
			Endpoints: x.bl.serviceEndpoints(svcKey, port.Name, "", x.endpointSlices(svcKey)),
		})
	}
	return c
}

func (x *extBuild) timeouts(tp *contourv1.TimeoutPolicy, c *ExtensionCluster) error {
	resp, err := parseTimeout(tp.Response)
	if err != nil {
		return fmt.Errorf("response timeout %q: %v", tp.Response, err)
	}
	if _, err := parseTimeout(tp.Idle); err != nil {
		return fmt.Errorf("idle timeout %q: %v", tp.Idle, err)
	}
	idleConn, err := parseTimeout(tp.IdleConnection)
	if err != nil {
		return fmt.Errorf("idle connection timeout %q: %v", tp.IdleConnection, err)
	}
	c.ResponseTimeout, c.IdleTimeout = resp, idleConn
	return nil
}

// upstreamValidation resolves spec.validation as Contour does: a CA
// Secret of the ExtensionService's namespace, or of another one that
// delegates it, and the subject names, subjectName first.
func (x *extBuild) upstreamValidation(v *contourv1.UpstreamValidation) (*UpstreamValidation, bool) {
	ns := x.key.Namespace
	policyErr := func(format string, args ...any) (*UpstreamValidation, bool) {
		x.errorf(contourv1.ConditionTypeSpecError, reasonTLSUpstreamValidation,
			"TLS upstream validation policy error: %s", fmt.Sprintf(format, args...))
		return nil, false
	}
	sk, ca, err := x.caSecret(ns, v.CACertificate)
	var refErr *secretRefError
	switch {
	case errors.As(err, &refErr):
		return policyErr("%v", err)
	case errors.Is(err, errNotDelegated):
		x.errorf(contourv1.ConditionTypeTLSError, reasonCACertNotDelegated,
			"service.UpstreamValidation.CACertificate Secret %q is not configured for certificate delegation", sk.String())
		return nil, false
	case err != nil:
		return policyErr("invalid CA Secret %q: %v", v.CACertificate, err)
	}
	names, err := subjectNames(v)
	if err != nil {
		return policyErr("%v", err)
	}
	return &UpstreamValidation{CAName: sk.String(), CA: ca, SubjectNames: names}, true
}
