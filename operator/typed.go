package operator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// Object is what typed handlers receive: a pointer to a Kubernetes object
// struct with JSON tags, such as *appsv1.Deployment or a user's own *App
// that embeds metav1.TypeMeta and metav1.ObjectMeta. No generated code is
// needed: objects are decoded from the cache with the apimachinery
// unstructured converter, which follows the JSON tags, so an App needs no
// DeepCopy methods. *unstructured.Unstructured is an Object too, and is
// passed through untouched.
type Object interface {
	metav1.Object
}

// Kind is a typed handle on one resource: register its handlers, read its
// cache, and write its objects. T is the Go type its objects decode into.
//
// Why a handle: Go methods cannot take type parameters, so
// op.OnCreate[*App](...) cannot exist. A handle fixes T once, where the
// resource is named, and every method after that is typed and inferred:
//
//	apps := operator.For[*App](op, appsResource)
//	apps.OnCreate("provision", func(ctx context.Context, ev *operator.TypedEvent[*App]) error { ... })
//	apps.Owns(operator.ForBuiltin[*appsv1.Deployment](op))
//
// It mirrors controller-runtime's For(&App{}) and keeps the resource next to
// its type, where a reader looks for it.
type Kind[T Object] struct {
	op  *Operator
	res Resource
	gvk schema.GroupVersionKind // known for built-ins; else from discovery at Run
	err error                   // a bad T, reported by every registration
}

// For returns the handle for resource r, whose objects decode into T, and
// makes the operator watch r. Watching alone never writes to r's objects:
// only change-detecting handlers (create, update, field, resume) annotate
// them, and only delete handlers and daemons add a finalizer. Errors (T not
// a pointer to a struct, a resource without version or plural name) are
// returned by the first registration or read.
func For[T Object](op *Operator, r Resource) *Kind[T] {
	k := &Kind[T]{op: op, res: r}
	if err := checkObjectType[T](); err != nil {
		k.err = err
		return k
	}
	if _, err := op.watch(r); err != nil {
		k.err = err
	}
	return k
}

// ForBuiltin is For for a built-in kind of client-go's scheme, such as
// *appsv1.Deployment or *corev1.Service: the resource is derived from the
// type (apps/v1, deployments).
func ForBuiltin[T Object](op *Operator) *Kind[T] {
	r, gvk, err := BuiltinResource[T]()
	if err != nil {
		return &Kind[T]{op: op, err: err}
	}
	k := For[T](op, r)
	k.gvk = gvk
	return k
}

// BuiltinResource returns the resource and kind of a built-in client-go
// type; for example *appsv1.Deployment gives apps/v1 deployments, kind
// Deployment. It fails for types not in client-go's scheme.
func BuiltinResource[T Object]() (Resource, schema.GroupVersionKind, error) {
	if err := checkObjectType[T](); err != nil {
		return Resource{}, schema.GroupVersionKind{}, err
	}
	obj := reflect.New(reflect.TypeFor[T]().Elem()).Interface()
	ro, ok := obj.(runtime.Object)
	if !ok {
		return Resource{}, schema.GroupVersionKind{}, fmt.Errorf("type %T is not a built-in Kubernetes kind (it has no DeepCopyObject); use For with its resource", obj)
	}
	gvks, _, err := scheme.Scheme.ObjectKinds(ro)
	if err != nil || len(gvks) == 0 {
		return Resource{}, schema.GroupVersionKind{}, fmt.Errorf("type %T is not in client-go's scheme; use For with its resource: %v", obj, err)
	}
	gvk := gvks[0]
	plural, _ := meta.UnsafeGuessKindToResource(gvk)
	return plural, gvk, nil
}

// Resource is the resource this handle addresses.
func (k *Kind[T]) Resource() Resource { return k.res }

// TypedHandler reacts to a change of a T. Return nil when done, a
// TemporaryError to retry after a delay, a PermanentError to give up, or any
// other error to retry with exponential backoff. Panics are recovered and
// retried like errors. Handlers must be idempotent: delivery is at least
// once.
type TypedHandler[T Object] func(ctx context.Context, ev *TypedEvent[T]) error

// Result tells the engine when to call a reconcile handler again, even if
// nothing changes: RequeueAfter > 0 asks for another run after that long.
type Result struct {
	RequeueAfter time.Duration
}

// TypedReconciler is a level-based handler (Reconcile): it converges the
// world to the object's spec, whatever changed.
type TypedReconciler[T Object] func(ctx context.Context, ev *TypedEvent[T]) (Result, error)

// Handler and Event are the unstructured forms of TypedHandler and
// TypedEvent, used by the Operator's own registration methods.
type (
	Handler    = TypedHandler[*unstructured.Unstructured]
	Event      = TypedEvent[*unstructured.Unstructured]
	Reconciler = TypedReconciler[*unstructured.Unstructured]
)

// TypedEvent is what a handler receives.
type TypedEvent[T Object] struct {
	Cause    Cause
	Resource Resource
	// Object is the object as the cache held it when the run started. For
	// delete handlers it is the object being deleted (it still exists,
	// held by the finalizer).
	Object T
	// Old is the previously handled state for update, field and resume
	// handlers after a change (spec, labels, annotations: the parts optel
	// compares); the zero T otherwise.
	Old T
	// Diff lists what changed between Old and Object. A field handler sees
	// only the changes at or below its field.
	Diff Diff
	// Type is the raw watch event type for event handlers: ADDED, MODIFIED
	// or DELETED.
	Type string
	// Retry counts previous failed runs of this handler for this change.
	Retry int
	// Logger carries resource, namespace, name, handler and cause.
	Logger *slog.Logger

	raw *rawEvent
}

// Raw is the object as the cache holds it, unstructured.
func (e *TypedEvent[T]) Raw() *unstructured.Unstructured { return e.raw.obj }

// Key is the object's namespace and name.
func (e *TypedEvent[T]) Key() Key {
	return Key{Namespace: e.raw.obj.GetNamespace(), Name: e.raw.obj.GetName()}
}

func newTypedEvent[T Object](ev *rawEvent) (*TypedEvent[T], error) {
	obj, err := decode[T](ev.obj)
	if err != nil {
		return nil, err
	}
	te := &TypedEvent[T]{
		Cause: ev.cause, Resource: ev.c.res, Object: obj, Diff: ev.diff,
		Type: ev.typ, Retry: ev.retry, Logger: ev.logger, raw: ev,
	}
	if ev.old != nil {
		if te.Old, err = decode[T](ev.old); err != nil {
			return nil, fmt.Errorf("previous state: %w", err)
		}
	}
	return te, nil
}

// wrap turns a typed handler into the engine's form. An object that does
// not decode into T fails the run permanently, with the decoder's message:
// retrying cannot fix it, and the Warning event shows it on the object.
func wrap[T Object](fn TypedHandler[T]) rawHandler {
	if fn == nil {
		return nil
	}
	return func(ctx context.Context, ev *rawEvent) error {
		te, err := newTypedEvent[T](ev)
		if err != nil {
			return Permanent(err)
		}
		return fn(ctx, te)
	}
}

func wrapReconciler[T Object](fn TypedReconciler[T]) rawHandler {
	if fn == nil {
		return nil
	}
	return func(ctx context.Context, ev *rawEvent) error {
		te, err := newTypedEvent[T](ev)
		if err != nil {
			return Permanent(err)
		}
		res, err := fn(ctx, te)
		ev.requeueAfter = max(res.RequeueAfter, 0)
		return err
	}
}

func optionFuncs[O any](opts []O, apply func(O) func(*handlerSpec) error) []func(*handlerSpec) error {
	out := make([]func(*handlerSpec) error, 0, len(opts))
	for _, o := range opts {
		out = append(out, apply(o))
	}
	return out
}

func changeOpts(opts []ChangeOption) []func(*handlerSpec) error {
	return optionFuncs(opts, func(o ChangeOption) func(*handlerSpec) error { return o.applyChange })
}

func (k *Kind[T]) register(causes []Cause, id string, fn rawHandler, opts []func(*handlerSpec) error) error {
	if k.err != nil {
		return fmt.Errorf("%s handler %q: %w", causes[0], id, k.err)
	}
	return k.op.register(k.res, causes, id, fn, opts)
}

// OnCreate registers a handler for objects the operator has never handled.
func (k *Kind[T]) OnCreate(id string, fn TypedHandler[T], opts ...ChangeOption) error {
	return k.register([]Cause{CauseCreate}, id, wrap(fn), changeOpts(opts))
}

// OnUpdate registers a handler for changes of spec, labels or annotations
// since the last successful handling. Status-only changes do not trigger it.
func (k *Kind[T]) OnUpdate(id string, fn TypedHandler[T], opts ...ChangeOption) error {
	return k.register([]Cause{CauseUpdate}, id, wrap(fn), changeOpts(opts))
}

// OnField registers a handler for one field (kopf's on.field), given as a
// dot-separated path such as "spec.replicas". It runs on creation when the
// field is set and on every update that changes it or anything below it;
// ev.Diff holds only those changes, and ev.Old the previous state. Its
// runs count under cause create or update.
func (k *Kind[T]) OnField(field, id string, fn TypedHandler[T], opts ...ChangeOption) error {
	if field == "" {
		return fmt.Errorf("field handler %q: field path is empty (want e.g. spec.replicas)", id)
	}
	return k.register([]Cause{CauseCreate, CauseUpdate}, id, wrap(fn), append(changeOpts(opts), func(h *handlerSpec) error {
		h.field = field
		return nil
	}))
}

// OnDelete registers a deletion handler. The runtime adds a finalizer to
// every object of the resource, runs the handler when the object is being
// deleted, and removes the finalizer once every delete handler succeeded
// (or failed permanently), so the object is really gone afterwards.
func (k *Kind[T]) OnDelete(id string, fn TypedHandler[T], opts ...ChangeOption) error {
	return k.register([]Cause{CauseDelete}, id, wrap(fn), changeOpts(opts))
}

// OnResume registers a handler for objects that were handled before and
// exist when the operator (re)starts. If the object changed while the
// operator was down, update handlers run first and resume handlers then see
// the same Old and Diff.
func (k *Kind[T]) OnResume(id string, fn TypedHandler[T], opts ...ChangeOption) error {
	return k.register([]Cause{CauseResume}, id, wrap(fn), changeOpts(opts))
}

// OnEvent registers a handler for every raw watch event (kopf's on.event).
// It runs off the watch's delivery goroutine, on one of Options.Workers
// event goroutines chosen by object (one object's events keep their
// order), outside the object's lock. It is not retried, and optel writes
// nothing to the object for it: its error is logged and counted. Events
// still queued when the operator stops are dropped.
func (k *Kind[T]) OnEvent(id string, fn TypedHandler[T], opts ...EventOption) error {
	return k.register([]Cause{CauseEvent}, id, wrap(fn), optionFuncs(opts, func(o EventOption) func(*handlerSpec) error { return o.applyEvent }))
}

// Timer runs fn every interval for each object (kopf's @timer), while the
// object exists. A tick holds the object's lock, so it never overlaps the
// object's create, update, field, resume, delete and reconcile handlers or
// another tick (event handlers and daemon bodies are not excluded; see the
// package doc). Options: WithInitialDelay, WithIdle, filters.
func (k *Kind[T]) Timer(id string, interval time.Duration, fn TypedHandler[T], opts ...TimerOption) error {
	if interval <= 0 {
		return fmt.Errorf("timer %q: interval %s must be positive", id, interval)
	}
	return k.register([]Cause{CauseTimer}, id, wrap(fn), append(optionFuncs(opts, func(o TimerOption) func(*handlerSpec) error { return o.applyTimer }),
		func(h *handlerSpec) error { h.interval = interval; return nil }))
}

// Daemon runs fn in its own goroutine for each object (kopf's @daemon). It
// is started while the object's lock is held, but its function then runs
// concurrently with the object's other handlers, for as long as it likes.
// Its context is cancelled when the object is deleted or the operator
// stops; an error return restarts it with backoff, a nil return ends it.
// Objects get a finalizer so deletion waits for the daemon to stop.
func (k *Kind[T]) Daemon(id string, fn TypedHandler[T], opts ...DaemonOption) error {
	return k.register([]Cause{CauseDaemon}, id, wrap(fn), optionFuncs(opts, func(o DaemonOption) func(*handlerSpec) error { return o.applyDaemon }))
}

// Reconcile registers a level-based handler: it runs whenever the object or
// any object mapped to it (Owns, Watches) changed, including at start for
// every object, and again after Result.RequeueAfter. Errors retry with
// backoff like other handlers. It is the drift-repair path: it should read
// the world (from caches), compare with the spec, and converge. It never
// makes optel write to the object, and it does not run for an object that
// is being deleted.
func (k *Kind[T]) Reconcile(id string, fn TypedReconciler[T], opts ...ReconcileOption) error {
	return k.register([]Cause{CauseReconcile}, id, wrapReconciler(fn), optionFuncs(opts, func(o ReconcileOption) func(*handlerSpec) error { return o.applyReconcile }))
}

// checkObjectType rejects a T that is not a pointer to a struct.
func checkObjectType[T Object]() error {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("object type %v: want a pointer to a struct, such as *App", t)
	}
	return nil
}

func isUnstructured[T Object]() bool {
	return reflect.TypeFor[T]() == reflect.TypeFor[*unstructured.Unstructured]()
}

// decode converts a cached object into a fresh T (a deep copy).
func decode[T Object](u *unstructured.Unstructured) (T, error) {
	if isUnstructured[T]() {
		return any(u.DeepCopy()).(T), nil
	}
	t := reflect.New(reflect.TypeFor[T]().Elem()).Interface().(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, t); err != nil {
		return t, fmt.Errorf("decode %s %s/%s into %T: %w", u.GetKind(), u.GetNamespace(), u.GetName(), t, err)
	}
	return t, nil
}

// encode converts a T into an unstructured object carrying gvk.
func encode[T Object](obj T, gvk schema.GroupVersionKind) (*unstructured.Unstructured, error) {
	var u *unstructured.Unstructured
	if uu, ok := any(obj).(*unstructured.Unstructured); ok {
		u = uu.DeepCopy()
	} else {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return nil, fmt.Errorf("encode %T: %w", obj, err)
		}
		u = &unstructured.Unstructured{Object: m}
	}
	if !gvk.Empty() {
		u.SetGroupVersionKind(gvk)
	}
	return u, nil
}

// errNotStarted is returned by cache reads before the caches exist.
var errNotStarted = errors.New("cache not started: read from handlers, after Run started")
