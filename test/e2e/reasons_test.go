package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	"github.com/proxyctl/proxyctl/test/replica"
)

// reasonCase is one HTTPProxy mistake and what the status must say about
// it. In manifests, $OTHER is a namespace that holds a TLS Secret
// ("cert") and delegates it to nobody.
type reasonCase struct {
	manifest string
	// proxy is the HTTPProxy whose status carries the error.
	proxy string
	// reason and typ are the error sub-condition expected on proxy.
	reason, typ string
	// rejected, when set, means the CRD's OpenAPI schema refuses the
	// object: kubectl apply must fail with an error naming this field, and
	// there is no status to check.
	rejected string
	// restrictRoots runs the case under a replica whose --root-namespaces
	// does not name the case's namespace.
	restrictRoots bool
}

// reasonCases covers every reason of DESIGN.md §3. Each case runs in its own
// namespace, which also has a Service "web" with port 80.
var reasonCases = map[string]reasonCase{
	"DuplicateVhost": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: first}
spec:
  virtualhost: {fqdn: dup.reasons.example.com}
  routes: [{services: [{name: web, port: 80}]}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: second}
spec:
  virtualhost: {fqdn: dup.reasons.example.com}
  routes: [{services: [{name: web, port: 80}]}]
`,
		proxy: "second", reason: contourv1.ReasonDuplicateVhost, typ: contourv1.ConditionTypeVirtualHostError,
	},
	// The schema's fqdn pattern (and required) refuse an empty fqdn, as
	// Contour's CRD does: the DAG's FQDNNotSpecified cannot be reached
	// through the API server.
	"FQDNNotSpecified": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: nameless}
spec:
  virtualhost: {fqdn: ""}
  routes: [{services: [{name: web, port: 80}]}]
`,
		rejected: "spec.virtualhost.fqdn",
	},
	"RootProxyNotAllowedInNamespace": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: misplaced}
spec:
  virtualhost: {fqdn: misplaced.reasons.example.com}
  routes: [{services: [{name: web, port: 80}]}]
`,
		proxy: "misplaced", reason: contourv1.ReasonRootProxyNotAllowedInNamespace, typ: contourv1.ConditionTypeRootNamespaceError,
		restrictRoots: true,
	},
	"NothingDefined": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: empty}
spec:
  virtualhost: {fqdn: empty.reasons.example.com}
`,
		proxy: "empty", reason: contourv1.ReasonNothingDefined, typ: contourv1.ConditionTypeSpecError,
	},
	"Orphaned": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: lonely}
spec:
  routes: [{services: [{name: web, port: 80}]}]
`,
		proxy: "lonely", reason: contourv1.ReasonOrphaned, typ: contourv1.ConditionTypeOrphanedError,
	},
	"IncludeNotFound": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: root}
spec:
  virtualhost: {fqdn: notfound.reasons.example.com}
  includes: [{name: missing, conditions: [{prefix: /missing}]}]
  routes: [{services: [{name: web, port: 80}]}]
`,
		proxy: "root", reason: contourv1.ReasonIncludeNotFound, typ: contourv1.ConditionTypeIncludeError,
	},
	"RootIncludesRoot": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: root}
spec:
  virtualhost: {fqdn: outer.reasons.example.com}
  includes: [{name: other-root, conditions: [{prefix: /other}]}]
  routes: [{services: [{name: web, port: 80}]}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: other-root}
spec:
  virtualhost: {fqdn: inner.reasons.example.com}
  routes: [{services: [{name: web, port: 80}]}]
`,
		proxy: "root", reason: contourv1.ReasonRootIncludesRoot, typ: contourv1.ConditionTypeIncludeError,
	},
	// root -> child-a -> child-b -> child-a: the error is on child-b, whose
	// include closes the cycle.
	"IncludeCreatesCycle": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: root}
spec:
  virtualhost: {fqdn: cycle.reasons.example.com}
  includes: [{name: child-a, conditions: [{prefix: /a}]}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: child-a}
spec:
  includes: [{name: child-b, conditions: [{prefix: /b}]}]
  routes: [{services: [{name: web, port: 80}]}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: child-b}
spec:
  includes: [{name: child-a, conditions: [{prefix: /again}]}]
  routes: [{services: [{name: web, port: 80}]}]
`,
		proxy: "child-b", reason: contourv1.ReasonIncludeCreatesCycle, typ: contourv1.ConditionTypeIncludeError,
	},
	"PathMatchConditionsNotValid": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: slashless}
spec:
  virtualhost: {fqdn: path.reasons.example.com}
  routes: [{conditions: [{prefix: api}], services: [{name: web, port: 80}]}]
`,
		proxy: "slashless", reason: contourv1.ReasonPathMatchConditionsNotValid, typ: contourv1.ConditionTypeRouteError,
	},
	// Contour's case: one child included twice with the same conditions.
	"DuplicateMatchConditions/include": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: root}
spec:
  virtualhost: {fqdn: dupinclude.reasons.example.com}
  includes:
  - {name: child, conditions: [{prefix: /blog}]}
  - {name: child, conditions: [{prefix: /blog}]}
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: child}
spec:
  routes: [{services: [{name: web, port: 80}]}]
`,
		proxy: "root", reason: contourv1.ReasonDuplicateMatchConditions, typ: contourv1.ConditionTypeIncludeError,
	},
	// Contour's rule: two includes with the same conditions, whatever
	// they include.
	"DuplicateMatchConditions/include of two children": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: root}
spec:
  virtualhost: {fqdn: dupchildren.reasons.example.com}
  includes:
  - {name: blog, conditions: [{prefix: /api}]}
  - {name: shop, conditions: [{prefix: /api}]}
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: blog}
spec:
  routes: [{services: [{name: web, port: 80}]}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: shop}
spec:
  routes: [{services: [{name: web, port: 80}]}]
`,
		proxy: "root", reason: contourv1.ReasonDuplicateMatchConditions, typ: contourv1.ConditionTypeIncludeError,
	},
	// Ours beyond Contour: two routes of one virtual host with the same
	// match.
	"DuplicateMatchConditions/route": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: twice}
spec:
  virtualhost: {fqdn: duproute.reasons.example.com}
  routes:
  - {conditions: [{prefix: /same}], services: [{name: web, port: 80}]}
  - {conditions: [{prefix: /same}], services: [{name: web, port: 80}]}
`,
		proxy: "twice", reason: contourv1.ReasonDuplicateMatchConditions, typ: contourv1.ConditionTypeRouteError,
	},
	"HeaderMatchConditionsNotValid": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: contradiction}
spec:
  virtualhost: {fqdn: header.reasons.example.com}
  routes:
  - conditions:
    - header: {name: x-env, exact: blue}
    - header: {name: x-env, exact: green}
    services: [{name: web, port: 80}]
`,
		proxy: "contradiction", reason: contourv1.ReasonHeaderMatchConditionsNotValid, typ: contourv1.ConditionTypeRouteError,
	},
	"QueryParameterMatchConditionsNotValid": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: two-matches}
spec:
  virtualhost: {fqdn: query.reasons.example.com}
  routes:
  - conditions: [{queryParameter: {name: page, exact: "1", prefix: "2"}}]
    services: [{name: web, port: 80}]
`,
		proxy: "two-matches", reason: contourv1.ReasonQueryParameterMatchConditionsNotValid, typ: contourv1.ConditionTypeRouteError,
	},
	"RouteActionCountNotValid": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: no-action}
spec:
  virtualhost: {fqdn: action.reasons.example.com}
  routes: [{conditions: [{prefix: /nowhere}]}]
`,
		proxy: "no-action", reason: contourv1.ReasonRouteActionCountNotValid, typ: contourv1.ConditionTypeRouteError,
	},
	"ServiceUnresolvedReference": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: ghost}
spec:
  virtualhost: {fqdn: unresolved.reasons.example.com}
  routes: [{services: [{name: absent, port: 80}]}]
`,
		proxy: "ghost", reason: contourv1.ReasonServiceUnresolvedReference, typ: contourv1.ConditionTypeServiceError,
	},
	// The Service exists but has no port 8080: Contour reports this as
	// ServiceUnresolvedReference and keeps ServicePortInvalid for ports
	// outside 1-65535, which the schema refuses (see the next case).
	"ServiceUnresolvedReference/port not defined": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: wrong-port}
spec:
  virtualhost: {fqdn: port.reasons.example.com}
  routes: [{services: [{name: web, port: 8080}]}]
`,
		proxy: "wrong-port", reason: contourv1.ReasonServiceUnresolvedReference, typ: contourv1.ConditionTypeServiceError,
	},
	// The schema's port range refuses port 0.
	"ServicePortInvalid/out of range": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: port-zero}
spec:
  virtualhost: {fqdn: portzero.reasons.example.com}
  routes: [{services: [{name: web, port: 0}]}]
`,
		rejected: "spec.routes[0].services[0].port",
	},
	"OnlyOneMirror": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: mirrors}
spec:
  virtualhost: {fqdn: mirror.reasons.example.com}
  routes:
  - services:
    - {name: web, port: 80}
    - {name: web, port: 80, mirror: true}
    - {name: web, port: 80, mirror: true, weight: 50}
`,
		proxy: "mirrors", reason: contourv1.ReasonOnlyOneMirror, typ: contourv1.ConditionTypeServiceError,
	},
	"DelegationNotPermitted": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: borrower}
spec:
  virtualhost:
    fqdn: delegation.reasons.example.com
    tls: {secretName: $OTHER/cert}
  routes: [{services: [{name: web, port: 80}]}]
`,
		proxy: "borrower", reason: contourv1.ReasonDelegationNotPermitted, typ: contourv1.ConditionTypeTLSError,
	},
	"SecretNotValid": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: no-cert}
spec:
  virtualhost:
    fqdn: secret.reasons.example.com
    tls: {secretName: missing-cert}
  routes: [{services: [{name: web, port: 80}]}]
`,
		proxy: "no-cert", reason: contourv1.ReasonSecretNotValid, typ: contourv1.ConditionTypeTLSError,
	},
	"TLSConfigNotValid": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: both}
spec:
  virtualhost:
    fqdn: tlsconfig.reasons.example.com
    tls: {secretName: cert, passthrough: true}
  tcpproxy: {services: [{name: web, port: 80}]}
`,
		proxy: "both", reason: contourv1.ReasonTLSConfigNotValid, typ: contourv1.ConditionTypeTLSError,
	},
	"TLSMustBeConfigured": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: plain-tcp}
spec:
  virtualhost: {fqdn: tcp.reasons.example.com}
  tcpproxy: {services: [{name: web, port: 80}]}
`,
		proxy: "plain-tcp", reason: contourv1.ReasonTLSMustBeConfigured, typ: contourv1.ConditionTypeTCPProxyError,
	},
	// "h" passes the schema's duration pattern (every number in it is
	// optional) but is not a duration.
	"TimeoutPolicyNotValid": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: unit-only}
spec:
  virtualhost: {fqdn: timeout.reasons.example.com}
  routes: [{timeoutPolicy: {response: h}, services: [{name: web, port: 80}]}]
`,
		proxy: "unit-only", reason: contourv1.ReasonTimeoutPolicyNotValid, typ: contourv1.ConditionTypeRouteError,
	},
	// Contour's example: the schema's duration pattern refuses it.
	"TimeoutPolicyNotValid/peanut": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: peanut}
spec:
  virtualhost: {fqdn: peanut.reasons.example.com}
  routes: [{timeoutPolicy: {response: peanut}, services: [{name: web, port: 80}]}]
`,
		rejected: "spec.routes[0].timeoutPolicy.response",
	},
	"RetryPolicyNotValid": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: bad-codes}
spec:
  virtualhost: {fqdn: retry.reasons.example.com}
  routes:
  - retryPolicy: {retryOn: [retriable-status-codes], retriableStatusCodes: [600]}
    services: [{name: web, port: 80}]
`,
		proxy: "bad-codes", reason: contourv1.ReasonRetryPolicyNotValid, typ: contourv1.ConditionTypeRouteError,
	},
	// The schema's enum refuses an unknown retryOn.
	"RetryPolicyNotValid/retryOn": {
		manifest: `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: sometimes}
spec:
  virtualhost: {fqdn: retryon.reasons.example.com}
  routes:
  - retryPolicy: {retryOn: [sometimes]}
    services: [{name: web, port: 80}]
`,
		rejected: "spec.routes[0].retryPolicy.retryOn[0]",
	},
}

// TestEveryStatusReason applies, with kubectl, one HTTPProxy mistake per
// reason of DESIGN.md §3, each in its own namespace, and reads back from the
// API server the status one replica wrote: currentStatus, the Valid
// condition (False, at the object's generation) and an error with the
// expected type and reason. A valid proxy applied alongside stays valid.
//
// The cases with restrictRoots run afterwards under a second replica,
// started once the first is gone, whose --root-namespaces names only the
// valid proxy's namespace.
func TestEveryStatusReason(t *testing.T) {
	proxies := versioned.NewForConfigOrDie(kube.RESTConfig()).ProjectcontourV1()
	goodNS := kube.NewNamespace(t)
	other := kube.NewNamespace(t)
	ca := newTestCA(t)
	cert, key := ca.issue(t, "delegation.reasons.example.com")
	tlsSecret(t, other, "cert", cert, key)
	start := func(identity string, args ...string) *replica.Replica {
		return replica.Start(t, replica.Options{
			Binary: replica.Binary(t), Kubeconfig: kube.Kubeconfig, Identity: identity,
			LeaseNamespace: kube.NewNamespace(t), LogDir: t.TempDir(), Args: args,
		})
	}

	first := start("reasons")
	backendService(t, goodNS, "web", "192.0.2.1", 80)
	apply(t, goodNS, simpleProxy("good", "good.reasons.example.com", "web"))
	expectValid := func(t *testing.T) {
		t.Helper()
		eventually(t, "the valid proxy is valid", func() error {
			p, err := proxies.HTTPProxies(goodNS).Get(context.Background(), "good", metav1.GetOptions{})
			if err != nil {
				return err
			}
			c := p.Status.GetConditionFor(contourv1.ConditionTypeValid)
			if p.Status.CurrentStatus != contourv1.StatusValid || c == nil || c.Status != metav1.ConditionTrue ||
				c.ObservedGeneration != p.Generation {
				return fmt.Errorf("good shows %q %q, conditions %+v", p.Status.CurrentStatus, p.Status.Description, p.Status.Conditions)
			}
			return nil
		})
	}
	expectValid(t)
	for name, c := range reasonCases {
		if !c.restrictRoots {
			t.Run(name, func(t *testing.T) { checkReason(t, other, c) })
		}
	}
	// Nothing the broken proxies did touched the valid one.
	expectValid(t)

	first.Kill()
	<-first.Exited()
	start("reasons-restricted", "--root-namespaces", goodNS)
	for name, c := range reasonCases {
		if c.restrictRoots {
			t.Run(name, func(t *testing.T) { checkReason(t, other, c) })
		}
	}
	expectValid(t)
}

// checkReason applies c in a new namespace (with a Service "web" on port 80)
// and checks the outcome: the schema's refusal, or the status of c.proxy.
func checkReason(t *testing.T, other string, c reasonCase) {
	ns := kube.NewNamespace(t)
	manifest := strings.ReplaceAll(c.manifest, "$OTHER", other)
	if c.rejected != "" {
		out, err := kube.KubectlInput(strings.NewReader(manifest), "apply", "-n", ns, "-f", "-")
		if err == nil {
			t.Fatalf("kubectl apply accepted what the schema should refuse:\n%s", out)
		}
		if msg := err.Error() + out; !strings.Contains(msg, c.rejected) {
			t.Fatalf("kubectl apply failed without naming %s: %s", c.rejected, msg)
		}
		t.Logf("refused by the schema: %v", err)
		return
	}

	backendService(t, ns, "web", "192.0.2.1", 80)
	apply(t, ns, manifest)
	wantStatus := contourv1.StatusInvalid
	if c.reason == contourv1.ReasonOrphaned {
		wantStatus = contourv1.StatusOrphaned
	}
	proxies := versioned.NewForConfigOrDie(kube.RESTConfig()).ProjectcontourV1().HTTPProxies(ns)
	var got contourv1.SubCondition
	eventually(t, fmt.Sprintf("%s/%s shows %s", ns, c.proxy, c.reason), func() error {
		p, err := proxies.Get(context.Background(), c.proxy, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.CurrentStatus != wantStatus {
			return fmt.Errorf("currentStatus %q (%q), want %q", p.Status.CurrentStatus, p.Status.Description, wantStatus)
		}
		cond := p.Status.GetConditionFor(contourv1.ConditionTypeValid)
		switch {
		case cond == nil:
			return fmt.Errorf("no Valid condition in %+v", p.Status)
		case cond.Status != metav1.ConditionFalse:
			return fmt.Errorf("Valid condition is %s, want False", cond.Status)
		case cond.ObservedGeneration != p.Generation:
			return fmt.Errorf("Valid condition observed generation %d, object is at %d", cond.ObservedGeneration, p.Generation)
		}
		for _, e := range cond.Errors {
			if e.Reason == c.reason {
				got = e
				return nil
			}
		}
		return fmt.Errorf("no error with reason %s in %+v", c.reason, cond.Errors)
	})
	if got.Type != c.typ {
		t.Errorf("%s is reported with type %s, want %s", c.reason, got.Type, c.typ)
	}
	if got.Message == "" {
		t.Errorf("%s %s has an empty message", got.Type, got.Reason)
	}
	if got.Status != metav1.ConditionTrue {
		t.Errorf("%s %s has status %q, want True", got.Type, got.Reason, got.Status)
	}
	t.Logf("%s %s: %s", got.Type, got.Reason, got.Message)
}
