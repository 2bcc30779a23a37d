package v1

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DetailedCondition is a standard Kubernetes condition that also lists the
// individual errors and warnings behind its state.
//
// For the positive-polarity `Valid` condition, status True means the
// object was accepted: Errors is empty (Warnings may not be). Status False
// means at least one entry in Errors. Any other condition type is read the
// other way round: True means a problem is present.
type DetailedCondition struct {
	metav1.Condition `json:",inline"`

	// Errors are the problems that decide the condition's state. They are
	// present only while the problem is.
	// +optional
	Errors []SubCondition `json:"errors,omitempty"`

	// Warnings are problems that do not change the condition's state.
	// +optional
	Warnings []SubCondition `json:"warnings,omitempty"`
}

// SubCondition is one error or warning inside a DetailedCondition. Its
// Type reads as "problem present", e.g. `IncludeError` with status True.
type SubCondition struct {
	// Type of the problem, in CamelCase, optionally prefixed with a DNS
	// subdomain and a slash (`example.com/CamelCase`).
	// +required
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$`
	// +kubebuilder:validation:MaxLength=316
	Type string `json:"type"`

	// Status is True, False or Unknown.
	// +required
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Enum=True;False;Unknown
	Status metav1.ConditionStatus `json:"status"`

	// Reason is a CamelCase, machine-readable cause.
	// +required
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:Pattern=`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`
	Reason string `json:"reason"`

	// Message explains the problem to a person; it may be empty.
	// +required
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MaxLength=32768
	Message string `json:"message"`
}

// MaxMessageLength is the longest message the CRD schema accepts in a
// SubCondition; longer messages are cut to this length.
const MaxMessageLength = 32768

// IsPositivePolarity reports whether status True means "all is well" for
// this condition type, as it does for Valid.
func (dc *DetailedCondition) IsPositivePolarity() bool {
	return dc.Type == ConditionTypeValid
}

// AddError records an error sub-condition and sets the condition's
// status, reason and message to say that errors are present.
func (dc *DetailedCondition) AddError(errorType, reason, message string) {
	if dc.IsPositivePolarity() {
		dc.Status = metav1.ConditionFalse
	} else {
		dc.Status = metav1.ConditionTrue
	}
	dc.Reason = ReasonErrorPresent
	dc.Message = MessageErrorPresent
	dc.Errors = append(dc.Errors, newSubCondition(errorType, reason, message))
}

// AddErrorf is AddError with a formatted message.
func (dc *DetailedCondition) AddErrorf(errorType, reason, format string, args ...any) {
	dc.AddError(errorType, reason, fmt.Sprintf(format, args...))
}

// AddWarning records a warning sub-condition. Warnings leave the
// condition's status, reason and message alone.
func (dc *DetailedCondition) AddWarning(warnType, reason, message string) {
	dc.Warnings = append(dc.Warnings, newSubCondition(warnType, reason, message))
}

// AddWarningf is AddWarning with a formatted message.
func (dc *DetailedCondition) AddWarningf(warnType, reason, format string, args ...any) {
	dc.AddWarning(warnType, reason, fmt.Sprintf(format, args...))
}

// GetError returns the first error sub-condition of the given type.
func (dc *DetailedCondition) GetError(errorType string) (SubCondition, bool) {
	return findSubCondition(dc.Errors, errorType)
}

// GetWarning returns the first warning sub-condition of the given type.
func (dc *DetailedCondition) GetWarning(warnType string) (SubCondition, bool) {
	return findSubCondition(dc.Warnings, warnType)
}

// GetConditionFor returns a pointer to the condition of the given type in
// the status, or nil when there is none.
func (s *HTTPProxyStatus) GetConditionFor(condType string) *DetailedCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == condType {
			return &s.Conditions[i]
		}
	}
	return nil
}

func newSubCondition(condType, reason, message string) SubCondition {
	if len(message) > MaxMessageLength {
		message = message[:MaxMessageLength]
	}
	return SubCondition{
		Type:    condType,
		Status:  metav1.ConditionTrue,
		Reason:  reason,
		Message: message,
	}
}

func findSubCondition(subs []SubCondition, condType string) (SubCondition, bool) {
	for _, s := range subs {
		if s.Type == condType {
			return s, true
		}
	}
	return SubCondition{}, false
}
