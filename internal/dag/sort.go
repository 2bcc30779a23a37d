package dag

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

func stableSort[T any](s []T, cmp func(a, b T) int) { slices.SortStableFunc(s, cmp) }

// pathRank orders path kinds: exact first, then regex, then prefix.
func pathRank(k PathMatchKind) int {
	switch k {
	case PathExact:
		return 0
	case PathRegex:
		return 1
	default:
		return 2
	}
}

// compareRoutes orders routes most specific first: exact paths, then
// regular expressions, then prefixes; longer paths first; then routes with
// more header and query conditions. The canonical match key breaks the
// remaining ties, so the order is total within a virtual host.
func compareRoutes(a, b routeEntry) int {
	ra, rb := a.route, b.route
	if c := pathRank(ra.PathMatch.Kind) - pathRank(rb.PathMatch.Kind); c != 0 {
		return c
	}
	if c := len(rb.PathMatch.Value) - len(ra.PathMatch.Value); c != 0 {
		return c
	}
	if c := strings.Compare(ra.PathMatch.Value, rb.PathMatch.Value); c != 0 {
		return c
	}
	na := len(ra.HeaderMatches) + len(ra.QueryMatches)
	nb := len(rb.HeaderMatches) + len(rb.QueryMatches)
	if c := nb - na; c != 0 {
		return c
	}
	if c := len(rb.HeaderMatches) - len(ra.HeaderMatches); c != 0 {
		return c
	}
	return strings.Compare(a.key, b.key)
}

func sortRoutes(entries []routeEntry) {
	slices.SortFunc(entries, compareRoutes)
}

// compareName orders keys by namespace, then name.
func compareName(a, b types.NamespacedName) int {
	switch {
	case a.Namespace < b.Namespace:
		return -1
	case a.Namespace > b.Namespace:
		return 1
	case a.Name < b.Name:
		return -1
	case a.Name > b.Name:
		return 1
	}
	return 0
}
