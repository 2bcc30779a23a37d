package dag

import (
	"fmt"

	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
)

// RateLimitServiceSettings are what the global rate limit filter takes
// from the ExtensionService of the rate limit service, which Contour
// reads once, at start-up: the time a decision may take (its
// timeoutPolicy.response; unset is Envoy's default) and the authority of
// the gRPC requests (its validation's subject name; "" without
// validation).
func RateLimitServiceSettings(ext *contourv1alpha1.ExtensionService) (Timeout, string, error) {
	var response Timeout
	if tp := ext.Spec.TimeoutPolicy; tp != nil {
		var err error
		if response, err = parseTimeout(tp.Response); err != nil {
			return Timeout{}, "", fmt.Errorf("response timeout %q: %v", tp.Response, err)
		}
	}
	var sni string
	if v := ext.Spec.UpstreamValidation; v != nil {
		sni = v.SubjectName
		if sni == "" && len(v.SubjectNames) > 0 {
			sni = v.SubjectNames[0]
		}
	}
	return response, sni, nil
}
