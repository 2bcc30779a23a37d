package main

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/internal/config"
	"github.com/proxyctl/proxyctl/internal/dag"
)

// globalExtAuth is the configuration file's globalExtAuth as the
// authorization server of every virtual host without one of its own (as
// Contour turns it into one); nil when the file names no ExtensionService.
// Any other key of the section without one would do nothing, which is
// refused rather than ignored.
func globalExtAuth(p *config.Parameters) (*contourv1.AuthorizationServer, error) {
	g := p.GlobalExtAuth
	if g.ExtensionService == "" {
		if keys := p.KeysUnder("globalExtAuth"); len(keys) > 0 {
			return nil, usagef("--config-path: %s: %s is only used with globalExtAuth.extensionService", p.File(), keys[0])
		}
		return nil, nil
	}
	ns, name, ok := strings.Cut(g.ExtensionService, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return nil, usagef("--config-path: %s: globalExtAuth.extensionService %q must be namespace/name", p.File(), g.ExtensionService)
	}
	a := &contourv1.AuthorizationServer{
		ExtensionServiceRef: contourv1.ExtensionServiceReference{Namespace: ns, Name: name},
		ServiceType:         contourv1.AuthorizationServiceType(g.ServiceType),
		ResponseTimeout:     g.ResponseTimeout,
		FailOpen:            g.FailOpen,
	}
	if ap := g.AuthPolicy; ap != nil {
		a.AuthPolicy = &contourv1.AuthorizationPolicy{Disabled: ap.Disabled, Context: ap.Context}
	}
	if b := g.WithRequestBody; b != nil {
		a.WithRequestBody = &contourv1.AuthorizationServerBufferSettings{
			MaxRequestBytes: b.MaxRequestBytes, AllowPartialMessage: b.AllowPartialMessage, PackAsBytes: b.PackAsBytes,
		}
	}
	return a, nil
}

// globalAuthorization reads the ExtensionService of the global
// authorization server once, at start-up, as Contour does (a missing one
// is an error): the filter of the HTTP listener and the fallback chain.
// nil when none is configured.
func globalAuthorization(ctx context.Context, client versioned.Interface, a *contourv1.AuthorizationServer) (*dag.ExternalAuthorization, error) {
	if a == nil {
		return nil, nil
	}
	ref := a.ExtensionServiceRef
	ext, err := client.ProjectcontourV1alpha1().ExtensionServices(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("globalExtAuth: error getting extension service %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	ea, err := dag.GlobalAuthorization(a, ext)
	if err != nil {
		return nil, fmt.Errorf("globalExtAuth: extension service %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	return ea, nil
}
