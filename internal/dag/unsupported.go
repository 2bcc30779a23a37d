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
// A security stanza refuses the whole virtual host, wherever it is written
// (the root, or a route of an included proxy): a 404 is better than an
// open door, and refusing only the route would let its requests fall
// through to a less specific route of the same host. Any other stanza
// refuses the scope it is written in: the route, the tcpproxy, or the
// virtual host for a virtual host setting.
//
// The list of fields, with what proxyctl does with each, is the test table
// in fields_test.go; it proves these functions refuse every field it marks
// refused, and generates the README's table.

// Scopes a refusal takes out of service.
const (
	scopeVirtualHost = "virtual host"
	scopeRoute       = "route"
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

// security returns the first refusal that closes the virtual host.
func (rs refusals) security() (refusal, bool) {
	for _, r := range rs {
		if r.security {
			return r, true
		}
	}
	return refusal{}, false
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

// routeRefusals are the refused fields of spec.routes[idx]: none today,
// every field of a route is served. A field added to the API and not
// served yet is checked here (fields_test.go fails until it is listed);
// a security one closes the virtual host of the route's root.
func routeRefusals(idx int, r *contourv1.Route) refusals {
	return nil
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

// closure is a security refusal met while walking a virtual host's
// include tree: the host is not served.
type closure struct {
	proxy types.NamespacedName
	field string
}

// refuseClosedVhost records on root why its virtual host is not served
// when a proxy it includes closed it. The includer's own error names the
// field; the root's says why a valid-looking root serves nothing.
func (b *rootBuild) refuseClosedVhost(root types.NamespacedName, fqdn string, closures []closure) {
	for _, c := range closures {
		if c.proxy == root {
			continue
		}
		b.errorf(root, contourv1.ConditionTypeIncludeError, contourv1.ReasonFeatureNotSupported,
			"virtual host %q is not served: included HTTPProxy %s sets %s, which is not supported yet", fqdn, c.proxy, c.field)
	}
}
