package dag

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// JWTProvider is one issuer of JSON Web Tokens a TLS virtual host's routes
// may require, named as in virtualhost.jwtProviders. Exactly one of
// LocalJWKS and RemoteJWKS is set.
type JWTProvider struct {
	Name string
	// Issuer, when set, must equal the token's "iss" claim.
	Issuer string
	// Audiences, when set, must include one of the token's "aud" values.
	Audiences []string
	// ForwardJWT keeps the Authorization header on the request sent
	// upstream; otherwise Envoy removes it once verified.
	ForwardJWT bool
	// LocalJWKS is the key set itself, read from a Secret.
	LocalJWKS []byte
	// RemoteJWKS is where Envoy fetches the key set.
	RemoteJWKS *RemoteJWKS
}

// RemoteJWKS is a key set Envoy fetches over HTTP(S) through Cluster.
type RemoteJWKS struct {
	URI     string
	Cluster *Cluster
	// Timeout of one fetch (Contour's default: 1s).
	Timeout time.Duration
	// CacheDuration is how long a fetched key set is used; 0 leaves
	// Envoy's default.
	CacheDuration time.Duration
}

// DNSUpstream makes a Cluster of a server named by a DNS name and port
// rather than of a Service: Envoy resolves Host itself.
type DNSUpstream struct {
	Host string
	Port uint32
	// DNSLookupFamily is "" (Envoy's default), "auto", "v4", "v6" or
	// "all" (every address, tried in turn).
	DNSLookupFamily string
	// TLS speaks HTTPS to the server, with Host as SNI.
	TLS bool
	// CACertificate, when set, is the PEM bundle the server's certificate
	// must chain to, and SubjectNames the names of which it must carry
	// one; without it the certificate is not verified, as in Contour.
	CACertificate []byte
	SubjectNames  []string
}

// Reasons of JWT verification errors, as Contour has them.
const (
	reasonJWTVerificationNotPermitted        = "JWTVerificationNotPermitted"
	reasonDuplicateProviderName              = "DuplicateProviderName"
	reasonMultipleDefaultProvidersSpecified  = "MultipleDefaultProvidersSpecified"
	reasonJWKSSourceConflict                 = "JWKSSourceConflict"
	reasonJWKSSourceMissing                  = "JWKSSourceMissing"
	reasonLocalJWKSInvalid                   = "LocalJWKSInvalid"
	reasonRemoteJWKSURIInvalid               = "RemoteJWKSURIInvalid"
	reasonRemoteJWKSSchemeInvalid            = "RemoteJWKSSchemeInvalid"
	reasonRemoteJWKSUpstreamValidation       = "RemoteJWKSUpstreamValidationInvalid"
	reasonRemoteJWKSCACertificateNotDelegate = "RemoteJWKSCACertificateNotDelegated"
	reasonRemoteJWKSTimeoutInvalid           = "RemoteJWKSTimeoutInvalid"
	reasonRemoteJWKSCacheDurationInvalid     = "RemoteJWKSCacheDurationInvalid"
	reasonRemoteJWKSPortInvalid              = "RemoteJWKSPortInvalid"
	reasonRemoteJWKSDNSLookupFamilyInvalid   = "RemoteJWKSDNSLookupFamilyInvalid"
	reasonJWTProviderNotDefined              = "JWTProviderNotDefined"
	reasonInvalidJWTVerificationPolicy       = "InvalidJWTVerificationPolicy"
)

// defaultJWKSTimeout is Contour's timeout of a remote key set fetch.
const defaultJWKSTimeout = time.Second

// jwtScope is what the routes of one virtual host may require: the
// providers by name and the default one, and what the walk found wrong.
type jwtScope struct {
	names      map[string]bool
	defaultsTo string
	// undefined are the routes requiring a provider not in names.
	undefined []undefinedJWT
	// invalid are the proxies with a route that both requires a provider
	// and disables verification.
	invalid []types.NamespacedName
}

type undefinedJWT struct {
	owner    types.NamespacedName
	match    string
	provider string
}

// provider gives the requirement of a route placed in the virtual host:
// the one it names, none when it disables verification, else the default.
func (s *jwtScope) provider(rt *routeTemplate, r *Route) string {
	switch {
	case rt.jwtRequire != "":
		if !s.names[rt.jwtRequire] {
			s.undefined = append(s.undefined, undefinedJWT{r.Owner, describeMatch(r.PathMatch, r.HeaderMatches, r.QueryMatches), rt.jwtRequire})
		}
		return rt.jwtRequire
	case rt.jwtDisabled:
		return ""
	}
	return s.defaultsTo
}

// jwtPolicy reads a route's jwtVerificationPolicy into its template. A
// policy that both requires a provider and disables verification is an
// error (Contour's InvalidJWTVerificationPolicy); the template says so,
// and the virtual host that reaches it is not served rather than letting
// the route's requests fall through to another route.
func (b *rootBuild) jwtPolicy(key types.NamespacedName, idx int, r *contourv1.Route, t *proxyTemplate) (require string, disabled, ok bool) {
	p := r.JWTVerificationPolicy
	if p == nil {
		return "", false, true
	}
	if p.Require != "" && p.Disabled {
		b.errorf(key, contourv1.ConditionTypeJWTVerificationError, reasonInvalidJWTVerificationPolicy,
			"routes[%d].jwtVerificationPolicy cannot both require a provider and be disabled", idx)
		t.jwtInvalid = true
		return "", false, false
	}
	return p.Require, p.Disabled, true
}

// checkJWTRoutes records on root what the walk found wrong with the
// routes' requirements, and reports whether the virtual host may be
// served.
func (b *rootBuild) checkJWTRoutes(root types.NamespacedName, fqdn string, s *jwtScope) bool {
	for _, u := range s.undefined {
		b.errorf(root, contourv1.ConditionTypeJWTVerificationError, reasonJWTProviderNotDefined,
			"route %s of HTTPProxy %s requires JWT provider %q, which the virtual host does not define", u.match, u.owner, u.provider)
	}
	for _, k := range s.invalid {
		if k != root {
			b.errorf(root, contourv1.ConditionTypeJWTVerificationError, reasonInvalidJWTVerificationPolicy,
				"virtual host %q is not served: included HTTPProxy %s has an invalid jwtVerificationPolicy", fqdn, k)
		}
	}
	return len(s.undefined) == 0 && len(s.invalid) == 0
}

// jwtProviders validates virtualhost.jwtProviders of root key as Contour
// does. ok is false, with the error recorded, when the virtual host must
// not be served. Providers are kept in the order written.
func (b *rootBuild) jwtProviders(key types.NamespacedName, vh *contourv1.VirtualHost) (providers []JWTProvider, scope *jwtScope, ok bool) {
	scope = &jwtScope{}
	if len(vh.JWTProviders) == 0 {
		return nil, scope, true
	}
	bad := func(reason, format string, args ...any) ([]JWTProvider, *jwtScope, bool) {
		b.errorf(key, contourv1.ConditionTypeJWTVerificationError, reason, format, args...)
		return nil, scope, false
	}
	if vh.TLS == nil || vh.TLS.SecretName == "" {
		return bad(reasonJWTVerificationNotPermitted,
			"virtualhost.jwtProviders can only be set on a root HTTPProxy that terminates TLS (virtualhost.tls.secretName)")
	}
	scope.names = make(map[string]bool, len(vh.JWTProviders))
	for i := range vh.JWTProviders {
		jp := &vh.JWTProviders[i]
		field := fmt.Sprintf("virtualhost.jwtProviders[%d] (%s)", i, jp.Name)
		if scope.names[jp.Name] {
			return bad(reasonDuplicateProviderName, "virtualhost.jwtProviders: provider name %q is used more than once", jp.Name)
		}
		scope.names[jp.Name] = true
		if jp.Default {
			if scope.defaultsTo != "" {
				return bad(reasonMultipleDefaultProvidersSpecified,
					"virtualhost.jwtProviders: at most one provider can be the default (%q and %q are)", scope.defaultsTo, jp.Name)
			}
			scope.defaultsTo = jp.Name
		}
		remote, local := jp.RemoteJWKS.URI != "", jp.LocalJWKS.SecretName != ""
		switch {
		case remote && local:
			return bad(reasonJWKSSourceConflict, "%s: remoteJWKS and localJWKS cannot both be set", field)
		case !remote && !local:
			return bad(reasonJWKSSourceMissing, "%s: exactly one of remoteJWKS and localJWKS must be set", field)
		}
		p := JWTProvider{
			Name:       jp.Name,
			Issuer:     jp.Issuer,
			Audiences:  slices.Clone(jp.Audiences),
			ForwardJWT: jp.ForwardJWT,
		}
		if local {
			// The Secret is always in the proxy's namespace: there is no
			// delegation of key sets.
			sk := types.NamespacedName{Namespace: key.Namespace, Name: jp.LocalJWKS.SecretName}
			jwks, err := localJWKS(b.secret(sk), jp.LocalJWKS.Key)
			if err != nil {
				return bad(reasonLocalJWKSInvalid, "%s: localJWKS secret %s key %q is not valid: %v", field, sk, jp.LocalJWKS.Key, err)
			}
			p.LocalJWKS = jwks
		} else {
			r, perr := b.remoteJWKS(key, &jp.RemoteJWKS)
			if perr != nil {
				return bad(perr.reason, "%s: %s", field, perr.msg)
			}
			p.RemoteJWKS = r
		}
		providers = append(providers, p)
	}
	return providers, scope, true
}

// remoteJWKS validates a remote key set and makes the cluster of its
// server, from the URI's host and port (80 or 443 by scheme by default).
func (b *rootBuild) remoteJWKS(key types.NamespacedName, r *contourv1.RemoteJWKS) (*RemoteJWKS, *policyError) {
	bad := func(reason, format string, args ...any) (*RemoteJWKS, *policyError) {
		return nil, &policyError{contourv1.ConditionTypeJWTVerificationError, reason, fmt.Sprintf(format, args...)}
	}
	u, err := url.Parse(r.URI)
	if err != nil {
		return bad(reasonRemoteJWKSURIInvalid, "remoteJWKS.uri is not a valid URI: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return bad(reasonRemoteJWKSSchemeInvalid, "remoteJWKS.uri has scheme %q; it must be http or https", u.Scheme)
	}
	if u.Hostname() == "" {
		return bad(reasonRemoteJWKSURIInvalid, "remoteJWKS.uri %q has no host", r.URI)
	}
	up := DNSUpstream{Host: u.Hostname(), TLS: u.Scheme == "https", Port: 80}
	if up.TLS {
		up.Port = 443
	}
	if ps := u.Port(); ps != "" {
		port, err := strconv.Atoi(ps)
		if err != nil || port < 1 || port > 65535 {
			return bad(reasonRemoteJWKSPortInvalid, "remoteJWKS.uri has an invalid port %q", ps)
		}
		up.Port = uint32(port)
	}
	if v := r.UpstreamValidation; v != nil {
		if !up.TLS {
			return bad(reasonRemoteJWKSUpstreamValidation, "remoteJWKS.validation cannot be set when the uri's scheme is http")
		}
		ca, names, perr := b.jwksValidation(key, v)
		if perr != nil {
			return nil, perr
		}
		up.CACertificate, up.SubjectNames = ca, names
	}
	out := &RemoteJWKS{URI: r.URI, Timeout: defaultJWKSTimeout}
	if r.Timeout != "" {
		d, err := time.ParseDuration(r.Timeout)
		if err != nil || d <= 0 {
			return bad(reasonRemoteJWKSTimeoutInvalid, "remoteJWKS.timeout %q is not a positive duration", r.Timeout)
		}
		out.Timeout = d
	}
	if r.CacheDuration != "" {
		d, err := time.ParseDuration(r.CacheDuration)
		if err != nil || d <= 0 {
			return bad(reasonRemoteJWKSCacheDurationInvalid, "remoteJWKS.cacheDuration %q is not a positive duration", r.CacheDuration)
		}
		out.CacheDuration = d
	}
	switch r.DNSLookupFamily {
	case "", "auto", "v4", "v6", "all":
		up.DNSLookupFamily = r.DNSLookupFamily
	default:
		return bad(reasonRemoteJWKSDNSLookupFamilyInvalid, "remoteJWKS.dnsLookupFamily %q must be auto, all, v4 or v6", r.DNSLookupFamily)
	}
	out.Cluster = b.bl.sharedDNSCluster(up)
	return out, nil
}

// jwksValidation reads the CA bundle of remoteJWKS.validation: ca.crt of
// a Secret in the proxy's namespace, or "namespace/name" when a
// TLSCertificateDelegation shares it.
func (b *rootBuild) jwksValidation(key types.NamespacedName, v *contourv1.UpstreamValidation) ([]byte, []string, *policyError) {
	bad := func(reason, format string, args ...any) ([]byte, []string, *policyError) {
		return nil, nil, &policyError{contourv1.ConditionTypeJWTVerificationError, reason, fmt.Sprintf(format, args...)}
	}
	ns, name := key.Namespace, v.CACertificate
	if i := strings.IndexByte(name, '/'); i >= 0 {
		ns, name = name[:i], name[i+1:]
	}
	if ns == "" || name == "" || strings.Contains(name, "/") {
		return bad(reasonRemoteJWKSUpstreamValidation, "remoteJWKS.validation.caSecret %q is not a valid secret name", v.CACertificate)
	}
	sk := types.NamespacedName{Namespace: ns, Name: name}
	if ns != key.Namespace && !b.delegated(sk, key.Namespace) {
		return bad(reasonRemoteJWKSCACertificateNotDelegate,
			"remoteJWKS.validation.caSecret %s is not delegated to namespace %q by a TLSCertificateDelegation", sk, key.Namespace)
	}
	ca, err := caBundle(b.secret(sk))
	if err != nil {
		return bad(reasonRemoteJWKSUpstreamValidation, "remoteJWKS.validation.caSecret %s is not valid: %v", sk, err)
	}
	if v.SubjectName == "" {
		return bad(reasonRemoteJWKSUpstreamValidation, "remoteJWKS.validation.subjectName must be set")
	}
	names := []string{v.SubjectName}
	if len(v.SubjectNames) > 0 {
		if v.SubjectNames[0] != v.SubjectName {
			return bad(reasonRemoteJWKSUpstreamValidation,
				"remoteJWKS.validation.subjectNames[0] %q must equal subjectName %q", v.SubjectNames[0], v.SubjectName)
		}
		names = slices.Clone(v.SubjectNames)
	}
	return ca, names, nil
}

// localJWKS returns the key set under key of an Opaque Secret, checked to
// be a JSON object with a "keys" array (RFC 7517), as Contour checks it.
func localJWKS(s *corev1.Secret, key string) ([]byte, error) {
	if s == nil {
		return nil, errors.New("secret not found")
	}
	if s.Type != corev1.SecretTypeOpaque {
		return nil, fmt.Errorf("type is %q, want %q", s.Type, corev1.SecretTypeOpaque)
	}
	data := bytes.TrimSpace(s.Data[key])
	if len(data) == 0 {
		return nil, errors.New("the key is missing or empty")
	}
	var set struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a JSON key set: %v", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`the key set has no "keys" array`)
	}
	return data, nil
}

// caBundle returns ca.crt of a TLS or Opaque Secret, which must hold at
// least one PEM certificate and nothing that fails to parse as one.
func caBundle(s *corev1.Secret) ([]byte, error) {
	if s == nil {
		return nil, errors.New("secret not found")
	}
	if s.Type != corev1.SecretTypeTLS && s.Type != corev1.SecretTypeOpaque {
		return nil, fmt.Errorf("type is %q, want %q or %q", s.Type, corev1.SecretTypeTLS, corev1.SecretTypeOpaque)
	}
	data := s.Data["ca.crt"]
	n := 0
	for rest := data; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return nil, fmt.Errorf("ca.crt: %v", err)
		}
		n++
	}
	if n == 0 {
		return nil, errors.New("ca.crt holds no PEM certificate")
	}
	return data, nil
}

// jwtClusters appends the names of the key set servers' clusters of svh.
func jwtClusters(names []string, svh *SecureVirtualHost) []string {
	for _, p := range svh.JWTProviders {
		if p.RemoteJWKS != nil {
			names = append(names, p.RemoteJWKS.Cluster.Name)
		}
	}
	return names
}
