package dag

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
)

// TestContourDocumentationExamples builds the HTTPProxies of
// testdata/contour-docs.yaml, one per feature of Contour's documentation,
// with every Service and Secret (TLS, CA, CRL) they name, and checks each is served as
// written or refused with only FeatureNotSupported errors, as its
// proxyctl.test/expect annotation says.
func TestContourDocumentationExamples(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "contour-docs.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var objs []any
	var proxies []*contourv1.HTTPProxy
	var extensions []*contourv1alpha1.ExtensionService
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		switch u.GetKind() {
		case "HTTPProxy":
			var p contourv1.HTTPProxy
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, &p, true); err != nil {
				t.Fatalf("%s: %v", u.GetName(), err)
			}
			proxies = append(proxies, &p)
			objs = append(objs, &p)
		case "TLSCertificateDelegation":
			var d contourv1.TLSCertificateDelegation
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, &d, true); err != nil {
				t.Fatalf("%s: %v", u.GetName(), err)
			}
			objs = append(objs, &d)
		case "ExtensionService":
			var e contourv1alpha1.ExtensionService
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, &e, true); err != nil {
				t.Fatalf("%s: %v", u.GetName(), err)
			}
			extensions = append(extensions, &e)
			objs = append(objs, &e)
		default:
			t.Fatalf("unexpected kind %s", u.GetKind())
		}
	}

	// Every Service named, with every port named, and the TLS Secrets.
	ports := map[[2]string][]int32{}
	for _, p := range proxies {
		var refs []contourv1.Service
		for _, r := range p.Spec.Routes {
			refs = append(refs, r.Services...)
		}
		if p.Spec.TCPProxy != nil {
			refs = append(refs, p.Spec.TCPProxy.Services...)
		}
		for _, s := range refs {
			k := [2]string{p.Namespace, s.Name}
			for _, port := range []int{s.Port, s.HealthPort} {
				if port != 0 && !slices.Contains(ports[k], int32(port)) {
					ports[k] = append(ports[k], int32(port))
				}
			}
		}
	}
	for _, e := range extensions {
		for _, s := range e.Spec.Services {
			k := [2]string{e.Namespace, s.Name}
			if !slices.Contains(ports[k], int32(s.Port)) {
				ports[k] = append(ports[k], int32(s.Port))
			}
		}
	}
	for k, ps := range ports {
		objs = append(objs, service(k[0], k[1], ps...))
	}
	objs = append(objs, tlsSecret(t, "docs", "secure-cert"), tlsSecret(t, "certs", "wildcard"),
		caSecret(t, "docs", "client-root-ca"), crlSecret(t, "docs", "client-crl"), caSecret(t, "docs", "backend-ca"))
	// The fallback certificate is configured (proxyctl serve
	// --fallback-certificate docs/secure-cert).
	d := Build(objects(objs...), Config{FallbackCertificate: nn("docs", "secure-cert")})

	for _, p := range proxies {
		ps := d.Statuses[nn(p.Namespace, p.Name)]
		switch want := p.Annotations["proxyctl.test/expect"]; want {
		case "valid":
			if !ps.Valid() || len(ps.Warnings) > 0 {
				t.Errorf("%s/%s: want valid, got %+v", p.Namespace, p.Name, ps)
			}
		case "refused":
			ok := len(ps.Errors) > 0
			for _, e := range ps.Errors {
				ok = ok && e.Reason == contourv1.ReasonFeatureNotSupported
			}
			if !ok {
				t.Errorf("%s/%s: want refused for fields not served, got %+v", p.Namespace, p.Name, ps)
			}
		default:
			t.Errorf("%s/%s: proxyctl.test/expect %q is not valid or refused", p.Namespace, p.Name, want)
		}
	}
}
