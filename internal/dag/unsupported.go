package dag

import (
	"fmt"

	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// Fields of the HTTPProxy API that the schema accepts but proxyctl does not
// translate into Envoy configuration yet are refused, never ignored: a
// user who wrote an authorization stanza must not get an open site
// reported valid.
//
// A security stanza refuses the whole virtual host: a 404 is better than
// an open door. Any other stanza refuses the scope it is written in: the
// tcpproxy, or the virtual host for a virtual host setting.
//
// Every field of a route is served today, so no route stanza is checked.
// A route field refused in the future must refuse its route; a security
// one must close the whole virtual host of every root that reaches it,
// wherever it is included (refusing only the route would let its
// requests fall through to a less specific route of the same host), as an
// invalid jwtVerificationPolicy does (see jwtPolicy).
//
// The list of fields, with what proxyctl does with each, is the test table
// in fields_test.go; it proves these functions refuse every field it marks
// refused, and generates the README's table.

// Scopes a refusal takes out of service.
const (
	scopeVirtualHost = "virtual host"
	scopeTCPProxy    = "tcpproxy"
)

// refusal is one field that is set but not served.
type refusal struct {
	// path names the field as written, e.g. "spec.routes[2].ipAllowPolicy".
	path string
	// scope is what is not served because of it.
	scope string
	// security marks a stanza whose absence would let requests through
	// that the user meant to check: it refuses the whole virtual host.
	security bool
}

func (r refusal) message() string {
	if r.security {
		return fmt.Sprintf("%s is not supported yet; the virtual host is not served so that requests are not let through unchecked", r.path)
	}
	return fmt.Sprintf("%s is not supported yet; the %s is not served", r.path, r.scope)
}

// refusals collects the refused fields of one stanza.
type refusals []refusal

func (rs *refusals) check(set bool, path, scope string, security bool) {
	if set {
		*rs = append(*rs, refusal{path: path, scope: scope, security: security})
	}
}

// virtualHostRefusals are the refused fields of a root's virtualhost.
func virtualHostRefusals(vh *contourv1.VirtualHost) refusals {
	var rs refusals
	const p = "spec.virtualhost"
	// Only gRPC authorization servers are served: an HTTP one speaks
	// another protocol.
	if a := vh.Authorization; a != nil {
		rs.check(a.ServiceType != "" && a.ServiceType != contourv1.AuthorizationGRPCService, p+".authorization.serviceType", scopeVirtualHost, true)
		rs.check(a.HTTPServerSettings != nil, p+".authorization.httpSettings", scopeVirtualHost, true)
	}
	return rs
}

// tcpProxyRefusals are the refused fields of a tcpproxy's services. The
// HTTP settings of a service have no meaning for a TCP stream, so they
// are refused rather than dropped.
func tcpProxyRefusals(tcp *contourv1.TCPProxy) refusals {
	var rs refusals
	for i := range tcp.Services {
		s := &tcp.Services[i]
		sp := fmt.Sprintf("spec.tcpproxy.services[%d]", i)
		rs.check(s.Mirror, sp+".mirror", scopeTCPProxy, false)
		rs.check(s.RequestHeadersPolicy != nil, sp+".requestHeadersPolicy", scopeTCPProxy, false)
		rs.check(s.ResponseHeadersPolicy != nil, sp+".responseHeadersPolicy", scopeTCPProxy, false)
		rs.check(len(s.CookieRewritePolicies) > 0, sp+".cookieRewritePolicies", scopeTCPProxy, false)
		rs.check(s.SlowStartPolicy != nil, sp+".slowStartPolicy", scopeTCPProxy, false)
	}
	return rs
}

// refuse records an error on key for each refusal and reports whether
// there was any.
func (b *rootBuild) refuse(key types.NamespacedName, rs refusals) bool {
	for _, r := range rs {
		b.errorf(key, contourv1.ConditionTypeSpecError, contourv1.ReasonFeatureNotSupported, "%s", r.message())
	}
	return len(rs) > 0
}
