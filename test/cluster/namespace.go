package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// NamespaceLabel is set on every namespace NewNamespace creates.
const NamespaceLabel = "proxyctl.test/namespace"

// NewNamespace creates a namespace with a unique name derived from the test's
// name and returns the name. When t ends, the namespace and everything in it
// is deleted: there is no namespace controller to do it, so the harness
// deletes each namespaced collection, then finalizes the namespace.
func (c *Cluster) NewNamespace(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: namespacePrefix(t.Name()),
		Labels:       map[string]string{NamespaceLabel: "true"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("cluster: create namespace: %v", err)
	}
	t.Cleanup(func() {
		if err := c.DeleteNamespace(ns.Name); err != nil {
			t.Logf("cluster: delete namespace %s: %v", ns.Name, err)
		}
	})
	return ns.Name
}

// namespacePrefix turns a test name into a DNS label prefix ending in "-".
func namespacePrefix(testName string) string {
	var b strings.Builder
	dash := true // no leading dash
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	prefix := strings.TrimRight(b.String(), "-")
	if prefix == "" {
		prefix = "test"
	}
	return prefix + "-"
}

// DeleteNamespace deletes the namespace and everything in it, and waits until
// it is gone. It does what the namespace controller of a full control plane
// would do.
func (c *Cluster) DeleteNamespace(name string) error {
	c.mu.Lock()
	down := c.stopped || c.apiserver == nil
	c.mu.Unlock()
	if down {
		return errors.New("the API server is not running")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	namespaces := c.Client.CoreV1().Namespaces()
	// Deleting first makes the namespace Terminating: nothing new can be
	// created in it.
	if err := namespaces.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return ignoreNotFound(err)
	}
	if err := c.deleteNamespaceContents(ctx, name); err != nil {
		return err
	}
	ns, err := namespaces.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return ignoreNotFound(err)
	}
	ns.Spec.Finalizers = nil
	if _, err := namespaces.Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
		return ignoreNotFound(err)
	}
	if err := namespaces.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return ignoreNotFound(err)
	}
	return poll(time.Until(deadline(ctx)), nil, "namespace "+name+" to be gone", func(ctx context.Context) (bool, error) {
		_, err := namespaces.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

// deleteNamespaceContents deletes every collection of namespaced objects the
// API serves, without grace period (no kubelet acknowledges Pod deletions).
func (c *Cluster) deleteNamespaceContents(ctx context.Context, ns string) error {
	lists, err := c.Client.Discovery().ServerPreferredNamespacedResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return err
	}
	cfg := c.RESTConfig()
	cfg.WarningHandler = rest.NoWarnings{} // "v1 Endpoints is deprecated"
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	grace := int64(0)
	background := metav1.DeletePropagationBackground
	var errs []error
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			return err
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "deletecollection") {
				continue
			}
			err := client.Resource(gv.WithResource(r.Name)).Namespace(ns).DeleteCollection(ctx,
				metav1.DeleteOptions{GracePeriodSeconds: &grace, PropagationPolicy: &background}, metav1.ListOptions{})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
				errs = append(errs, fmt.Errorf("delete %s: %w", r.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}
