package status

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"

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
	if have.ObservedGeneration > es.Generation {
		return true
	}
	return !NeedsUpdate(
		contourv1.HTTPProxyStatus{Conditions: []contourv1.DetailedCondition{*have}},
		contourv1.HTTPProxyStatus{Conditions: []contourv1.DetailedCondition{extensionCondition(es)}})
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
// latest DAG, on the leader only, as Writer does for HTTPProxies: nothing
// is written before Elected closes, nothing once StillLeading says the
// Lease is lost, only stale statuses are written, through the status
// subresource, with conflicts retried. There are few ExtensionServices:
// one worker, and every one is compared after each rebuild, which also
// repairs a status someone else wrote over.
type ExtensionWriter struct {
	client       versioned.Interface
	extensions   ExtensionGetter
	elected      <-chan struct{}
	stillLeading func() bool
	log          logrus.FieldLogger
	clock        func() time.Time

	queue   *queue
	limiter workqueue.TypedRateLimiter[types.NamespacedName]

	mu      sync.Mutex
	leading bool
	desired map[types.NamespacedName]*dag.ExtensionStatus
}

// NewExtensionWriter returns an ExtensionWriter.
func NewExtensionWriter(cfg ExtensionConfig) (*ExtensionWriter, error) {
	if cfg.Client == nil || cfg.Extensions == nil || cfg.Elected == nil {
		return nil, errors.New("status: Client, Extensions and Elected are required")
	}
	w := &ExtensionWriter{
		client:       cfg.Client,
		extensions:   cfg.Extensions,
		elected:      cfg.Elected,
		stillLeading: cfg.StillLeading,
		log:          cfg.Log,
		clock:        cfg.Clock,
		queue:        newQueue(),
		limiter:      workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](50*time.Millisecond, 60*time.Second),
	}
	if w.log == nil {
		l := logrus.New()
		l.Out = discard{}
		w.log = l
	}
	w.log = w.log.WithField("context", "extensionservice-status")
	if w.clock == nil {
		w.clock = time.Now
	}
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
			w.queue.add(k)
		case !extensionUpToDate(es, obj):
			w.queue.add(k)
		}
	}
}

// Run waits for leadership, then writes every stale status and keeps
// writing until ctx ends. It returns nil when ctx ends.
func (w *ExtensionWriter) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-w.elected:
	}
	w.mu.Lock()
	w.leading = true
	desired := w.desired
	w.mu.Unlock()
	w.log.WithField("extensionservices", len(desired)).Info("leading: writing stale ExtensionService statuses")
	w.enqueueStale(desired)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.work(ctx)
	}()
	<-ctx.Done()
	w.queue.shutDown()
	<-done
	return nil
}

func (w *ExtensionWriter) work(ctx context.Context) {
	for {
		k, ok := w.queue.get()
		if !ok {
			return
		}
		err := w.sync(ctx, k)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			delay := w.limiter.When(k)
			w.log.WithError(err).WithField("extensionservice", k.String()).WithField("retry_in", delay).Error("writing ExtensionService status failed")
			w.queue.addAfter(k, delay)
		default:
			w.limiter.Forget(k)
		}
		w.queue.done(k)
	}
}

func (w *ExtensionWriter) lookup(k types.NamespacedName) *dag.ExtensionStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.desired[k]
}

// sync brings one ExtensionService's status in line with the latest
// result for it.
func (w *ExtensionWriter) sync(ctx context.Context, k types.NamespacedName) error {
	es := w.lookup(k)
	if es == nil {
		return nil
	}
	obj, err := w.extensions.ExtensionService(k.Namespace, k.Name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", k, err)
	}
	for conflicts := 0; ; {
		if extensionUpToDate(es, obj) {
			return nil
		}
		if w.stillLeading != nil && !w.stillLeading() {
			return nil
		}
		update := obj.DeepCopy()
		update.Status = DesiredExtension(es, obj.Status, metav1.NewTime(w.clock()))
		_, err := w.client.ProjectcontourV1alpha1().ExtensionServices(k.Namespace).UpdateStatus(ctx, update, metav1.UpdateOptions{})
		switch {
		case err == nil:
			w.log.WithField("extensionservice", k.String()).WithField("valid", es.Valid()).Debug("wrote ExtensionService status")
			return nil
		case apierrors.IsNotFound(err):
			return nil
		case !apierrors.IsConflict(err):
			return fmt.Errorf("update status of %s: %w", k, err)
		}
		conflicts++
		if conflicts >= maxConflictRetries {
			return fmt.Errorf("update status of %s: %d conflicts in a row: %w", k, conflicts, err)
		}
		if err := sleep(ctx, conflictBackoffBase<<(conflicts-1)); err != nil {
			return err
		}
		// The lister may be behind our own last write: ask the API server.
		obj, err = w.client.ProjectcontourV1alpha1().ExtensionServices(k.Namespace).Get(ctx, k.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get %s: %w", k, err)
		}
		if es = w.lookup(k); es == nil {
			return nil
		}
	}
}
