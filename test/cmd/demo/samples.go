package main

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/proxyctl/proxyctl/internal/certgen"
)

// The demo's namespaces: the application team's, the blog team's, and
// proxyctl's own (its Lease).
const (
	appNamespace  = "demo"
	blogNamespace = "blog"
)

const samples = `
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: demo, namespace: demo}
spec:
  virtualhost: {fqdn: demo.example.com}
  includes:
  - {name: blog, namespace: blog, conditions: [{prefix: /blog}]}
  routes:
  - services:
    - {name: demo-app, port: 80, weight: 90}
    - {name: demo-canary, port: 80, weight: 10}
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: blog, namespace: blog}
spec:
  routes:
  - services: [{name: blog, port: 80}]
---
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata: {name: secure, namespace: demo}
spec:
  virtualhost:
    fqdn: secure.example.com
    tls: {secretName: secure-cert}
  routes:
  - services: [{name: demo-app, port: 80}]
`

func (d *demo) applySamples() error {
	ctx := context.Background()
	for _, ns := range []string{appNamespace, blogNamespace, "proxyctl"} {
		if _, err := d.kube.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	services := []struct {
		namespace, name string
		backends        []string
	}{
		{appNamespace, "demo-app", []string{"demo-app-1", "demo-app-2"}},
		{appNamespace, "demo-canary", []string{"demo-canary"}},
		{blogNamespace, "blog", []string{"blog"}},
	}
	for _, s := range services {
		if err := d.createService(ctx, s.namespace, s.name, s.backends); err != nil {
			return err
		}
	}
	// The TLS sample's certificate; curl trusts it with --cacert.
	certs, err := certgen.Generate(certgen.Options{DNSNames: []string{"secure.example.com"}})
	if err != nil {
		return err
	}
	if err := writeFile(d.dir, "secure-ca.crt", certs.CACert); err != nil {
		return err
	}
	if _, err := d.kube.Client.CoreV1().Secrets(appNamespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "secure-cert"},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: certs.ServerCert, corev1.TLSPrivateKeyKey: certs.ServerKey},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	out, err := d.kube.KubectlInput(strings.NewReader(samples), "apply", "-f", "-")
	if err != nil {
		return fmt.Errorf("kubectl apply: %v: %s", err, out)
	}
	return nil
}

// createService makes a Service and, as the EndpointSlice controller would,
// an EndpointSlice with the backends' addresses in the namespace.
func (d *demo) createService(ctx context.Context, namespace, name string, backends []string) error {
	if _, err := d.kube.Client.CoreV1().Services(namespace).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	var endpoints []discoveryv1.Endpoint
	for _, b := range backends {
		endpoints = append(endpoints, discoveryv1.Endpoint{
			Addresses:  []string{d.backend(b).ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		})
	}
	_, err := d.kube.Client.DiscoveryV1().EndpointSlices(namespace).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   endpoints,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](backendPort)}},
	}, metav1.CreateOptions{})
	return err
}
