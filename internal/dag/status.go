package dag

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// statusAcc collects the errors and warnings of one HTTPProxy. A proxy
// reached along several include paths, or by several roots, reports each
// problem once.
type statusAcc struct {
	errors   []Condition
	warnings []Condition
	seen     map[Condition]bool // once the lists are long
}

func (s *statusAcc) add(list *[]Condition, c Condition) {
	if len(c.Message) > contourv1.MaxMessageLength {
		c.Message = c.Message[:contourv1.MaxMessageLength]
	}
	if s.seen != nil {
		if s.seen[c] {
			return
		}
		s.seen[c] = true
	} else {
		if slices.Contains(s.errors, c) || slices.Contains(s.warnings, c) {
			return
		}
		if n := len(s.errors) + len(s.warnings); n >= smallList {
			s.seen = make(map[Condition]bool, 2*n)
			for _, x := range s.errors {
				s.seen[x] = true
			}
			for _, x := range s.warnings {
				s.seen[x] = true
			}
			s.seen[c] = true
		}
	}
	*list = append(*list, c)
}

// addAll adds what another accumulator collected, in its order. Within
// one accumulator every condition is unique, so adding its errors before
// its warnings keeps what adding them in the order found would.
func (s *statusAcc) addAll(o *statusAcc) {
	for _, c := range o.errors {
		s.add(&s.errors, c)
	}
	for _, c := range o.warnings {
		s.add(&s.warnings, c)
	}
}

// errorf records an error on the proxy key.
func (b *rootBuild) errorf(key types.NamespacedName, condType, reason, format string, args ...any) {
	s := &b.rec.touch(key).acc
	s.add(&s.errors, Condition{Type: condType, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// warnf records a warning on the proxy key.
func (b *rootBuild) warnf(key types.NamespacedName, condType, reason, format string, args ...any) {
	s := &b.rec.touch(key).acc
	s.add(&s.warnings, Condition{Type: condType, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// reach marks key as part of a delegation chain from the root.
func (b *rootBuild) reach(key types.NamespacedName) { b.rec.touch(key).reached = true }

// proxyStatus is what the build found about one proxy: its errors and
// warnings, and whether it is orphaned (not a root, and no root reaches
// it). The status package turns these facts into Contour's status.
//
// Its errors are those a build from scratch finds in this order: first
// the ones of the proxy alone (nothing defined, root namespace, fqdn,
// duplicate fqdn), then those each root's processing recorded on it, in
// the order of the roots' keys, which is the order a build processes
// them in. Processing one root never reads what another recorded, so
// replaying the memo of each root gives what processing them all again
// would.
func (b *Builder) proxyStatus(key types.NamespacedName, info proxyInfo) *ProxyStatus {
	var s statusAcc
	if info.nothing {
		s.add(&s.errors, Condition{contourv1.ConditionTypeSpecError, contourv1.ReasonNothingDefined,
			"HTTPProxy must define at least one route, include or tcpproxy"})
	}
	if info.rootErr != nil {
		s.add(&s.errors, *info.rootErr)
	}
	if g, ok := b.groups[info.fqdn]; info.fqdn != "" && ok && g.len() > 1 {
		if owner := b.owner(info.fqdn); owner != key {
			var names []string
			g.each(func(k types.NamespacedName) { names = append(names, k.String()) })
			s.add(&s.errors, Condition{contourv1.ConditionTypeVirtualHostError, contourv1.ReasonDuplicateVhost,
				fmt.Sprintf("fqdn %q is used in multiple HTTPProxies: %s; %s was created first and serves it",
					info.fqdn, strings.Join(names, ", "), owner)})
		}
	}
	reached := false
	if roots, ok := b.touchers[key]; ok {
		roots.each(func(root types.NamespacedName) {
			t := b.roots[root].touchOf(key)
			reached = reached || t.reached
			s.addAll(&t.acc)
		})
	}
	return &ProxyStatus{
		Proxy:      key,
		Generation: info.p.Generation,
		Errors:     s.errors,
		Warnings:   s.warnings,
		Orphaned:   info.p.Spec.VirtualHost == nil && !reached,
	}
}

// sameStatus reports whether a and b are deeply equal, nil and empty
// lists told apart as reflect.DeepEqual does.
func sameStatus(a, b *ProxyStatus) bool {
	return a.Proxy == b.Proxy && a.Generation == b.Generation &&
		a.Orphaned == b.Orphaned &&
		sameConditions(a.Errors, b.Errors) && sameConditions(a.Warnings, b.Warnings)
}

func sameConditions(a, b []Condition) bool { return (a == nil) == (b == nil) && slices.Equal(a, b) }
