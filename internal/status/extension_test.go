package status

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned/fake"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
	"github.com/proxyctl/proxyctl/internal/dag"
)

func TestDesiredExtension(t *testing.T) {
	now := metav1.NewTime(time.Unix(1000, 0))
	other := contourv1.DetailedCondition{Condition: metav1.Condition{Type: "Other", Status: metav1.ConditionTrue, Reason: "X", Message: "y"}}
	valid := DesiredExtension(&dag.ExtensionStatus{Generation: 3,
		Warnings: []dag.Condition{{Type: "SpecError", Reason: "IgnoredField", Message: "idle"}}},
		contourv1alpha1.ExtensionServiceStatus{Conditions: []contourv1.DetailedCondition{other}}, now)
	if len(valid.Conditions) != 2 || valid.Conditions[0].Type != "Other" {
		t.Fatalf("conditions = %+v, want Other kept and Valid appended", valid.Conditions)
	}
	c := valid.Conditions[1]
	if c.Status != metav1.ConditionTrue || c.Reason != "Valid" || c.Message != "Valid ExtensionService" || c.ObservedGeneration != 3 || len(c.Warnings) != 1 {
		t.Errorf("valid condition = %+v", c)
	}
	invalid := DesiredExtension(&dag.ExtensionStatus{Generation: 4,
		Errors: []dag.Condition{{Type: "ServiceError", Reason: "ServiceUnresolvedReference", Message: "gone"}}}, valid, metav1.NewTime(time.Unix(2000, 0)))
	c = *invalid.ConditionFor("Valid")
	if c.Status != metav1.ConditionFalse || c.Reason != "ErrorPresent" || c.Message != contourv1.MessageErrorPresent ||
		len(c.Errors) != 1 || c.Errors[0].Reason != "ServiceUnresolvedReference" || !c.LastTransitionTime.Equal(&metav1.Time{Time: time.Unix(2000, 0)}) {
		t.Errorf("invalid condition = %+v", c)
	}
}

type fakeExtensions struct{ client *fake.Clientset }

func (f fakeExtensions) ExtensionService(ns, name string) (*contourv1alpha1.ExtensionService, error) {
	return f.client.ProjectcontourV1alpha1().ExtensionServices(ns).Get(context.Background(), name, metav1.GetOptions{})
}

// TestExtensionWriterWritesOnlyWhenLeading: no write before the
// election is won, then the stale status is written once.
func TestExtensionWriterWritesOnlyWhenLeading(t *testing.T) {
	ext := &contourv1alpha1.ExtensionService{ObjectMeta: metav1.ObjectMeta{Namespace: "auth", Name: "ext", Generation: 1}}
	client := fake.NewSimpleClientset(ext)
	elected := make(chan struct{})
	w, err := NewExtensionWriter(ExtensionConfig{Client: client, Extensions: fakeExtensions{client}, Elected: elected})
	if err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: "auth", Name: "ext"}
	w.OnChange(&dag.DAG{ExtensionStatuses: map[types.NamespacedName]*dag.ExtensionStatus{key: {Extension: key, Generation: 1}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	writes := func() int {
		n := 0
		for _, a := range client.Actions() {
			if a.GetVerb() == "update" && a.GetSubresource() == "status" {
				n++
			}
		}
		return n
	}
	if n := writes(); n != 0 {
		t.Fatalf("%d status writes before leading", n)
	}
	close(elected)
	eventually(t, "the leader to write Valid=True", func() bool {
		got, err := fakeExtensions{client}.ExtensionService("auth", "ext")
		if err != nil {
			t.Fatal(err)
		}
		c := got.Status.ConditionFor("Valid")
		return c != nil && c.Status == metav1.ConditionTrue
	})
	if n := writes(); n != 1 {
		t.Errorf("%d status writes, want 1", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The same core as Writer's: nothing of it outlives Run.
	waitForNoWriterGoroutine(t)
}
