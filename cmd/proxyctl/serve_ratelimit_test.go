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
	"github.com/proxyctl/proxyctl/internal/xds"
)

// The rate limit settings default as Contour's documentation has them
// (domain contour, fail-open and the headers off) and reach the filter
// with what the ExtensionService says, read once at start-up.
func TestServeRateLimitService(t *testing.T) {
	s, err := parseServe(t, "--insecure")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rateLimitSettings{Domain: "contour"}, s.rateLimit); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	none, err := rateLimitService(context.Background(), fake.NewSimpleClientset(), s.rateLimitService, s.rateLimit)
	if err != nil || none != (xds.RateLimitService{}) {
		t.Errorf("without --rate-limit-service: %+v, %v; want none", none, err)
	}

	s, err = parseServe(t, "--insecure", "--rate-limit-service", "projectcontour/ratelimit", "--rate-limit-domain", "shop",
		"--rate-limit-fail-open", "--rate-limit-x-ratelimit-headers", "--rate-limit-resource-exhausted-code")
	if err != nil {
		t.Fatal(err)
	}
	if want := (types.NamespacedName{Namespace: "projectcontour", Name: "ratelimit"}); s.rateLimitService != want {
		t.Errorf("service %v, want %v", s.rateLimitService, want)
	}
	if _, err := rateLimitService(context.Background(), fake.NewSimpleClientset(), s.rateLimitService, s.rateLimit); err == nil ||
		!strings.Contains(err.Error(), "error getting extension service projectcontour/ratelimit") {
		t.Errorf("a missing ExtensionService: %v, want Contour's error", err)
	}
	ext := &contourv1alpha1.ExtensionService{
		ObjectMeta: metav1.ObjectMeta{Namespace: "projectcontour", Name: "ratelimit"},
		Spec: contourv1alpha1.ExtensionServiceSpec{
			TimeoutPolicy:      &contourv1.TimeoutPolicy{Response: "250ms"},
			UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: "ca", SubjectName: "ratelimit.internal"},
		},
	}
	got, err := rateLimitService(context.Background(), fake.NewSimpleClientset(ext), s.rateLimitService, s.rateLimit)
	if err != nil {
		t.Fatal(err)
	}
	want := xds.RateLimitService{
		ClusterName: "extension/projectcontour/ratelimit", SNI: "ratelimit.internal",
		Timeout: dag.Timeout{Duration: 250 * time.Millisecond}, Domain: "shop",
		FailOpen: true, EnableXRateLimitHeaders: true, EnableResourceExhaustedCode: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("filter settings (-want +got):\n%s", diff)
	}

	ext.Spec.TimeoutPolicy.Response = "soon"
	if _, err := rateLimitService(context.Background(), fake.NewSimpleClientset(ext), s.rateLimitService, s.rateLimit); err == nil ||
		!strings.Contains(err.Error(), `response timeout "soon"`) {
		t.Errorf("a bad timeout: %v", err)
	}
}

// As in Contour, the default global policy comes with the rate limit
// service, never without it.
func TestRateLimitDefaultPolicyNeedsTheService(t *testing.T) {
	def := &contourv1.GlobalRateLimitPolicy{Descriptors: []contourv1.RateLimitDescriptor{{Entries: []contourv1.RateLimitDescriptorEntry{{RemoteAddress: &contourv1.RemoteAddressDescriptor{}}}}}}
	if got := (rateLimitSettings{DefaultGlobalRateLimitPolicy: def}).defaultPolicy(); got != nil {
		t.Errorf("without a service: %v, want none", got)
	}
	if got := (rateLimitSettings{ExtensionService: "a/b", DefaultGlobalRateLimitPolicy: def}).defaultPolicy(); got != def {
		t.Errorf("with a service: %v, want the default", got)
	}
}

// The configuration file's rateLimitService fills the same settings as
// the flags, under Contour's keys; a flag on the command line wins, and
// defaultGlobalRateLimitPolicy (no flag) reaches the DAG's default.
func TestServeConfigFileRateLimitService(t *testing.T) {
	path := writeConfig(t, `
rateLimitService:
  extensionService: projectcontour/ratelimit
  domain: shop
  failOpen: true
  enableXRateLimitHeaders: true
  enableResourceExhaustedCode: true
  defaultGlobalRateLimitPolicy:
    descriptors:
    - entries:
      - remoteAddress: {}
`)
	s, err := parseServe(t, "--insecure", "--config-path", path, "--rate-limit-domain", "flag")
	if err != nil {
		t.Fatal(err)
	}
	want := rateLimitSettings{
		ExtensionService: "projectcontour/ratelimit", Domain: "flag",
		FailOpen: true, EnableXRateLimitHeaders: true, EnableResourceExhaustedCode: true,
		DefaultGlobalRateLimitPolicy: &contourv1.GlobalRateLimitPolicy{Descriptors: []contourv1.RateLimitDescriptor{
			{Entries: []contourv1.RateLimitDescriptorEntry{{RemoteAddress: &contourv1.RemoteAddressDescriptor{}}}}}},
	}
	if diff := cmp.Diff(want, s.rateLimit); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
	if want := (types.NamespacedName{Namespace: "projectcontour", Name: "ratelimit"}); s.rateLimitService != want {
		t.Errorf("service %v, want %v from the file", s.rateLimitService, want)
	}
	if s.rateLimit.defaultPolicy() == nil {
		t.Error("the file's default global policy does not reach the DAG")
	}

	// The file's domain when no flag sets it.
	s, err = parseServe(t, "--insecure", "--config-path", path)
	if err != nil {
		t.Fatal(err)
	}
	if s.rateLimit.Domain != "shop" {
		t.Errorf("domain %q, want shop from the file", s.rateLimit.Domain)
	}

	// A bad name in the file is the same usage error as with the flag.
	if _, err := parseServe(t, "--insecure", "--config-path", writeConfig(t, "rateLimitService:\n  extensionService: ratelimit\n")); err == nil ||
		!strings.Contains(err.Error(), "rateLimitService.extensionService") || !strings.Contains(err.Error(), "namespace/name") {
		t.Errorf("bad extensionService in the file: %v", err)
	}
	// Without a service the file's default policy applies to nothing, as in Contour.
	s, err = parseServe(t, "--insecure", "--config-path", writeConfig(t, "rateLimitService:\n  defaultGlobalRateLimitPolicy:\n    descriptors:\n    - entries:\n      - remoteAddress: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.rateLimit.DefaultGlobalRateLimitPolicy == nil || s.rateLimit.defaultPolicy() != nil {
		t.Errorf("default policy without a service: %+v, want read and not applied", s.rateLimit)
	}
}
