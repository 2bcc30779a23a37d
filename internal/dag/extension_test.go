package dag

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
)

func extensionService(ns, name string, spec contourv1alpha1.ExtensionServiceSpec) *contourv1alpha1.ExtensionService {
	return &contourv1alpha1.ExtensionService{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 2},
		Spec:       spec,
	}
}

func extTargets(names ...string) []contourv1alpha1.ExtensionServiceTarget {
	var ts []contourv1alpha1.ExtensionServiceTarget
	for _, n := range names {
		ts = append(ts, contourv1alpha1.ExtensionServiceTarget{Name: n, Port: 9000})
	}
	return ts
}

func caSecretFor(t *testing.T, ns, name string) *corev1.Secret {
	cert, _ := certPair(t)
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"ca.crt": cert},
	}
}

func extReasons(d *DAG, ns, name string) []string {
	s := d.ExtensionStatuses[nn(ns, name)]
	if s == nil {
		return []string{"<no status>"}
	}
	var out []string
	for _, c := range s.Errors {
		out = append(out, "error "+c.Type+"/"+c.Reason)
	}
	for _, c := range s.Warnings {
		out = append(out, "warning "+c.Type+"/"+c.Reason)
	}
	return out
}

// TestExtensionServiceCluster resolves ExtensionServices into clusters
// with Contour's conditions.
func TestExtensionServiceCluster(t *testing.T) {
	h2c := "h2c"
	h1 := "http/1.1"
	authz := service("auth", "authz", 9000)
	slice := endpointSlice("auth", "authz-1", "authz", "", 9000, "10.0.0.2", "10.0.0.1", "!10.0.0.9")
	tests := map[string]struct {
		ext     *contourv1alpha1.ExtensionService
		objs    []any
		want    *ExtensionCluster // nil: no cluster
		reasons []string
	}{
		"h2c with endpoints, weight and timeouts": {
			ext: extensionService("auth", "ext", contourv1alpha1.ExtensionServiceSpec{
				Services:             []contourv1alpha1.ExtensionServiceTarget{{Name: "authz", Port: 9000, Weight: 3}},
				Protocol:             &h2c,
				TimeoutPolicy:        &contourv1.TimeoutPolicy{Response: "2s", IdleConnection: "1m"},
				CircuitBreakerPolicy: &contourv1alpha1.CircuitBreakers{MaxConnections: 7, PerHostMaxConnections: 2},
				LoadBalancerPolicy:   &contourv1.LoadBalancerPolicy{Strategy: "Random"},
			}),
			objs: []any{authz, slice},
			want: &ExtensionCluster{
				Name: "extension/auth/ext", Extension: nn("auth", "ext"), Protocol: ProtocolH2C, LoadBalancer: LBRandom,
				ResponseTimeout: Timeout{Duration: 2 * time.Second}, IdleTimeout: Timeout{Duration: time.Minute},
				CircuitBreakers: &CircuitBreakers{MaxConnections: 7, PerHostMaxConnections: 2},
				Targets: []ExtensionTarget{{Service: nn("auth", "authz"), Port: 9000, Weight: 3,
					Endpoints: []Endpoint{{Address: "10.0.0.1", Port: 9000}, {Address: "10.0.0.2", Port: 9000}}}},
			},
		},
		"h2 is the default": {
			ext:  extensionService("auth", "ext", contourv1alpha1.ExtensionServiceSpec{Services: extTargets("authz")}),
			objs: []any{authz},
			want: &ExtensionCluster{Name: "extension/auth/ext", Extension: nn("auth", "ext"), Protocol: ProtocolH2, LoadBalancer: LBRoundRobin,
				Targets: []ExtensionTarget{{Service: nn("auth", "authz"), Port: 9000}}},
		},
		"http/1.1 as Contour": {
			ext:  extensionService("auth", "ext", contourv1alpha1.ExtensionServiceSpec{Services: extTargets("authz"), Protocol: &h1}),
			objs: []any{authz},
			want: &ExtensionCluster{Name: "extension/auth/ext", Extension: nn("auth", "ext"), Protocol: ProtocolHTTP1, LoadBalancer: LBRoundRobin,
				Targets: []ExtensionTarget{{Service: nn("auth", "authz"), Port: 9000}}},
		},
		"h2 with validation sends the subject name as SNI": {
			ext: extensionService("auth", "ext", contourv1alpha1.ExtensionServiceSpec{Services: extTargets("authz"),
				UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: "ca", SubjectName: "authz.auth"}}),
			objs: []any{authz, caSecretFor(t, "auth", "ca")},
			want: &ExtensionCluster{Name: "extension/auth/ext", Extension: nn("auth", "ext"), Protocol: ProtocolH2, LoadBalancer: LBRoundRobin,
				SNI: "authz.auth", Targets: []ExtensionTarget{{Service: nn("auth", "authz"), Port: 9000}}},
		},
		"missing service": {
			ext:     extensionService("auth", "ext", contourv1alpha1.ExtensionServiceSpec{Services: extTargets("authz", "missing")}),
			objs:    []any{authz},
			reasons: []string{"error ServiceError/ServiceUnresolvedReference"},
		},
		"port not on the service": {
			ext:     extensionService("auth", "ext", contourv1alpha1.ExtensionServiceSpec{Services: []contourv1alpha1.ExtensionServiceTarget{{Name: "authz", Port: 1}}}),
			objs:    []any{authz},
			reasons: []string{"error ServiceError/ServiceUnresolvedReference"},
		},
		"ExternalName service": {
			ext: extensionService("auth", "ext", contourv1alpha1.ExtensionServiceSpec{Services: extTargets("ext")}),
			objs: []any{&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "auth", Name: "ext"},
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "a.example.com", Ports: []corev1.ServicePort{{Port: 9000}}}}},
			reasons: []string{"error ServiceError/UnsupportedServiceType"},
		},
		"bad timeout": {
			ext: extensionService("auth", "ext", contourv1alpha1.ExtensionServiceSpec{Services: extTargets("authz"),
				TimeoutPolicy: &contourv1.TimeoutPolicy{Response: "soon"}}),
			objs:    []any{authz},
			reasons: []string{"error SpecError/TimeoutPolicyNotValid"},
		},
		"idle timeout and hash load balancing are ignored with warnings": {
			ext: extensionService("auth", "ext", contourv1alpha1.ExtensionServiceSpec{Services: extTargets("authz"),
				TimeoutPolicy:      &contourv1.TimeoutPolicy{Idle: "5s"},
				LoadBalancerPolicy: &contourv1.LoadBalancerPolicy{Strategy: "Cookie"}}),
			objs: []any{authz},
			want: &ExtensionCluster{Name: "extension/auth/ext", Extension: nn("auth", "ext"), Protocol: ProtocolH2, LoadBalancer: LBRoundRobin,
				Targets: []ExtensionTarget{{Service: nn("auth", "authz"), Port: 9000}}},
			reasons: []string{"warning SpecError/IgnoredField", "warning SpecError/IgnoredField"},
		},
		"validation with h2c is inconsistent": {
			ext: extensionService("auth", "ext", contourv1alpha1.ExtensionServiceSpec{Services: extTargets("authz"), Protocol: &h2c,
				UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: "ca", SubjectName: "authz.auth"}}),
			objs:    []any{authz, caSecretFor(t, "auth", "ca")},
			reasons: []string{"error SpecError/InconsistentProtocol"},
		},
		"CA of another namespace not delegated": {
			ext: extensionService("auth", "ext", contourv1alpha1.ExtensionServiceSpec{Services: extTargets("authz"),
				UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: "other/ca", SubjectName: "authz.auth"}}),
			objs:    []any{authz, caSecretFor(t, "other", "ca")},
			reasons: []string{"error TLSError/CACertificateNotDelegated"},
		},
		"CA of another namespace delegated": {
			ext: extensionService("auth", "ext", contourv1alpha1.ExtensionServiceSpec{Services: extTargets("authz"),
				UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: "other/ca", SubjectName: "authz.auth"}}),
			objs: []any{authz, caSecretFor(t, "other", "ca"), delegation("other", "d", "ca", "auth")},
			want: &ExtensionCluster{Name: "extension/auth/ext", Extension: nn("auth", "ext"), Protocol: ProtocolH2, LoadBalancer: LBRoundRobin,
				SNI: "authz.auth", Targets: []ExtensionTarget{{Service: nn("auth", "authz"), Port: 9000}}},
		},
		"missing CA": {
			ext: extensionService("auth", "ext", contourv1alpha1.ExtensionServiceSpec{Services: extTargets("authz"),
				UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: "ca", SubjectName: "authz.auth"}}),
			objs:    []any{authz},
			reasons: []string{"error SpecError/TLSUpstreamValidation"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := Build(objects(append(tc.objs, tc.ext)...), Config{})
			diff(t, tc.reasons, nilIfEmpty(extReasons(d, tc.ext.Namespace, tc.ext.Name)))
			var got *ExtensionCluster
			if len(d.ExtensionClusters) > 0 {
				got = d.ExtensionClusters[0]
				if got.Validation != nil {
					// The CA's bytes are the test's own.
					v := *got.Validation
					v.CA = nil
					got.Validation = nil
				}
			}
			diff(t, tc.want, got)
			if st := d.ExtensionStatuses[nn("auth", "ext")]; st == nil || st.Generation != 2 {
				t.Errorf("status = %+v, want generation 2", st)
			}
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
