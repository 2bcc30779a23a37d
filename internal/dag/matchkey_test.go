package dag

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestMatchKeyText pins the text of matchKey, which breaks ties between
// routes: it is what fmt's %q, %d and %t write.
func TestMatchKeyText(t *testing.T) {
	hs := []HeaderMatch{
		{Name: "X-B", Kind: HeaderExact, Value: "v\"1", Invert: true},
		{Name: "x-a", Kind: HeaderRegex, Value: "é.*", IgnoreCase: true, TreatMissingAsEmpty: true},
	}
	qs := []QueryMatch{{Name: "q", Kind: QueryPrefix, Value: "\x00", IgnoreCase: true}, {Name: "a", Kind: QueryPresent}}
	var want []string
	for _, h := range hs {
		want = append(want, fmt.Sprintf("%q/%d/%q/%t/%t/%t", strings.ToLower(h.Name), h.Kind, h.Value, h.Invert, h.IgnoreCase, h.TreatMissingAsEmpty))
	}
	slices.Sort(want)
	text := fmt.Sprintf("%d%q", PathRegex, "/a\tb")
	for _, h := range want {
		text += "|h" + h
	}
	want = nil
	for _, q := range qs {
		want = append(want, fmt.Sprintf("%q/%d/%q/%t", q.Name, q.Kind, q.Value, q.IgnoreCase))
	}
	slices.Sort(want)
	for _, q := range want {
		text += "|q" + q
	}
	diff(t, text, matchKey(PathMatch{Kind: PathRegex, Value: "/a\tb"}, hs, qs))
	diff(t, "0\"/\"", matchKey(PathMatch{Kind: PathPrefix, Value: "/"}, nil, nil))
}
