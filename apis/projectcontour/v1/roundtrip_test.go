package v1_test

import (
	"testing"

	"github.com/proxyctl/proxyctl/apis/internal/apitest"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// The maximal objects of testdata, one a kind.
var maximal = map[string]struct {
	file string
	obj  func() any
}{
	"HTTPProxy":                {"httpproxy-maximal.yaml", func() any { return &contourv1.HTTPProxy{} }},
	"TLSCertificateDelegation": {"tlscertificatedelegation-maximal.yaml", func() any { return &contourv1.TLSCertificateDelegation{} }},
}

// TestRoundTrip decodes each testdata object strictly (an unknown field is
// an error, so the types must model every field the file uses), encodes it
// again and requires the result to be semantically equal to the input.
func TestRoundTrip(t *testing.T) {
	for name, tc := range maximal {
		t.Run(name, func(t *testing.T) { apitest.RoundTrip(t, tc.file, tc.obj()) })
	}
}

// TestMaximalObjectsSetEveryField keeps the testdata honest: every field of
// every type of this package that an object can reach must be non-zero at
// least once in the maximal fixtures, so a field added to the types without
// a fixture value makes this test fail.
func TestMaximalObjectsSetEveryField(t *testing.T) {
	for name, tc := range maximal {
		t.Run(name, func(t *testing.T) {
			apitest.SetsEveryField(t, tc.file, tc.obj(), apitest.PkgPath(contourv1.HTTPProxy{}))
		})
	}
}
