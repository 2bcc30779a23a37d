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
// changes.
//
// What is written, as Contour writes it:
//   - valid: currentStatus "valid", description "Valid HTTPProxy", Valid
//     condition True with reason Valid and the same message.
//   - invalid: currentStatus "invalid", description "At least one error
//     present, see Errors for details" (the Valid condition's message; the
//     errors themselves are in the condition, one sub-condition each),
//     Valid condition False with reason ErrorPresent.
//   - orphaned: currentStatus "orphaned", description the Orphaned error's
//     message ("this HTTPProxy is not part of a delegation chain from a root
//     HTTPProxy"), Valid condition False with an Orphaned error. The error is
//     added when the DAG result does not carry one.
//
// Errors decide: a result that says "valid" but carries errors is invalid.
// The DAG's Description is not used: the description is a function of the
// Valid condition, as in Contour, so every writer shows the same text.
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
	cond := validCondition(ps)
	cond.ObservedGeneration = ps.Generation
	cond.LastTransitionTime = now
	if old := existing.GetConditionFor(contourv1.ConditionTypeValid); old != nil && old.Status == cond.Status && !old.LastTransitionTime.IsZero() {
		cond.LastTransitionTime = old.LastTransitionTime
	}

	out := *existing.DeepCopy()
	switch {
	case cond.Status == metav1.ConditionTrue:
		out.CurrentStatus = contourv1.StatusValid
		out.Description = cond.Message
	case isOrphaned(cond):
		sub, _ := cond.GetError(contourv1.ConditionTypeOrphanedError)
		out.CurrentStatus = contourv1.StatusOrphaned
		out.Description = sub.Message
	default:
		out.CurrentStatus = contourv1.StatusInvalid
		out.Description = cond.Message
	}

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

// showsAddress reports whether status shows lb already; any status does
// when lb is nil (loadBalancer is not ours). Nil and empty lists are the
// same to a reader.
func showsAddress(status contourv1.HTTPProxyStatus, lb *corev1.LoadBalancerStatus) bool {
	return lb == nil || equality.Semantic.DeepEqual(status.LoadBalancer, *lb)
}

// validCondition is the Valid condition for ps, without generation and
// transition time.
func validCondition(ps *dag.ProxyStatus) contourv1.DetailedCondition {
	c := contourv1.DetailedCondition{Condition: metav1.Condition{
		Type:    contourv1.ConditionTypeValid,
		Status:  metav1.ConditionTrue,
		Reason:  contourv1.ReasonValid,
		Message: contourv1.DescriptionValid,
	}}
	for _, e := range ps.Errors {
		c.Errors = append(c.Errors, subCondition(e))
	}
	for _, w := range ps.Warnings {
		c.Warnings = append(c.Warnings, subCondition(w))
	}
	if ps.CurrentStatus == contourv1.StatusOrphaned && !isOrphaned(c) {
		c.Errors = append(c.Errors, contourv1.SubCondition{
			Type:    contourv1.ConditionTypeOrphanedError,
			Status:  metav1.ConditionTrue,
			Reason:  contourv1.ReasonOrphaned,
			Message: contourv1.DescriptionOrphaned,
		})
	}
	if len(c.Errors) > 0 || ps.CurrentStatus == contourv1.StatusInvalid || ps.CurrentStatus == contourv1.StatusOrphaned {
		c.Status = metav1.ConditionFalse
		c.Reason = contourv1.ReasonErrorPresent
		c.Message = contourv1.MessageErrorPresent
	}
	return c
}

// currentStatus is the currentStatus Desired writes for ps, without
// building the condition: valid, invalid or orphaned.
func currentStatus(ps *dag.ProxyStatus) string {
	orphaned := ps.CurrentStatus == contourv1.StatusOrphaned
	for _, e := range ps.Errors {
		orphaned = orphaned || e.Type == contourv1.ConditionTypeOrphanedError
	}
	switch {
	case orphaned:
		return contourv1.StatusOrphaned
	case len(ps.Errors) > 0 || ps.CurrentStatus == contourv1.StatusInvalid:
		return contourv1.StatusInvalid
	}
	return contourv1.StatusValid
}

func isOrphaned(c contourv1.DetailedCondition) bool {
	_, ok := c.GetError(contourv1.ConditionTypeOrphanedError)
	return ok
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

func withoutTransitionTimes(s contourv1.HTTPProxyStatus) contourv1.HTTPProxyStatus {
	if len(s.Conditions) == 0 {
		s.Conditions = nil
		return s
	}
	conds := make([]contourv1.DetailedCondition, len(s.Conditions))
	for i, c := range s.Conditions {
		c.LastTransitionTime = metav1.Time{}
		if len(c.Errors) == 0 {
			c.Errors = nil
		}
		if len(c.Warnings) == 0 {
			c.Warnings = nil
		}
		conds[i] = c
	}
	s.Conditions = conds
	return s
}

// stale reports whether the Valid condition that existing shows was
// written for a newer generation than generation: a result for an older
// generation must never replace it.
func stale(existing contourv1.HTTPProxyStatus, generation int64) bool {
	c := existing.GetConditionFor(contourv1.ConditionTypeValid)
	return c != nil && c.ObservedGeneration > generation
}
