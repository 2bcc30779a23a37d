package status

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/dag"
)

var (
	t0 = metav1.NewTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 = metav1.NewTime(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC))
)

func valid(gen int64) *dag.ProxyStatus {
	return &dag.ProxyStatus{Proxy: types.NamespacedName{Namespace: "ns", Name: "p"}, Generation: gen}
}

// invalid is a result with errs, or with one error when errs is empty.
func invalid(gen int64, errs ...dag.Condition) *dag.ProxyStatus {
	if len(errs) == 0 {
		errs = []dag.Condition{{Type: "SpecError", Reason: "A", Message: "a"}}
	}
	ps := valid(gen)
	ps.Errors = errs
	return ps
}

func orphaned(gen int64) *dag.ProxyStatus {
	ps := valid(gen)
	ps.Orphaned = true
	return ps
}

func withWarnings(ps *dag.ProxyStatus, ws ...dag.Condition) *dag.ProxyStatus {
	ps.Warnings = ws
	return ps
}

func sub(typ, reason, msg string) contourv1.SubCondition {
	return contourv1.SubCondition{Type: typ, Status: metav1.ConditionTrue, Reason: reason, Message: msg}
}

func validCond(gen int64, ltt metav1.Time) contourv1.DetailedCondition {
	return contourv1.DetailedCondition{Condition: metav1.Condition{
		Type: "Valid", Status: metav1.ConditionTrue, Reason: "Valid", Message: "Valid HTTPProxy",
		ObservedGeneration: gen, LastTransitionTime: ltt,
	}}
}

func invalidCond(gen int64, ltt metav1.Time, errs ...contourv1.SubCondition) contourv1.DetailedCondition {
	return contourv1.DetailedCondition{Condition: metav1.Condition{
		Type: "Valid", Status: metav1.ConditionFalse, Reason: "ErrorPresent",
		Message:            "At least one error present, see Errors for details",
		ObservedGeneration: gen, LastTransitionTime: ltt,
	}, Errors: errs}
}

var orphanSub = sub("Orphaned", "Orphaned", "this HTTPProxy is not part of a delegation chain from a root HTTPProxy")

func TestDesired(t *testing.T) {
	otherCond := contourv1.DetailedCondition{Condition: metav1.Condition{
		Type: "example.com/Programmed", Status: metav1.ConditionTrue, Reason: "Done", LastTransitionTime: t0,
	}}
	lb := corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "10.0.0.1"}}}

	tests := map[string]struct {
		ps       *dag.ProxyStatus
		existing contourv1.HTTPProxyStatus
		want     contourv1.HTTPProxyStatus
	}{
		"valid, from the CRD default": {
			ps:       valid(3),
			existing: contourv1.HTTPProxyStatus{CurrentStatus: "NotReconciled", Description: "Waiting for controller"},
			want: contourv1.HTTPProxyStatus{CurrentStatus: "valid", Description: "Valid HTTPProxy",
				Conditions: []contourv1.DetailedCondition{validCond(3, t1)}},
		},
		"invalid with several errors and warnings": {
			ps: withWarnings(invalid(2,
				dag.Condition{Type: "RouteError", Reason: "ServiceUnresolvedReference", Message: `Service "a" not found`},
				dag.Condition{Type: "TLSError", Reason: "SecretNotValid", Message: "no secret"},
			), dag.Condition{Type: "SpecError", Reason: "NothingDefined", Message: "hmm"}),
			want: contourv1.HTTPProxyStatus{CurrentStatus: "invalid",
				Description: "At least one error present, see Errors for details",
				Conditions: []contourv1.DetailedCondition{func() contourv1.DetailedCondition {
					c := invalidCond(2, t1,
						sub("RouteError", "ServiceUnresolvedReference", `Service "a" not found`),
						sub("TLSError", "SecretNotValid", "no secret"))
					c.Warnings = []contourv1.SubCondition{sub("SpecError", "NothingDefined", "hmm")}
					return c
				}()}},
		},
		"errors decide before orphaned": {
			ps: func() *dag.ProxyStatus {
				ps := orphaned(1)
				ps.Errors = []dag.Condition{{Type: "SpecError", Reason: "NothingDefined", Message: "x"}}
				return ps
			}(),
			want: contourv1.HTTPProxyStatus{CurrentStatus: "invalid",
				Description: "At least one error present, see Errors for details",
				Conditions:  []contourv1.DetailedCondition{invalidCond(1, t1, sub("SpecError", "NothingDefined", "x"))}},
		},
		"valid with warnings stays valid": {
			ps: withWarnings(valid(1), dag.Condition{Type: "RouteError", Reason: "R", Message: "w"}),
			want: contourv1.HTTPProxyStatus{CurrentStatus: "valid", Description: "Valid HTTPProxy",
				Conditions: []contourv1.DetailedCondition{func() contourv1.DetailedCondition {
					c := validCond(1, t1)
					c.Warnings = []contourv1.SubCondition{sub("RouteError", "R", "w")}
					return c
				}()}},
		},
		"orphaned gets the Orphaned error": {
			ps: orphaned(4),
			want: contourv1.HTTPProxyStatus{CurrentStatus: "orphaned",
				Description: "this HTTPProxy is not part of a delegation chain from a root HTTPProxy",
				Conditions:  []contourv1.DetailedCondition{invalidCond(4, t1, orphanSub)}},
		},
		"orphaned keeps its warnings": {
			ps: withWarnings(orphaned(4), dag.Condition{Type: "RouteError", Reason: "R", Message: "w"}),
			want: contourv1.HTTPProxyStatus{CurrentStatus: "orphaned",
				Description: "this HTTPProxy is not part of a delegation chain from a root HTTPProxy",
				Conditions: []contourv1.DetailedCondition{func() contourv1.DetailedCondition {
					c := invalidCond(4, t1, orphanSub)
					c.Warnings = []contourv1.SubCondition{sub("RouteError", "R", "w")}
					return c
				}()}},
		},
		"transition time kept when the status does not flip": {
			ps: valid(5),
			existing: contourv1.HTTPProxyStatus{CurrentStatus: "valid", Description: "Valid HTTPProxy",
				Conditions: []contourv1.DetailedCondition{validCond(4, t0)}},
			want: contourv1.HTTPProxyStatus{CurrentStatus: "valid", Description: "Valid HTTPProxy",
				Conditions: []contourv1.DetailedCondition{validCond(5, t0)}},
		},
		"transition time kept when only the errors change": {
			ps: invalid(5, dag.Condition{Type: "SpecError", Reason: "B", Message: "b"}),
			existing: contourv1.HTTPProxyStatus{CurrentStatus: "invalid", Description: contourv1.MessageErrorPresent,
				Conditions: []contourv1.DetailedCondition{invalidCond(5, t0, sub("SpecError", "A", "a"))}},
			want: contourv1.HTTPProxyStatus{CurrentStatus: "invalid", Description: contourv1.MessageErrorPresent,
				Conditions: []contourv1.DetailedCondition{invalidCond(5, t0, sub("SpecError", "B", "b"))}},
		},
		"transition time is now when the status flips": {
			ps: invalid(5, dag.Condition{Type: "SpecError", Reason: "A", Message: "a"}),
			existing: contourv1.HTTPProxyStatus{CurrentStatus: "valid", Description: "Valid HTTPProxy",
				Conditions: []contourv1.DetailedCondition{validCond(4, t0)}},
			want: contourv1.HTTPProxyStatus{CurrentStatus: "invalid", Description: contourv1.MessageErrorPresent,
				Conditions: []contourv1.DetailedCondition{invalidCond(5, t1, sub("SpecError", "A", "a"))}},
		},
		"other controllers' conditions and loadBalancer are kept in place": {
			ps: valid(2),
			existing: contourv1.HTTPProxyStatus{CurrentStatus: "invalid", LoadBalancer: lb,
				Conditions: []contourv1.DetailedCondition{otherCond, invalidCond(1, t0, sub("SpecError", "A", "a"))}},
			want: contourv1.HTTPProxyStatus{CurrentStatus: "valid", Description: "Valid HTTPProxy", LoadBalancer: lb,
				Conditions: []contourv1.DetailedCondition{otherCond, validCond(2, t1)}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := tc.existing.DeepCopy()
			got := Desired(tc.ps, tc.existing, t1)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Desired (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(*before, tc.existing); diff != "" {
				t.Errorf("Desired modified existing:\n%s", diff)
			}
			// Applying the result again changes nothing.
			if again := Desired(tc.ps, got, t0); NeedsUpdate(got, again) {
				t.Errorf("Desired is not idempotent:\n%s", cmp.Diff(got, again))
			}
			if !upToDate(tc.ps, nil, &contourv1.HTTPProxy{ObjectMeta: metav1.ObjectMeta{Generation: tc.ps.Generation}, Status: got}) {
				t.Error("upToDate says the desired status is stale")
			}
			if upToDate(tc.ps, nil, &contourv1.HTTPProxy{ObjectMeta: metav1.ObjectMeta{Generation: tc.ps.Generation}, Status: tc.existing}) != !NeedsUpdate(tc.existing, got) {
				t.Error("upToDate and NeedsUpdate disagree about the existing status")
			}
		})
	}
}

func TestDesiredBoundsMessages(t *testing.T) {
	long := strings.Repeat("é", contourv1.MaxMessageLength) // 2 bytes each
	got := Desired(invalid(1, dag.Condition{Type: "SpecError", Reason: "A", Message: long}), contourv1.HTTPProxyStatus{}, t0)
	msg := got.Conditions[0].Errors[0].Message
	if len(msg) > contourv1.MaxMessageLength || !utf8.ValidString(msg) || len(msg) < contourv1.MaxMessageLength-1 {
		t.Errorf("message of %d bytes (valid UTF-8: %v), want at most %d", len(msg), utf8.ValidString(msg), contourv1.MaxMessageLength)
	}
}

func TestNeedsUpdate(t *testing.T) {
	base := contourv1.HTTPProxyStatus{CurrentStatus: "valid", Description: "Valid HTTPProxy",
		Conditions: []contourv1.DetailedCondition{validCond(3, t0)}}
	change := func(f func(s *contourv1.HTTPProxyStatus)) contourv1.HTTPProxyStatus {
		s := base.DeepCopy()
		f(s)
		return *s
	}
	tests := map[string]struct {
		existing, desired contourv1.HTTPProxyStatus
		want              bool
	}{
		"identical":                {base, base, false},
		"only the transition time": {base, change(func(s *contourv1.HTTPProxyStatus) { s.Conditions[0].LastTransitionTime = t1 }), false},
		"nil and empty errors":     {base, change(func(s *contourv1.HTTPProxyStatus) { s.Conditions[0].Errors = []contourv1.SubCondition{} }), false},
		"observed generation":      {base, change(func(s *contourv1.HTTPProxyStatus) { s.Conditions[0].ObservedGeneration = 4 }), true},
		"current status":           {base, change(func(s *contourv1.HTTPProxyStatus) { s.CurrentStatus = "invalid" }), true},
		"description":              {base, change(func(s *contourv1.HTTPProxyStatus) { s.Description = "x" }), true},
		"a warning": {base, change(func(s *contourv1.HTTPProxyStatus) {
			s.Conditions[0].Warnings = []contourv1.SubCondition{sub("A", "B", "c")}
		}), true},
		"no condition yet":     {contourv1.HTTPProxyStatus{CurrentStatus: "valid", Description: "Valid HTTPProxy"}, base, true},
		"CRD default to valid": {contourv1.HTTPProxyStatus{CurrentStatus: "NotReconciled", Description: "Waiting for controller"}, base, true},
		"sub-condition message change": {change(func(s *contourv1.HTTPProxyStatus) {
			s.Conditions[0].Errors = []contourv1.SubCondition{sub("A", "B", "c")}
		}), change(func(s *contourv1.HTTPProxyStatus) {
			s.Conditions[0].Errors = []contourv1.SubCondition{sub("A", "B", "d")}
		}), true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := NeedsUpdate(tc.existing, tc.desired); got != tc.want {
				t.Errorf("NeedsUpdate = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUpToDateIgnoresNewerGenerations(t *testing.T) {
	obj := &contourv1.HTTPProxy{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
	if !upToDate(valid(2), nil, obj) {
		t.Error("an object of a newer generation than the result must not be written")
	}
	obj = &contourv1.HTTPProxy{ObjectMeta: metav1.ObjectMeta{Generation: 2},
		Status: contourv1.HTTPProxyStatus{Conditions: []contourv1.DetailedCondition{validCond(3, t0)}}}
	if !upToDate(invalid(2), nil, obj) {
		t.Error("a status observed at a newer generation must not be replaced")
	}
}
