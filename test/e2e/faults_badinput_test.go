package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/test/replica"
	"github.com/proxyctl/proxyctl/test/xdsclient"
)

// TestFaultBadInput feeds the replicas, through the real API server, input
// at the edges of what the schema lets through, with traffic flowing to
// another proxy. Every DESIGN.md §3 error case is covered, with its type,
// reason and message, by TestEveryStatusReason (reasons_test.go); here:
//   - an EndpointSlice for a Service nobody uses: nothing is pushed;
//   - an HTTPProxy of ~1 MiB (the API server stores up to ~1.5 MiB), valid
//     and served; one of ~2 MiB, refused by the API server;
//   - 5,000 routes in one HTTPProxy, valid and served;
//   - a 253-character name and fqdn, valid and served; unicode in a name or
//     fqdn, refused by the API server; unicode in a path and header values,
//     valid, and Envoy accepts the result;
//   - a kubernetes.io/tls Secret whose certificate and key are not PEM:
//     the proxy using it is invalid (TLSError SecretNotValid);
//   - 200 create/delete cycles of one HTTPProxy, then a last create: valid
//     and served.
//
// No replica exits (same PIDs), Envoy rejects no update, and the steady
// proxy serves throughout.
func TestFaultBadInput(t *testing.T) {
	fs := newFaultStack(t, faultOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := fs.proxies().ProjectcontourV1().HTTPProxies(fs.ns)
	pids := fs.pids()
	baseStats := updateStats(t, fs.envoy)

	longFQDN := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
	longName := strings.Repeat("n", 200) + "." + strings.Repeat("m", 52)
	create := func(t *testing.T, p *contourv1.HTTPProxy) error {
		_, err := client.Create(ctx, p, metav1.CreateOptions{})
		return err
	}
	mustCreate := func(t *testing.T, p *contourv1.HTTPProxy) {
		t.Helper()
		if err := create(t, p); err != nil {
			t.Fatalf("create %s: %v", p.Name, err)
		}
	}
	var churnTook time.Duration

	fs.run(t, fault{
		name: "bad input",
		// Building and writing after 1 MiB and 5,000 routes arrived.
		bound: atOnceBound + faultSlack,
		inject: func(t *testing.T, _ *replica.Supervisor) {
			// First, while nothing else changes: a Service nobody uses.
			o := dialObserver(t, ctx, fs.envoyOn.XDSAddr, "observer")
			if err := o.WaitFor(ctx, complete(1)); err != nil {
				t.Fatal(err)
			}
			before := o.Versions()
			if _, err := fs.c.Client.DiscoveryV1().EndpointSlices(fs.ns).Create(ctx, &discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{Name: "ghost-1", Labels: map[string]string{discoveryv1.LabelServiceName: "ghost"}},
				AddressType: discoveryv1.AddressTypeIPv4,
				Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.7"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
				Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](80)}},
			}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			quiet, stop := context.WithTimeout(ctx, time.Second)
			err := o.WaitFor(quiet, func(s map[string]xdsclient.State) bool {
				for typ, v := range before {
					if s[typ].Version != v {
						return true
					}
				}
				return false
			})
			stop()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("an EndpointSlice for a Service nobody uses changed what Envoy is served: %v -> %v (%v)", before, o.Versions(), err)
			}

			// ~1 MiB: 2,300 routes with 420-byte prefixes.
			big := proxyWithRoutes("big", "big.example.com", 2300, func(i int) string {
				return fmt.Sprintf("/big/%04d/%s", i, strings.Repeat("x", 410))
			})
			if n := jsonSize(t, big); n < 1000<<10 || n > 1200<<10 {
				t.Fatalf("the big proxy is %d bytes, want ~1 MiB", n)
			}
			mustCreate(t, big)
			huge := proxyWithRoutes("huge", "huge.example.com", 4600, func(i int) string {
				return fmt.Sprintf("/huge/%04d/%s", i, strings.Repeat("x", 410))
			})
			err = create(t, huge)
			if err == nil {
				t.Errorf("the API server stored a %d-byte HTTPProxy", jsonSize(t, huge))
			} else {
				t.Logf("a %d KiB HTTPProxy is refused: %v", jsonSize(t, huge)>>10, err)
			}

			mustCreate(t, proxyWithRoutes("many", "many.example.com", 5000, func(i int) string { return fmt.Sprintf("/r/%04d", i) }))

			long := proxyWithRoutes(longName, longFQDN, 1, func(int) string { return "/" })
			mustCreate(t, long)
			for _, p := range []*contourv1.HTTPProxy{
				proxyWithRoutes("bücher", "buecher.example.com", 1, func(int) string { return "/" }),
				proxyWithRoutes("buecher", "bücher.example.com", 1, func(int) string { return "/" }),
			} {
				err := create(t, p)
				if err == nil {
					t.Errorf("the API server accepted name %q fqdn %q", p.Name, p.Spec.VirtualHost.Fqdn)
				} else {
					t.Logf("refused: %v", err)
				}
			}
			uni := proxyWithRoutes("unicode", "unicode.example.com", 1, func(int) string { return "/ünïcödé/日本語" })
			uni.Spec.Routes = append(uni.Spec.Routes, contourv1.Route{
				Services: []contourv1.Service{{Name: "web", Port: 80}},
				ResponseHeadersPolicy: &contourv1.HeadersPolicy{
					Set: []contourv1.HeaderValue{{Name: "X-Greeting", Value: "grüße, 世界 👋"}},
				},
			})
			mustCreate(t, uni)

			if _, err := fs.c.Client.CoreV1().Secrets(fs.ns).Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: "garbage"},
				Type:       corev1.SecretTypeTLS,
				Data: map[string][]byte{
					corev1.TLSCertKey:       []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"),
					corev1.TLSPrivateKeyKey: []byte("not a key"),
				},
			}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			tlsProxy := proxyWithRoutes("garbage-cert", "garbage.example.com", 1, func(int) string { return "/" })
			tlsProxy.Spec.VirtualHost.TLS = &contourv1.TLS{SecretName: "garbage"}
			mustCreate(t, tlsProxy)

			began := time.Now()
			churn := proxyWithRoutes("churn", "churn.example.com", 1, func(int) string { return "/" })
			for range 200 {
				mustCreate(t, churn.DeepCopy())
				if err := client.Delete(ctx, "churn", metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			mustCreate(t, churn.DeepCopy())
			churnTook = time.Since(began)
		},
		check: func(t *testing.T, _ *replica.Supervisor) {
			for _, name := range []string{"big", "many", longName, "unicode", "churn"} {
				took := fs.waitValid(t, name, 30*time.Second)
				t.Logf("%.40s is valid (%s more)", name, took.Round(time.Millisecond))
			}
			t.Logf("200 create/delete cycles of one proxy took %s", churnTook.Round(time.Millisecond))
			fs.waitStatus(t, "garbage-cert", contourv1.StatusInvalid, 30*time.Second)
			p, err := client.Get(ctx, "garbage-cert", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var reasons []string
			if c := p.Status.GetConditionFor(contourv1.ConditionTypeValid); c != nil {
				for _, e := range c.Errors {
					reasons = append(reasons, e.Type+"/"+e.Reason+": "+e.Message)
					if e.Type == contourv1.ConditionTypeTLSError && e.Reason == contourv1.ReasonSecretNotValid {
						reasons = nil
						t.Logf("malformed certificate: %s %s: %s", e.Type, e.Reason, e.Message)
						break
					}
				}
			}
			if reasons != nil {
				t.Errorf("the proxy with a malformed certificate shows %v, want TLSError SecretNotValid", reasons)
			}

			for _, c := range []struct{ host, path string }{
				{"big.example.com", fmt.Sprintf("/big/2299/%s", strings.Repeat("x", 410))},
				{"many.example.com", "/r/4999"},
				{longFQDN, "/"},
				{"unicode.example.com", "/"},
				{"churn.example.com", "/"},
			} {
				eventually(t, fmt.Sprintf("%.40s%.40s through Envoy", c.host, c.path), fs.expect(t, c.host, c.path, 200, "a"))
			}
			r, err := fs.get("unicode.example.com", "/", nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("unicode header value through Envoy: X-Greeting %q", r.header.Get("X-Greeting"))
			after := updateStats(t, fs.envoy)
			for name, v := range baseStats {
				if strings.HasSuffix(name, "update_rejected") && after[name] != v {
					t.Errorf("Envoy rejected an update: %s went from %d to %d", name, v, after[name])
				}
			}
			if got := fs.pids(); !maps.Equal(got, pids) {
				t.Errorf("replicas restarted: pids %v, were %v", got, pids)
			}
			for _, s := range fs.sups {
				if n := len(s.Exits()); n != 0 {
					t.Errorf("%s exited %d times: %+v", s.Identity, n, s.Exits())
				}
			}
		},
	})
}

// proxyWithRoutes is a root proxy with n prefix routes to Service web.
func proxyWithRoutes(name, fqdn string, n int, prefix func(i int) string) *contourv1.HTTPProxy {
	p := &contourv1.HTTPProxy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       contourv1.HTTPProxySpec{VirtualHost: &contourv1.VirtualHost{Fqdn: fqdn}},
	}
	for i := range n {
		p.Spec.Routes = append(p.Spec.Routes, contourv1.Route{
			Conditions: []contourv1.MatchCondition{{Prefix: prefix(i)}},
			Services:   []contourv1.Service{{Name: "web", Port: 80}},
		})
	}
	return p
}

func jsonSize(t *testing.T, p *contourv1.HTTPProxy) int {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}
