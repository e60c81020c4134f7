package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// Event types, as Kubernetes defines them.
const (
	EventNormal  = corev1.EventTypeNormal
	EventWarning = corev1.EventTypeWarning
)

// Reasons of the Events optel posts for handler runs (Options.DisableHandlerEvents
// turns them off).
const (
	ReasonHandlerFailed            = "HandlerFailed"
	ReasonHandlerFailedPermanently = "HandlerFailedPermanently"
	ReasonHandlerRecovered         = "HandlerRecovered"
)

// maxEventMessage keeps Event messages within what the API accepts.
const maxEventMessage = 1024

// EventRecorder posts Kubernetes Events (core/v1) on objects, through the
// operator's measured client. Events are aggregated and rate-limited per
// object the way client-go's recorder does (similar events within 10
// minutes are folded into one with a count; a burst of 25 per object, then
// one per 5 minutes). Posting never blocks a handler: events are sent in
// the background and dropped, with a log line, when the API refuses them.
// Events are posted only while Run runs; before and after they are dropped.
type EventRecorder interface {
	Eventf(obj Object, eventType, reason, format string, args ...any)
}

// eventPoster is the engine's view of the recorder.
type eventPoster interface {
	post(ref *corev1.ObjectReference, eventType, reason, message string)
}

// events is the operator's EventRecorder: a client-go broadcaster that
// exists only while Run runs (it owns goroutines).
type events struct {
	component string
	kube      kubernetes.Interface
	cur       atomic.Pointer[eventRun]
	drop      func(reason string)
}

type eventRun struct {
	b   record.EventBroadcaster
	rec record.EventRecorder
}

func (e *events) start() {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: e.kube.CoreV1().Events("")})
	e.cur.Store(&eventRun{b: b, rec: b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: e.component})})
}

func (e *events) stop() {
	if r := e.cur.Swap(nil); r != nil {
		r.b.Shutdown()
	}
}

func (e *events) post(ref *corev1.ObjectReference, eventType, reason, message string) {
	r := e.cur.Load()
	if r == nil {
		return
	}
	if len(message) > maxEventMessage {
		message = message[:maxEventMessage-3] + "..."
	}
	r.rec.Event(ref, eventType, reason, message)
}

// Eventf posts an Event on obj. obj must carry its apiVersion and kind, or
// be a built-in kind; otherwise the event is dropped and logged.
func (e *events) Eventf(obj Object, eventType, reason, format string, args ...any) {
	gvk, err := objectKind(obj)
	if err != nil {
		e.drop(fmt.Sprintf("event %s on %s: %v", reason, obj.GetName(), err))
		return
	}
	e.post(&corev1.ObjectReference{
		APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind,
		Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: obj.GetUID(),
		ResourceVersion: obj.GetResourceVersion(),
	}, eventType, reason, fmt.Sprintf(format, args...))
}

// EventRecorder posts Kubernetes Events on any object.
func (o *Operator) EventRecorder() EventRecorder { return o.events }

func reference(u *unstructured.Unstructured) *corev1.ObjectReference {
	return &corev1.ObjectReference{
		APIVersion: u.GetAPIVersion(), Kind: u.GetKind(),
		Namespace: u.GetNamespace(), Name: u.GetName(), UID: u.GetUID(),
		ResourceVersion: u.GetResourceVersion(),
	}
}

// postHandlerEvent posts kopf-style Events for handler runs on the object:
// a Warning for each failed run and a Normal one when a handler succeeds
// after failing. Successful first runs post nothing, and event handlers
// post nothing.
func (c *controller) postHandlerEvent(h *handlerSpec, ev *rawEvent, oc outcome, err error) {
	if !c.e.cfg.handlerEvents || c.e.events == nil || ev.obj == nil || ev.cause == CauseEvent {
		return
	}
	ref := reference(ev.obj)
	switch {
	case err == nil && ev.retry > 0:
		c.e.events.post(ref, EventNormal, ReasonHandlerRecovered, fmt.Sprintf("Handler %q (%s) succeeded after %d failed attempts.", h.id, ev.cause, ev.retry))
	case err == nil:
	case oc == outcomePermanent:
		c.e.events.post(ref, EventWarning, ReasonHandlerFailedPermanently, fmt.Sprintf("Handler %q (%s) failed permanently and will not be retried: %v", h.id, ev.cause, err))
	default:
		c.e.events.post(ref, EventWarning, ReasonHandlerFailed, fmt.Sprintf("Handler %q (%s) failed (%s); it will be retried: %v", h.id, ev.cause, oc, err))
	}
}

// Eventf posts a Kubernetes Event on the handler's object (kopf's
// kopf.info / kopf.warn): eventType is EventNormal or EventWarning, reason
// a CamelCase word.
func (e *TypedEvent[T]) Eventf(eventType, reason, format string, args ...any) {
	if e.raw.c.e.events == nil {
		return
	}
	e.raw.c.e.events.post(reference(e.raw.obj), eventType, reason, fmt.Sprintf(format, args...))
}

// PatchStatus merges status into the object's status subresource. A JSON
// merge patch carries no resourceVersion, so it cannot conflict; use
// UpdateStatus to read-modify-write.
func (e *TypedEvent[T]) PatchStatus(ctx context.Context, status map[string]any) error {
	b, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return fmt.Errorf("encode status patch: %w", err)
	}
	u := e.raw.obj
	_, err = resourceClient(e.raw.c.e.dyn, e.raw.c.res, u.GetNamespace()).Patch(ctx, u.GetName(), types.MergePatchType, b, metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("patch status of %s: %w", u.GetName(), err)
	}
	return nil
}

// UpdateStatus lets mutate change a copy of the object and writes its
// status subresource, starting from the cache and re-reading on conflicts;
// nothing is written if the status did not change. See Kind.UpdateStatus.
func (e *TypedEvent[T]) UpdateStatus(ctx context.Context, mutate func(obj T) error) error {
	k := &Kind[T]{op: nil, res: e.raw.c.res, gvk: e.raw.c.gvk}
	return k.updateStatusWith(ctx, e.raw.c, e.Key(), mutate)
}

// PatchAnnotations sets (or, with a nil value, removes) annotations.
func (e *TypedEvent[T]) PatchAnnotations(ctx context.Context, annotations map[string]*string) error {
	u := e.raw.obj
	return dynamicWriter{dyn: e.raw.c.e.dyn}.annotate(ctx, e.raw.c.res, u.GetNamespace(), u.GetName(), annotations)
}
