package dag

import (
	"slices"

	"k8s.io/apimachinery/pkg/types"
)

// proxySet is a set of proxy keys, sorted. Most sets have one key, kept
// inline: most proxies are reached by one root, most fqdns claimed by one.
// A set in a map is never empty.
type proxySet struct {
	one  types.NamespacedName
	many []types.NamespacedName // every key, once there are two
}

func (s proxySet) with(k types.NamespacedName) proxySet {
	if s.many == nil {
		if s.one == k {
			return s
		}
		a, b := s.one, k
		if compareName(b, a) < 0 {
			a, b = b, a
		}
		return proxySet{many: []types.NamespacedName{a, b}}
	}
	i, ok := slices.BinarySearchFunc(s.many, k, compareName)
	if !ok {
		s.many = slices.Insert(s.many, i, k)
	}
	return s
}

// without returns the set without k, and whether it is empty.
func (s proxySet) without(k types.NamespacedName) (proxySet, bool) {
	if s.many == nil {
		return s, s.one == k
	}
	if i, ok := slices.BinarySearchFunc(s.many, k, compareName); ok {
		s.many = slices.Delete(s.many, i, i+1)
	}
	if len(s.many) == 1 {
		return proxySet{one: s.many[0]}, false
	}
	return s, len(s.many) == 0
}

func (s proxySet) len() int {
	if s.many == nil {
		return 1
	}
	return len(s.many)
}

func (s proxySet) each(f func(types.NamespacedName)) {
	if s.many == nil {
		f(s.one)
		return
	}
	for _, k := range s.many {
		f(k)
	}
}
