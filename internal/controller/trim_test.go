package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
)

func TestTrimDropsWhatNothingReads(t *testing.T) {
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Namespace: "ns", Name: "x",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
			Annotations:   map[string]string{lastApplied: "{...}", classAnnotation: "contour"},
		}
	}
	p := &contourv1.HTTPProxy{ObjectMeta: meta()}
	token := &corev1.Secret{ObjectMeta: meta(), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"token": []byte("s3cret")}}
	ca := &corev1.Secret{ObjectMeta: meta(), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"ca.crt": []byte("pem")}}
	crl := &corev1.Secret{ObjectMeta: meta(), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"crl.pem": []byte("pem")}}
	cert := &corev1.Secret{ObjectMeta: meta(), Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("pem")}}
	jwks := &corev1.Secret{ObjectMeta: meta(), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"jwks.json": []byte(` {"keys": []}`)}}
	for _, obj := range []metav1.Object{p, token, ca, crl, cert, jwks} {
		if _, err := Trim(obj); err != nil {
			t.Fatal(err)
		}
		if obj.GetManagedFields() != nil {
			t.Errorf("%T: managed fields kept", obj)
		}
		if _, ok := obj.GetAnnotations()[lastApplied]; ok {
			t.Errorf("%T: last-applied annotation kept", obj)
		}
		if obj.GetAnnotations()[classAnnotation] != "contour" {
			t.Errorf("%T: the class annotation was dropped", obj)
		}
	}
	if token.Data != nil {
		t.Error("an opaque Secret kept its data")
	}
	if ca.Data == nil || crl.Data == nil || cert.Data == nil || jwks.Data == nil {
		t.Error("a CA bundle, CRL, TLS or JWKS Secret lost its data")
	}
	if _, err := Trim("not an object"); err != nil {
		t.Errorf("Trim(string) = %v, want it passed through", err)
	}
}
