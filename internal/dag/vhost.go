package dag

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// fqdnPattern is the CRD's pattern for virtualhost.fqdn.
var fqdnPattern = regexp.MustCompile(`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// buildRoots validates every proxy's top level, finds the roots that own
// their fqdn, and builds their virtual hosts.
func (b *builder) buildRoots() {
	for _, key := range b.proxyKeys {
		s := b.proxies[key].Spec
		if len(s.Routes) == 0 && len(s.Includes) == 0 && s.TCPProxy == nil {
			b.errorf(key, contourv1.ConditionTypeSpecError, contourv1.ReasonNothingDefined,
				"HTTPProxy must define at least one route, include or tcpproxy")
		}
	}

	byFQDN := map[string][]types.NamespacedName{}
	var fqdns []string
	for _, key := range b.proxyKeys {
		vh := b.proxies[key].Spec.VirtualHost
		if vh == nil {
			continue
		}
		if len(b.rootNamespaces) > 0 && !b.rootNamespaces[key.Namespace] {
			b.errorf(key, contourv1.ConditionTypeRootNamespaceError, contourv1.ReasonRootProxyNotAllowedInNamespace,
				"root HTTPProxy cannot be defined in namespace %q; root namespaces are %s",
				key.Namespace, strings.Join(b.cfg.RootNamespaces, ", "))
			continue
		}
		fqdn := strings.ToLower(strings.TrimSpace(vh.Fqdn))
		if fqdn == "" {
			b.errorf(key, contourv1.ConditionTypeVirtualHostError, contourv1.ReasonFQDNNotSpecified,
				"virtualhost.fqdn must be specified")
			continue
		}
		if len(fqdn) > 253 || !fqdnPattern.MatchString(fqdn) {
			b.errorf(key, contourv1.ConditionTypeVirtualHostError, "FQDNNotValid",
				"virtualhost.fqdn %q is not a valid host name (a \"*.\" prefix is the only wildcard allowed)", vh.Fqdn)
			continue
		}
		if _, ok := byFQDN[fqdn]; !ok {
			fqdns = append(fqdns, fqdn)
		}
		byFQDN[fqdn] = append(byFQDN[fqdn], key)
	}
	for _, fqdn := range fqdns {
		keys := byFQDN[fqdn]
		if len(keys) > 1 {
			names := make([]string, len(keys))
			for i, k := range keys {
				names[i] = k.String()
			}
			for _, k := range keys {
				b.errorf(k, contourv1.ConditionTypeVirtualHostError, contourv1.ReasonDuplicateVhost,
					"fqdn %q is used in multiple HTTPProxies: %s", fqdn, strings.Join(names, ", "))
			}
			continue
		}
		if b.hasErrors(keys[0]) {
			// NothingDefined: nothing to serve.
			continue
		}
		b.buildVhost(keys[0], fqdn)
	}
}

// buildVhost builds the virtual host(s) of root key for fqdn. A root with
// an invalid TLS or tcpproxy stanza serves nothing at all (as in Contour);
// its includes are still followed so its children get a status.
func (b *builder) buildVhost(key types.NamespacedName, fqdn string) {
	p := b.proxies[key]
	b.reached[key] = true
	tls := p.Spec.VirtualHost.TLS
	tcp := p.Spec.TCPProxy
	served := true

	var svh *SecureVirtualHost
	if tls != nil {
		var ok bool
		svh, ok = b.secureVhost(key, fqdn, tls, tcp != nil)
		served = served && ok
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
		b.https = append(b.https, svh)
		return
	}

	w := &walk{
		vhost:  fqdn,
		seen:   map[string]bool{},
		budget: maxIncludeVisits,
		onPath: map[types.NamespacedName]bool{},
	}
	b.walkProxy(w, key, "", nil, nil)
	if !served || len(w.entries) == 0 {
		return
	}
	sortRoutes(w.entries)
	routes := make([]*Route, len(w.entries))
	for i, e := range w.entries {
		routes[i] = e.route
	}
	if svh == nil {
		b.http = append(b.http, &VirtualHost{Name: fqdn, Routes: routes})
		return
	}
	svh.Routes = routes
	b.https = append(b.https, svh)

	insecure := make([]*Route, len(w.entries))
	for i, e := range w.entries {
		if e.permitInsecure {
			insecure[i] = e.route
			continue
		}
		insecure[i] = &Route{
			PathMatch:     e.route.PathMatch,
			HeaderMatches: e.route.HeaderMatches,
			QueryMatches:  e.route.QueryMatches,
			Redirect:      &Redirect{Scheme: "https", StatusCode: 301},
			Owner:         e.route.Owner,
		}
	}
	b.http = append(b.http, &VirtualHost{Name: fqdn, Routes: insecure})
}

// secureVhost validates a root's tls stanza. ok is false when the virtual
// host must not be served.
func (b *builder) secureVhost(key types.NamespacedName, fqdn string, tls *contourv1.TLS, hasTCPProxy bool) (*SecureVirtualHost, bool) {
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
	return svh, true
}

// servingSecret resolves virtualhost.tls.secretName for the proxy key:
// "name" in the proxy's namespace, or "namespace/name" when delegated.
func (b *builder) servingSecret(key types.NamespacedName, ref string) (*Secret, *Condition) {
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

// delegated reports whether a TLSCertificateDelegation in the secret's
// namespace shares it with namespace ns (or with every namespace, "*").
func (b *builder) delegated(secret types.NamespacedName, ns string) bool {
	for _, t := range b.delegations[secret] {
		if t == ns || t == "*" {
			return true
		}
	}
	return false
}

// tcpProxy builds a root's tcpproxy, following tcpproxy includes. It
// returns nil, with errors recorded, when the stanza cannot be served.
func (b *builder) tcpProxy(root types.NamespacedName, tcp *contourv1.TCPProxy) *TCPProxy {
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
		cp, ok := b.proxies[child]
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
			b.reached[child] = true
			return nil
		}
		visited[child] = true
		b.reached[child] = true
		owner, tcp = child, cp.Spec.TCPProxy
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
	set := clusterSettings{lb: tcpLoadBalancer(tcp.LoadBalancerPolicy), hc: hc}
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
			b.errorf(owner, contourv1.ConditionTypeServiceError, serr.reason, "tcpproxy: %s", serr.msg)
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
