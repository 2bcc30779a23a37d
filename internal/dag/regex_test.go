package dag

import (
	"strings"
	"testing"
)

// envoyProgramSizes are the RE2 program sizes Envoy 1.40 reports for these
// regexes (`envoy --mode validate` of a route with the regex, under a
// runtime with re2.max_program_size.error_level 1, which makes Envoy name
// the size of every regex in its error).
var envoyProgramSizes = map[string]int{
	`/a`:                                 6,
	`/a.*`:                               8,
	`.*`:                                 6,
	`/[a-z]{1,20}`:                       44,
	`/[a-z]{1,50}`:                       104,
	`/[a-z0-9]{1,64}/[a-z]{1,64}`:        324,
	`/[^/]{1,100}`:                       304,
	`/[^/]+/x`:                           10,
	`(?i)/abc[a-z]{1,10}`:                27,
	`(?i)/hello/world`:                   16,
	`(?i)[a-z]{1,10}`:                    23,
	`/[а-я]{1,10}`:                       34,
	`/.{1,20}`:                           64,
	`/\w{1,20}`:                          44,
	`/\d{3}`:                             8,
	`^/api/v[0-9]+/users/[0-9a-f-]{36}$`: 121,
	`/(foo|bar|baz)+`:                    15,
	`/x{1,30}y{1,30}`:                    123,
	`/(a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p)+x{1,30}`: 68,
	`[acegikmoqsuwy]{1,10}`:                      143,
	`/[\p{L}]{1,5}`:                              29,
	`[\p{L}\p{N}]{1,10}`:                         63,
	`[\p{Greek}\p{Han}]{1,10}`:                   103,
	`[^a]{1,10}`:                                 33,
	`\p{Han}`:                                    10,
}

// TestRegexProgramSizeBoundsEnvoy: the estimate is never below what Envoy
// counts, so a regex the DAG accepts is one Envoy accepts, and not so far
// above it that ordinary route regexes are refused.
func TestRegexProgramSizeBoundsEnvoy(t *testing.T) {
	for re, envoy := range envoyProgramSizes {
		got := re2ProgramSize(re)
		if got < envoy {
			t.Errorf("%s: estimated %d, below Envoy's %d", re, got, envoy)
		}
		// Unicode classes, and the Unicode case folding of (?i), are where
		// the estimate is loose; ASCII patterns must stay close.
		unicode := strings.Contains(re, `\p`) || strings.Contains(re, "(?i)")
		if !unicode && got > 5*envoy {
			t.Errorf("%s: estimated %d, more than 5 times Envoy's %d", re, got, envoy)
		}
	}
}

func TestCheckRegex(t *testing.T) {
	for re, wantErr := range map[string]string{
		`/list/[0-9]+`:          "",
		`/list/([`:              "not a valid regular expression",
		`/[a-z0-9]{1,500}`:      "too complex",
		`/[a-z]{1,200}/[0-9]+$`: "",
	} {
		err := checkRegex(re, false)
		if (wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("checkRegex(%q) = %v, want %q", re, err, wantErr)
		}
	}
	if err := checkRegex(`[a-z]{1,300}`, true); err == nil {
		t.Errorf("a regex over the limit once (?i) is added was accepted")
	}
}
