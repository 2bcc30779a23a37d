package v1alpha1_test

import (
	"testing"

	"github.com/proxyctl/proxyctl/apis/internal/apitest"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
)

const maximal = "extensionservice-maximal.yaml"

// TestRoundTrip decodes the maximal ExtensionService strictly (an unknown
// field is an error, so the types must model every field Contour's schema
// has), encodes it again and requires the result to mean the same.
func TestRoundTrip(t *testing.T) {
	apitest.RoundTrip(t, maximal, &contourv1alpha1.ExtensionService{})
}

// TestMaximalObjectSetsEveryField keeps the fixture honest: every field of
// every API struct (of this package or of v1) an ExtensionService can
// reach is set at least once, so a field added to the types without a
// fixture value fails here.
func TestMaximalObjectSetsEveryField(t *testing.T) {
	apitest.SetsEveryField(t, maximal, &contourv1alpha1.ExtensionService{},
		apitest.PkgPath(contourv1alpha1.ExtensionService{}), apitest.PkgPath(contourv1.HTTPProxy{}))
}
