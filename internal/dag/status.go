package dag

import (
	"fmt"

	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// statusAcc collects the errors and warnings of one HTTPProxy. A proxy
// reached along several include paths reports each problem once.
type statusAcc struct {
	errors   []Condition
	warnings []Condition
	seen     map[Condition]bool
}

func (s *statusAcc) add(list *[]Condition, c Condition) {
	if len(c.Message) > contourv1.MaxMessageLength {
		c.Message = c.Message[:contourv1.MaxMessageLength]
	}
	if s.seen == nil {
		s.seen = map[Condition]bool{}
	}
	if s.seen[c] {
		return
	}
	s.seen[c] = true
	*list = append(*list, c)
}

// errorf records an error on the proxy key.
func (b *builder) errorf(key types.NamespacedName, condType, reason, format string, args ...any) {
	s := b.status[key]
	if s == nil {
		return
	}
	s.add(&s.errors, Condition{Type: condType, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// warnf records a warning on the proxy key.
func (b *builder) warnf(key types.NamespacedName, condType, reason, format string, args ...any) {
	s := b.status[key]
	if s == nil {
		return
	}
	s.add(&s.warnings, Condition{Type: condType, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// hasErrors reports whether an error was recorded on key.
func (b *builder) hasErrors(key types.NamespacedName) bool {
	s := b.status[key]
	return s != nil && len(s.errors) > 0
}

// proxyStatus is the final verdict on one proxy: invalid with any error,
// else orphaned when no valid root reaches it, else valid.
func (b *builder) proxyStatus(key types.NamespacedName) *ProxyStatus {
	p := b.proxies[key]
	s := b.status[key]
	ps := &ProxyStatus{
		Proxy:      key,
		Generation: p.Generation,
		Errors:     s.errors,
		Warnings:   s.warnings,
	}
	isRoot := p.Spec.VirtualHost != nil
	switch {
	case len(s.errors) > 0:
		ps.CurrentStatus = contourv1.StatusInvalid
		ps.Description = contourv1.MessageErrorPresent
	case !isRoot && !b.reached[key]:
		ps.CurrentStatus = contourv1.StatusOrphaned
		ps.Description = contourv1.DescriptionOrphaned
		ps.Errors = []Condition{{
			Type:    contourv1.ConditionTypeOrphanedError,
			Reason:  contourv1.ReasonOrphaned,
			Message: contourv1.DescriptionOrphaned,
		}}
	default:
		ps.CurrentStatus = contourv1.StatusValid
		ps.Description = contourv1.DescriptionValid
	}
	return ps
}
