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
)

// Handler reacts to a change of an object. Return nil when done, a
// TemporaryError to retry after a delay, a PermanentError to give up, or any
// other error to retry with exponential backoff. Panics are recovered and
// retried like errors. Handlers must be idempotent: after a restart a handler
// that had succeeded may run again.
type Handler func(ctx context.Context, ev *Event) error

// Event is what a handler receives.
type Event struct {
	Cause    Cause
	Resource Resource
	// Object is the object as the cache holds it. For delete handlers it is
	// the object being deleted (it still exists, held by the finalizer).
	Object *unstructured.Unstructured
	// Old is the previously handled state for update handlers (spec,
	// labels, annotations: the parts optel compares); nil otherwise.
	Old *unstructured.Unstructured
	// Diff lists what changed between Old and Object, for update handlers.
	Diff Diff
	// Type is the raw watch event type for event handlers: ADDED, MODIFIED
	// or DELETED.
	Type string
	// Retry counts previous failed runs of this handler for this change.
	Retry int
	// Logger carries resource, namespace, name and handler.
	Logger *slog.Logger

	patcher *patcher
}

// handlerSpec is one registered object handler.
type handlerSpec struct {
	id       string
	cause    Cause
	fn       Handler
	selector labels.Selector
	when     func(*unstructured.Unstructured) bool
	timeout  time.Duration
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

// HandlerOption configures one handler, timer or daemon.
type HandlerOption interface{ apply(*handlerSpec) error }

type handlerOptionFunc func(*handlerSpec) error

func (f handlerOptionFunc) apply(h *handlerSpec) error { return f(h) }

// WithLabelSelector runs the handler only for objects whose labels match
// selector (Kubernetes syntax, e.g. "tier=web,env!=dev"). A malformed
// selector makes registration fail.
func WithLabelSelector(selector string) HandlerOption {
	return handlerOptionFunc(func(h *handlerSpec) error {
		s, err := labels.Parse(selector)
		if err != nil {
			return fmt.Errorf("label selector %q: %w", selector, err)
		}
		h.selector = s
		return nil
	})
}

// When runs the handler only for objects for which cond returns true (kopf's
// `when=`); use it for field conditions.
func When(cond func(obj *unstructured.Unstructured) bool) HandlerOption {
	return handlerOptionFunc(func(h *handlerSpec) error { h.when = cond; return nil })
}

// WithTimeout overrides Options.HandlerTimeout for this handler.
func WithTimeout(d time.Duration) HandlerOption {
	return handlerOptionFunc(func(h *handlerSpec) error {
		if d <= 0 {
			return fmt.Errorf("timeout %s: must be positive", d)
		}
		h.timeout = d
		return nil
	})
}

// WithInitialDelay delays a timer's first tick or a daemon's start.
func WithInitialDelay(d time.Duration) HandlerOption {
	return handlerOptionFunc(func(h *handlerSpec) error { h.initialDelay = max(d, 0); return nil })
}

// WithIdle makes a timer fire only when the object has not changed for d
// (kopf's idle=).
func WithIdle(d time.Duration) HandlerOption {
	return handlerOptionFunc(func(h *handlerSpec) error { h.idle = max(d, 0); return nil })
}

// WithCancellationTimeout bounds how long a daemon may take to return after
// its context is cancelled; after that it is abandoned and logged. Default 10s.
func WithCancellationTimeout(d time.Duration) HandlerOption {
	return handlerOptionFunc(func(h *handlerSpec) error { h.cancellationTimeout = max(d, 0); return nil })
}

// OnCreate registers a handler for objects the operator has never handled.
func (o *Operator) OnCreate(r Resource, id string, fn Handler, opts ...HandlerOption) error {
	return o.register(r, CauseCreate, id, fn, opts)
}

// OnUpdate registers a handler for changes of spec, labels or annotations
// since the last successful handling. Status-only changes do not trigger it.
func (o *Operator) OnUpdate(r Resource, id string, fn Handler, opts ...HandlerOption) error {
	return o.register(r, CauseUpdate, id, fn, opts)
}

// OnDelete registers a deletion handler. The runtime adds a finalizer to
// every object of r, runs the handler when the object is being deleted, and
// removes the finalizer once every delete handler succeeded (or failed
// permanently), so the object is really gone afterwards.
func (o *Operator) OnDelete(r Resource, id string, fn Handler, opts ...HandlerOption) error {
	return o.register(r, CauseDelete, id, fn, opts)
}

// OnResume registers a handler for objects that were handled before and
// exist when the operator (re)starts.
func (o *Operator) OnResume(r Resource, id string, fn Handler, opts ...HandlerOption) error {
	return o.register(r, CauseResume, id, fn, opts)
}

// OnEvent registers a handler for every raw watch event (kopf's on.event).
// It is not retried: its error is logged and counted.
func (o *Operator) OnEvent(r Resource, id string, fn Handler, opts ...HandlerOption) error {
	return o.register(r, CauseEvent, id, fn, opts)
}

// Timer runs fn every interval for each object of r (kopf's @timer), while
// the object exists. Options: WithInitialDelay, WithIdle, filters.
func (o *Operator) Timer(r Resource, id string, interval time.Duration, fn Handler, opts ...HandlerOption) error {
	if interval <= 0 {
		return fmt.Errorf("timer %q: interval %s must be positive", id, interval)
	}
	return o.register(r, CauseTimer, id, fn, append(opts, handlerOptionFunc(func(h *handlerSpec) error { h.interval = interval; return nil })))
}

// Daemon runs fn in its own goroutine for each object of r (kopf's
// @daemon). Its context is cancelled when the object is deleted or the
// operator stops; an error return restarts it with backoff, a nil return
// ends it. Objects get a finalizer so deletion waits for the daemon to stop.
func (o *Operator) Daemon(r Resource, id string, fn Handler, opts ...HandlerOption) error {
	return o.register(r, CauseDaemon, id, fn, opts)
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

func (o *Operator) register(r Resource, cause Cause, id string, fn Handler, opts []HandlerOption) error {
	if r.Version == "" || r.Resource == "" {
		return fmt.Errorf("%s handler %q: resource %v needs at least a version and a plural resource name", cause, id, r)
	}
	if id == "" || fn == nil {
		return fmt.Errorf("%s handler %q: id and function are required", cause, id)
	}
	h := &handlerSpec{id: id, cause: cause, fn: fn}
	for _, opt := range opts {
		if err := opt.apply(h); err != nil {
			return fmt.Errorf("%s handler %q: %w", cause, id, err)
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.started {
		return ErrStarted
	}
	c := o.controllers[r]
	if c == nil {
		c = newController(o, r)
		o.controllers[r] = c
		o.order = append(o.order, r)
	}
	for _, existing := range c.handlers[cause] {
		if existing.id == id {
			return fmt.Errorf("%s handler %q for %s: %w", cause, id, ResourceName(r), ErrDuplicateHandler)
		}
	}
	c.handlers[cause] = append(c.handlers[cause], h)
	return nil
}
