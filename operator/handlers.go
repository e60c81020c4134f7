package operator

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/optel-dev/optel/probes"
)

// Resource addresses a kind by group, version and plural resource name, e.g.
// {Group: "example.com", Version: "v1", Resource: "widgets"}.
type Resource = schema.GroupVersionResource

// ResourceName is how a resource appears in telemetry attributes and logs:
// "widgets.example.com", or "v1/configmaps" for the core group.
func ResourceName(r Resource) string {
	if r.Group == "" {
		return r.Version + "/" + r.Resource
	}
	return r.Resource + "." + r.Group
}

// Cause says why a handler runs.
type Cause string

// Causes, also the "cause" attribute of optel.handler.invocations.
const (
	CauseCreate   Cause = "create"
	CauseUpdate   Cause = "update"
	CauseDelete   Cause = "delete"
	CauseResume   Cause = "resume"
	CauseEvent    Cause = "event"
	CauseTimer    Cause = "timer"
	CauseDaemon   Cause = "daemon"
	CauseActivity Cause = "activity"
	// CauseReconcile runs level-based handlers (Reconcile).
	CauseReconcile Cause = "reconcile"
)

// rawHandler is the engine's form of every handler: typed handlers are
// wrapped into it (see typed.go).
type rawHandler func(ctx context.Context, ev *rawEvent) error

// rawEvent is the engine's form of an event: the object as the cache holds
// it. Typed handlers receive a TypedEvent decoded from it.
type rawEvent struct {
	c        *controller
	cause    Cause
	obj, old *unstructured.Unstructured
	diff     Diff
	typ      string
	retry    int
	logger   *slog.Logger
	// requeueAfter is set by a reconcile handler's Result.
	requeueAfter time.Duration
}

// handlerSpec is one registered object handler.
type handlerSpec struct {
	id       string
	cause    Cause
	fn       rawHandler
	selector labels.Selector
	when     func(*unstructured.Unstructured) bool
	timeout  time.Duration
	// field handlers (OnField): the dot-separated path they follow.
	field string
	// timers
	interval, initialDelay, idle time.Duration
	// daemons
	cancellationTimeout time.Duration
}

func (h *handlerSpec) matches(obj *unstructured.Unstructured) bool {
	if h.selector != nil && !h.selector.Matches(labels.Set(obj.GetLabels())) {
		return false
	}
	return h.when == nil || h.when(obj)
}

// The methods below register handlers for objects handled as
// *unstructured.Unstructured; For and ForBuiltin give the same methods for
// typed objects.

// OnCreate registers a handler for objects the operator has never handled.
func (o *Operator) OnCreate(r Resource, id string, fn Handler, opts ...ChangeOption) error {
	return For[*unstructured.Unstructured](o, r).OnCreate(id, fn, opts...)
}

// OnUpdate registers a handler for changes of spec, labels or annotations
// since the last successful handling. Status-only changes do not trigger it.
func (o *Operator) OnUpdate(r Resource, id string, fn Handler, opts ...ChangeOption) error {
	return For[*unstructured.Unstructured](o, r).OnUpdate(id, fn, opts...)
}

// OnDelete registers a deletion handler; see Kind.OnDelete.
func (o *Operator) OnDelete(r Resource, id string, fn Handler, opts ...ChangeOption) error {
	return For[*unstructured.Unstructured](o, r).OnDelete(id, fn, opts...)
}

// OnResume registers a handler for objects that were handled before and
// exist when the operator (re)starts.
func (o *Operator) OnResume(r Resource, id string, fn Handler, opts ...ChangeOption) error {
	return For[*unstructured.Unstructured](o, r).OnResume(id, fn, opts...)
}

// OnField registers a handler for changes of one field; see Kind.OnField.
func (o *Operator) OnField(r Resource, field, id string, fn Handler, opts ...ChangeOption) error {
	return For[*unstructured.Unstructured](o, r).OnField(field, id, fn, opts...)
}

// OnEvent registers a handler for every raw watch event (kopf's on.event).
// It is not retried: its error is logged and counted.
func (o *Operator) OnEvent(r Resource, id string, fn Handler, opts ...EventOption) error {
	return For[*unstructured.Unstructured](o, r).OnEvent(id, fn, opts...)
}

// Timer runs fn every interval for each object of r; see Kind.Timer.
func (o *Operator) Timer(r Resource, id string, interval time.Duration, fn Handler, opts ...TimerOption) error {
	return For[*unstructured.Unstructured](o, r).Timer(id, interval, fn, opts...)
}

// Daemon runs fn in its own goroutine for each object of r; see Kind.Daemon.
func (o *Operator) Daemon(r Resource, id string, fn Handler, opts ...DaemonOption) error {
	return For[*unstructured.Unstructured](o, r).Daemon(id, fn, opts...)
}

// Reconcile registers a level-based handler for r; see Kind.Reconcile.
func (o *Operator) Reconcile(r Resource, id string, fn Reconciler, opts ...ReconcileOption) error {
	return For[*unstructured.Unstructured](o, r).Reconcile(id, fn, opts...)
}

// Activity is an operator-level function: startup, cleanup or background.
type Activity func(ctx context.Context) error

// OnStartup runs fn before any watch starts (on the leader, if elected). An
// error aborts Run.
func (o *Operator) OnStartup(id string, fn Activity) error {
	return o.registerActivity(&o.startup, id, fn)
}

// OnCleanup runs fn at shutdown after handlers and daemons stopped, before
// telemetry is flushed.
func (o *Operator) OnCleanup(id string, fn Activity) error {
	return o.registerActivity(&o.cleanup, id, fn)
}

// Background runs fn for the operator's whole life (on the leader): a
// user's own server or loop. An error return restarts it with backoff; at
// shutdown its context is cancelled and it is awaited.
func (o *Operator) Background(id string, fn Activity) error {
	return o.registerActivity(&o.background, id, fn)
}

// Probe registers a liveness or readiness probe served on /healthz or /readyz.
func (o *Operator) Probe(id string, kind probes.Kind, p probes.Probe) error {
	return o.probes.Register(id, kind, p)
}

type activity struct {
	id string
	fn Activity
}

func (o *Operator) registerActivity(list *[]activity, id string, fn Activity) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.started {
		return ErrStarted
	}
	if id == "" || fn == nil {
		return fmt.Errorf("activity %q: id and function are required", id)
	}
	for _, a := range *list {
		if a.id == id {
			return fmt.Errorf("activity %q: %w", id, ErrDuplicateHandler)
		}
	}
	*list = append(*list, activity{id: id, fn: fn})
	return nil
}

// controllerFor returns the controller of r, creating a watch-only one.
// The caller holds o.mu.
func (o *Operator) controllerFor(r Resource) *controller {
	c := o.controllers[r]
	if c == nil {
		c = newController(o.eng, r)
		o.controllers[r] = c
		o.order = append(o.order, r)
	}
	return c
}

// watch makes the operator watch r without handlers: a read-only cache.
func (o *Operator) watch(r Resource) (*controller, error) {
	if r.Version == "" || r.Resource == "" {
		return nil, fmt.Errorf("resource %v needs at least a version and a plural resource name", r)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.started {
		return nil, ErrStarted
	}
	return o.controllerFor(r), nil
}

func (o *Operator) register(r Resource, causes []Cause, id string, fn rawHandler, opts []func(*handlerSpec) error) error {
	cause := causes[0]
	if r.Version == "" || r.Resource == "" {
		return fmt.Errorf("%s handler %q: resource %v needs at least a version and a plural resource name", cause, id, r)
	}
	if id == "" || fn == nil {
		return fmt.Errorf("%s handler %q: id and function are required", cause, id)
	}
	h := &handlerSpec{id: id, cause: cause, fn: fn}
	for _, opt := range opts {
		if err := opt(h); err != nil {
			return fmt.Errorf("%s handler %q: %w", cause, id, err)
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.started {
		return ErrStarted
	}
	c := o.controllerFor(r)
	for _, cs := range causes {
		for _, existing := range c.handlers[cs] {
			if existing.id == id {
				return fmt.Errorf("%s handler %q for %s: %w", cs, id, ResourceName(r), ErrDuplicateHandler)
			}
		}
	}
	for _, cs := range causes {
		c.handlers[cs] = append(c.handlers[cs], h)
	}
	return nil
}
