package dag

import (
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
	"github.com/proxyctl/proxyctl/internal/certgen"
	"github.com/proxyctl/proxyctl/internal/fixtures"
)

// Fixture builders: one tiny constructor per kind.

// The Kubernetes objects come from the shared fixtures, under the names
// these tests use.
var (
	nn            = fixtures.NN
	service       = fixtures.Service
	endpointSlice = fixtures.EndpointSlice
	root          = fixtures.Root
	child         = fixtures.Child
	route         = fixtures.Route
	svcRef        = fixtures.ServiceRef
)

// withIncludes adds includes to p.
func withIncludes(p *contourv1.HTTPProxy, incs ...contourv1.Include) *contourv1.HTTPProxy {
	p.Spec.Includes = append(p.Spec.Includes, incs...)
	return p
}

// withTLS gives the root p a TLS secret.
func withTLS(p *contourv1.HTTPProxy, secretName string) *contourv1.HTTPProxy {
	p.Spec.VirtualHost.TLS = &contourv1.TLS{SecretName: secretName}
	return p
}

func include(name, ns, prefix string) contourv1.Include {
	inc := contourv1.Include{Name: name, Namespace: ns}
	if prefix != "" {
		inc.Conditions = []contourv1.MatchCondition{{Prefix: prefix}}
	}
	return inc
}

func weighted(name string, port int, weight int64) contourv1.Service {
	return contourv1.Service{Name: name, Port: port, Weight: weight}
}

var (
	testCertOnce      sync.Once
	testCert, testKey []byte
	testCertFailure   error
)

// certPair returns a certificate for example.com and its key, issued by
// the project's test CA (certgen.CA) once.
func certPair(t testing.TB) ([]byte, []byte) {
	t.Helper()
	testCertOnce.Do(func() {
		ca, err := certgen.NewCA("dag test CA", time.Unix(0, 0), time.Unix(0, 0).Add(100*365*24*time.Hour))
		if err != nil {
			testCertFailure = err
			return
		}
		testCert, testKey, testCertFailure = ca.Issue(certgen.Leaf{CommonName: "example.com", DNSNames: []string{"example.com"}, Usage: x509.ExtKeyUsageServerAuth})
	})
	if testCertFailure != nil {
		t.Fatal(testCertFailure)
	}
	return testCert, testKey
}

// tlsSecret is a valid kubernetes.io/tls Secret.
func tlsSecret(t testing.TB, ns, name string) *corev1.Secret {
	cert, key := certPair(t)
	return fixtures.TLSSecret(ns, name, cert, key)
}

func delegation(ns, name, secret string, targets ...string) *contourv1.TLSCertificateDelegation {
	return &contourv1.TLSCertificateDelegation{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: contourv1.TLSCertificateDelegationSpec{Delegations: []contourv1.CertificateDelegation{
			{SecretName: secret, TargetNamespaces: targets},
		}},
	}
}

// twoRoutes builds default/p, for p.example.com, with the routes "/" and
// path to kuard:8080, after edit changed the second. It returns the DAG
// and the virtual host's routes, most specific first.
func twoRoutes(path string, edit func(r *contourv1.Route)) (*DAG, []*Route) {
	p := root("default", "p", "p.example.com", route("/", svcRef("kuard", 8080)), route(path, svcRef("kuard", 8080)))
	edit(&p.Spec.Routes[1])
	d := Build(objects(p, service("default", "kuard", 8080)), Config{})
	return d, d.HTTP[0].Routes
}

// wantSecondRouteRefused checks that default/p's only error is reason
// ("Type/Reason") with message msg, and that it serves its route "/" only.
func wantSecondRouteRefused(t *testing.T, d *DAG, reason, msg string) {
	t.Helper()
	key := nn("default", "p")
	diff(t, []string{reason}, reasons(d, key))
	diff(t, msg, d.Statuses[key].Errors[0].Message)
	diff(t, []string{"prefix:/ -> default/kuard:8080"}, httpRoutes(d, "p.example.com"))
}

// objects files each object under its kind.
func objects(objs ...any) *Objects {
	o := NewObjects()
	for _, obj := range objs {
		switch v := obj.(type) {
		case *contourv1.HTTPProxy:
			o.HTTPProxies[nn(v.Namespace, v.Name)] = v
		case *corev1.Service:
			o.Services[nn(v.Namespace, v.Name)] = v
		case *discoveryv1.EndpointSlice:
			o.EndpointSlices[nn(v.Namespace, v.Name)] = v
		case *corev1.Secret:
			o.Secrets[nn(v.Namespace, v.Name)] = v
		case *contourv1.TLSCertificateDelegation:
			o.Delegations[nn(v.Namespace, v.Name)] = v
		case *contourv1alpha1.ExtensionService:
			o.ExtensionServices[nn(v.Namespace, v.Name)] = v
		default:
			panic(fmt.Sprintf("objects: unexpected %T", obj))
		}
	}
	return o
}

// Summaries keep expectations short: one line per route.

// summarize renders a route as "match -> action".
func summarize(r *Route) string {
	var match []string
	switch r.PathMatch.Kind {
	case PathPrefix:
		match = append(match, "prefix:"+r.PathMatch.Value)
	case PathExact:
		match = append(match, "exact:"+r.PathMatch.Value)
	case PathRegex:
		match = append(match, "regex:"+r.PathMatch.Value)
	}
	for _, h := range r.HeaderMatches {
		inv := ""
		if h.Invert {
			inv = "!"
		}
		match = append(match, fmt.Sprintf("header:%s%s%d=%s", inv, h.Name, h.Kind, h.Value))
	}
	for _, q := range r.QueryMatches {
		match = append(match, fmt.Sprintf("query:%s%d=%s", q.Name, q.Kind, q.Value))
	}
	var action string
	switch {
	case r.DirectResponse != nil:
		action = fmt.Sprintf("%d", r.DirectResponse.StatusCode)
	case r.Redirect != nil:
		action = fmt.Sprintf("redirect %s %d", r.Redirect.Scheme, r.Redirect.StatusCode)
	default:
		var cs []string
		for _, wc := range r.Clusters {
			c := wc.Cluster
			s := fmt.Sprintf("%s/%s:%d", c.Service.Namespace, c.Service.Name, c.Port)
			if wc.Weight != 0 {
				s += fmt.Sprintf("*%d", wc.Weight)
			}
			cs = append(cs, s)
		}
		action = strings.Join(cs, ",")
		if r.Mirror != nil {
			action += fmt.Sprintf(" mirror %s/%s:%d", r.Mirror.Service.Namespace, r.Mirror.Service.Name, r.Mirror.Port)
		}
	}
	return strings.Join(match, " ") + " -> " + action
}

// httpRoutes summarizes the routes of the plain-HTTP virtual host fqdn
// (nil when not served).
func httpRoutes(d *DAG, fqdn string) []string {
	for _, vh := range d.HTTP {
		if vh.Name == fqdn {
			return summarizeAll(vh.Routes)
		}
	}
	return nil
}

// httpsRoutes is httpRoutes for the TLS listener.
func httpsRoutes(d *DAG, fqdn string) []string {
	if svh := secureVhost(d, fqdn); svh != nil {
		return summarizeAll(svh.Routes)
	}
	return nil
}

func secureVhost(d *DAG, fqdn string) *SecureVirtualHost {
	for _, svh := range d.HTTPS {
		if svh.Name == fqdn {
			return svh
		}
	}
	return nil
}

func summarizeAll(routes []*Route) []string {
	out := []string{}
	for _, r := range routes {
		out = append(out, summarize(r))
	}
	return out
}

// reasons lists "Type/Reason" of a proxy's errors, or its status when it
// has none ("valid", "orphaned").
func reasons(d *DAG, key types.NamespacedName) []string {
	ps := d.Statuses[key]
	if ps == nil {
		return []string{"no status"}
	}
	switch {
	case len(ps.Errors) > 0:
	case ps.Orphaned:
		return []string{"orphaned"}
	default:
		return []string{"valid"}
	}
	var out []string
	for _, c := range ps.Errors {
		out = append(out, c.Type+"/"+c.Reason)
	}
	return out
}

// findCluster returns the cluster of service ns/name port, or nil.
func findCluster(d *DAG, ns, name string, port int32) *Cluster {
	for _, c := range d.Clusters {
		if c.Service == nn(ns, name) && c.Port == port {
			return c
		}
	}
	return nil
}

func diff(t *testing.T, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestBuildNilAndEmpty(t *testing.T) {
	for name, objs := range map[string]*Objects{
		"nil":        nil,
		"empty":      NewObjects(),
		"nil maps":   {},
		"nil values": {HTTPProxies: map[types.NamespacedName]*contourv1.HTTPProxy{nn("a", "b"): nil}, Services: map[types.NamespacedName]*corev1.Service{nn("a", "s"): nil}, EndpointSlices: map[types.NamespacedName]*discoveryv1.EndpointSlice{nn("a", "e"): nil}, Secrets: map[types.NamespacedName]*corev1.Secret{nn("a", "x"): nil}, Delegations: map[types.NamespacedName]*contourv1.TLSCertificateDelegation{nn("a", "d"): nil}},
	} {
		t.Run(name, func(t *testing.T) {
			d := Build(objs, Config{})
			if d == nil || d.Statuses == nil {
				t.Fatalf("Build returned %#v", d)
			}
			if objs != nil && len(d.Statuses) != len(objs.HTTPProxies) {
				t.Errorf("got %d statuses for %d proxies", len(d.Statuses), len(objs.HTTPProxies))
			}
		})
	}
}

func discoveryEndpoint(addr string, ready *bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ready}}
}
