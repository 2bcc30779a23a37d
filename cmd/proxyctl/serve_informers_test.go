package main

import (
	"context"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"

	contourfake "github.com/proxyctl/proxyctl/apis/generated/clientset/versioned/fake"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
	"github.com/proxyctl/proxyctl/internal/controller"
	"github.com/proxyctl/proxyctl/internal/dag"
)

// lastDAG keeps the latest DAG the controller hands out.
type lastDAG struct {
	mu sync.Mutex
	d  *dag.DAG
}

func (l *lastDAG) OnChange(d *dag.DAG) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.d = d
}

func (l *lastDAG) get() *dag.DAG {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.d
}

// runInformerSet runs s, and a controller over it that reports to o, as
// serve's run group does, until the test ends.
func runInformerSet(t *testing.T, s *informerSet, o controller.Observer) *controller.Controller {
	t.Helper()
	ctrl, err := controller.New(controller.Config{Informers: s.controller, Observers: []controller.Observer{o}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- s.run(ctx) }()
	go func() { done <- ctrl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}
	})
	return ctrl
}

func proxyIn(ns string) *contourv1.HTTPProxy {
	return &contourv1.HTTPProxy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "p",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec: contourv1.HTTPProxySpec{VirtualHost: &contourv1.VirtualHost{Fqdn: ns + ".example.com"}},
	}
}

func extensionIn(ns string) *contourv1alpha1.ExtensionService {
	return &contourv1alpha1.ExtensionService{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ext"}}
}

// --watch-namespaces limits what the controller sees and what the status
// writers read to those namespaces; without it every namespace is seen.
// The caches hold objects trimmed by controller.Trim.
func TestInformerSetWatchesItsNamespaces(t *testing.T) {
	for name, c := range map[string]struct {
		watch     []string
		wantOther bool
	}{
		"one namespace":     {[]string{"watched"}, false},
		"two namespaces":    {[]string{"watched", "also"}, false},
		"the whole cluster": {nil, true},
	} {
		t.Run(name, func(t *testing.T) {
			contour := contourfake.NewSimpleClientset(
				proxyIn("watched"), proxyIn("other"), extensionIn("watched"), extensionIn("other"))
			s := newInformerSet(kubefake.NewClientset(), contour, c.watch)
			if len(s.controller) != max(len(c.watch), 1) {
				t.Fatalf("%d informer sets for %q", len(s.controller), c.watch)
			}
			last := &lastDAG{}
			ctrl := runInformerSet(t, s, last)
			deadline := time.Now().Add(20 * time.Second)
			for ctrl.Ready() != nil {
				if time.Now().After(deadline) {
					t.Fatal("no first DAG")
				}
				time.Sleep(10 * time.Millisecond)
			}
			d := last.get()
			for ns, want := range map[string]bool{"watched": true, "other": c.wantOther} {
				if got := d.Statuses[types.NamespacedName{Namespace: ns, Name: "p"}] != nil; got != want {
					t.Errorf("the proxy in %s is in the first DAG: %t, want %t", ns, got, want)
				}
				p, err := s.HTTPProxy(ns, "p")
				switch {
				case want && err != nil:
					t.Errorf("HTTPProxy(%s): %v", ns, err)
				case want && p.ManagedFields != nil:
					t.Errorf("HTTPProxy(%s) was not trimmed: %v", ns, p.ManagedFields)
				case !want && !apierrors.IsNotFound(err):
					t.Errorf("HTTPProxy(%s) = %v, %v; want NotFound", ns, p, err)
				}
				e, err := s.ExtensionService(ns, "ext")
				switch {
				case want && err != nil:
					t.Errorf("ExtensionService(%s): %v", ns, err)
				case !want && !apierrors.IsNotFound(err):
					t.Errorf("ExtensionService(%s) = %v, %v; want NotFound", ns, e, err)
				}
			}
		})
	}
}
