package dag

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"unicode/utf8"
)

// MaxRegexProgramSize is the largest RE2 program a regex condition may
// compile to. Envoy refuses a whole route configuration over one regex
// above its limit (100 by default), which would stop every virtual host's
// updates; proxyctl's bootstrap raises Envoy's limit to this number, and
// the DAG refuses, on the proxy that wrote it, any regex that may exceed it.
const MaxRegexProgramSize = 1000

// checkRegex reports why re cannot be sent to Envoy: it is not a valid
// regular expression, or it may compile to a program larger than
// MaxRegexProgramSize. ignoreCase is how the condition will match ((?i) is
// added to the regex Envoy gets).
func checkRegex(re string, ignoreCase bool) error {
	if _, err := regexp.Compile(re); err != nil {
		return fmt.Errorf("regex %q is not a valid regular expression: %v", re, err)
	}
	if ignoreCase {
		re = "(?i)" + re
	}
	if n := re2ProgramSize(re); n > MaxRegexProgramSize {
		return fmt.Errorf("regex %q is too complex: it compiles to about %d instructions, at most %d are allowed (use fewer or smaller counted repetitions)",
			re, n, MaxRegexProgramSize)
	}
	return nil
}

// re2ProgramSize estimates, from above, the size of the program Envoy's RE2
// compiles re into. Go's regexp/syntax compiles like RE2 but for character
// classes: RE2 matches bytes, spending about one instruction per ASCII
// range and, thanks to shared UTF-8 suffixes, a bounded few for all the
// rest of a class. The model was checked against the sizes Envoy 1.40
// reports (TestRegexProgramSizeBoundsEnvoy): it is never below them, and
// within a small factor for the ASCII patterns routes use.
func re2ProgramSize(re string) int {
	r, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return 0
	}
	prog, err := syntax.Compile(r.Simplify())
	if err != nil {
		return 0
	}
	n := 8 // RE2's own: fail, match and the unanchored prefix loop
	for _, in := range prog.Inst {
		switch in.Op {
		case syntax.InstRune:
			if len(in.Rune) == 1 {
				n += classCost([]rune{in.Rune[0], in.Rune[0]})
				if syntax.Flags(in.Arg)&syntax.FoldCase != 0 {
					n += 2 // the other case, and the choice
				}
				continue
			}
			n += classCost(in.Rune)
		case syntax.InstRune1:
			n += classCost([]rune{in.Rune[0], in.Rune[0]})
		case syntax.InstRuneAny:
			n += classCost([]rune{0, utf8.MaxRune})
		case syntax.InstRuneAnyNotNL:
			n += classCost([]rune{0, '\n' - 1, '\n' + 1, utf8.MaxRune})
		default:
			n++
		}
	}
	return n
}

// classCost is the instructions of a class given as range pairs: one per
// ASCII range, a bounded number for everything beyond ASCII, one to choose.
func classCost(ranges []rune) int {
	ascii, wide := 0, 0
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		if lo <= utf8.RuneSelf-1 {
			ascii++
		}
		if hi >= utf8.RuneSelf {
			wide++
		}
	}
	return ascii + min(4*wide, 24) + 1
}
