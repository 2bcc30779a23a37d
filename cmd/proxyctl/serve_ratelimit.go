package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/config"
	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/xds"
)

// rateLimitSettings are Contour's rateLimitService settings, under the
// keys of its configuration file, so that a configuration file can fill
// them as the flags do: the global rate limit service every Envoy asks
// about the descriptors of rateLimitPolicy.global.
type rateLimitSettings struct {
	// ExtensionService is "namespace/name" of the ExtensionService of the
	// rate limit service; empty configures none.
	ExtensionService string `json:"extensionService,omitempty"`
	// Domain is sent with every request; the service's limits are
	// configured per domain.
	Domain string `json:"domain,omitempty"`
	// FailOpen lets requests through when the service fails or does not
	// answer in time; otherwise Envoy denies them.
	FailOpen bool `json:"failOpen,omitempty"`
	// EnableXRateLimitHeaders adds the X-RateLimit-* headers to responses.
	EnableXRateLimitHeaders bool `json:"enableXRateLimitHeaders,omitempty"`
	// EnableResourceExhaustedCode answers limited gRPC requests with
	// RESOURCE_EXHAUSTED instead of UNAVAILABLE.
	EnableResourceExhaustedCode bool `json:"enableResourceExhaustedCode,omitempty"`
	// DefaultGlobalRateLimitPolicy is the global rate limit policy of
	// every virtual host without one of its own (no flag: the
	// configuration file sets it).
	DefaultGlobalRateLimitPolicy *contourv1.GlobalRateLimitPolicy `json:"defaultGlobalRateLimitPolicy,omitempty"`
}

// defaultPolicy is the default global policy the DAG applies: as in
// Contour, only with a rate limit service.
func (r rateLimitSettings) defaultPolicy() *contourv1.GlobalRateLimitPolicy {
	if r.ExtensionService == "" {
		return nil
	}
	return r.DefaultGlobalRateLimitPolicy
}

// defaultRateLimitDomain is the domain of Contour's documentation.
const defaultRateLimitDomain = "contour"

// registerRateLimitFlags registers the flags of the rate limit service,
// each bound to its key under rateLimitService in the configuration file
// (the flag wins). defaultGlobalRateLimitPolicy has no flag: loadConfig
// takes it from the file.
func registerRateLimitFlags(cmd *kingpin.CmdClause, ctx *serveContext) {
	r := &ctx.rateLimit
	ctx.bindFile(cmd.Flag("rate-limit-service", "namespace/name of the ExtensionService of the global rate limit service (Envoy's RateLimitService gRPC API) that rateLimitPolicy.global descriptors are sent to; empty configures none. Read at start-up, as Contour does: it must exist."),
		"rate-limit-service", "rateLimitService.extensionService", "",
		func(p *config.Parameters) { r.ExtensionService = p.RateLimitService.ExtensionService }).StringVar(&r.ExtensionService)
	ctx.bindFile(cmd.Flag("rate-limit-domain", "Domain sent to the rate limit service with every request."),
		"rate-limit-domain", "rateLimitService.domain", "",
		func(p *config.Parameters) { r.Domain = p.RateLimitService.Domain }).Default(defaultRateLimitDomain).StringVar(&r.Domain)
	ctx.bindFile(cmd.Flag("rate-limit-fail-open", "Let requests through when the rate limit service fails or does not answer in time (the ExtensionService's timeoutPolicy.response); by default they are denied."),
		"rate-limit-fail-open", "rateLimitService.failOpen", "",
		func(p *config.Parameters) { r.FailOpen = p.RateLimitService.FailOpen }).BoolVar(&r.FailOpen)
	ctx.bindFile(cmd.Flag("rate-limit-x-ratelimit-headers", "Add the X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset headers to responses checked by the rate limit service."),
		"rate-limit-x-ratelimit-headers", "rateLimitService.enableXRateLimitHeaders", "",
		func(p *config.Parameters) { r.EnableXRateLimitHeaders = p.RateLimitService.EnableXRateLimitHeaders }).BoolVar(&r.EnableXRateLimitHeaders)
	ctx.bindFile(cmd.Flag("rate-limit-resource-exhausted-code", "Answer rate limited gRPC requests with RESOURCE_EXHAUSTED instead of UNAVAILABLE."),
		"rate-limit-resource-exhausted-code", "rateLimitService.enableResourceExhaustedCode", "",
		func(p *config.Parameters) {
			r.EnableResourceExhaustedCode = p.RateLimitService.EnableResourceExhaustedCode
		}).BoolVar(&r.EnableResourceExhaustedCode)
}

// extensionService parses ExtensionService; the zero name when it is
// empty.
func (r rateLimitSettings) extensionService() (types.NamespacedName, error) {
	if r.ExtensionService == "" {
		return types.NamespacedName{}, nil
	}
	ns, name, ok := strings.Cut(r.ExtensionService, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return types.NamespacedName{}, usagef("--rate-limit-service (rateLimitService.extensionService) %q must be namespace/name", r.ExtensionService)
	}
	if r.Domain == "" {
		return types.NamespacedName{}, usagef("--rate-limit-domain (rateLimitService.domain) must not be empty with a rate limit service")
	}
	return types.NamespacedName{Namespace: ns, Name: name}, nil
}

// rateLimitService reads the ExtensionService of the rate limit service
// once, at start-up, as Contour does (a missing one is an error, and a
// later change of its timeout needs a restart): every replica then
// configures the same filter, whatever it sees afterwards. The zero
// value when none is configured.
func rateLimitService(ctx context.Context, client versioned.Interface, key types.NamespacedName, r rateLimitSettings) (xds.RateLimitService, error) {
	if key.Name == "" {
		return xds.RateLimitService{}, nil
	}
	ext, err := client.ProjectcontourV1alpha1().ExtensionServices(key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
	if err != nil {
		return xds.RateLimitService{}, fmt.Errorf("--rate-limit-service: error getting extension service %s: %w", key, err)
	}
	timeout, sni, err := dag.RateLimitServiceSettings(ext)
	if err != nil {
		return xds.RateLimitService{}, fmt.Errorf("--rate-limit-service: extension service %s: %w", key, err)
	}
	return xds.RateLimitService{
		ClusterName:                 dag.ExtensionClusterName(key),
		SNI:                         sni,
		Timeout:                     timeout,
		Domain:                      r.Domain,
		FailOpen:                    r.FailOpen,
		EnableXRateLimitHeaders:     r.EnableXRateLimitHeaders,
		EnableResourceExhaustedCode: r.EnableResourceExhaustedCode,
	}, nil
}
