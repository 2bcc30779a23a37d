package dag

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

// What proxyctl does with a field of the API.
const (
	served = "served"
	// refusedVhost: the whole virtual host is not served (security
	// stanzas, wherever they are written, and virtual host settings).
	refusedVhost = "refused: virtual host"
	// refusedTCPProxy: the tcpproxy (and so its virtual host) is not served.
	refusedTCPProxy = "refused: tcpproxy"
)

// apiField is one field of the HTTPProxy or TLSCertificateDelegation spec,
// named by its JSON path ("[]" for any element of a list).
type apiField struct {
	path    string
	support string
	// proof names the tests that show a served field at work: a unit
	// test of the DAG or the xDS golden files, and where traffic is
	// involved an e2e test through a real Envoy ("TestRouting/header
	// condition"), separated by "; ". For a refused field the refusal is proven here.
	proof string
}

// fieldTable is every leaf field of the API (every field whose type is not
// a struct of the API), except those under a refused stanza, which is
// listed itself. TestEveryFieldIsServedOrRefused fails when a field of the
// types is missing here, so a field added to apis/ must be handled.
var fieldTable = slices.Concat(
	group(served, "TestVirtualHosts; TestWildcardAuthority; TestRouting; TestParityRoutes/wildcard fqdn matches one label", "spec.virtualhost.fqdn"),
	group(served, "TestTLS; TestTLS/termination, redirect and permitInsecure; TestTLSVersions",
		"spec.virtualhost.tls.secretName", "spec.virtualhost.tls.minimumProtocolVersion",
		"spec.virtualhost.tls.maximumProtocolVersion"),
	group(served, "TestTCPProxy; TestTLS/tcpproxy passthrough", "spec.virtualhost.tls.passthrough"),
	clientValidationFields("spec.virtualhost.tls.clientValidation"),
	group(served, "TestFallbackCertificate; TestGolden; TestTLSFallbackCertificate/client without SNI",
		"spec.virtualhost.tls.enableFallbackCertificate"),
	authorizationFields(),
	globalRateLimitFields("spec.virtualhost.rateLimitPolicy.global"),
	ipFilterFields("spec.virtualhost"),
	jwtProviderFields(),
	group(served, "TestCORSPolicy; TestGolden; TestTrafficPolicies/cors",
		"spec.virtualhost.corsPolicy.allowOrigin", "spec.virtualhost.corsPolicy.allowMethods",
		"spec.virtualhost.corsPolicy.allowHeaders", "spec.virtualhost.corsPolicy.exposeHeaders",
		"spec.virtualhost.corsPolicy.maxAge", "spec.virtualhost.corsPolicy.allowCredentials",
		"spec.virtualhost.corsPolicy.allowPrivateNetwork"),
	localRateLimitFields("spec.virtualhost.rateLimitPolicy.local"),

	conditionFields("spec.routes[].conditions[]", "TestConditions; TestGolden; TestRouting/header condition"),
	serviceFields("spec.routes[].services[]"),
	group(served, "TestTLS/websocket upgrade", "spec.routes[].enableWebsockets"),
	group(served, "TestTLS/termination, redirect and permitInsecure", "spec.routes[].permitInsecure"),
	group(served, "TestAuthorizationRoutes; TestGolden; TestExtAuth/disabled route needs no authorization; TestExtAuth/context reaches the server",
		"spec.routes[].authPolicy.disabled", "spec.routes[].authPolicy.context"),
	group(served, "TestJWTRoutes; TestJWTRouteIsNotServedInsecure; TestGolden; TestJWT/valid token is forwarded; TestJWT/disabled route needs no token; TestJWT/plain HTTP never skips verification",
		"spec.routes[].jwtVerificationPolicy.require", "spec.routes[].jwtVerificationPolicy.disabled"),
	ipFilterFields("spec.routes[]"),
	group(served, "TestTimeoutPolicy; TestGolden; TestIdleConnectionTimeout", "spec.routes[].timeoutPolicy.response",
		"spec.routes[].timeoutPolicy.idle", "spec.routes[].timeoutPolicy.idleConnection"),
	group(served, "TestRetryPolicy; TestGolden; TestParityRoutes/retry counts", "spec.routes[].retryPolicy.count",
		"spec.routes[].retryPolicy.perTryTimeout", "spec.routes[].retryPolicy.retryOn",
		"spec.routes[].retryPolicy.retriableStatusCodes"),
	group(served, "TestHealthCheckPolicy; TestGolden; TestHealthCheckTakesEndpointsOut", "spec.routes[].healthCheckPolicy.path",
		"spec.routes[].healthCheckPolicy.host", "spec.routes[].healthCheckPolicy.intervalSeconds",
		"spec.routes[].healthCheckPolicy.timeoutSeconds", "spec.routes[].healthCheckPolicy.unhealthyThresholdCount",
		"spec.routes[].healthCheckPolicy.healthyThresholdCount",
		"spec.routes[].healthCheckPolicy.expectedStatuses[].start", "spec.routes[].healthCheckPolicy.expectedStatuses[].end"),
	loadBalancerFields("spec.routes[].loadBalancerPolicy", "TestLoadBalancerPolicy; TestGolden"),
	group(served, "TestPathRewritePolicy; TestPrefixRewriteTrailingSlash; TestRouting/prefix rewrite; TestParityRoutes/replacePrefix and the trailing slash",
		"spec.routes[].pathRewritePolicy.replacePrefix[].prefix", "spec.routes[].pathRewritePolicy.replacePrefix[].replacement"),
	headersFields("spec.routes[].requestHeadersPolicy", "TestHeadersPolicy; TestDynamicHeaders; TestRouting/header policies; TestParityRoutes/dynamic headers and host from a request header"),
	headersFields("spec.routes[].responseHeadersPolicy", "TestHeadersPolicy; TestDynamicHeaders; TestRouting/header policies; TestParityRoutes/dynamic headers and host from a request header"),
	globalRateLimitFields("spec.routes[].rateLimitPolicy.global"),
	localRateLimitFields("spec.routes[].rateLimitPolicy.local"),
	group(served, "TestInternalRedirectPolicy; TestGolden; TestTrafficPolicies/internal redirect",
		"spec.routes[].internalRedirectPolicy.maxInternalRedirects", "spec.routes[].internalRedirectPolicy.redirectResponseCodes",
		"spec.routes[].internalRedirectPolicy.allowCrossSchemeRedirect", "spec.routes[].internalRedirectPolicy.denyRepeatedRouteRedirect"),
	cookieRewriteFields("spec.routes[].cookieRewritePolicies[]"),
	group(served, "TestRedirectPolicy; TestGolden", "spec.routes[].requestRedirectPolicy.scheme",
		"spec.routes[].requestRedirectPolicy.hostname", "spec.routes[].requestRedirectPolicy.port",
		"spec.routes[].requestRedirectPolicy.statusCode", "spec.routes[].requestRedirectPolicy.path",
		"spec.routes[].requestRedirectPolicy.prefix"),
	group(served, "TestRedirectPolicy; TestGolden", "spec.routes[].directResponsePolicy.statusCode",
		"spec.routes[].directResponsePolicy.body"),

	loadBalancerFields("spec.tcpproxy.loadBalancerPolicy", "TestTCPProxy; TestGolden"),
	group(served, "TestTCPProxy; TestTLS/tcpproxy passthrough", "spec.tcpproxy.services[].name",
		"spec.tcpproxy.services[].port", "spec.tcpproxy.services[].weight"),
	group(served, "TestTCPProxy; TestUpstreamProtocol", "spec.tcpproxy.services[].protocol", "spec.tcpproxy.services[].healthPort"),
	group(served, "TestUpstreamValidation; TestGolden; TestTLSValidation/tcpproxy upstream validation",
		"spec.tcpproxy.services[].validation.caSecret", "spec.tcpproxy.services[].validation.subjectName",
		"spec.tcpproxy.services[].validation.subjectNames"),
	group(refusedTCPProxy, "", "spec.tcpproxy.services[].mirror", "spec.tcpproxy.services[].requestHeadersPolicy",
		"spec.tcpproxy.services[].responseHeadersPolicy", "spec.tcpproxy.services[].cookieRewritePolicies",
		"spec.tcpproxy.services[].slowStartPolicy"),
	group(served, "TestTCPProxy", "spec.tcpproxy.include.name", "spec.tcpproxy.include.namespace",
		"spec.tcpproxy.includes.name", "spec.tcpproxy.includes.namespace"),
	group(served, "TestTCPProxy; TestGolden", "spec.tcpproxy.healthCheckPolicy.intervalSeconds",
		"spec.tcpproxy.healthCheckPolicy.timeoutSeconds", "spec.tcpproxy.healthCheckPolicy.unhealthyThresholdCount",
		"spec.tcpproxy.healthCheckPolicy.healthyThresholdCount"),

	group(served, "TestIncludes; TestRouting/include from another namespace", "spec.includes[].name", "spec.includes[].namespace"),
	conditionFields("spec.includes[].conditions[]", "TestIncludes; TestConditions; TestRouting/include from another namespace"),
	group(served, "TestOtherIngressClassIsIgnored; TestClassMatches; TestIngressClasses", "spec.ingressClassName"),

	group(served, "TestTLS; TestEveryStatusReason", "spec.delegations[].secretName", "spec.delegations[].targetNamespaces"),
)

func group(support, proof string, paths ...string) []apiField {
	out := make([]apiField, len(paths))
	for i, p := range paths {
		out[i] = apiField{path: p, support: support, proof: proof}
	}
	return out
}

func conditionFields(prefix, proof string) []apiField {
	var paths []string
	for _, f := range []string{"prefix", "exact", "regex",
		"header.name", "header.present", "header.notpresent", "header.contains", "header.notcontains",
		"header.ignoreCase", "header.exact", "header.notexact", "header.regex", "header.treatMissingAsEmpty",
		"queryParameter.name", "queryParameter.exact", "queryParameter.prefix", "queryParameter.suffix",
		"queryParameter.regex", "queryParameter.contains", "queryParameter.ignoreCase", "queryParameter.present"} {
		paths = append(paths, prefix+"."+f)
	}
	return group(served, proof, paths...)
}

func serviceFields(prefix string) []apiField {
	return slices.Concat(
		group(served, "TestServices; TestRouting/weighted split; TestRouting/missing service is 503, siblings still route",
			prefix+".name", prefix+".port", prefix+".weight"),
		group(served, "TestUpstreamProtocol; TestGolden", prefix+".protocol"),
		group(served, "TestHealthCheckPolicy; TestGolden; TestHealthPort", prefix+".healthPort"),
		group(served, "TestServices; TestMirrorPercent; TestGolden; TestParityRoutes/mirror honours weight", prefix+".mirror"),
		headersFields(prefix+".requestHeadersPolicy", "TestHeadersPolicy; TestDynamicHeaders; TestRouting/header policies; TestParityRoutes/dynamic headers and host from a request header"),
		headersFields(prefix+".responseHeadersPolicy", "TestHeadersPolicy; TestDynamicHeaders; TestRouting/header policies; TestParityRoutes/dynamic headers and host from a request header"),
		group(served, "TestUpstreamValidation; TestGolden; TestTLSValidation/upstream validation",
			prefix+".validation.caSecret", prefix+".validation.subjectName", prefix+".validation.subjectNames"),
		cookieRewriteFields(prefix+".cookieRewritePolicies[]"),
		group(served, "TestSlowStartPolicy; TestGolden; TestTrafficPolicies/slow start", prefix+".slowStartPolicy.window",
			prefix+".slowStartPolicy.aggression", prefix+".slowStartPolicy.minWeightPercent"),
	)
}

func localRateLimitFields(prefix string) []apiField {
	return group(served, "TestLocalRateLimit; TestGolden; TestTrafficPolicies/local rate limit",
		prefix+".requests", prefix+".unit", prefix+".burst", prefix+".responseStatusCode",
		prefix+".responseHeadersToAdd[].name", prefix+".responseHeadersToAdd[].value")
}

func globalRateLimitFields(prefix string) []apiField {
	const unit = "TestGlobalRateLimit; TestGlobalRateLimitDisabledOnRoute; TestGolden"
	const e2e = "; TestGlobalRateLimiting/generic key limited per minute"
	entries := prefix + ".descriptors[].entries[]"
	match := entries + ".requestHeaderValueMatch"
	var matchHeaders []string
	for _, f := range []string{"name", "present", "notpresent", "contains", "notcontains", "ignoreCase", "exact",
		"notexact", "regex", "treatMissingAsEmpty"} {
		matchHeaders = append(matchHeaders, match+".headers[]."+f)
	}
	return slices.Concat(
		group(served, unit+"; TestDefaultGlobalRateLimitPolicy; TestGlobalRateLimiting/disabled route is not limited", prefix+".disabled"),
		group(served, unit+e2e, entries+".genericKey.key", entries+".genericKey.value"),
		group(served, unit+"; TestGlobalRateLimiting/request header limited per value",
			entries+".requestHeader.headerName", entries+".requestHeader.descriptorKey"),
		group(served, unit+"; TestGlobalRateLimiting/header value match", match+".expectMatch", match+".value"),
		group(served, unit+"; TestGlobalRateLimiting/header value match", matchHeaders...),
	)
}

func cookieRewriteFields(prefix string) []apiField {
	return group(served, "TestCookieRewritePolicies; TestGolden; TestTrafficPolicies/cookie rewrite",
		prefix+".name", prefix+".pathRewrite.value", prefix+".domainRewrite.value", prefix+".secure", prefix+".sameSite")
}

func clientValidationFields(prefix string) []apiField {
	return slices.Concat(
		group(served, "TestClientValidation; TestGolden; TestTLSValidation/client certificate required",
			prefix+".caSecret"),
		group(served, "TestClientValidation; TestGolden; TestTLSValidation/skip client certificate validation",
			prefix+".skipClientCertValidation"),
		group(served, "TestClientValidation; TestGolden; TestTLSValidation/forwarded client certificate",
			prefix+".forwardClientCertificate.subject", prefix+".forwardClientCertificate.cert",
			prefix+".forwardClientCertificate.chain", prefix+".forwardClientCertificate.dns",
			prefix+".forwardClientCertificate.uri"),
		group(served, "TestClientValidation; TestGolden; TestTLSValidation/revoked client certificate",
			prefix+".crlSecret", prefix+".crlOnlyVerifyLeafCert"),
		group(served, "TestClientValidation; TestGolden; TestTLSValidation/optional client certificate",
			prefix+".optionalClientCertificate"),
	)
}

func ipFilterFields(prefix string) []apiField {
	return group(served, "TestIPFilter; TestGolden; TestIPFilters",
		prefix+".ipAllowPolicy[].source", prefix+".ipAllowPolicy[].cidr",
		prefix+".ipDenyPolicy[].source", prefix+".ipDenyPolicy[].cidr")
}

func jwtProviderFields() []apiField {
	const p = "spec.virtualhost.jwtProviders[]"
	return slices.Concat(
		group(served, "TestJWTProviders; TestGolden; TestJWT/valid token is forwarded; TestJWT/no token is 401; TestJWT/expired token is 401; TestJWT/wrong issuer is 401; TestJWT/wrong audience is 403",
			p+".name", p+".default", p+".issuer", p+".audiences", p+".forwardJWT"),
		group(served, "TestJWTProviders; TestGolden; TestJWT/valid token is forwarded; TestJWT/unparsable JWKS URI invalidates only its proxy",
			p+".remoteJWKS.uri", p+".remoteJWKS.timeout", p+".remoteJWKS.cacheDuration", p+".remoteJWKS.dnsLookupFamily"),
		group(served, "TestJWTProviders; TestGolden; TestJWT/remote JWKS over verified HTTPS",
			p+".remoteJWKS.validation.caSecret", p+".remoteJWKS.validation.subjectName", p+".remoteJWKS.validation.subjectNames"),
		group(served, "TestJWTProviders; TestGolden; TestJWT/local JWKS from a Secret",
			p+".localJWKS.secretName", p+".localJWKS.key"),
	)
}

func authorizationFields() []apiField {
	const p = "spec.virtualhost.authorization"
	return slices.Concat(
		group(served, "TestAuthorization; TestGolden; TestExtAuth/authorised request reaches the backend; TestExtAuth/missing ExtensionService invalidates only its proxy",
			p+".extensionRef.apiVersion", p+".extensionRef.namespace", p+".extensionRef.name"),
		// Only the gRPC protocol is served: serviceType http, and the
		// settings of an HTTP server, are refused.
		group(refusedVhost, "", p+".serviceType", p+".httpSettings"),
		group(served, "TestAuthorizationRoutes; TestGolden; TestExtAuth/disabled route needs no authorization; TestExtAuth/context reaches the server",
			p+".authPolicy.disabled", p+".authPolicy.context"),
		group(served, "TestAuthorization; TestGolden; TestExtAuth/server down denies when failOpen is false; TestExtAuth/server down lets through when failOpen is true",
			p+".responseTimeout", p+".failOpen"),
		group(served, "TestAuthorization; TestGolden; TestExtAuth/request body is sent",
			p+".withRequestBody.maxRequestBytes", p+".withRequestBody.allowPartialMessage", p+".withRequestBody.packAsBytes"),
	)
}

func headersFields(prefix, proof string) []apiField {
	return group(served, proof, prefix+".set[].name", prefix+".set[].value", prefix+".remove")
}

func loadBalancerFields(prefix, proof string) []apiField {
	return group(served, proof, prefix+".strategy", prefix+".requestHashPolicies[].terminal",
		prefix+".requestHashPolicies[].headerHashOptions.headerName",
		prefix+".requestHashPolicies[].queryParameterHashOptions.parameterName",
		prefix+".requestHashPolicies[].hashSourceIP")
}

func tableByPath(t *testing.T) map[string]apiField {
	t.Helper()
	m := map[string]apiField{}
	for _, f := range fieldTable {
		if _, dup := m[f.path]; dup {
			t.Errorf("%s is listed twice", f.path)
		}
		m[f.path] = f
	}
	return m
}

// apiPaths walks a spec type and returns the path of every leaf field,
// stopping at the fields stop reports (refused stanzas).
func apiPaths(t reflect.Type, path string, stop func(string) bool) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		p := path + "." + strings.Split(f.Tag.Get("json"), ",")[0]
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case stop(p):
			out = append(out, p)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, apiPaths(ft.Elem(), p+"[]", stop)...)
		case ft.Kind() == reflect.Struct:
			out = append(out, apiPaths(ft, p, stop)...)
		default:
			out = append(out, p)
		}
	}
	return out
}

func TestEveryFieldIsServedOrRefused(t *testing.T) {
	table := tableByPath(t)
	stop := func(p string) bool { f, ok := table[p]; return ok && f.support != served }
	paths := slices.Concat(
		apiPaths(reflect.TypeOf(contourv1.HTTPProxySpec{}), "spec", stop),
		apiPaths(reflect.TypeOf(contourv1.TLSCertificateDelegationSpec{}), "spec", stop),
	)
	seen := map[string]bool{}
	for _, p := range paths {
		seen[p] = true
		if _, ok := table[p]; !ok {
			t.Errorf("%s is neither served nor refused: translate it, or refuse it in unsupported.go, and list it in fieldTable", p)
		}
	}
	for _, f := range fieldTable {
		if !seen[f.path] {
			t.Errorf("fieldTable lists %s, which the API types do not have", f.path)
		}
	}
}

// TestServedFieldsHaveProof checks that the tests a served field names
// exist, so that the table cannot claim a proof nobody wrote.
func TestServedFieldsHaveProof(t *testing.T) {
	sources := testSources(t)
	for _, f := range fieldTable {
		if f.support != served {
			continue
		}
		if f.proof == "" {
			t.Errorf("%s is served but names no test that shows it", f.path)
			continue
		}
		for _, name := range strings.Split(f.proof, "; ") {
			fn, sub, _ := strings.Cut(name, "/")
			if !strings.Contains(sources, "func "+fn+"(") {
				t.Errorf("%s: proof %s: no func %s in any test file", f.path, name, fn)
			}
			if sub != "" && !strings.Contains(sources, fmt.Sprintf("t.Run(%q", sub)) {
				t.Errorf("%s: proof %s: no subtest %q in any test file", f.path, name, sub)
			}
		}
	}
}

// testSources is the text of every _test.go file of the module.
func testSources(t *testing.T) string {
	t.Helper()
	var sb strings.Builder
	err := filepath.WalkDir(filepath.Join("..", ".."), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin" || d.Name() == "tools") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, "_test.go") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sb.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// TestRefusedFieldsAreRefused sets each refused field on an otherwise
// valid proxy and checks that the proxy is invalid with an error naming
// the field, and that what the table says is not served is not.
func TestRefusedFieldsAreRefused(t *testing.T) {
	for _, f := range fieldTable {
		if f.support == served {
			continue
		}
		t.Run(f.path, func(t *testing.T) {
			tcp := strings.HasPrefix(f.path, "spec.tcpproxy.")
			p := root("default", "p", "p.example.com",
				route("/", svcRef("kuard", 8080)), route("/other", svcRef("kuard", 8080)))
			p.Spec.VirtualHost.TLS = &contourv1.TLS{SecretName: "tls"}
			if tcp {
				p.Spec.Routes = nil
				p.Spec.TCPProxy = &contourv1.TCPProxy{Services: []contourv1.Service{svcRef("kuard", 8080)}}
			}
			setField(t, reflect.ValueOf(&p.Spec).Elem(), strings.Split(strings.TrimPrefix(f.path, "spec."), "."))
			d := Build(objects(p, service("default", "kuard", 8080), tlsSecret(t, "default", "tls")), Config{})

			ps := d.Statuses[nn("default", "p")]
			want := strings.ReplaceAll(f.path, "[]", "[0]") + " is not supported yet"
			found := false
			for _, e := range ps.Errors {
				found = found || e.Reason == contourv1.ReasonFeatureNotSupported && strings.HasPrefix(e.Message, want)
			}
			if !found {
				t.Fatalf("want invalid with %q, got %+v", want, ps.Errors)
			}

			vh := secureVhost(d, "p.example.com")
			switch f.support {
			case refusedVhost, refusedTCPProxy:
				if vh != nil || len(httpRoutes(d, "p.example.com")) > 0 {
					t.Fatalf("the virtual host is served: %+v", vh)
				}
			}
		})
	}
}

// setField gives the field at path (below v) a value that is set: a new
// struct for a pointer, one element for a list, true, "x" or 1.
func setField(t *testing.T, v reflect.Value, path []string) {
	t.Helper()
	name, list := strings.CutSuffix(path[0], "[]")
	f, ok := fieldByJSONName(v, name)
	if !ok {
		t.Fatalf("no field %q in %s", name, v.Type())
	}
	if f.Kind() == reflect.Pointer {
		if f.IsNil() {
			f.Set(reflect.New(f.Type().Elem()))
		}
		f = f.Elem()
	}
	if f.Kind() == reflect.Slice {
		if f.Len() == 0 {
			f.Set(reflect.Append(f, reflect.New(f.Type().Elem()).Elem()))
		}
		if list || len(path) > 1 {
			f = f.Index(0)
		}
	}
	if len(path) > 1 {
		setField(t, f, path[1:])
		return
	}
	switch f.Kind() {
	case reflect.Bool:
		f.SetBool(true)
	case reflect.String:
		f.SetString("x")
	case reflect.Int, reflect.Int32, reflect.Int64:
		f.SetInt(1)
	case reflect.Uint32:
		f.SetUint(1)
	case reflect.Map:
		f.Set(reflect.MakeMap(f.Type()))
		f.SetMapIndex(reflect.ValueOf("k"), reflect.ValueOf("v"))
	}
}

func fieldByJSONName(v reflect.Value, name string) (reflect.Value, bool) {
	for i := 0; i < v.NumField(); i++ {
		if strings.Split(v.Type().Field(i).Tag.Get("json"), ",")[0] == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

var updateREADME = flag.Bool("update-readme", false, "rewrite the README's table of supported fields")

const (
	readmeBegin = "<!-- fields:begin (generated by go test ./internal/dag -run TestREADMEFieldTable -update-readme) -->\n"
	readmeEnd   = "<!-- fields:end -->\n"
)

// TestREADMEFieldTable keeps the README's "Supported fields" table equal
// to fieldTable.
func TestREADMEFieldTable(t *testing.T) {
	readme := filepath.Join("..", "..", "README.md")
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i, j := strings.Index(text, readmeBegin), strings.Index(text, readmeEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q section", readmeBegin, readmeEnd)
	}
	got, want := text[i+len(readmeBegin):j], fieldsMarkdown()
	if got == want {
		return
	}
	if *updateREADME {
		if err := os.WriteFile(readme, []byte(text[:i+len(readmeBegin)]+want+text[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's field table is stale: run go test ./internal/dag -run TestREADMEFieldTable -update-readme")
}

// fieldsMarkdown renders the table, one row per stanza: the fields of one
// parent with the same support and proof share a row.
func fieldsMarkdown() string {
	var sb strings.Builder
	sb.WriteString("| Stanza | Fields | proxyctl | Shown by |\n|---|---|---|---|\n")
	parent := regexp.MustCompile(`^(.*)\.([^.]+)$`)
	for i := 0; i < len(fieldTable); {
		f := fieldTable[i]
		m := parent.FindStringSubmatch(f.path)
		names := []string{m[2]}
		j := i + 1
		for ; j < len(fieldTable); j++ {
			g := fieldTable[j]
			n := parent.FindStringSubmatch(g.path)
			if n[1] != m[1] || g.support != f.support || g.proof != f.proof {
				break
			}
			names = append(names, n[2])
		}
		shown := f.proof
		if f.support != served {
			shown = "TestRefusedFieldsAreRefused"
		}
		fmt.Fprintf(&sb, "| `%s` | %s | %s | %s |\n", m[1], "`"+strings.Join(names, "`, `")+"`", f.support, shown)
		i = j
	}
	return sb.String()
}
