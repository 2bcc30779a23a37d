package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// TestUnsupportedFieldsAreRefused applies proxies that use stanzas
// proxyctl does not serve yet, as a user migrating from Contour would, and
// checks through a real Envoy that nothing is let through unchecked: the
// proxy is invalid with the field named, and its virtual host answers 404,
// never the backend.
func TestUnsupportedFieldsAreRefused(t *testing.T) {
	s := newStack(t, "echo-a")

	// refused applies manifest, waits for the proxy's error naming the
	// field, then for a proxy applied after it to serve (so Envoy has a
	// configuration built with the refused proxy in it), and checks that
	// each host answers 404.
	refused := func(t *testing.T, ns, manifest, proxy, message string, hosts ...string) {
		t.Helper()
		apply(t, ns, manifest)
		eventually(t, proxy+" is invalid, naming the field", proxyError(ns, proxy, contourv1.ReasonFeatureNotSupported, message))
		sentinel := "sentinel-" + ns + ".example.com"
		apply(t, ns, simpleProxy("sentinel", sentinel, "svc"))
		eventually(t, "a proxy applied later serves", s.expect(t, sentinel, "/", 200, "echo-a"))
		for _, host := range hosts {
			for _, path := range []string{"/", "/admin/x"} {
				if err := s.expect(t, host, path, 404, "")(); err != nil {
					t.Error(err)
				}
			}
		}
	}

	t.Run("an HTTP authorization server", func(t *testing.T) {
		ns := kube.NewNamespace(t)
		s.service(t, ns, "svc", "echo-a")
		refused(t, ns, `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: authz}
spec:
  virtualhost:
    fqdn: authz.example.com
    authorization:
      extensionRef: {name: htpasswd, namespace: auth}
      serviceType: http
  routes:
  - services: [{name: svc, port: 80}]
`, "authz", "spec.virtualhost.authorization.serviceType is not supported yet; the virtual host is not served so that requests are not let through unchecked",
			"authz.example.com")
	})
}

// proxyError returns a check that the proxy ns/name is invalid with an
// error of reason whose message contains message.
func proxyError(ns, name, reason, message string) func() error {
	proxies := versioned.NewForConfigOrDie(kube.RESTConfig()).ProjectcontourV1().HTTPProxies(ns)
	return func() error {
		p, err := proxies.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range p.Status.Conditions {
			for _, e := range c.Errors {
				if e.Reason == reason && strings.Contains(e.Message, message) {
					if p.Status.CurrentStatus != contourv1.StatusInvalid {
						return fmt.Errorf("%s/%s has the error but is %q", ns, name, p.Status.CurrentStatus)
					}
					return nil
				}
			}
		}
		return fmt.Errorf("%s/%s shows %q %+v, want an error %s: %q", ns, name, p.Status.CurrentStatus, p.Status.Conditions, reason, message)
	}
}
