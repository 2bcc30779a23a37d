package dag

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// rootBuild is the processing of one root virtual host. It reads the
// inputs only through reads, which records each read, and records every
// error and reached mark in rec, so that the root's memo entry is
// complete: what it read decides when the entry can be reused, what it
// recorded is what reusing it replays.
type rootBuild struct {
	reads
	rec touchRecord

	// templates are the proxies validated for this root. They are not
	// shared with other roots: a root using another's template would not
	// have made the reads, nor recorded the errors, itself.
	templates map[types.NamespacedName]*proxyTemplate

	http  *VirtualHost
	https *SecureVirtualHost
}

// buildRoot processes root key, which owns fqdn, and returns its memo.
func (bl *Builder) buildRoot(key types.NamespacedName, fqdn string) *rootEntry {
	b := &rootBuild{reads: reads{bl: bl}}
	b.buildVhost(key, fqdn)
	return newRootEntry(key, fqdn, &b.reads, &b.rec, b.http, b.https)
}

// buildVhost builds the virtual host(s) of root key for fqdn. A root with
// an invalid TLS stanza serves nothing at all (as in Contour); its
// includes are still followed so its children get a status. A root with a
// tcpproxy serves its routes, if any, on the HTTP listener only.
func (b *rootBuild) buildVhost(key types.NamespacedName, fqdn string) {
	p, _ := b.proxy(key)
	b.reach(key)
	tls := p.Spec.VirtualHost.TLS
	tcp := p.Spec.TCPProxy
	served := !b.refuse(key, virtualHostRefusals(p.Spec.VirtualHost))
	vh := p.Spec.VirtualHost
	filter, perr := ipFilter(vh.IPAllowFilterPolicy, vh.IPDenyFilterPolicy)
	if perr != nil {
		b.errorf(key, perr.condType, perr.reason, "spec.virtualhost.%s", perr.msg)
		served = false
	}
	cors, err := corsPolicy(vh.CORSPolicy)
	if err != nil {
		b.errorf(key, contourv1.ConditionTypeCORSError, reasonCORSPolicyDidNotParse, "Spec.VirtualHost.CORSPolicy: %v", err)
		served = false
	}
	limit, err := rateLimitPolicy(vh.RateLimitPolicy)
	if err != nil {
		b.errorf(key, contourv1.ConditionTypeVirtualHostError, reasonRateLimitPolicyNotValid, "Spec.VirtualHost.RateLimitPolicy is invalid: %v", err)
		served = false
	}
	global, err := globalRateLimitPolicy(vh.RateLimitPolicy)
	if err != nil {
		b.errorf(key, contourv1.ConditionTypeVirtualHostError, reasonRateLimitPolicyNotValid, "Spec.VirtualHost.RateLimitPolicy is invalid: %v", err)
		served = false
	}
	if def := b.bl.cfg.DefaultGlobalRateLimitPolicy; def != nil && err == nil && global == nil && !globalRateLimitOptedOut(vh.RateLimitPolicy) {
		if global, err = globalRateLimitPolicy(&contourv1.RateLimitPolicy{Global: def}); err != nil {
			b.errorf(key, contourv1.ConditionTypeVirtualHostError, reasonRateLimitPolicyNotValid, "Default Global RateLimit Policy is invalid: %v", err)
			served = false
		}
	}

	providers, jwt, jwtOK := b.jwtProviders(key, vh)
	served = served && jwtOK
	authz, authOK := b.authorization(key, vh, tcp != nil)
	served = served && authOK

	var svh *SecureVirtualHost
	if tls != nil {
		var ok bool
		svh, ok = b.secureVhost(key, fqdn, tls, tcp != nil)
		served = served && ok
		switch g := b.bl.cfg.GlobalExternalAuthorization; {
		case !served:
		case vh.Authorization != nil && vh.Authorization.ExtensionServiceRef.Name != "":
			svh.Authorization = b.resolveAuthorization(key, vh.Authorization)
			served = svh.Authorization != nil
		case g != nil && tcp == nil:
			// As in Contour, a TLS virtual host without a server of its
			// own checks its requests with the global one (a policy
			// alone only adjusts it); a failure to resolve it is this
			// proxy's, with the same reasons.
			svh.Authorization = b.resolveAuthorization(key, g)
			served = svh.Authorization != nil
		}
	}

	if tcp != nil {
		if tls == nil {
			b.errorf(key, contourv1.ConditionTypeTCPProxyError, contourv1.ReasonTLSMustBeConfigured,
				"tcpproxy requires virtualhost.tls with either secretName or passthrough")
			return
		}
		tp := b.tcpProxy(key, tcp)
		if !served || tp == nil {
			return
		}
		svh.TCPProxy = tp
		b.https = svh
		// Routes next to a tcpproxy are served on the HTTP listener only
		// (as in Contour): TLS on this fqdn is the tcpproxy's.
	}

	w := &walk{
		vhost:  fqdn,
		seen:   map[string]bool{},
		budget: maxIncludeVisits,
		onPath: map[types.NamespacedName]bool{},
		jwt:    jwt,
		auth:   authz,
	}
	b.walkProxy(w, key, "", nil, nil)
	b.addExtra(w)
	if jwtOK && !b.checkJWTRoutes(key, fqdn, jwt) {
		served = false
	}
	if !served || len(w.entries) == 0 {
		return
	}
	sortRoutes(w.entries)
	routes := make([]*Route, len(w.entries))
	for i, e := range w.entries {
		routes[i] = e.route
	}
	if svh == nil {
		b.http = &VirtualHost{Name: fqdn, Routes: routes, IPFilter: filter, CORS: cors, RateLimit: limit, GlobalRateLimit: global}
		return
	}
	if svh.TCPProxy == nil {
		svh.Routes = routes
		svh.IPFilter, svh.CORS, svh.RateLimit, svh.GlobalRateLimit = filter, cors, limit, global
		svh.JWTProviders = providers
		b.https = svh
	}

	insecure := make([]*Route, len(w.entries))
	for i, e := range w.entries {
		// Plain HTTP has no token verification and no authorization: a
		// route requiring either redirects to HTTPS even when it permits
		// insecure requests. With DisablePermitInsecure every route
		// redirects, as in Contour.
		checked := e.route.JWTProvider != "" || (svh.Authorization != nil && !e.route.AuthDisabled)
		if e.permitInsecure && !checked && !b.bl.cfg.DisablePermitInsecure {
			insecure[i] = e.route
			continue
		}
		insecure[i] = &Route{
			PathMatch:     e.route.PathMatch,
			HeaderMatches: e.route.HeaderMatches,
			QueryMatches:  e.route.QueryMatches,
			Redirect:      &Redirect{Scheme: "https", StatusCode: 301},
			// A client the filter keeps out is not told where to go.
			IPFilter: e.route.IPFilter,
			// As in Contour, a route that disables the host's global
			// rate limits does so for its redirect too.
			DisableVirtualHostGlobalRateLimit: e.route.DisableVirtualHostGlobalRateLimit,
			// As in Contour, the global authorization server on the HTTP
			// listener checks the redirect as it would the route.
			AuthDisabled: e.route.AuthDisabled,
			AuthContext:  e.route.AuthContext,
			Owner:        e.route.Owner,
		}
	}
	b.http = &VirtualHost{Name: fqdn, Routes: insecure, IPFilter: filter, CORS: cors, RateLimit: limit, GlobalRateLimit: global}
}

// secureVhost validates a root's tls stanza. ok is false when the virtual
// host must not be served.
func (b *rootBuild) secureVhost(key types.NamespacedName, fqdn string, tls *contourv1.TLS, hasTCPProxy bool) (*SecureVirtualHost, bool) {
	bad := func(condType, reason, format string, args ...any) (*SecureVirtualHost, bool) {
		b.errorf(key, condType, reason, format, args...)
		return nil, false
	}
	switch {
	case tls.Passthrough && tls.SecretName != "":
		return bad(contourv1.ConditionTypeTLSError, contourv1.ReasonTLSConfigNotValid,
			"virtualhost.tls cannot set both secretName and passthrough")
	case !tls.Passthrough && tls.SecretName == "":
		return bad(contourv1.ConditionTypeTLSError, contourv1.ReasonTLSConfigNotValid,
			"virtualhost.tls must set either secretName or passthrough")
	case tls.Passthrough && tls.EnableFallbackCertificate:
		return bad(contourv1.ConditionTypeTLSError, "TLSIncompatibleFeatures",
			"virtualhost.tls: both passthrough and enableFallbackCertificate were specified")
	case tls.Passthrough && tls.ClientValidation != nil:
		return bad(contourv1.ConditionTypeTLSError, "TLSIncompatibleFeatures",
			"virtualhost.tls.passthrough cannot be combined with virtualhost.tls.clientValidation")
	case tls.Passthrough && !hasTCPProxy:
		return bad(contourv1.ConditionTypeTLSError, contourv1.ReasonTLSConfigNotValid,
			"virtualhost.tls.passthrough requires a tcpproxy")
	}
	minV, maxV := tls.MinimumProtocolVersion, tls.MaximumProtocolVersion
	for _, v := range []struct{ field, value string }{{"minimumProtocolVersion", minV}, {"maximumProtocolVersion", maxV}} {
		switch v.value {
		case "", "1.2", "1.3":
		default:
			return bad(contourv1.ConditionTypeTLSError, contourv1.ReasonTLSConfigNotValid,
				"virtualhost.tls.%s %q is not supported; use \"1.2\" or \"1.3\"", v.field, v.value)
		}
	}
	if minV == "1.3" && maxV == "1.2" {
		return bad(contourv1.ConditionTypeTLSError, contourv1.ReasonTLSConfigNotValid,
			"virtualhost.tls.minimumProtocolVersion %q is higher than maximumProtocolVersion %q", minV, maxV)
	}
	svh := &SecureVirtualHost{
		VirtualHost:   VirtualHost{Name: fqdn},
		MinTLSVersion: minV,
		MaxTLSVersion: maxV,
		Passthrough:   tls.Passthrough,
	}
	if tls.Passthrough {
		return svh, true
	}
	sec, cond := b.servingSecret(key, tls.SecretName)
	if cond != nil {
		b.errorf(key, cond.Type, cond.Reason, "%s", cond.Message)
		return nil, false
	}
	svh.Secret = sec
	if tls.ClientValidation != nil {
		cv, ok := b.clientValidation(key, tls.ClientValidation)
		if !ok {
			return nil, false
		}
		svh.ClientValidation = cv
	}
	if tls.EnableFallbackCertificate {
		fb, ok := b.fallbackCertificate(key, tls, hasTCPProxy)
		if !ok {
			return nil, false
		}
		svh.FallbackCertificate = fb
	}
	return svh, true
}

// fallbackCertificate resolves virtualhost.tls.enableFallbackCertificate
// with Contour's rules and reasons: the serve flag must name a Secret,
// delegated to the proxy's namespace when it is in another, and the
// virtual host must not check client certificates (the fallback filter
// chain serves every fallback host alike).
func (b *rootBuild) fallbackCertificate(key types.NamespacedName, tls *contourv1.TLS, hasTCPProxy bool) (*Secret, bool) {
	bad := func(reason, format string, args ...any) (*Secret, bool) {
		b.errorf(key, contourv1.ConditionTypeTLSError, reason, format, args...)
		return nil, false
	}
	fk := b.bl.cfg.FallbackCertificate
	switch {
	case tls.ClientValidation != nil:
		return bad("TLSIncompatibleFeatures", "virtualhost.tls: fallback & client validation are incompatible")
	case hasTCPProxy:
		// The fallback filter chain routes HTTP: a TCP virtual host has
		// nothing to put there.
		return bad("TLSIncompatibleFeatures", "virtualhost.tls: fallback & tcpproxy are incompatible")
	case fk.Name == "":
		return bad("FallbackNotPresent",
			"virtualhost.tls enabled fallback but the fallback certificate Secret is not configured (proxyctl serve --fallback-certificate)")
	case fk.Namespace != key.Namespace && !b.delegated(fk, key.Namespace):
		return bad("FallbackNotDelegated",
			"virtualhost.tls fallback certificate Secret %q is not configured for certificate delegation", fk.String())
	}
	sec, err := b.tlsSecret(fk)
	if err != nil {
		return bad("FallbackNotValid", "virtualhost.tls fallback certificate Secret %q is invalid: %v", fk.String(), err)
	}
	return sec, true
}

// clientValidation resolves virtualhost.tls.clientValidation with
// Contour's rules and reasons: a CA Secret is required unless
// skipClientCertValidation, and a CA or CRL Secret that is not delegated
// or not valid makes the virtual host unserved (never served without the
// checks asked for).
func (b *rootBuild) clientValidation(key types.NamespacedName, v *contourv1.DownstreamValidation) (*ClientValidation, bool) {
	cv := &ClientValidation{
		SkipVerify: v.SkipClientCertValidation,
		Optional:   v.OptionalClientCertificate,
	}
	if f := v.ForwardClientCertificate; f != nil {
		cv.Forward = &ForwardClientCert{Subject: f.Subject, Cert: f.Cert, Chain: f.Chain, DNS: f.DNS, URI: f.URI}
	}
	secretErr := func(what, ref string, err error) (*ClientValidation, bool) {
		if errors.Is(err, errNotDelegated) {
			b.errorf(key, contourv1.ConditionTypeTLSError, contourv1.ReasonDelegationNotPermitted,
				"virtualhost.tls.clientValidation %s Secret %q is invalid: %v", what, ref, err)
		} else {
			b.errorf(key, contourv1.ConditionTypeTLSError, "ClientValidationInvalid",
				"virtualhost.tls client validation is invalid: invalid %s Secret %q: %v", what, ref, err)
		}
		return nil, false
	}
	switch {
	case v.CACertificate != "":
		_, ca, err := b.caSecret(key.Namespace, v.CACertificate)
		if err != nil {
			return secretErr("CA", v.CACertificate, err)
		}
		cv.CA = ca
	case !v.SkipClientCertValidation:
		b.errorf(key, contourv1.ConditionTypeTLSError, "ClientValidationInvalid",
			"virtualhost.tls client validation is invalid: CA Secret must be specified")
		return nil, false
	}
	if v.CertificateRevocationList != "" {
		if cv.CA == nil {
			// Envoy checks a CRL only against trusted CAs, and refuses
			// the whole listener when there are none.
			b.errorf(key, contourv1.ConditionTypeTLSError, "ClientValidationInvalid",
				"virtualhost.tls client validation is invalid: crlSecret requires caSecret")
			return nil, false
		}
		_, crl, err := b.crlSecret(key.Namespace, v.CertificateRevocationList)
		if err != nil {
			return secretErr("CRL", v.CertificateRevocationList, err)
		}
		cv.CRL, cv.CRLLeafOnly = crl, v.OnlyVerifyLeafCertCrl
	}
	return cv, true
}

// servingSecret resolves virtualhost.tls.secretName for the proxy key:
// "name" in the proxy's namespace, or "namespace/name" when delegated.
func (b *rootBuild) servingSecret(key types.NamespacedName, ref string) (*Secret, *Condition) {
	ns, name := key.Namespace, ref
	if i := strings.IndexByte(ref, '/'); i >= 0 {
		ns, name = ref[:i], ref[i+1:]
	}
	if ns == "" || name == "" || strings.Contains(name, "/") {
		return nil, &Condition{contourv1.ConditionTypeTLSError, contourv1.ReasonSecretNotValid,
			fmt.Sprintf("virtualhost.tls.secretName %q is not a valid secret name", ref)}
	}
	sk := types.NamespacedName{Namespace: ns, Name: name}
	if ns != key.Namespace && !b.delegated(sk, key.Namespace) {
		return nil, &Condition{contourv1.ConditionTypeTLSError, contourv1.ReasonDelegationNotPermitted,
			fmt.Sprintf("secret %s is not delegated to namespace %q by a TLSCertificateDelegation", sk, key.Namespace)}
	}
	sec, err := b.tlsSecret(sk)
	if err != nil {
		return nil, &Condition{contourv1.ConditionTypeTLSError, contourv1.ReasonSecretNotValid,
			fmt.Sprintf("secret %s is not valid: %v", sk, err)}
	}
	return sec, nil
}

// tcpProxy builds a root's tcpproxy, following tcpproxy includes. It
// returns nil, with errors recorded, when the stanza cannot be served.
func (b *rootBuild) tcpProxy(root types.NamespacedName, tcp *contourv1.TCPProxy) *TCPProxy {
	owner := root
	visited := map[types.NamespacedName]bool{root: true}
	for {
		inc := tcp.Include
		if inc == nil {
			inc = tcp.IncludesDeprecated
		}
		if inc == nil {
			break
		}
		if len(tcp.Services) > 0 {
			b.errorf(owner, contourv1.ConditionTypeTCPProxyError, "NoServicesAndInclude",
				"tcpproxy cannot set both services and include")
			return nil
		}
		ns := inc.Namespace
		if ns == "" {
			ns = owner.Namespace
		}
		child := types.NamespacedName{Namespace: ns, Name: inc.Name}
		cp, ok := b.proxy(child)
		switch {
		case visited[child]:
			b.errorf(owner, contourv1.ConditionTypeTCPProxyIncludeError, contourv1.ReasonIncludeCreatesCycle,
				"tcpproxy include %s creates a cycle", child)
			return nil
		case inc.Name == "" || !ok:
			b.errorf(owner, contourv1.ConditionTypeTCPProxyIncludeError, contourv1.ReasonIncludeNotFound,
				"tcpproxy include %s not found", child)
			return nil
		case cp.Spec.VirtualHost != nil:
			b.errorf(owner, contourv1.ConditionTypeTCPProxyIncludeError, contourv1.ReasonRootIncludesRoot,
				"tcpproxy include %s is a root HTTPProxy (it has a virtualhost) and cannot be included", child)
			return nil
		case cp.Spec.TCPProxy == nil:
			b.errorf(owner, contourv1.ConditionTypeTCPProxyIncludeError, "TCPProxyNotDefined",
				"tcpproxy include %s does not define a tcpproxy", child)
			b.reach(child)
			return nil
		}
		visited[child] = true
		b.reach(child)
		owner, tcp = child, cp.Spec.TCPProxy
	}

	if b.refuse(owner, tcpProxyRefusals(tcp)) {
		return nil
	}
	if len(tcp.Services) == 0 {
		b.errorf(owner, contourv1.ConditionTypeTCPProxyError, "NoServices",
			"tcpproxy must set either services or include")
		return nil
	}
	hc, perr := tcpHealthCheck(tcp.HealthCheckPolicy)
	if perr != nil {
		b.errorf(owner, perr.condType, perr.reason, "tcpproxy: %s", perr.msg)
		return nil
	}
	lb, warnings := tcpLoadBalancer(tcp.LoadBalancerPolicy)
	for _, w := range warnings {
		b.warnf(owner, contourv1.ConditionTypeTCPProxyError, contourv1.ReasonIgnoredField, "%s", w)
	}
	set := clusterSettings{lb: lb, hc: hc}
	tp := &TCPProxy{}
	ok := true
	for i, s := range tcp.Services {
		if s.Weight < 0 || s.Weight > 1<<32-1 {
			b.errorf(owner, contourv1.ConditionTypeTCPProxyError, "ServiceWeightNotValid",
				"tcpproxy.services[%d] (%s): weight %d is out of range", i, s.Name, s.Weight)
			ok = false
			continue
		}
		c, serr := b.cluster(owner.Namespace, s, set)
		if serr != nil {
			b.errorf(owner, serr.conditionType(), serr.reason, "tcpproxy: %s", serr.msg)
			ok = false
			continue
		}
		tp.Clusters = append(tp.Clusters, &WeightedCluster{Cluster: c, Weight: uint32(s.Weight)})
	}
	if !ok {
		return nil
	}
	sortWeighted(tp.Clusters)
	return tp
}
