package dagtest

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
	"github.com/proxyctl/proxyctl/internal/dag"
	"github.com/proxyctl/proxyctl/internal/fixtures"
)

// input is the JSON form of a fuzz case.
type input struct {
	Proxies        []*contourv1.HTTPProxy                `json:"proxies"`
	Services       []*corev1.Service                     `json:"services"`
	Slices         []*discoveryv1.EndpointSlice          `json:"slices"`
	Secrets        []*corev1.Secret                      `json:"secrets"`
	Delegations    []*contourv1.TLSCertificateDelegation `json:"delegations"`
	Extensions     []*contourv1alpha1.ExtensionService   `json:"extensionServices"`
	RootNamespaces []string                              `json:"rootNamespaces"`
}

// Objects decodes a fuzz input. Data starting with '{' that is valid JSON
// is read as lists of proxies, services, slices, secrets and delegations
// plus the root namespaces; any other data picks a small world of proxies
// over a fixed set of services and secrets, byte by byte. Every input gives
// objects; the same input always gives equal objects.
func Objects(data []byte) (*dag.Objects, dag.Config) {
	if len(data) > 0 && data[0] == '{' {
		var in input
		if err := json.Unmarshal(data, &in); err == nil {
			return in.objects(), dag.Config{RootNamespaces: in.RootNamespaces}
		}
	}
	// The fallback certificate is one of the generated world's Secrets,
	// delegated to namespace a (b/s), or none.
	cfg := dag.Config{}
	switch len(data) % 3 {
	case 1:
		cfg.FallbackCertificate = fixtures.NN("a", "s")
	case 2:
		cfg.FallbackCertificate = fixtures.NN("b", "s")
	}
	// The cluster-wide settings, by other digits of the length.
	cfg.EnableExternalNameService = (len(data)/3)%2 == 0
	cfg.DisablePermitInsecure = (len(data)/6)%2 == 1
	cfg.DNSLookupFamily = pick(&byteReader{data: []byte{byte(len(data) / 24)}}, "", "auto", "v4", "all")
	if (len(data)/12)%2 == 1 {
		cfg.RequestHeaders = dag.GlobalHeaders{
			Set:    map[string]string{"x-global": "%CONTOUR_SERVICE_NAME%", "X-Global": "other spelling", "Host": "global.example.net"},
			Remove: []string{"x-drop", "X-Drop"},
		}
		cfg.ResponseHeaders = dag.GlobalHeaders{Set: map[string]string{"x-served-by": "proxyctl"}, Remove: []string{"server"}}
	}
	// The upstream request limit and circuit breaker defaults, or none.
	if (len(data)/10)%2 == 1 {
		cfg.UpstreamMaxRequestsPerConnection = 3
		cfg.CircuitBreakers = dag.CircuitBreakers{MaxConnections: 10, MaxRequests: 20, PerHostMaxConnections: 2}
	}
	// A default global rate limit policy for the virtual hosts without
	// one of their own, or an invalid one, or none.
	switch len(data) % 5 {
	case 3:
		cfg.DefaultGlobalRateLimitPolicy = &contourv1.GlobalRateLimitPolicy{Descriptors: []contourv1.RateLimitDescriptor{
			{Entries: []contourv1.RateLimitDescriptorEntry{{RemoteAddress: &contourv1.RemoteAddressDescriptor{}}}},
		}}
	case 4:
		cfg.DefaultGlobalRateLimitPolicy = &contourv1.GlobalRateLimitPolicy{Descriptors: []contourv1.RateLimitDescriptor{{}}}
	}
	// A global authorization server (Contour's globalExtAuth): the valid
	// ExtensionService, the invalid one, or none.
	switch (len(data) / 7) % 3 {
	case 1:
		cfg.GlobalExternalAuthorization = &contourv1.AuthorizationServer{
			ExtensionServiceRef: contourv1.ExtensionServiceReference{Namespace: "a", Name: "ext"},
			AuthPolicy:          &contourv1.AuthorizationPolicy{Context: map[string]string{"scope": "global"}},
		}
	case 2:
		cfg.GlobalExternalAuthorization = &contourv1.AuthorizationServer{
			ExtensionServiceRef: contourv1.ExtensionServiceReference{Namespace: "a", Name: "bad"},
		}
	}
	return generated(data), cfg
}

func (in *input) objects() *dag.Objects {
	objs := dag.NewObjects()
	for _, p := range in.Proxies {
		if p != nil {
			objs.HTTPProxies[fixtures.NN(p.Namespace, p.Name)] = p
		}
	}
	for _, s := range in.Services {
		if s != nil {
			objs.Services[fixtures.NN(s.Namespace, s.Name)] = s
		}
	}
	for _, s := range in.Slices {
		if s != nil {
			objs.EndpointSlices[fixtures.NN(s.Namespace, s.Name)] = s
		}
	}
	for _, s := range in.Secrets {
		if s != nil {
			objs.Secrets[fixtures.NN(s.Namespace, s.Name)] = s
		}
	}
	for _, d := range in.Delegations {
		if d != nil {
			objs.Delegations[fixtures.NN(d.Namespace, d.Name)] = d
		}
	}
	for _, e := range in.Extensions {
		if e != nil {
			objs.ExtensionServices[fixtures.NN(e.Namespace, e.Name)] = e
		}
	}
	return objs
}
