package xds

import (
	"fmt"
	"hash/fnv"
	"sort"
	"time"

	"github.com/proxyctl/proxyctl/internal/dag"
	"k8s.io/apimachinery/pkg/types"
)

// Tiny builders for DAG fixtures. They build the model directly, so these
// tests do not depend on dag.Build.

// upstream is a Service port upstream with two endpoints; opts tweak it.
func upstream(ns, svc string, port int32, opts ...func(*dag.Cluster)) *dag.Cluster {
	c := &dag.Cluster{
		Service: types.NamespacedName{Namespace: ns, Name: svc},
		Port:    port,
		Endpoints: []dag.Endpoint{
			{Address: "10.0.0.1", Port: uint32(port) + 8000},
			{Address: "10.0.0.2", Port: uint32(port) + 8000},
		},
	}
	for _, o := range opts {
		o(c)
	}
	// Like the DAG, a short suffix keyed on the settings.
	c.Name = fmt.Sprintf("%s/%s/%d/%s", ns, svc, port, settingsKey(c))
	return c
}

func settingsKey(c *dag.Cluster) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s|%s|%v|%v", c.Protocol, c.LoadBalancer, c.HealthCheck, c.SlowStart)
	if c.HealthPort != 0 || c.IdleTimeout.IsSet() {
		fmt.Fprintf(h, "|%d|%v", c.HealthPort, c.IdleTimeout)
	}
	if v := c.Validation; v != nil {
		fmt.Fprintf(h, "|%s|%s|%q", v.CAName, v.CA, v.SubjectNames)
	}
	if c.ExternalName != "" || c.SNI != "" {
		fmt.Fprintf(h, "|%s|%s|%s", c.ExternalName, c.SNI, c.DNSLookupFamily)
	}
	return fmt.Sprintf("%08x", h.Sum32())
}

// externalName makes the cluster an ExternalName Service's: Envoy resolves
// name, there are no endpoints.
func externalName(name string) func(*dag.Cluster) {
	return func(c *dag.Cluster) { c.ExternalName, c.Endpoints = name, nil }
}

func sni(name string) func(*dag.Cluster) { return func(c *dag.Cluster) { c.SNI = name } }

func dnsFamily(f string) func(*dag.Cluster) { return func(c *dag.Cluster) { c.DNSLookupFamily = f } }

func protocol(p string) func(*dag.Cluster)    { return func(c *dag.Cluster) { c.Protocol = p } }
func lb(l string) func(*dag.Cluster)          { return func(c *dag.Cluster) { c.LoadBalancer = l } }
func noEndpoints() func(*dag.Cluster)         { return func(c *dag.Cluster) { c.Endpoints = nil } }
func hc(h dag.HealthCheck) func(*dag.Cluster) { return func(c *dag.Cluster) { c.HealthCheck = &h } }
func idle(t dag.Timeout) func(*dag.Cluster)   { return func(c *dag.Cluster) { c.IdleTimeout = t } }

// healthPort sends health checks to the Service port named name, number
// port, which the endpoints serve on target.
func healthPort(name string, port int32, target uint32) func(*dag.Cluster) {
	return func(c *dag.Cluster) {
		c.HealthPort, c.HealthPortName = port, name
		for i := range c.Endpoints {
			c.Endpoints[i].HealthPort = target
		}
	}
}

// validated verifies the upstream's certificate against the CA of Secret
// caName for names.
func validated(caName string, names ...string) func(*dag.Cluster) {
	return func(c *dag.Cluster) {
		c.Validation = &dag.UpstreamValidation{CAName: caName, CA: pemBlock("CERTIFICATE", caName), SubjectNames: names}
	}
}

func pemBlock(typ, content string) []byte {
	return []byte("-----BEGIN " + typ + "-----\n" + content + "\n-----END " + typ + "-----\n")
}

// withFallback serves s to TLS clients without a known server name, with
// vh among the hosts they reach.
func withFallback(vh *dag.SecureVirtualHost, s *dag.Secret) *dag.SecureVirtualHost {
	vh.FallbackCertificate = s
	return vh
}

// withClientValidation asks vh's clients for a certificate and checks it.
func withClientValidation(vh *dag.SecureVirtualHost, cv dag.ClientValidation) *dag.SecureVirtualHost {
	vh.ClientValidation = &cv
	return vh
}

// prefix is a route on a path prefix; opts set its action and policies.
func prefix(prefix string, opts ...func(*dag.Route)) *dag.Route {
	r := &dag.Route{PathMatch: dag.PathMatch{Kind: dag.PathPrefix, Value: prefix}}
	for _, o := range opts {
		o(r)
	}
	return r
}

func exact(path string, opts ...func(*dag.Route)) *dag.Route {
	r := prefix(path, opts...)
	r.PathMatch.Kind = dag.PathExact
	return r
}

func regexRoute(re string, opts ...func(*dag.Route)) *dag.Route {
	r := prefix(re, opts...)
	r.PathMatch.Kind = dag.PathRegex
	return r
}

// to forwards to cs, each of weight 0 (even split).
func to(cs ...*dag.Cluster) func(*dag.Route) {
	return func(r *dag.Route) {
		for _, c := range cs {
			r.Clusters = append(r.Clusters, &dag.WeightedCluster{Cluster: c})
		}
	}
}

func split(wcs ...*dag.WeightedCluster) func(*dag.Route) {
	return func(r *dag.Route) { r.Clusters = append(r.Clusters, wcs...) }
}

func weight(c *dag.Cluster, w uint32) *dag.WeightedCluster {
	return &dag.WeightedCluster{Cluster: c, Weight: w}
}

func headers(hs ...dag.HeaderMatch) func(*dag.Route) {
	return func(r *dag.Route) { r.HeaderMatches = append(r.HeaderMatches, hs...) }
}

func queries(qs ...dag.QueryMatch) func(*dag.Route) {
	return func(r *dag.Route) { r.QueryMatches = append(r.QueryMatches, qs...) }
}

func redirectTo(rd dag.Redirect) func(*dag.Route) { return func(r *dag.Route) { r.Redirect = &rd } }

func direct(code uint32, body string) func(*dag.Route) {
	return func(r *dag.Route) { r.DirectResponse = &dag.DirectResponse{StatusCode: code, Body: body} }
}

func mirror(c *dag.Cluster) func(*dag.Route)   { return func(r *dag.Route) { r.Mirror = c } }
func websocket() func(*dag.Route)              { return func(r *dag.Route) { r.Websocket = true } }
func with(f func(*dag.Route)) func(*dag.Route) { return f }

func vhost(name string, routes ...*dag.Route) *dag.VirtualHost {
	return &dag.VirtualHost{Name: name, Routes: routes}
}

func secret(ns, name string) *dag.Secret {
	return &dag.Secret{
		Name: ns + "/" + name,
		Cert: []byte("-----BEGIN CERTIFICATE-----\n" + name + "\n-----END CERTIFICATE-----\n"),
		Key:  []byte("-----BEGIN PRIVATE KEY-----\n" + name + "\n-----END PRIVATE KEY-----\n"),
	}
}

// tlsHost terminates TLS for name with s and routes HTTP.
func tlsHost(name string, s *dag.Secret, routes ...*dag.Route) *dag.SecureVirtualHost {
	return &dag.SecureVirtualHost{VirtualHost: *vhost(name, routes...), Secret: s}
}

// tcpHost sends the TLS stream for name to wcs; with s nil it passes TLS
// through.
func tcpHost(name string, s *dag.Secret, wcs ...*dag.WeightedCluster) *dag.SecureVirtualHost {
	return &dag.SecureVirtualHost{
		VirtualHost: dag.VirtualHost{Name: name},
		Secret:      s,
		Passthrough: s == nil,
		TCPProxy:    &dag.TCPProxy{Clusters: wcs},
	}
}

// build assembles a DAG the way dag.Build documents it: vhosts sorted by
// name, and every cluster and secret they use listed once, sorted.
func build(http []*dag.VirtualHost, https ...*dag.SecureVirtualHost) *dag.DAG {
	d := &dag.DAG{HTTP: http, HTTPS: https}
	clusters := map[string]*dag.Cluster{}
	secrets := map[string]*dag.Secret{}
	addRoutes := func(rs []*dag.Route) {
		for _, r := range rs {
			for _, wc := range r.Clusters {
				clusters[wc.Cluster.Name] = wc.Cluster
			}
			if r.Mirror != nil {
				clusters[r.Mirror.Name] = r.Mirror
			}
		}
	}
	for _, vh := range http {
		addRoutes(vh.Routes)
	}
	for _, vh := range https {
		addRoutes(vh.Routes)
		if vh.TCPProxy != nil {
			for _, wc := range vh.TCPProxy.Clusters {
				clusters[wc.Cluster.Name] = wc.Cluster
			}
		}
		if vh.Secret != nil {
			secrets[vh.Secret.Name] = vh.Secret
		}
		for _, jp := range vh.JWTProviders {
			if jp.RemoteJWKS != nil {
				clusters[jp.RemoteJWKS.Cluster.Name] = jp.RemoteJWKS.Cluster
			}
		}
		if vh.FallbackCertificate != nil {
			secrets[vh.FallbackCertificate.Name] = vh.FallbackCertificate
		}
	}
	for _, c := range clusters {
		d.Clusters = append(d.Clusters, c)
	}
	for _, s := range secrets {
		d.Secrets = append(d.Secrets, s)
	}
	sort.Slice(d.HTTP, func(i, j int) bool { return d.HTTP[i].Name < d.HTTP[j].Name })
	sort.Slice(d.HTTPS, func(i, j int) bool { return d.HTTPS[i].Name < d.HTTPS[j].Name })
	sort.Slice(d.Clusters, func(i, j int) bool { return d.Clusters[i].Name < d.Clusters[j].Name })
	sort.Slice(d.Secrets, func(i, j int) bool { return d.Secrets[i].Name < d.Secrets[j].Name })
	return d
}

func hosts(vhs ...*dag.VirtualHost) []*dag.VirtualHost { return vhs }

func ptr[T any](v T) *T { return &v }

// fixtures are the DAGs the golden, validation and snapshot tests share;
// each name is also its golden file, testdata/<name>.golden.
func fixtures() map[string]*dag.DAG {
	kuard := upstream("default", "kuard", 80)
	kuard2 := upstream("default", "kuard-canary", 80)
	kuard3 := upstream("default", "kuard-blue", 8080)
	secure := secret("default", "example-tls")

	return map[string]*dag.DAG{
		"empty": nil,

		"http-basic": build(hosts(
			vhost("example.com",
				exact("/healthz", direct(200, "ok\n")),
				regexRoute("/api/v[0-9]+/.*", to(kuard2)),
				prefix("/", to(kuard)),
			),
			vhost("other.example.com", prefix("/", to(upstream("other", "web", 8080, noEndpoints())))),
		)),

		// ExternalName Services: resolved by Envoy (STRICT_DNS, no
		// ClusterLoadAssignment), in plain HTTP with a health port, over
		// TLS with the external name as SNI, and behind a tcpproxy.
		"external-name": build(
			hosts(vhost("example.com",
				prefix("/tls", to(upstream("default", "bucket", 443, protocol(dag.ProtocolTLS), externalName("bucket.storage.example"), sni("bucket.storage.example")))),
				prefix("/", to(upstream("default", "legacy", 80, externalName("legacy.example.net"),
					hc(dag.HealthCheck{Path: "/healthz"}), func(c *dag.Cluster) { c.HealthPort, c.HealthPortName = 8081, "health" }))),
			)),
			tcpHost("db.example.com", secret("default", "db-tls"),
				weight(upstream("default", "db", 5432, externalName("db.example.net")), 1),
				weight(upstream("default", "db-v4", 5432, externalName("192.0.2.10")), 1),
				weight(upstream("default", "db-v6", 5432, externalName("2001:db8::10")), 1),
				weight(upstream("default", "db-all", 5432, externalName("db.example.net"), dnsFamily("all")), 1),
				weight(upstream("default", "db-v4only", 5432, externalName("db.example.net"), dnsFamily("v4")), 1)),
		),

		"wildcard": build(hosts(vhost("*.example.com", prefix("/", to(kuard))))),

		"weighted": build(hosts(vhost("example.com",
			prefix("/even", to(kuard, kuard2)),
			prefix("/canary", split(weight(kuard, 90), weight(kuard2, 10), weight(kuard3, 0))),
			prefix("/", split(
				&dag.WeightedCluster{
					Cluster: kuard, Weight: 80,
					RequestHeaders:  &dag.HeadersPolicy{Set: []dag.Header{{Name: "x-variant", Value: "stable"}}, HostRewrite: "stable.internal"},
					ResponseHeaders: &dag.HeadersPolicy{Remove: []string{"x-internal"}},
				},
				&dag.WeightedCluster{
					Cluster: kuard2, Weight: 20,
					RequestHeaders: &dag.HeadersPolicy{Set: []dag.Header{{Name: "x-variant", Value: "canary"}}},
				},
			)),
		))),

		"conditions": build(hosts(vhost("example.com",
			prefix("/", to(kuard2), headers(
				dag.HeaderMatch{Name: "x-contains", Kind: dag.HeaderContains, Value: "abc", IgnoreCase: true},
				dag.HeaderMatch{Name: "x-exact", Kind: dag.HeaderExact, Value: "yes"},
				dag.HeaderMatch{Name: "x-missing", Kind: dag.HeaderPresent, Invert: true},
				dag.HeaderMatch{Name: "x-notexact", Kind: dag.HeaderExact, Value: "no", Invert: true, TreatMissingAsEmpty: true},
				dag.HeaderMatch{Name: "x-present", Kind: dag.HeaderPresent},
				dag.HeaderMatch{Name: "x-regex", Kind: dag.HeaderRegex, Value: "^v[0-9]+$", IgnoreCase: true},
			)),
			prefix("/", to(kuard3), queries(
				dag.QueryMatch{Name: "contains", Kind: dag.QueryContains, Value: "c"},
				dag.QueryMatch{Name: "exact", Kind: dag.QueryExact, Value: "e", IgnoreCase: true},
				dag.QueryMatch{Name: "prefix", Kind: dag.QueryPrefix, Value: "p"},
				dag.QueryMatch{Name: "present", Kind: dag.QueryPresent},
				dag.QueryMatch{Name: "regex", Kind: dag.QueryRegex, Value: "r.*"},
				dag.QueryMatch{Name: "suffix", Kind: dag.QuerySuffix, Value: "s"},
			)),
			prefix("/", to(kuard)),
		))),

		// A TLS vhost: HTTP redirects to HTTPS except the route that
		// permits insecure requests; the HTTPS side routes everything.
		"tls-redirect": build(
			hosts(vhost("secure.example.com",
				prefix("/insecure", to(kuard2)),
				prefix("/", redirectTo(dag.Redirect{Scheme: "https", StatusCode: 301})),
			)),
			func() *dag.SecureVirtualHost {
				vh := tlsHost("secure.example.com", secure, prefix("/insecure", to(kuard2)), prefix("/", to(kuard)))
				vh.MinTLSVersion = "1.3"
				return vh
			}(),
			tlsHost("*.wild.example.com", secret("certs", "wild-tls"), prefix("/", to(kuard3))),
		),

		// A TLS vhost with external authorization over verified h2 to an
		// ExtensionService of two weighted Services: one route disables
		// it, one adds context entries; the body goes to the server. A
		// second ExtensionService, over h2c, is not referenced: its
		// cluster is served all the same, as in Contour.
		"extauth": func() *dag.DAG {
			authz := &dag.ExtensionCluster{
				Name: "extension/auth/authz", Extension: types.NamespacedName{Namespace: "auth", Name: "authz"},
				Protocol: dag.ProtocolH2, LoadBalancer: dag.LBRandom, SNI: "authz.auth.svc",
				Validation: &dag.UpstreamValidation{CAName: "auth/ca", CA: pemBlock("CERTIFICATE", "ca"),
					SubjectNames: []string{"authz.auth.svc"}},
				ResponseTimeout: dag.Timeout{Duration: 2 * time.Second},
				IdleTimeout:     dag.Timeout{Duration: time.Minute},
				CircuitBreakers: &dag.CircuitBreakers{MaxConnections: 10, MaxPendingRequests: 20, MaxRequests: 30, MaxRetries: 4, PerHostMaxConnections: 5},
				Targets: []dag.ExtensionTarget{
					{Service: types.NamespacedName{Namespace: "auth", Name: "authz-a"}, Port: 9443, Weight: 80,
						Endpoints: []dag.Endpoint{{Address: "10.1.0.1", Port: 9443}, {Address: "10.1.0.2", Port: 9443}}},
					{Service: types.NamespacedName{Namespace: "auth", Name: "authz-b"}, Port: 9443, Weight: 20,
						Endpoints: []dag.Endpoint{{Address: "10.1.0.3", Port: 9443}}},
				},
			}
			plain := &dag.ExtensionCluster{
				Name: "extension/auth/plain", Extension: types.NamespacedName{Namespace: "auth", Name: "plain"},
				Protocol: dag.ProtocolH2C, LoadBalancer: dag.LBRoundRobin,
				Targets: []dag.ExtensionTarget{{Service: types.NamespacedName{Namespace: "auth", Name: "plain"}, Port: 9000,
					Endpoints: []dag.Endpoint{{Address: "10.1.0.9", Port: 9000}}}},
			}
			vh := tlsHost("auth.example.com", secure,
				prefix("/public", to(kuard), with(func(r *dag.Route) { r.AuthDisabled = true })),
				prefix("/api", to(kuard), with(func(r *dag.Route) {
					r.AuthContext = []dag.Header{{Name: "area", Value: "api"}, {Name: "site", Value: "auth"}}
				})),
				prefix("/", to(kuard)),
			)
			vh.Authorization = &dag.ExternalAuthorization{
				Cluster: authz, FailOpen: true, ResponseTimeout: dag.Timeout{Duration: 500 * time.Millisecond},
				WithRequestBody: &dag.AuthorizationBody{MaxRequestBytes: 4096, AllowPartialMessage: true, PackAsBytes: true},
			}
			d := build(hosts(vhost("auth.example.com",
				prefix("/public", to(kuard), with(func(r *dag.Route) { r.AuthDisabled = true })),
				prefix("/", redirectTo(dag.Redirect{Scheme: "https", StatusCode: 301})),
			)), vh)
			d.ExtensionClusters = []*dag.ExtensionCluster{authz, plain}
			return d
		}(),

		// A TLS vhost verifying JWTs: a remote key set over verified
		// HTTPS (the default provider), a remote one over HTTP resolving
		// every address, and a local one; one route requires the local
		// provider, one disables verification.
		"jwt": build(nil, func() *dag.SecureVirtualHost {
			vh := tlsHost("jwt.example.com", secure,
				prefix("/local", to(kuard), with(func(r *dag.Route) { r.JWTProvider = "local" })),
				prefix("/public", to(kuard)),
				prefix("/", to(kuard), with(func(r *dag.Route) { r.JWTProvider = "remote" })),
			)
			vh.JWTProviders = []dag.JWTProvider{
				{
					Name: "remote", Issuer: "https://issuer.example.com", Audiences: []string{"api", "web"}, ForwardJWT: true,
					RemoteJWKS: &dag.RemoteJWKS{
						URI: "https://jwks.example.com/keys", Timeout: 3 * time.Second, CacheDuration: time.Hour,
						Cluster: &dag.Cluster{Name: "dnsname/https/jwks.example.com:443/0123456789", DNS: &dag.DNSUpstream{
							Host: "jwks.example.com", Port: 443, TLS: true, DNSLookupFamily: "v4",
							CACertificate: []byte("-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"),
							SubjectNames:  []string{"jwks.example.com", "192.0.2.10"},
						}},
					},
				},
				{
					Name: "plain",
					RemoteJWKS: &dag.RemoteJWKS{
						URI: "http://keys.internal:8080/jwks.json", Timeout: time.Second,
						Cluster: &dag.Cluster{Name: "dnsname/http/keys.internal:8080/9876543210", DNS: &dag.DNSUpstream{
							Host: "keys.internal", Port: 8080, DNSLookupFamily: "all",
						}},
					},
				},
				{Name: "local", LocalJWKS: []byte(`{"keys":[]}`)},
			}
			return vh
		}()),

		"redirects": build(hosts(vhost("example.com",
			prefix("/moved", redirectTo(dag.Redirect{Hostname: "new.example.com", Port: 8443, Path: "/new", StatusCode: 302})),
			prefix("/scheme", redirectTo(dag.Redirect{Scheme: "http", StatusCode: 308})),
			prefix("/old/", redirectTo(dag.Redirect{Prefix: "/new/", StatusCode: 307})),
			prefix("/other", redirectTo(dag.Redirect{StatusCode: 303})),
		))),

		"tcpproxy-passthrough": build(nil,
			tcpHost("pass.example.com", nil, weight(kuard, 0)),
			tcpHost("split.example.com", nil, weight(kuard2, 0), weight(kuard3, 0)),
		),

		"tcpproxy-terminated": build(nil,
			tcpHost("tcp.example.com", secure, weight(kuard, 3), weight(kuard2, 1), weight(kuard3, 0)),
		),

		// Routes next to a tcpproxy: on the HTTP listener only.
		"tcpproxy-with-routes": build(hosts(vhost("tcp.example.com",
			prefix("/open", to(kuard2)),
			prefix("/", redirectTo(dag.Redirect{Scheme: "https", StatusCode: 301})),
		)),
			tcpHost("tcp.example.com", secure, weight(kuard, 0)),
		),

		// Client certificates checked against a CA and a CRL with every
		// detail forwarded, optional ones, and any accepted; upstreams
		// whose certificates are verified, on routes and a tcpproxy.
		"tls-validation": build(
			hosts(vhost("upstream.example.com", prefix("/", redirectTo(dag.Redirect{Scheme: "https", StatusCode: 301})))),
			withClientValidation(tlsHost("mtls.example.com", secure, prefix("/", to(kuard))), dag.ClientValidation{
				CA: pemBlock("CERTIFICATE", "client-ca"), CRL: pemBlock("X509 CRL", "client-crl"), CRLLeafOnly: true,
				Forward: &dag.ForwardClientCert{Subject: true, Cert: true, Chain: true, DNS: true, URI: true},
			}),
			withClientValidation(tlsHost("optional.example.com", secure, prefix("/", to(kuard))), dag.ClientValidation{
				CA: pemBlock("CERTIFICATE", "client-ca"), Optional: true,
			}),
			withClientValidation(tlsHost("skip.example.com", secure, prefix("/", to(kuard))), dag.ClientValidation{
				SkipVerify: true, Forward: &dag.ForwardClientCert{Subject: true},
			}),
			tlsHost("upstream.example.com", secure,
				prefix("/h2", to(upstream("default", "backend", 443, protocol(dag.ProtocolH2), validated("default/backend-ca", "a.example.com", "b.example.com")))),
				prefix("/", to(upstream("default", "backend", 443, protocol(dag.ProtocolTLS), validated("default/backend-ca", "backend.example.com")))),
			),
			tcpHost("tcp.example.com", secure, weight(upstream("default", "db", 5432, protocol(dag.ProtocolTLS), validated("certs/db-ca", "db.example.com")), 0)),
		),

		// Two hosts enable the fallback certificate, one does not: the
		// fallback chain routes among the two.
		"tls-fallback": build(nil,
			withFallback(tlsHost("a.example.com", secure, prefix("/", to(kuard))), secret("certs", "fallback")),
			withFallback(tlsHost("b.example.com", secure, prefix("/", to(kuard2))), secret("certs", "fallback")),
			tlsHost("c.example.com", secure, prefix("/", to(kuard3))),
		),

		"direct-response": build(hosts(vhost("example.com",
			prefix("/missing-include", direct(502, "")),
			prefix("/", direct(503, "")),
		))),

		// A mirror of every request (no percentage in the DAG, or 100),
		// and of a share.
		"mirror": build(hosts(vhost("example.com",
			prefix("/sampled", to(kuard), mirror(kuard3), with(func(r *dag.Route) { r.MirrorPercent = 20 })),
			prefix("/all", to(kuard), mirror(kuard3), with(func(r *dag.Route) { r.MirrorPercent = 100 })),
			prefix("/", to(kuard), mirror(kuard2)),
		))),

		"websocket": build(hosts(vhost("example.com",
			prefix("/ws", to(kuard), websocket()),
			prefix("/", to(kuard)),
		))),

		"policies": build(hosts(vhost("example.com",
			prefix("/api", to(kuard), with(func(r *dag.Route) {
				r.PrefixRewrite = ptr("/")
				r.Timeouts = dag.TimeoutPolicy{
					Response: dag.Timeout{Duration: 30 * time.Second},
					Idle:     dag.Timeout{Infinite: true},
				}
				r.Retry = &dag.RetryPolicy{
					RetryOn:              []string{"5xx", "gateway-error"},
					NumRetries:           3,
					PerTryTimeout:        dag.Timeout{Duration: 500 * time.Millisecond},
					RetriableStatusCodes: []uint32{502, 503},
				}
				r.RequestHeaders = &dag.HeadersPolicy{
					Set: []dag.Header{
						{Name: "Host", Value: "ignored-because-rewrite-wins"},
						{Name: "x-client", Value: "%DOWNSTREAM_REMOTE_ADDRESS%"},
						{Name: "x-discount", Value: "50%"},
					},
					Remove:      []string{"x-drop", "host", ":authority"},
					HostRewrite: "api.internal",
				}
				r.ResponseHeaders = &dag.HeadersPolicy{
					Set:    []dag.Header{{Name: "x-served-by", Value: "proxyctl"}},
					Remove: []string{"server"},
				}
			})),
			// Retries off (retryPolicy.count -1), and the Host taken from
			// a request header.
			prefix("/no-retry", to(kuard), with(func(r *dag.Route) {
				r.Retry = &dag.RetryPolicy{RetryOn: []string{"5xx"}, NumRetries: 0}
				r.RequestHeaders = &dag.HeadersPolicy{
					Set: []dag.Header{
						{Name: "x-forwarded-host", Value: "%REQ(host)%"},
						{Name: "x-mixed", Value: "%HOSTNAME% 100% %REQ(x-a?x-b):8% %START_TIME% %CONTOUR_SERVICE_NAME%"},
					},
					HostRewriteHeader: "X-Foo",
				}
			})),
			prefix("/", to(kuard), with(func(r *dag.Route) {
				r.Timeouts.Response = dag.Timeout{Infinite: true}
				r.Retry = &dag.RetryPolicy{NumRetries: 1}
				r.RequestHeaders = &dag.HeadersPolicy{Set: []dag.Header{{Name: "host", Value: "from-set.internal"}}}
			})),
		))),

		"cluster-protocols": build(hosts(vhost("example.com",
			prefix("/h2", to(upstream("default", "grpc", 9000, protocol(dag.ProtocolH2)))),
			prefix("/h2c", to(upstream("default", "grpc", 9001, protocol(dag.ProtocolH2C)))),
			prefix("/tls", to(upstream("default", "secure", 443, protocol(dag.ProtocolTLS)))),
		))),

		"healthcheck": build(hosts(vhost("example.com",
			prefix("/http", to(upstream("default", "web", 80, hc(dag.HealthCheck{
				Path: "/healthz", Host: "web.local", Interval: 10 * time.Second, Timeout: time.Second,
				UnhealthyThreshold: 5, HealthyThreshold: 1, ExpectedStatuses: []uint32{200, 204},
			})))),
			prefix("/h2", to(upstream("default", "grpc", 9000, protocol(dag.ProtocolH2C), hc(dag.HealthCheck{Path: "/ready"})))),
			prefix("/tcp", to(upstream("default", "db", 5432, hc(dag.HealthCheck{})))),
			prefix("/healthport", to(upstream("default", "web", 80, hc(dag.HealthCheck{Path: "/healthz"}), healthPort("health", 81, 8081)))),
		))),

		"idle-connection": build(hosts(vhost("example.com",
			prefix("/ten", to(upstream("default", "web", 80, idle(dag.Timeout{Duration: 10 * time.Second})))),
			prefix("/never", to(upstream("default", "web", 80, idle(dag.Timeout{Infinite: true})))),
			prefix("/h2c", to(upstream("default", "grpc", 9000, protocol(dag.ProtocolH2C), idle(dag.Timeout{Duration: time.Minute})))),
			prefix("/", to(upstream("default", "web", 80))),
		))),

		// A virtual host that admits two ranges (one by the address
		// X-Forwarded-For gives), with a route that replaces the filter.
		"ip-filters": build(hosts(func() *dag.VirtualHost {
			vh := vhost("example.com",
				prefix("/blocked", to(kuard), with(func(r *dag.Route) {
					r.IPFilter = &dag.IPFilter{Rules: []dag.IPFilterRule{{Address: "192.0.2.0", PrefixLen: 24}}}
				})),
				prefix("/", to(kuard)),
			)
			vh.IPFilter = &dag.IPFilter{Allow: true, Rules: []dag.IPFilterRule{
				{Address: "10.0.0.0", PrefixLen: 8},
				{Remote: true, Address: "2001:db8::", PrefixLen: 32},
			}}
			return vh
		}())),

		// A virtual host with CORS and a local rate limit; routes with
		// their own limit, an internal redirect policy, cookie rewrites
		// of the route and of one service (merged), and slow start
		// clusters of both strategies that allow it.
		"traffic-policies": build(hosts(func() *dag.VirtualHost {
			slow := &dag.SlowStart{Window: 30 * time.Second, Aggression: 1.5, MinWeightPercent: 20}
			rr := upstream("default", "app", 80, func(c *dag.Cluster) { c.SlowStart = slow })
			wlr := upstream("default", "app", 80, lb(dag.LBWeightedLeastRequest), func(c *dag.Cluster) { c.SlowStart = slow })
			vh := vhost("example.com",
				prefix("/limited", to(kuard), with(func(r *dag.Route) {
					r.RateLimit = &dag.LocalRateLimit{MaxTokens: 3, TokensPerFill: 1, FillInterval: time.Hour, StatusCode: 503,
						ResponseHeaders: []dag.Header{{Name: "X-Limited", Value: "route"}}}
				})),
				prefix("/follow", to(kuard), with(func(r *dag.Route) {
					r.InternalRedirect = &dag.InternalRedirect{MaxRedirects: 2, StatusCodes: []uint32{301, 302}, CrossScheme: "SafeOnly", DenyRepeatedRoute: true}
				})),
				prefix("/always", to(kuard), with(func(r *dag.Route) {
					r.InternalRedirect = &dag.InternalRedirect{CrossScheme: "Always"}
				})),
				prefix("/cookies", split(&dag.WeightedCluster{Cluster: kuard, CookieRewrites: []dag.CookieRewrite{
					{Name: "session", SameSite: ptr("Lax")},
				}}, &dag.WeightedCluster{Cluster: rr}), with(func(r *dag.Route) {
					r.CookieRewrites = []dag.CookieRewrite{{Name: "session", Path: ptr("/"), Domain: ptr("example.com"), Secure: ptr(false), SameSite: ptr("Strict")}}
				})),
				prefix("/slow", to(wlr)),
				prefix("/", to(rr)),
			)
			vh.CORS = &dag.CORSPolicy{
				AllowOrigins:     []dag.CORSOrigin{{Value: "https://www.example.com"}, {Value: `https://.*\.example\.org`, Regex: true}},
				AllowMethods:     []string{"GET", "PUT"},
				AllowHeaders:     []string{"X-Custom"},
				ExposeHeaders:    []string{"X-Echo-Name"},
				AllowCredentials: true, MaxAge: "600", AllowPrivateNetwork: true,
			}
			vh.RateLimit = &dag.LocalRateLimit{MaxTokens: 100, TokensPerFill: 100, FillInterval: time.Second}
			return vh
		}())),

		"global-rate-limits": globalRateLimitFixture(kuard, secure),
		"global-rate-limit-service": func() *dag.DAG {
			// The rate limit service's ExtensionService, which the
			// filter of goldenListenerConfigs names.
			d := globalRateLimitFixture(kuard, secure)
			d.ExtensionClusters = []*dag.ExtensionCluster{{
				Name:      dag.ExtensionClusterName(types.NamespacedName{Namespace: "projectcontour", Name: "ratelimit"}),
				Extension: types.NamespacedName{Namespace: "projectcontour", Name: "ratelimit"},
				Protocol:  dag.ProtocolH2C, ResponseTimeout: dag.Timeout{Duration: 100 * time.Millisecond},
				Targets: []dag.ExtensionTarget{{
					Service: types.NamespacedName{Namespace: "projectcontour", Name: "ratelimit"}, Port: 8081, PortName: "grpc",
					Endpoints: []dag.Endpoint{{Address: "10.0.0.9", Port: 8081}},
				}},
			}}
			return d
		}(),

		// Contour's globalExtAuth: the HTTP listener and the fallback
		// chain check with the server of goldenListenerConfigs, a TLS
		// virtual host with the DAG's copy of it; a route turns it off.
		"global-extauth": func() *dag.DAG {
			authz := globalAuthz.Cluster
			public := func(r *dag.Route) { r.AuthDisabled = true }
			ctx := func(r *dag.Route) { r.AuthContext = []dag.Header{{Name: "scope", Value: "global"}} }
			vh := withFallback(tlsHost("secure.example.com", secure,
				prefix("/public", to(kuard), with(public), with(ctx)),
				prefix("/", to(kuard), with(ctx)),
			), secret("certs", "fallback"))
			vh.Authorization = globalAuthz
			d := build(hosts(vhost("plain.example.com",
				prefix("/public", to(kuard), with(public), with(ctx)),
				prefix("/", to(kuard), with(ctx)),
			)), vh)
			d.ExtensionClusters = []*dag.ExtensionCluster{authz}
			return d
		}(),

		"lb-policies": build(hosts(vhost("example.com",
			prefix("/cookie", to(upstream("default", "sticky", 80, lb(dag.LBCookie))), with(func(r *dag.Route) {
				r.HashPolicies = []dag.HashPolicy{{Cookie: "X-Proxyctl-Session", CookieTTL: 0, CookiePath: "/"}}
			})),
			prefix("/hash", to(upstream("default", "hashed", 80, lb(dag.LBRequestHash))), with(func(r *dag.Route) {
				r.HashPolicies = []dag.HashPolicy{
					{Header: "x-user", Terminal: true},
					{QueryParam: "session"},
					{SourceIP: true},
					{Cookie: "pref", CookieTTL: time.Hour},
				}
			})),
			prefix("/least", to(upstream("default", "least", 80, lb(dag.LBWeightedLeastRequest)))),
			prefix("/random", to(upstream("default", "random", 80, lb(dag.LBRandom)))),
			prefix("/", to(upstream("default", "rr", 80, lb(dag.LBRoundRobin)))),
		))),

		// The configuration file's keys served for issue 12 (with
		// goldenListenerConfigs' HTTP/1.1 only, trailing host dot
		// stripped, chunked length refused, exact connection balancer,
		// TOS and traffic class on IPv6 listeners): a Service's cluster with
		// an upstream request limit and every threshold, one h2c cluster
		// with the limit and some thresholds, and a TLS host whose ALPN
		// offers http/1.1 only.
		"config-keys": build(hosts(vhost("example.com",
			prefix("/grpc", to(upstream("default", "grpc", 9000, protocol(dag.ProtocolH2C), func(c *dag.Cluster) {
				c.MaxRequestsPerConnection = 3
				c.CircuitBreakers = dag.CircuitBreakers{MaxRequests: 7, PerHostMaxConnections: 2}
			}))),
			prefix("/", to(upstream("default", "limited", 80, func(c *dag.Cluster) {
				c.MaxRequestsPerConnection = 3
				c.CircuitBreakers = dag.CircuitBreakers{MaxConnections: 10, MaxPendingRequests: 20, MaxRequests: 30, MaxRetries: 4, PerHostMaxConnections: 5}
			}))),
		)), tlsHost("secure.example.com", secure, prefix("/", to(kuard)))),
	}
}

// globalRateLimitFixture has every kind of rate limit action, on a
// virtual host, on a route of its own and on a route that disables the
// virtual host's, plain and over TLS.
func globalRateLimitFixture(kuard *dag.Cluster, secure *dag.Secret) *dag.DAG {
	hostLimits := &dag.GlobalRateLimit{Descriptors: []dag.RateLimitDescriptor{
		{Entries: []dag.RateLimitEntry{{RemoteAddress: true}}},
		{Entries: []dag.RateLimitEntry{{RemoteAddress: true}, {GenericKey: &dag.GenericKeyEntry{Key: "vhost", Value: "example.com"}}}},
	}}
	routes := func() []*dag.Route {
		return []*dag.Route{
			prefix("/tenant", to(kuard), with(func(r *dag.Route) {
				r.GlobalRateLimit = &dag.GlobalRateLimit{Descriptors: []dag.RateLimitDescriptor{
					{Entries: []dag.RateLimitEntry{{GenericKey: &dag.GenericKeyEntry{Value: "tenant"}}, {RequestHeader: &dag.RequestHeaderEntry{Header: "X-Tenant", Key: "tenant"}}}},
					{Entries: []dag.RateLimitEntry{{HeaderValueMatch: &dag.HeaderValueMatchEntry{ExpectMatch: true, Value: "anonymous", Headers: []dag.HeaderMatch{
						{Name: "Authorization", Kind: dag.HeaderPresent, Invert: true},
						{Name: "User-Agent", Kind: dag.HeaderContains, Value: "bot", IgnoreCase: true},
					}}}}},
					{Entries: []dag.RateLimitEntry{{HeaderValueMatch: &dag.HeaderValueMatchEntry{ExpectMatch: false, Value: "not-internal", Headers: []dag.HeaderMatch{
						{Name: "X-Internal", Kind: dag.HeaderExact, Value: "yes"},
					}}}}},
				}}
			})),
			prefix("/free", to(kuard), with(func(r *dag.Route) { r.DisableVirtualHostGlobalRateLimit = true })),
			prefix("/", to(kuard)),
		}
	}
	plain := vhost("example.com", routes()...)
	plain.GlobalRateLimit = hostLimits
	tlsHost := vhost("secure.example.com", routes()...)
	tlsHost.GlobalRateLimit = hostLimits
	return build(hosts(plain), &dag.SecureVirtualHost{VirtualHost: *tlsHost, Secret: secure})
}

// goldenListenerConfigs are the listener configurations of the golden
// files that do not use testListenerConfig.
var goldenListenerConfigs = map[string]ListenerConfig{
	// With the connection settings of Contour's configuration file: the
	// Services' clusters get the cluster buffer limit, the extension
	// cluster does not.
	"global-extauth": {HTTPPort: 8080, HTTPSPort: 8443, GlobalAuthorization: globalAuthz,
		ConnectTimeout: 250 * time.Millisecond,
		Timeouts: Timeouts{
			DelayedClose:                  Timeout{Mode: TimeoutDuration, Duration: 3 * time.Second},
			ConnectionShutdownGracePeriod: Timeout{Mode: TimeoutDuration, Duration: 7 * time.Second},
		},
		PerConnectionBufferLimitBytes: 16384, ClusterPerConnectionBufferLimitBytes: 32768},
	"global-rate-limit-service": {HTTPPort: 8080, HTTPSPort: 8443, RateLimit: RateLimitService{
		ClusterName: "extension/projectcontour/ratelimit", Timeout: dag.Timeout{Duration: 100 * time.Millisecond},
		Domain: "contour", FailOpen: true, EnableXRateLimitHeaders: true, EnableResourceExhaustedCode: true,
	}},
	"config-keys": {HTTPAddress: "::", HTTPPort: 8080, HTTPSAddress: "::", HTTPSPort: 8443, HTTPVersions: []string{HTTPVersion1},
		StripTrailingHostDot: true, DisableAllowChunkedLength: true, ConnectionBalancer: ConnectionBalancerExact, TOS: 32, TrafficClass: 64},
}

// globalAuthz is the global authorization server of the global-extauth
// fixture.
var globalAuthz = &dag.ExternalAuthorization{
	Cluster: &dag.ExtensionCluster{
		Name: "extension/auth/global", Extension: types.NamespacedName{Namespace: "auth", Name: "global"},
		Protocol: dag.ProtocolH2C, LoadBalancer: dag.LBRoundRobin,
		Targets: []dag.ExtensionTarget{{Service: types.NamespacedName{Namespace: "auth", Name: "global"}, Port: 9000,
			Endpoints: []dag.Endpoint{{Address: "10.1.0.8", Port: 9000}}}},
	},
	ResponseTimeout: dag.Timeout{Duration: time.Second},
}
