package dagtest

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/fixtures"
)

// Separator splits a Sequence input into parts; JSON never contains it.
const Separator = 0xff

// maxSteps bounds a sequence, so each fuzz case stays quick.
const maxSteps = 12

// Sequence decodes a fuzz input into a sequence of object sets, for
// checking a long-lived dag.Builder against builds from scratch. The input
// is split into parts at each Separator byte. The first part gives the
// first objects and the Config, as Objects does. Each later part changes
// the previous objects the way the controller's cache does, replacing
// pointers and never modifying an object:
//
//   - a part starting with '{' (JSON) or 'w' (the bytes after it) is a
//     whole new set decoded by Objects, in which every object deeply equal
//     to the previous one under its key keeps the previous pointer;
//   - any other part is a list of edits of single objects, coded in bytes:
//     delete, change or add a proxy, Service, EndpointSlice, Secret or
//     TLSCertificateDelegation, put back an earlier version of an object,
//     copy one unchanged to a new pointer, or create a proxy again at
//     another time.
//
// Every set has maps of its own, so the earlier sets stay as they were.
func Sequence(data []byte) ([]*dag.Objects, dag.Config) {
	parts := bytes.Split(data, []byte{Separator})
	first, cfg := Objects(parts[0])
	s := &sequencer{history: map[string]map[types.NamespacedName][]any{}}
	s.remember(first)
	seq := []*dag.Objects{first}
	for _, part := range parts[1:] {
		if len(seq) == maxSteps {
			break
		}
		next := s.next(seq[len(seq)-1], part)
		s.remember(next)
		seq = append(seq, next)
	}
	return seq, cfg
}

// sequencer remembers every version of every object seen, so an edit can
// put an old pointer back.
type sequencer struct {
	history map[string]map[types.NamespacedName][]any // kind -> key -> versions
}

// addAll calls add with every object of m, as kind.
func addAll[V any](add func(kind string, key types.NamespacedName, v any), kind string, m map[types.NamespacedName]V) {
	for k, v := range m {
		add(kind, k, v)
	}
}

func (s *sequencer) remember(o *dag.Objects) {
	add := func(kind string, key types.NamespacedName, v any) {
		m := s.history[kind]
		if m == nil {
			m = map[types.NamespacedName][]any{}
			s.history[kind] = m
		}
		for _, x := range m[key] {
			if x == v {
				return
			}
		}
		if len(m[key]) < 4 {
			m[key] = append(m[key], v)
		}
	}
	addAll(add, "proxy", o.HTTPProxies)
	addAll(add, "service", o.Services)
	addAll(add, "slice", o.EndpointSlices)
	addAll(add, "secret", o.Secrets)
	addAll(add, "delegation", o.Delegations)
	addAll(add, "extension", o.ExtensionServices)
}

func (s *sequencer) next(prev *dag.Objects, part []byte) *dag.Objects {
	if len(part) > 0 && (part[0] == '{' || part[0] == 'w') {
		if part[0] == 'w' {
			part = part[1:]
		}
		o, _ := Objects(part)
		keepEqual(prev.HTTPProxies, o.HTTPProxies)
		keepEqual(prev.Services, o.Services)
		keepEqual(prev.EndpointSlices, o.EndpointSlices)
		keepEqual(prev.Secrets, o.Secrets)
		keepEqual(prev.Delegations, o.Delegations)
		keepEqual(prev.ExtensionServices, o.ExtensionServices)
		return o
	}
	o := &dag.Objects{
		HTTPProxies:    maps.Clone(prev.HTTPProxies),
		Services:       maps.Clone(prev.Services),
		EndpointSlices: maps.Clone(prev.EndpointSlices),
		Secrets:        maps.Clone(prev.Secrets),
		Delegations:    maps.Clone(prev.Delegations),

		ExtensionServices: maps.Clone(prev.ExtensionServices),
	}
	r := &byteReader{data: part}
	for len(r.data) > 0 {
		s.edit(o, r)
	}
	return o
}

// keepEqual puts the previous pointer back for every object of cur deeply
// equal to the previous one: an update that changes nothing keeps the
// cached object.
func keepEqual[V any](prev, cur map[types.NamespacedName]V) {
	for k, v := range cur {
		if old, ok := prev[k]; ok && reflect.DeepEqual(old, v) {
			cur[k] = old
		}
	}
}

// edit applies the edit coded at the start of r.
func (s *sequencer) edit(o *dag.Objects, r *byteReader) {
	switch r.next() % 13 {
	case 12:
		changeExtension(r, o)
	case 0:
		if k, ok := pickKey(r, o.HTTPProxies); ok {
			delete(o.HTTPProxies, k)
		}
	case 1: // an update that changes nothing the DAG reads
		if k, ok := pickKey(r, o.HTTPProxies); ok && o.HTTPProxies[k] != nil {
			o.HTTPProxies[k] = o.HTTPProxies[k].DeepCopy()
		}
	case 2:
		if k, ok := pickKey(r, o.HTTPProxies); ok {
			o.HTTPProxies[k] = changeProxy(r, o, k)
		}
	case 3:
		p := genProxy(r)
		o.HTTPProxies[fixtures.NN(p.Namespace, p.Name)] = p
	case 4:
		s.restore(o, r)
	case 5:
		changeService(r, o)
	case 6:
		changeSlice(r, o)
	case 7:
		changeSecret(r, o)
	case 8:
		changeDelegation(r, o)
	case 9:
		if k, ok := pickKey(r, o.HTTPProxies); ok {
			o.HTTPProxies[k] = nil
		}
	case 10: // a new generation: only the status changes
		if k, ok := pickKey(r, o.HTTPProxies); ok && o.HTTPProxies[k] != nil {
			p := o.HTTPProxies[k].DeepCopy()
			p.Generation++
			o.HTTPProxies[k] = p
		}
	case 11: // deleted and created again, at another time: the oldest
		// claimant of an fqdn serves it
		if k, ok := pickKey(r, o.HTTPProxies); ok && o.HTTPProxies[k] != nil {
			p := o.HTTPProxies[k].DeepCopy()
			p.CreationTimestamp = metav1.Unix(int64(r.next()%4), 0)
			o.HTTPProxies[k] = p
		}
	}
}

// restore puts back an earlier version of an object.
func (s *sequencer) restore(o *dag.Objects, r *byteReader) {
	kind := pick(r, "proxy", "service", "slice", "secret", "delegation", "extension")
	m := s.history[kind]
	if len(m) == 0 {
		return
	}
	keys := slices.SortedFunc(maps.Keys(m), compareKeys)
	k := keys[r.next()%len(keys)]
	v := m[k][r.next()%len(m[k])]
	switch kind {
	case "proxy":
		o.HTTPProxies[k] = v.(*contourv1.HTTPProxy)
	case "service":
		o.Services[k] = v.(*corev1.Service)
	case "slice":
		o.EndpointSlices[k] = v.(*discoveryv1.EndpointSlice)
	case "secret":
		o.Secrets[k] = v.(*corev1.Secret)
	case "delegation":
		o.Delegations[k] = v.(*contourv1.TLSCertificateDelegation)
	case "extension":
		o.ExtensionServices[k] = v.(*contourv1alpha1.ExtensionService)
	}
}

// changeProxy returns a changed copy of proxy k.
func changeProxy(r *byteReader, o *dag.Objects, k types.NamespacedName) *contourv1.HTTPProxy {
	p := o.HTTPProxies[k].DeepCopy()
	if p == nil {
		p = &contourv1.HTTPProxy{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name, Generation: 1}}
	}
	p.Generation++
	fqdns := []string{"x.com", "y.com", "*.x.com", "z.com", "", "bad host"}
	switch r.next() % 11 {
	case 0:
		if n := len(p.Spec.Routes); n > 0 {
			p.Spec.Routes[r.next()%n].Conditions = []contourv1.MatchCondition{{Prefix: pick(r, "/", "/z", "/a")}}
		}
	case 1:
		if p.Spec.VirtualHost != nil {
			p.Spec.VirtualHost.Fqdn = pick(r, fqdns...)
		}
	case 2:
		if p.Spec.VirtualHost != nil {
			p.Spec.VirtualHost = nil
		} else {
			p.Spec.VirtualHost = &contourv1.VirtualHost{Fqdn: pick(r, fqdns...)}
		}
	case 3:
		other, ok := pickKey(r, o.HTTPProxies)
		if !ok {
			other = k
		}
		inc := contourv1.Include{Name: pick(r, other.Name, "gone", k.Name)}
		if other.Namespace != k.Namespace && r.next()%2 == 0 {
			inc.Namespace = other.Namespace
		}
		if r.next()%2 == 0 {
			inc.Conditions = []contourv1.MatchCondition{{Prefix: pick(r, "/i", "/j", "/")}}
		}
		p.Spec.Includes = append(p.Spec.Includes, inc)
	case 4:
		p.Spec.Includes = nil
	case 5:
		if p.Spec.VirtualHost != nil {
			p.Spec.VirtualHost.TLS = pick(r,
				nil,
				&contourv1.TLS{SecretName: pick(r, "s", "b/s", "certs/wild", "bad", "c/s", "wild")},
				&contourv1.TLS{Passthrough: true},
				&contourv1.TLS{SecretName: pick(r, "s", "certs/wild"), ClientValidation: clientValidation(r)},
				&contourv1.TLS{SecretName: pick(r, "s", "certs/wild"), EnableFallbackCertificate: true})
		}
	case 6:
		p.Spec.Routes = nil
	case 7:
		rt := contourv1.Route{
			Conditions: []contourv1.MatchCondition{{Prefix: pick(r, "/r", "/", "/s")}},
			Services:   []contourv1.Service{{Name: pickService(r, o, k.Namespace), Port: pick(r, 80, 81, 8080, 5432), HealthPort: pick(r, 0, 81, 8080)}},
		}
		switch r.next() % 3 {
		case 1:
			rt.HealthCheckPolicy = &contourv1.HTTPHealthCheckPolicy{Path: "/hc"}
		case 2:
			rt.TimeoutPolicy = &contourv1.TimeoutPolicy{IdleConnection: pick(r, "1s", "infinity")}
		}
		p.Spec.Routes = append(p.Spec.Routes, rt)
	case 8:
		switch r.next() % 3 {
		case 0:
			p.Spec.TCPProxy = nil
		case 1:
			name := k.Name
			if other, ok := pickKey(r, o.HTTPProxies); ok {
				name = other.Name
			}
			p.Spec.TCPProxy = &contourv1.TCPProxy{Include: &contourv1.TCPProxyInclude{Name: name}}
		case 2:
			p.Spec.TCPProxy = &contourv1.TCPProxy{Services: []contourv1.Service{{Name: pickService(r, o, k.Namespace), Port: pick(r, 80, 5432)}}}
		}
	case 9:
		if len(p.Spec.Routes) > 0 {
			p.Spec.Routes = append(p.Spec.Routes, p.Spec.Routes[0])
		}
	case 10:
		// A field proxyctl refuses: a security one closes every virtual
		// host that reaches the proxy, another refuses the route or host.
		switch n := len(p.Spec.Routes); {
		case n > 0 && r.next()%2 == 0:
			rt := &p.Spec.Routes[r.next()%n]
			switch r.next() % 10 {
			case 8:
				rt.JWTVerificationPolicy = pick(r,
					&contourv1.JWTVerificationPolicy{Require: "a"},
					&contourv1.JWTVerificationPolicy{Disabled: true},
					&contourv1.JWTVerificationPolicy{Require: "b", Disabled: true})
			case 9:
				if len(rt.Services) > 0 {
					upstreamValidation(r, &rt.Services[0])
				}
			case 0:
				rt.AuthPolicy = authPolicy(r)
			case 1:
				// Valid, or rewriting nothing (invalid).
				rt.CookieRewritePolicies = []contourv1.CookieRewritePolicy{{Name: "c", SameSite: pick(r, nil, ptr("Lax"))}}
			case 2:
				rt.IPAllowFilterPolicy = []contourv1.IPFilterPolicy{{Source: contourv1.IPFilterSourcePeer, CIDR: pick(r, "10.0.0.0/8", "::1", "bad")}}
			case 3:
				rt.RateLimitPolicy = &contourv1.RateLimitPolicy{Local: &contourv1.LocalRateLimitPolicy{Requests: pick(r, uint32(0), 1, 10), Unit: "minute"}}
				switch r.next() % 4 {
				case 0:
					rt.RateLimitPolicy.Local = nil
					rt.RateLimitPolicy.Global = globalRateLimit(r)
				case 1:
					rt.RateLimitPolicy.Global = &contourv1.GlobalRateLimitPolicy{Disabled: true}
				}
			case 4:
				rt.InternalRedirectPolicy = &contourv1.HTTPInternalRedirectPolicy{MaxInternalRedirects: 2,
					RedirectResponseCodes: []contourv1.RedirectResponseCode{pick(r, contourv1.RedirectResponseCode(302), 301, 300)}}
			case 5, 6, 7:
				// Slow start and cookies on a service: the slow start is a
				// cluster setting, shared by the routes that agree on it.
				if len(rt.Services) > 0 {
					svc := &rt.Services[r.next()%len(rt.Services)]
					if r.next()%2 == 0 {
						svc.SlowStartPolicy = &contourv1.SlowStartPolicy{Window: pick(r, "10s", "30s", "bad")}
					} else {
						svc.CookieRewritePolicies = []contourv1.CookieRewritePolicy{{Name: "c", Secure: ptr(true)}}
					}
				}
			}
		case p.Spec.VirtualHost != nil && r.next()%4 == 0:
			p.Spec.VirtualHost.Authorization = authorization(r)
		case p.Spec.VirtualHost != nil && r.next()%3 == 0:
			p.Spec.VirtualHost.CORSPolicy = &contourv1.CORSPolicy{AllowOrigin: []string{pick(r, "*", "https://a.example", "(")}, AllowMethods: []contourv1.CORSHeaderValue{"GET"}}
		case p.Spec.VirtualHost != nil && r.next()%2 == 0:
			p.Spec.VirtualHost.RateLimitPolicy = &contourv1.RateLimitPolicy{Local: &contourv1.LocalRateLimitPolicy{Requests: 5, Unit: pick(r, "second", "hour", "day")}}
			if r.next()%2 == 0 {
				p.Spec.VirtualHost.RateLimitPolicy = &contourv1.RateLimitPolicy{Global: globalRateLimit(r)}
			}
		case p.Spec.VirtualHost != nil && r.next()%2 == 0:
			// A JWT provider: key sets from several servers (some URIs
			// do not parse), from a Secret, or verified with a CA.
			jp := contourv1.JWTProvider{Name: pick(r, "a", "b"), Default: r.next()%2 == 0}
			switch r.next() % 3 {
			case 0:
				jp.RemoteJWKS.URI = pick(r, "https://idp.example.com/keys", "http://idp:8080/k", "https://idp.example.com:port/", "ftp://idp/")
			case 1:
				jp.LocalJWKS = contourv1.LocalJWKS{SecretName: pick(r, "jwks", "s"), Key: "k"}
			case 2:
				jp.RemoteJWKS = contourv1.RemoteJWKS{URI: "https://idp.example.com/keys",
					UpstreamValidation: &contourv1.UpstreamValidation{CACertificate: pick(r, "jwks", "b/jwks"), SubjectName: "idp.example.com"}}
			}
			p.Spec.VirtualHost.JWTProviders = append(p.Spec.VirtualHost.JWTProviders, jp)
		case p.Spec.VirtualHost != nil:
			p.Spec.VirtualHost.IPDenyFilterPolicy = []contourv1.IPFilterPolicy{{Source: contourv1.IPFilterSourceRemote, CIDR: pick(r, "192.0.2.1", "10.0.0.0/8")}}
		}
	}
	return p
}

// globalRateLimit is a global rate limit policy of one or two
// descriptors of entries of every kind; one in four is invalid (no
// entry, no value, a bad header, two kinds at once, a bad regex).
func globalRateLimit(r *byteReader) *contourv1.GlobalRateLimitPolicy {
	g := &contourv1.GlobalRateLimitPolicy{Disabled: r.next()%5 == 0}
	bad := r.next()%4 == 0
	// value picks a valid choice, or any when the policy is to be bad.
	value := func(valid, invalid string) string {
		if bad && r.next()%2 == 0 {
			return invalid
		}
		return valid
	}
	for range 1 + r.next()%2 {
		var d contourv1.RateLimitDescriptor
		n := 1 + r.next()%2
		if bad && r.next()%3 == 0 {
			n = 0
		}
		for range n {
			var e contourv1.RateLimitDescriptorEntry
			switch r.next() % 5 {
			case 0:
				e.GenericKey = &contourv1.GenericKeyDescriptor{Key: pick(r, "", "k"), Value: value(pick(r, "v", "w"), "")}
			case 1:
				e.RequestHeader = &contourv1.RequestHeaderDescriptor{HeaderName: value(pick(r, "X-Tenant", ":path"), "bad header"), DescriptorKey: value("tenant", "")}
			case 2:
				h := contourv1.HeaderMatchCondition{Name: "X-A", Present: true}
				if r.next()%2 == 0 {
					h = contourv1.HeaderMatchCondition{Name: "X-B", NotContains: "c", IgnoreCase: true}
				}
				if bad && r.next()%2 == 0 {
					h.Regex = "("
				}
				e.RequestHeaderValueMatch = &contourv1.RequestHeaderValueMatchDescriptor{
					Headers: []contourv1.HeaderMatchCondition{h}, ExpectMatch: r.next()%2 == 0, Value: value("m", ""),
				}
			case 3:
				e.RemoteAddress = &contourv1.RemoteAddressDescriptor{}
			case 4:
				e.RemoteAddress = &contourv1.RemoteAddressDescriptor{}
				if bad {
					e.GenericKey = &contourv1.GenericKeyDescriptor{Value: "two"}
				}
			}
			d.Entries = append(d.Entries, e)
		}
		g.Descriptors = append(g.Descriptors, d)
	}
	return g
}

// pickService names a Service of namespace ns, or one that is missing.
func pickService(r *byteReader, o *dag.Objects, ns string) string {
	names := []string{"missing"}
	for k := range o.Services {
		if k.Namespace == ns {
			names = append(names, k.Name)
		}
	}
	slices.Sort(names)
	return pick(r, names...)
}

// changeService replaces, adds or deletes a Service.
func changeService(r *byteReader, o *dag.Objects) {
	k := pickKeyOr(r, o.Services, fixtures.NN("a", "svc0"), fixtures.NN("a", "late"), fixtures.NN("default", "kuard"))
	switch r.next() % 8 {
	case 6:
		o.Services[k] = externalName(fixtures.Service(k.Namespace, k.Name, 80, 443), pick(r, "ext.example.net", "other.example.net", "10.1.2.3"))
	case 7:
		o.Services[k] = externalName(fixtures.Service(k.Namespace, k.Name, 80), pick(r, "localhost.", "127.0.0.1"))
	case 0:
		delete(o.Services, k)
	case 1:
		o.Services[k] = fixtures.Service(k.Namespace, k.Name, 80)
	case 2:
		o.Services[k] = fixtures.Service(k.Namespace, k.Name, 80, 81)
	case 3:
		o.Services[k] = fixtures.Service(k.Namespace, k.Name, pick[int32](r, 8080, 5432))
	case 4:
		s := fixtures.Service(k.Namespace, k.Name, 80)
		s.Annotations = map[string]string{"projectcontour.io/upstream-protocol.h2c": "80", "projectcontour.io/max-connections": "50"}
		o.Services[k] = s
	case 5:
		if s := o.Services[k]; s != nil {
			s = s.DeepCopy()
			s.Labels = map[string]string{"touched": "yes"}
			o.Services[k] = s
		}
	}
}

// changeSlice replaces, adds or deletes an EndpointSlice.
func changeSlice(r *byteReader, o *dag.Objects) {
	switch r.next() % 6 {
	case 0:
		if k, ok := pickKey(r, o.EndpointSlices); ok {
			delete(o.EndpointSlices, k)
		}
	case 1:
		if k, ok := pickKey(r, o.EndpointSlices); ok {
			o.EndpointSlices[k] = nil
		}
	case 2, 3:
		k, ok := pickKey(r, o.EndpointSlices)
		if !ok || o.EndpointSlices[k] == nil {
			return
		}
		s := o.EndpointSlices[k].DeepCopy()
		switch r.next() % 3 {
		case 0:
			if len(s.Endpoints) > 0 {
				s.Endpoints[0].Addresses = []string{pick(r, "10.9.0.1", "10.0.0.1", "")}
			}
		case 1:
			if len(s.Endpoints) > 0 {
				s.Endpoints[0].Conditions.Ready = ptr(r.next()%2 == 0)
			}
		case 2:
			if s.Labels == nil {
				s.Labels = map[string]string{}
			}
			s.Labels[discoveryv1.LabelServiceName] = pickService(r, o, k.Namespace)
		}
		o.EndpointSlices[k] = s
	default:
		svc := pickKeyOr(r, o.Services, fixtures.NN("a", "svc0"))
		s := fixtures.EndpointSlice(svc.Namespace, fmt.Sprintf("%s-f%d", svc.Name, r.next()%3), svc.Name,
			pick(r, "", "p80", "p81"), pick[int32](r, 80, 8080, 8081), pick(r, "10.1.0.1", "10.0.0.1", "!10.1.0.2"))
		o.EndpointSlices[fixtures.NN(s.Namespace, s.Name)] = s
	}
}

// changeSecret replaces, adds or deletes a Secret.
func changeSecret(r *byteReader, o *dag.Objects) {
	k := pickKeyOr(r, o.Secrets, fixtures.NN("a", "s"), fixtures.NN("c", "s"), fixtures.NN("certs", "wild"), fixtures.NN("a", "jwks"), fixtures.NN("b", "jwks"), fixtures.NN("a", "ca"))
	switch r.next() % 8 {
	case 5:
		// A JWT key set, and a CA bundle for a key server.
		o.Secrets[k] = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{"k": []byte(pick(r, `{"keys":[]}`, `{"keys":[{"kty":"EC"}]}`, `[]`)), "ca.crt": []byte(testCert)},
		}
	case 6:
		o.Secrets[k] = caSecret(k.Namespace, k.Name)
	case 7:
		// A CA bundle whose revocation list is gone.
		s := caSecret(k.Namespace, k.Name)
		delete(s.Data, "crl.pem")
		o.Secrets[k] = s
	case 0:
		delete(o.Secrets, k)
	case 1:
		o.Secrets[k] = nil
	case 2:
		o.Secrets[k] = tlsSecret(k.Namespace, k.Name)
	case 3:
		o.Secrets[k] = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name}, Type: corev1.SecretTypeTLS}
	case 4:
		s := tlsSecret(k.Namespace, k.Name)
		s.Type = corev1.SecretTypeOpaque
		o.Secrets[k] = s
	}
}

// changeDelegation replaces, adds or deletes a TLSCertificateDelegation.
func changeDelegation(r *byteReader, o *dag.Objects) {
	k := pickKeyOr(r, o.Delegations, fixtures.NN("b", "d"), fixtures.NN("c", "d"), fixtures.NN("certs", "d"))
	if r.next()%4 == 0 {
		delete(o.Delegations, k)
		return
	}
	o.Delegations[k] = &contourv1.TLSCertificateDelegation{
		ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name},
		Spec: contourv1.TLSCertificateDelegationSpec{Delegations: []contourv1.CertificateDelegation{{
			SecretName:       pick(r, "s", "wild"),
			TargetNamespaces: pick(r, []string{"a"}, []string{"*"}, []string{"c"}, []string{"default"}, []string{"a", "b"}),
		}}},
	}
}

// pickKey picks a key of m, in key order so the choice is deterministic.
func pickKey[V any](r *byteReader, m map[types.NamespacedName]V) (types.NamespacedName, bool) {
	if len(m) == 0 {
		return types.NamespacedName{}, false
	}
	keys := slices.SortedFunc(maps.Keys(m), compareKeys)
	return keys[r.next()%len(keys)], true
}

// pickKeyOr picks a key of m or one of extra.
func pickKeyOr[V any](r *byteReader, m map[types.NamespacedName]V, extra ...types.NamespacedName) types.NamespacedName {
	keys := slices.SortedFunc(maps.Keys(m), compareKeys)
	for _, k := range extra {
		if _, ok := m[k]; !ok {
			keys = append(keys, k)
		}
	}
	return keys[r.next()%len(keys)]
}

func compareKeys(a, b types.NamespacedName) int {
	if a.Namespace != b.Namespace {
		if a.Namespace < b.Namespace {
			return -1
		}
		return 1
	}
	switch {
	case a.Name < b.Name:
		return -1
	case a.Name > b.Name:
		return 1
	}
	return 0
}

// changeExtension deletes, adds or changes an ExtensionService: its
// Services, protocol, timeout or validation.
func changeExtension(r *byteReader, o *dag.Objects) {
	k := pickKeyOr(r, o.ExtensionServices, fixtures.NN("a", "ext"), fixtures.NN("b", "new"))
	e := o.ExtensionServices[k]
	switch r.next() % 4 {
	case 0:
		delete(o.ExtensionServices, k)
		return
	case 1:
		if e == nil {
			e = &contourv1alpha1.ExtensionService{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name}}
		} else {
			e = e.DeepCopy()
		}
		e.Spec.Services = []contourv1alpha1.ExtensionServiceTarget{{Name: pickService(r, o, k.Namespace), Port: pick(r, 80, 81, 9)}}
	default:
		if e == nil {
			return
		}
		e = e.DeepCopy()
		switch r.next() % 3 {
		case 0:
			e.Spec.Protocol = ptr(pick(r, "h2", "h2c", "http/1.1"))
		case 1:
			e.Spec.TimeoutPolicy = &contourv1.TimeoutPolicy{Response: pick(r, "3s", "x"), Idle: pick(r, "", "1s")}
		case 2:
			e.Spec.UpstreamValidation = &contourv1.UpstreamValidation{CACertificate: pick(r, "ca", "b/ca", "none"), SubjectName: "ext"}
		}
	}
	e.Generation++
	o.ExtensionServices[k] = e
}
