package dag

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// The Service annotations that set a cluster's circuit breaker thresholds,
// as in Contour.
const (
	annotationMaxConnections        = "projectcontour.io/max-connections"
	annotationMaxPendingRequests    = "projectcontour.io/max-pending-requests"
	annotationMaxRequests           = "projectcontour.io/max-requests"
	annotationMaxRetries            = "projectcontour.io/max-retries"
	annotationPerHostMaxConnections = "projectcontour.io/per-host-max-connections"
)

// IsSet reports whether any threshold is set.
func (cb CircuitBreakers) IsSet() bool {
	return cb != CircuitBreakers{}
}

// serviceCircuitBreakers are the thresholds of a Service's cluster, each
// as Contour picks it: the Service's annotation, else the global default
// def. As in Contour, an annotation that is not a whole number from 1 to
// 4294967295 counts as absent.
func serviceCircuitBreakers(svc *corev1.Service, def CircuitBreakers) CircuitBreakers {
	pick := func(annotation string, def uint32) uint32 {
		if v := annotationUint32(svc, annotation); v != 0 {
			return v
		}
		return def
	}
	return CircuitBreakers{
		MaxConnections:        pick(annotationMaxConnections, def.MaxConnections),
		MaxPendingRequests:    pick(annotationMaxPendingRequests, def.MaxPendingRequests),
		MaxRequests:           pick(annotationMaxRequests, def.MaxRequests),
		MaxRetries:            pick(annotationMaxRetries, def.MaxRetries),
		PerHostMaxConnections: pick(annotationPerHostMaxConnections, def.PerHostMaxConnections),
	}
}

func annotationUint32(svc *corev1.Service, name string) uint32 {
	s, ok := svc.Annotations[name]
	if !ok {
		return 0
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0
	}
	return uint32(v)
}
