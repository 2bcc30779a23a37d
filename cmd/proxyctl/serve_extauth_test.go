package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned/fake"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
	"github.com/proxyctl/proxyctl/internal/dag"
)

// The configuration file's globalExtAuth becomes the DAG's default
// authorization server, as Contour builds it, and the listener's filter
// from its ExtensionService, read at start-up (a missing one stops the
// start, as in Contour).
func TestServeConfigFileGlobalExtAuth(t *testing.T) {
	path := writeConfig(t, `
globalExtAuth:
  extensionService: auth/authz
  serviceType: grpc
  responseTimeout: 1s
  failOpen: true
  authPolicy:
    disabled: false
    context: {scope: global}
  withRequestBody: {allowPartialMessage: true}
`)
	s, err := parseServe(t, "--insecure", "--config-path", path)
	if err != nil {
		t.Fatal(err)
	}
	want := &contourv1.AuthorizationServer{
		ExtensionServiceRef: contourv1.ExtensionServiceReference{Namespace: "auth", Name: "authz"},
		ServiceType:         "grpc", ResponseTimeout: "1s", FailOpen: true,
		AuthPolicy:      &contourv1.AuthorizationPolicy{Context: map[string]string{"scope": "global"}},
		WithRequestBody: &contourv1.AuthorizationServerBufferSettings{AllowPartialMessage: true},
	}
	if diff := cmp.Diff(want, s.globalAuth); diff != "" {
		t.Errorf("authorization server (-want +got):\n%s", diff)
	}

	if _, err := globalAuthorization(context.Background(), fake.NewSimpleClientset(), s.globalAuth); err == nil ||
		!strings.Contains(err.Error(), "error getting extension service auth/authz") {
		t.Errorf("a missing ExtensionService: %v, want Contour's error", err)
	}
	ext := &contourv1alpha1.ExtensionService{
		ObjectMeta: metav1.ObjectMeta{Namespace: "auth", Name: "authz"},
		Spec:       contourv1alpha1.ExtensionServiceSpec{TimeoutPolicy: &contourv1.TimeoutPolicy{Response: "3s"}},
	}
	got, err := globalAuthorization(context.Background(), fake.NewSimpleClientset(ext), s.globalAuth)
	if err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: "auth", Name: "authz"}
	wantFilter := &dag.ExternalAuthorization{
		Cluster:  &dag.ExtensionCluster{Name: dag.ExtensionClusterName(key), Extension: key},
		FailOpen: true, ResponseTimeout: dag.Timeout{Duration: time.Second},
		WithRequestBody: &dag.AuthorizationBody{MaxRequestBytes: 1024, AllowPartialMessage: true},
	}
	if diff := cmp.Diff(wantFilter, got); diff != "" {
		t.Errorf("filter (-want +got):\n%s", diff)
	}
	// Without responseTimeout, the ExtensionService's, as in Contour.
	s.globalAuth.ResponseTimeout = ""
	if got, err := globalAuthorization(context.Background(), fake.NewSimpleClientset(ext), s.globalAuth); err != nil ||
		got.ResponseTimeout != (dag.Timeout{Duration: 3 * time.Second}) {
		t.Errorf("timeout %+v, %v; want the ExtensionService's 3s", got, err)
	}
	s.globalAuth.ResponseTimeout = "later"
	if _, err := globalAuthorization(context.Background(), fake.NewSimpleClientset(ext), s.globalAuth); err == nil ||
		!strings.Contains(err.Error(), `responseTimeout "later"`) {
		t.Errorf("a bad timeout: %v", err)
	}

	for name, tc := range map[string]struct{ yaml, want string }{
		"not namespace/name":       {"globalExtAuth:\n  extensionService: authz\n", "must be namespace/name"},
		"settings without service": {"globalExtAuth:\n  failOpen: true\n", "globalExtAuth.failOpen is only used with globalExtAuth.extensionService"},
	} {
		if _, err := parseServe(t, "--insecure", "--config-path", writeConfig(t, tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	// None without the section.
	if s, err := parseServe(t, "--insecure"); err != nil || s.globalAuth != nil {
		t.Errorf("without a file: %+v, %v", s.globalAuth, err)
	}
}
