package status

import (
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/dag"
)

// Desired returns the status an HTTPProxy should show for the DAG result
// ps, given the status it shows now (existing, not modified). now is the
// time recorded as lastTransitionTime when the Valid condition's status
// changes. What it shows is render's; Desired only merges it into
// existing.
//
// Only the Valid condition is ours. Conditions of other types (written by
// other controllers) and loadBalancer are kept as they are, in their order;
// the Valid condition replaces ours in place, or is appended.
func Desired(ps *dag.ProxyStatus, existing contourv1.HTTPProxyStatus, now metav1.Time) contourv1.HTTPProxyStatus {
	return DesiredWithAddress(ps, existing, nil, now)
}

// DesiredWithAddress is Desired that also owns loadBalancer when lb is not
// nil: the proxy then shows lb, the Envoy Service's status.loadBalancer, as
// it is (IPs, hostnames and ports, in their order). As in Contour, every
// proxy of our ingress class shows it, whatever its status: Contour's
// address updater copies the Service's address onto each HTTPProxy that
// matches its class, valid or not. A nil lb (no Envoy Service configured,
// or not known yet) leaves loadBalancer as it is.
func DesiredWithAddress(ps *dag.ProxyStatus, existing contourv1.HTTPProxyStatus, lb *corev1.LoadBalancerStatus, now metav1.Time) contourv1.HTTPProxyStatus {
	r := render(ps)
	cond := r.valid
	cond.LastTransitionTime = now
	if old := existing.GetConditionFor(contourv1.ConditionTypeValid); old != nil && old.Status == cond.Status && !old.LastTransitionTime.IsZero() {
		cond.LastTransitionTime = old.LastTransitionTime
	}

	out := *existing.DeepCopy()
	out.CurrentStatus = r.currentStatus
	out.Description = r.description
	if c := out.GetConditionFor(contourv1.ConditionTypeValid); c != nil {
		*c = cond
	} else {
		out.Conditions = append(out.Conditions, cond)
	}
	if lb != nil {
		out.LoadBalancer = *lb.DeepCopy()
	}
	return out
}

// rendered is the part of an HTTPProxy's status that one DAG result
// decides.
type rendered struct {
	currentStatus string
	description   string
	// valid is the Valid condition, with its observedGeneration and
	// without lastTransitionTime (that depends on what the object shows).
	valid contourv1.DetailedCondition
}

// render is the one place where the DAG's facts about a proxy (errors,
// warnings, orphaned) become the status Contour users know; writing,
// comparing and the metrics all go through it. As Contour writes it
// (internal/status/proxystatus.go, ProxyUpdate.Mutate, and the Valid
// condition's AddError):
//   - valid: currentStatus "valid", description "Valid HTTPProxy", Valid
//     condition True with reason Valid and the same message. Warnings do
//     not change it.
//   - invalid, on any error: currentStatus "invalid", description "At
//     least one error present, see Errors for details" (the Valid
//     condition's message; the errors themselves are in the condition, one
//     sub-condition each), Valid condition False with reason ErrorPresent.
//   - orphaned, without error: currentStatus "orphaned", description the
//     Orphaned error's message ("this HTTPProxy is not part of a delegation
//     chain from a root HTTPProxy"), Valid condition False with that one
//     Orphaned error.
//
// Errors decide before orphaned: a proxy no root reaches that is also
// wrong in itself shows what is wrong.
func render(ps *dag.ProxyStatus) rendered {
	c := contourv1.DetailedCondition{Condition: metav1.Condition{
		Type:               contourv1.ConditionTypeValid,
		Status:             metav1.ConditionTrue,
		ObservedGeneration: ps.Generation,
		Reason:             contourv1.ReasonValid,
		Message:            contourv1.DescriptionValid,
	}}
	for _, e := range ps.Errors {
		c.Errors = append(c.Errors, subCondition(e))
	}
	for _, w := range ps.Warnings {
		c.Warnings = append(c.Warnings, subCondition(w))
	}
	r := rendered{currentStatus: contourv1.StatusValid, description: contourv1.DescriptionValid}
	switch {
	case len(ps.Errors) > 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, contourv1.ReasonErrorPresent, contourv1.MessageErrorPresent
		r.currentStatus, r.description = contourv1.StatusInvalid, contourv1.MessageErrorPresent
	case ps.Orphaned:
		c.Errors = append(c.Errors, contourv1.SubCondition{
			Type:    contourv1.ConditionTypeOrphanedError,
			Status:  metav1.ConditionTrue,
			Reason:  contourv1.ReasonOrphaned,
			Message: contourv1.DescriptionOrphaned,
		})
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, contourv1.ReasonErrorPresent, contourv1.MessageErrorPresent
		r.currentStatus, r.description = contourv1.StatusOrphaned, contourv1.DescriptionOrphaned
	}
	r.valid = c
	return r
}

// shownIn reports whether status shows r already, transition time aside.
func (r rendered) shownIn(status contourv1.HTTPProxyStatus) bool {
	have := status.GetConditionFor(contourv1.ConditionTypeValid)
	return have != nil && status.CurrentStatus == r.currentStatus && status.Description == r.description &&
		sameCondition(*have, r.valid)
}

// showsAddress reports whether status shows lb already; any status does
// when lb is nil (loadBalancer is not ours). Nil and empty lists are the
// same to a reader.
func showsAddress(status contourv1.HTTPProxyStatus, lb *corev1.LoadBalancerStatus) bool {
	return lb == nil || equality.Semantic.DeepEqual(status.LoadBalancer, *lb)
}

func subCondition(c dag.Condition) contourv1.SubCondition {
	return contourv1.SubCondition{
		Type:    c.Type,
		Status:  metav1.ConditionTrue,
		Reason:  c.Reason,
		Message: truncate(c.Message, contourv1.MaxMessageLength),
	}
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		if r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

// NeedsUpdate reports whether writing desired over existing changes
// anything a reader would notice. Transition times are not compared: a
// condition whose only difference is its lastTransitionTime (Desired keeps
// it unless the status flips; the API server also rounds it to seconds) is
// not worth a write.
func NeedsUpdate(existing, desired contourv1.HTTPProxyStatus) bool {
	return !equality.Semantic.DeepEqual(withoutTransitionTimes(existing), withoutTransitionTimes(desired))
}

// sameCondition reports whether a and b read the same, transition time
// aside.
func sameCondition(a, b contourv1.DetailedCondition) bool {
	return equality.Semantic.DeepEqual(forComparison(a), forComparison(b))
}

func withoutTransitionTimes(s contourv1.HTTPProxyStatus) contourv1.HTTPProxyStatus {
	if len(s.Conditions) == 0 {
		s.Conditions = nil
		return s
	}
	conds := make([]contourv1.DetailedCondition, len(s.Conditions))
	for i, c := range s.Conditions {
		conds[i] = forComparison(c)
	}
	s.Conditions = conds
	return s
}

// forComparison is c without its transition time, with empty lists nil: what
// a reader compares.
func forComparison(c contourv1.DetailedCondition) contourv1.DetailedCondition {
	c.LastTransitionTime = metav1.Time{}
	if len(c.Errors) == 0 {
		c.Errors = nil
	}
	if len(c.Warnings) == 0 {
		c.Warnings = nil
	}
	return c
}

// stale reports whether the Valid condition that existing shows was
// written for a newer generation than generation: a result for an older
// generation must never replace it.
func stale(existing contourv1.HTTPProxyStatus, generation int64) bool {
	c := existing.GetConditionFor(contourv1.ConditionTypeValid)
	return c != nil && c.ObservedGeneration > generation
}
