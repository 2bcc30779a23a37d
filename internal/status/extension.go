package status

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/proxyctl/proxyctl/apis/generated/clientset/versioned"
	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
	"github.com/proxyctl/proxyctl/internal/dag"
)

// DescriptionValidExtension is the Valid condition's message of a valid
// ExtensionService, as Contour writes it.
const DescriptionValidExtension = "Valid ExtensionService"

// DesiredExtension returns the status an ExtensionService should show for
// the DAG result es, given the status it shows now (not modified), as
// Contour writes it: one condition, Valid, True with reason Valid and
// message "Valid ExtensionService" when there is no error (warnings do
// not change it), else False with reason ErrorPresent; errors and
// warnings are its sub-conditions. Conditions of other types are kept.
func DesiredExtension(es *dag.ExtensionStatus, existing contourv1alpha1.ExtensionServiceStatus, now metav1.Time) contourv1alpha1.ExtensionServiceStatus {
	cond := extensionCondition(es)
	cond.LastTransitionTime = now
	if old := existing.ConditionFor(contourv1.ConditionTypeValid); old != nil && old.Status == cond.Status && !old.LastTransitionTime.IsZero() {
		cond.LastTransitionTime = old.LastTransitionTime
	}
	out := *existing.DeepCopy()
	if c := out.ConditionFor(contourv1.ConditionTypeValid); c != nil {
		*c = cond
	} else {
		out.Conditions = append(out.Conditions, cond)
	}
	return out
}

// extensionCondition is the Valid condition for es, without transition
// time.
func extensionCondition(es *dag.ExtensionStatus) contourv1.DetailedCondition {
	c := contourv1.DetailedCondition{Condition: metav1.Condition{
		Type:               contourv1.ConditionTypeValid,
		Status:             metav1.ConditionTrue,
		ObservedGeneration: es.Generation,
		Reason:             contourv1.ReasonValid,
		Message:            DescriptionValidExtension,
	}}
	for _, e := range es.Errors {
		c.Errors = append(c.Errors, subCondition(e))
	}
	for _, w := range es.Warnings {
		c.Warnings = append(c.Warnings, subCondition(w))
	}
	if len(c.Errors) > 0 {
		c.Status = metav1.ConditionFalse
		c.Reason = contourv1.ReasonErrorPresent
		c.Message = contourv1.MessageErrorPresent
	}
	return c
}

// extensionUpToDate reports whether obj needs no write for es: it shows
// it already (transition time aside), or it is newer.
func extensionUpToDate(es *dag.ExtensionStatus, obj *contourv1alpha1.ExtensionService) bool {
	if obj.Generation > es.Generation {
		return true
	}
	have := obj.Status.ConditionFor(contourv1.ConditionTypeValid)
	if have == nil {
		return false
	}
	return have.ObservedGeneration > es.Generation || sameCondition(*have, extensionCondition(es))
}

// ExtensionGetter reads the current ExtensionService, typically from an
// informer's lister; safe for concurrent use, NotFound when it does not
// exist. Returned objects are shared and never modified.
type ExtensionGetter interface {
	ExtensionService(namespace, name string) (*contourv1alpha1.ExtensionService, error)
}

// ExtensionConfig holds an ExtensionWriter's dependencies; the fields
// mean what they do in Config.
type ExtensionConfig struct {
	Client       versioned.Interface
	Extensions   ExtensionGetter
	Elected      <-chan struct{}
	StillLeading func() bool
	Log          logrus.FieldLogger
	Clock        func() time.Time
}

// ExtensionWriter keeps every ExtensionService's status in line with the
// latest DAG, on the leader only, with the same core as Writer: nothing is
// written before Elected closes, nothing once StillLeading says the Lease
// is lost, only stale statuses are written, through the status
// subresource, with conflicts retried. There are few ExtensionServices:
// one worker, and every one is compared after each rebuild, which also
// repairs a status someone else wrote over.
type ExtensionWriter struct {
	client     versioned.Interface
	extensions ExtensionGetter
	core       *core[*contourv1alpha1.ExtensionService, *dag.ExtensionStatus]

	mu      sync.Mutex
	leading bool
	desired map[types.NamespacedName]*dag.ExtensionStatus
}

// NewExtensionWriter returns an ExtensionWriter.
func NewExtensionWriter(cfg ExtensionConfig) (*ExtensionWriter, error) {
	if cfg.Client == nil || cfg.Extensions == nil || cfg.Elected == nil {
		return nil, errors.New("status: Client, Extensions and Elected are required")
	}
	w := &ExtensionWriter{client: cfg.Client, extensions: cfg.Extensions}
	log := cfg.Log
	if log != nil {
		log = log.WithField("context", "extensionservice-status")
	}
	w.core = newCore(coreConfig{
		kind: "ExtensionService", logField: "extensionservice",
		elected: cfg.Elected, stillLeading: cfg.StillLeading, workers: 1,
		log: log, clock: cfg.Clock,
	}, extensionTarget{w})
	return w, nil
}

// OnChange records d's ExtensionService results and, when leading, queues
// each one whose object shows something else.
func (w *ExtensionWriter) OnChange(d *dag.DAG) {
	w.mu.Lock()
	w.desired = d.ExtensionStatuses
	leading, desired := w.leading, w.desired
	w.mu.Unlock()
	if leading {
		w.enqueueStale(desired)
	}
}

func (w *ExtensionWriter) enqueueStale(desired map[types.NamespacedName]*dag.ExtensionStatus) {
	for k, es := range desired {
		if es == nil {
			continue
		}
		obj, err := w.extensions.ExtensionService(k.Namespace, k.Name)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			w.core.add(k)
		case !extensionUpToDate(es, obj):
			w.core.add(k)
		}
	}
}

// Run waits for leadership, then writes every stale status and keeps
// writing until ctx ends. It returns nil when ctx ends, once nothing of it
// runs any more.
func (w *ExtensionWriter) Run(ctx context.Context) error {
	return w.core.run(ctx, func() {
		w.mu.Lock()
		w.leading = true
		desired := w.desired
		w.mu.Unlock()
		w.core.log.WithField("extensionservices", len(desired)).Info("leading: writing stale ExtensionService statuses")
		w.enqueueStale(desired)
	})
}

// extensionTarget is the ExtensionService side of the writer core.
type extensionTarget struct{ w *ExtensionWriter }

var _ target[*contourv1alpha1.ExtensionService, *dag.ExtensionStatus] = extensionTarget{}

func (t extensionTarget) result(k types.NamespacedName) (*dag.ExtensionStatus, bool) {
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	es := t.w.desired[k]
	return es, es != nil
}

func (t extensionTarget) cached(k types.NamespacedName) (*contourv1alpha1.ExtensionService, error) {
	return t.w.extensions.ExtensionService(k.Namespace, k.Name)
}

func (t extensionTarget) fresh(ctx context.Context, k types.NamespacedName) (*contourv1alpha1.ExtensionService, error) {
	return t.w.client.ProjectcontourV1alpha1().ExtensionServices(k.Namespace).Get(ctx, k.Name, metav1.GetOptions{})
}

// behind is never asked: there are few ExtensionServices, and a conflict
// re-reads from the API server anyway.
func (extensionTarget) behind(types.NamespacedName, *dag.ExtensionStatus, *contourv1alpha1.ExtensionService) bool {
	return false
}

func (extensionTarget) upToDate(es *dag.ExtensionStatus, obj *contourv1alpha1.ExtensionService) bool {
	return extensionUpToDate(es, obj)
}

func (extensionTarget) desired(es *dag.ExtensionStatus, obj *contourv1alpha1.ExtensionService, now metav1.Time) *contourv1alpha1.ExtensionService {
	update := obj.DeepCopy()
	update.Status = DesiredExtension(es, obj.Status, now)
	return update
}

func (t extensionTarget) updateStatus(ctx context.Context, obj *contourv1alpha1.ExtensionService) error {
	_, err := t.w.client.ProjectcontourV1alpha1().ExtensionServices(obj.Namespace).UpdateStatus(ctx, obj, metav1.UpdateOptions{})
	return err
}

func (extensionTarget) wrote(types.NamespacedName, *dag.ExtensionStatus) {}
