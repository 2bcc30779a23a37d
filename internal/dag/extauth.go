package dag

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
)

// ExternalAuthorization is a TLS virtual host's external authorization:
// Envoy asks the ExtensionService's gRPC server (Envoy's ext_authz v3
// protocol) whether each request may go on, before routing it.
type ExternalAuthorization struct {
	// Cluster is the ExtensionService's cluster.
	Cluster *ExtensionCluster
	// FailOpen lets requests through when the server cannot answer;
	// otherwise they are denied (403).
	FailOpen bool
	// ResponseTimeout bounds the wait for an answer: responseTimeout, else
	// the ExtensionService's timeoutPolicy.response; unset is Envoy's
	// default (200ms).
	ResponseTimeout Timeout
	// WithRequestBody, when set, sends the request body too.
	WithRequestBody *AuthorizationBody
}

// AuthorizationBody is how much of the request body goes to the server.
type AuthorizationBody struct {
	MaxRequestBytes     uint32
	AllowPartialMessage bool
	PackAsBytes         bool
}

// Reasons of authorization errors, as Contour has them.
const (
	reasonAuthNotPermitted           = "AuthNotPermitted"
	reasonAuthBadResourceVersion     = "AuthBadResourceVersion"
	reasonExtensionServiceNotFound   = "ExtensionServiceNotFound"
	reasonAuthResponseTimeoutInvalid = "AuthResponseTimeoutInvalid"
	reasonTLSIncompatibleFeatures    = "TLSIncompatibleFeatures"
)

// defaultMaxRequestBytes is Contour's withRequestBody.maxRequestBytes.
const defaultMaxRequestBytes = 1024

// authScope is what the routes of one virtual host inherit from its
// authorization: whether it is configured at all, whether it is off by
// default, and the context entries of every check.
type authScope struct {
	configured bool
	disabled   bool
	context    map[string]string
}

// route sets the authorization of route r, placed in the virtual host,
// from its own policy p (nil for none) over the virtual host's, as
// Contour does: the route's disabled wins, its context entries are
// merged over the virtual host's.
func (s *authScope) route(r *Route, p *contourv1.AuthorizationPolicy) {
	if s == nil || !s.configured {
		return
	}
	r.AuthDisabled = s.disabled
	ctx := maps.Clone(s.context)
	if p != nil {
		r.AuthDisabled = p.Disabled
		if len(p.Context) > 0 {
			if ctx == nil {
				ctx = make(map[string]string, len(p.Context))
			}
			maps.Copy(ctx, p.Context)
		}
	}
	r.AuthContext = sortedHeaders(ctx)
}

// sortedHeaders turns a map into a list sorted by name, nil when empty.
func sortedHeaders(m map[string]string) []Header {
	if len(m) == 0 {
		return nil
	}
	out := make([]Header, 0, len(m))
	for k, v := range m {
		out = append(out, Header{Name: k, Value: v})
	}
	slices.SortFunc(out, func(a, b Header) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// authorization validates virtualhost.authorization of root key as
// Contour does, before the TLS stanza is processed: an extensionRef needs
// a virtual host that terminates TLS. It returns the scope the routes
// inherit; ok is false, with the error recorded, when the virtual host
// must not be served.
func (b *rootBuild) authorization(key types.NamespacedName, vh *contourv1.VirtualHost, hasTCPProxy bool) (scope *authScope, ok bool) {
	a := vh.Authorization
	if a == nil {
		// As in Contour, the global authorization server's policy is the
		// default of a virtual host that has none.
		g := b.bl.cfg.GlobalExternalAuthorization
		if g == nil {
			return &authScope{}, true
		}
		scope = &authScope{configured: true}
		if g.AuthPolicy != nil {
			scope.disabled, scope.context = g.AuthPolicy.Disabled, g.AuthPolicy.Context
		}
		return scope, true
	}
	scope = &authScope{configured: true}
	if a.AuthPolicy != nil {
		scope.disabled, scope.context = a.AuthPolicy.Disabled, a.AuthPolicy.Context
	}
	if a.ExtensionServiceRef.Name == "" {
		// As in Contour: a policy alone only adjusts a global
		// authorization server.
		return scope, true
	}
	switch {
	case vh.TLS == nil || vh.TLS.SecretName == "":
		// Contour says so for a virtual host without tls, and ignores the
		// stanza with passthrough; proxyctl refuses both, never serving
		// requests unchecked.
		b.errorf(key, contourv1.ConditionTypeAuthError, reasonAuthNotPermitted,
			"Spec.VirtualHost.Authorization.ExtensionServiceRef can only be defined for root HTTPProxies that terminate TLS")
		return scope, false
	case hasTCPProxy:
		// The routes beside a tcpproxy are served on plain HTTP only,
		// where nothing would check them.
		b.errorf(key, contourv1.ConditionTypeAuthError, reasonAuthNotPermitted,
			"Spec.VirtualHost.Authorization.ExtensionServiceRef cannot be combined with a tcpproxy")
		return scope, false
	case vh.TLS.EnableFallbackCertificate:
		b.errorf(key, contourv1.ConditionTypeTLSError, reasonTLSIncompatibleFeatures,
			"Spec.Virtualhost.TLS fallback & client authorization are incompatible")
		return scope, false
	}
	return scope, true
}

// ResolveAuthorization resolves an authorization server for root key:
// the ExtensionService it names (in the proxy's namespace unless it says
// otherwise), its response timeout, fail-open and body settings, with
// Contour's reasons. It is what a root's virtualhost.authorization uses,
// and what a global authorization server configured for every virtual
// host would use. It returns nil, with the error recorded on key, when
// the server cannot be used.
func (b *rootBuild) resolveAuthorization(key types.NamespacedName, a *contourv1.AuthorizationServer) *ExternalAuthorization {
	ref := a.ExtensionServiceRef
	if ref.APIVersion == "" {
		ref.APIVersion = contourv1alpha1.GroupVersion.String()
	}
	if ref.APIVersion != contourv1alpha1.GroupVersion.String() {
		b.errorf(key, contourv1.ConditionTypeAuthError, reasonAuthBadResourceVersion,
			"Spec.Virtualhost.Authorization.extensionRef specifies an unsupported resource version %q", ref.APIVersion)
		return nil
	}
	ns := ref.Namespace
	if ns == "" {
		ns = key.Namespace
	}
	extKey := types.NamespacedName{Namespace: ns, Name: ref.Name}
	c := b.extensionCluster(extKey)
	if c == nil {
		b.errorf(key, contourv1.ConditionTypeAuthError, reasonExtensionServiceNotFound,
			"Spec.Virtualhost.Authorization.ServiceRef extension service %q not found", extKey.String())
		return nil
	}
	timeout, err := parseTimeout(a.ResponseTimeout)
	if err != nil {
		b.errorf(key, contourv1.ConditionTypeAuthError, reasonAuthResponseTimeoutInvalid,
			"Spec.Virtualhost.Authorization.ResponseTimeout is invalid: %v", err)
		return nil
	}
	if !timeout.IsSet() {
		timeout = c.ResponseTimeout
	}
	ea := &ExternalAuthorization{Cluster: c, FailOpen: a.FailOpen, ResponseTimeout: timeout}
	ea.WithRequestBody = authorizationBody(a.WithRequestBody)
	return ea
}

// GlobalAuthorization is the global authorization server a (Contour's
// globalExtAuth, its extensionRef naming the namespace) as the HTTP
// listener's filter uses it, from its ExtensionService ext, which
// Contour reads once, at start-up: its cluster, and a's response timeout,
// else the ExtensionService's timeoutPolicy.response.
func GlobalAuthorization(a *contourv1.AuthorizationServer, ext *contourv1alpha1.ExtensionService) (*ExternalAuthorization, error) {
	own, err := parseTimeout(a.ResponseTimeout)
	if err != nil {
		return nil, fmt.Errorf("responseTimeout %q: %v", a.ResponseTimeout, err)
	}
	extTimeout, sni, err := RateLimitServiceSettings(ext)
	if err != nil {
		return nil, err
	}
	if !own.IsSet() {
		own = extTimeout
	}
	key := types.NamespacedName{Namespace: ext.Namespace, Name: ext.Name}
	ea := &ExternalAuthorization{
		Cluster:         &ExtensionCluster{Name: ExtensionClusterName(key), Extension: key, SNI: sni},
		FailOpen:        a.FailOpen,
		ResponseTimeout: own,
	}
	ea.WithRequestBody = authorizationBody(a.WithRequestBody)
	return ea, nil
}

// authorizationBody is withRequestBody with its default size, nil when
// the request body is not sent.
func authorizationBody(body *contourv1.AuthorizationServerBufferSettings) *AuthorizationBody {
	if body == nil {
		return nil
	}
	b := &AuthorizationBody{
		MaxRequestBytes:     body.MaxRequestBytes,
		AllowPartialMessage: body.AllowPartialMessage,
		PackAsBytes:         body.PackAsBytes,
	}
	if b.MaxRequestBytes == 0 {
		b.MaxRequestBytes = defaultMaxRequestBytes
	}
	return b
}
