package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric/noop"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/optel-dev/optel/internal/observ"
	"github.com/optel-dev/optel/server"
)

// fakeWriter records optel's own writes instead of sending them.
type fakeWriter struct {
	mu     sync.Mutex
	writes []string
	err    error
}

func (f *fakeWriter) annotate(_ context.Context, r Resource, ns, name string, ann map[string]*string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, v := range ann {
		f.writes = append(f.writes, fmt.Sprintf("annotate %s/%s %s=%s", ns, name, k, *v))
	}
	return f.err
}

func (f *fakeWriter) setFinalizer(_ context.Context, r Resource, ns, name, fin string, present bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes = append(f.writes, fmt.Sprintf("finalizer %s/%s %s %v", ns, name, fin, present))
	return f.err
}

func (f *fakeWriter) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.writes)
}

type fakeEvents struct {
	mu   sync.Mutex
	seen []string
}

func (f *fakeEvents) post(ref *corev1.ObjectReference, typ, reason, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, ref.Name+" "+typ+" "+reason)
}

func (f *fakeEvents) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.seen)
}

// unit is one controller on a fake store, writer and event sink.
type unit struct {
	t        *testing.T
	c        *controller
	store    cache.Store
	writer   *fakeWriter
	events   *fakeEvents
	calls    []string // handler runs, in order: "cause/id"
	prepared bool
	mu       sync.Mutex
}

var gizmos = Resource{Group: "test.optel.dev", Version: "v1", Resource: "gizmos"}

func newUnit(t *testing.T) *unit {
	t.Helper()
	inst, err := observ.NewOperator(noop.NewMeterProvider().Meter("test"))
	if err != nil {
		t.Fatal(err)
	}
	u := &unit{t: t, store: cache.NewStore(cache.MetaNamespaceKeyFunc), writer: &fakeWriter{}, events: &fakeEvents{}}
	e := &engine{
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), inst: &inst, meter: noop.NewMeterProvider().Meter("h"),
		writer: u.writer, events: u.events,
		cfg: engineConfig{workers: 1, handlerTimeout: time.Second, backoffBase: 10 * time.Millisecond, backoffMax: time.Second, annotationPrefix: "optel.dev", handlerEvents: true},
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var runners sync.WaitGroup
	e.begin(ctx, ctx, &runners)
	u.c = newController(e, gizmos)
	u.c.store = u.store
	u.c.gvk = gizmos.GroupVersion().WithKind("Gizmo")
	t.Cleanup(func() {
		if u.c.queue != nil {
			u.c.queue.ShutDown()
		}
	})
	return u
}

// on registers a handler that records its run and returns the next error
// from errs (nil when exhausted).
func (u *unit) on(cause Cause, id string, errs ...error) *handlerSpec {
	h := &handlerSpec{id: id, cause: cause, fn: func(_ context.Context, ev *rawEvent) error {
		u.mu.Lock()
		defer u.mu.Unlock()
		call := string(ev.cause) + "/" + id
		if len(ev.diff) > 0 {
			var ch []string
			for _, d := range ev.diff {
				ch = append(ch, strings.Join(d.Path, "."))
			}
			call += " diff=" + strings.Join(ch, ",")
		}
		u.calls = append(u.calls, call)
		if len(errs) > 0 {
			err := errs[0]
			errs = errs[1:]
			return err
		}
		return nil
	}}
	u.c.handlers[cause] = append(u.c.handlers[cause], h)
	return h
}

func (u *unit) put(obj *unstructured.Unstructured) {
	u.t.Helper()
	if err := u.store.Update(obj); err != nil {
		u.t.Fatal(err)
	}
}

func (u *unit) process() time.Duration {
	u.t.Helper()
	if !u.prepared {
		u.c.prepare()
		u.prepared = true
	}
	d, err := u.c.process(context.Background(), "ns/g")
	if err != nil {
		u.t.Fatalf("process: %v", err)
	}
	return d
}

func (u *unit) runs() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.calls
	u.calls = nil
	return out
}

func gizmo(spec map[string]any, annotations map[string]string, finalizers ...string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "test.optel.dev/v1", "kind": "Gizmo",
		"metadata": map[string]any{"name": "g", "namespace": "ns", "uid": "u1"},
		"spec":     spec,
	}}
	if annotations != nil {
		o.SetAnnotations(annotations)
	}
	if len(finalizers) > 0 {
		o.SetFinalizers(finalizers)
	}
	return o
}

const lastHandled = "optel.dev/last-handled-configuration"

func TestProcessCreateThenQuiet(t *testing.T) {
	u := newUnit(t)
	u.on(CauseCreate, "provision")
	u.on(CauseUpdate, "resize")
	u.put(gizmo(map[string]any{"size": int64(1)}, nil))
	if d := u.process(); d != 0 {
		t.Fatalf("delay %s, want 0", d)
	}
	if got := u.runs(); !slices.Equal(got, []string{"create/provision"}) {
		t.Fatalf("runs %v", got)
	}
	ess := `{"spec":{"size":1}}`
	if got := u.writer.list(); !slices.Equal(got, []string{"annotate ns/g " + lastHandled + "=" + ess}) {
		t.Fatalf("writes %v", got)
	}
	// The watch brings back the annotated object: nothing to do, nothing written.
	u.put(gizmo(map[string]any{"size": int64(1)}, map[string]string{lastHandled: ess}))
	u.process()
	if got := u.runs(); len(got) != 0 {
		t.Fatalf("runs after own annotation %v", got)
	}
	if got := u.writer.list(); len(got) != 1 {
		t.Fatalf("writes %v", got)
	}
	// A stale copy without the annotation (the watch lags the PATCH) does
	// not run create again for the same state.
	u.put(gizmo(map[string]any{"size": int64(1)}, nil))
	u.process()
	if got := u.runs(); len(got) != 0 {
		t.Fatalf("stale copy re-ran %v", got)
	}
}

func TestProcessUpdateBeforeResumeAfterRestart(t *testing.T) {
	u := newUnit(t)
	u.on(CauseUpdate, "resize")
	u.on(CauseResume, "reattach")
	// Handled at size 1 before the restart, changed to 2 while down.
	u.put(gizmo(map[string]any{"size": int64(2)}, map[string]string{lastHandled: `{"spec":{"size":1}}`}))
	u.process()
	want := []string{"update/resize diff=spec.size", "resume/reattach diff=spec.size"}
	if got := u.runs(); !slices.Equal(got, want) {
		t.Fatalf("runs %v, want %v", got, want)
	}
	// Resume runs once per operator life.
	u.put(gizmo(map[string]any{"size": int64(2)}, map[string]string{lastHandled: `{"spec":{"size":2}}`}))
	u.process()
	if got := u.runs(); len(got) != 0 {
		t.Fatalf("runs %v", got)
	}
}

func TestProcessWatchOnlyNeverWrites(t *testing.T) {
	for _, cause := range []Cause{CauseEvent, CauseReconcile, CauseTimer} {
		t.Run(string(cause), func(t *testing.T) {
			u := newUnit(t)
			h := u.on(cause, "h")
			h.interval = time.Hour
			u.put(gizmo(map[string]any{"size": int64(1)}, nil))
			u.process()
			if got := u.writer.list(); len(got) != 0 {
				t.Fatalf("a resource with only %s handlers was written: %v", cause, got)
			}
			u.c.stopAllRunners()
		})
	}
}

func TestRunCauseRetriesAndOutcomes(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		errs      []error
		wantDelay time.Duration
		wantRuns  int // runs until done
		wantEvent []string
	}{
		{"success", nil, 0, 1, nil},
		{"backoff then success", []error{boom, boom}, 10 * time.Millisecond, 3, []string{"g Warning HandlerFailed", "g Warning HandlerFailed", "g Normal HandlerRecovered"}},
		{"temporary delay", []error{Temporary(boom, 3*time.Second)}, 3 * time.Second, 2, []string{"g Warning HandlerFailed", "g Normal HandlerRecovered"}},
		{"permanent gives up", []error{Permanent(boom)}, 0, 1, []string{"g Warning HandlerFailedPermanently"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUnit(t)
			u.on(CauseCreate, "provision", tc.errs...)
			u.put(gizmo(map[string]any{}, nil))
			first := u.process()
			if first != tc.wantDelay {
				t.Errorf("first delay %s, want %s", first, tc.wantDelay)
			}
			runs := len(u.runs())
			for i := 0; i < 10 && len(u.writer.list()) == 0; i++ {
				u.process()
				runs += len(u.runs())
			}
			if runs != tc.wantRuns {
				t.Errorf("%d runs until done, want %d", runs, tc.wantRuns)
			}
			if got := u.events.list(); !slices.Equal(got, tc.wantEvent) {
				t.Errorf("events %v, want %v", got, tc.wantEvent)
			}
			if len(u.writer.list()) != 1 {
				t.Errorf("handled state recorded %v times, want once after the last run", u.writer.list())
			}
		})
	}
}

func TestRunCauseBackoffGrows(t *testing.T) {
	u := newUnit(t)
	boom := errors.New("boom")
	u.on(CauseCreate, "provision", boom, boom, boom)
	u.put(gizmo(map[string]any{}, nil))
	var delays []time.Duration
	for range 3 {
		delays = append(delays, u.process())
	}
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}
	if !slices.Equal(delays, want) {
		t.Fatalf("delays %v, want %v", delays, want)
	}
}

func TestProcessPanicIsRetried(t *testing.T) {
	u := newUnit(t)
	n := 0
	u.c.handlers[CauseCreate] = []*handlerSpec{{id: "p", cause: CauseCreate, fn: func(context.Context, *rawEvent) error {
		n++
		if n == 1 {
			panic("first run panics")
		}
		return nil
	}}}
	u.put(gizmo(map[string]any{}, nil))
	if d := u.process(); d == 0 {
		t.Fatal("a panic was treated as success")
	}
	u.process()
	if n != 2 || len(u.writer.list()) != 1 {
		t.Fatalf("runs %d, writes %v", n, u.writer.list())
	}
}

func TestProcessDeleteWithFinalizer(t *testing.T) {
	u := newUnit(t)
	u.on(CauseDelete, "release")
	u.put(gizmo(map[string]any{}, nil))
	u.process()
	if got := u.writer.list(); !slices.Equal(got, []string{"finalizer ns/g optel.dev/finalizer true"}) {
		t.Fatalf("writes %v", got)
	}
	if got := u.runs(); len(got) != 0 {
		t.Fatalf("runs %v before the finalizer is in place", got)
	}
	obj := gizmo(map[string]any{}, nil, "optel.dev/finalizer")
	now := metav1.Now()
	obj.SetDeletionTimestamp(&now)
	u.put(obj)
	u.process()
	if got := u.runs(); !slices.Equal(got, []string{"delete/release"}) {
		t.Fatalf("runs %v", got)
	}
	if got := u.writer.list(); got[len(got)-1] != "finalizer ns/g optel.dev/finalizer false" {
		t.Fatalf("writes %v", got)
	}
}

func TestFieldHandler(t *testing.T) {
	u := newUnit(t)
	h := &handlerSpec{id: "replicas", field: "spec.replicas"}
	rec := u.on(CauseCreate, "replicas")
	h.fn, h.cause = rec.fn, CauseCreate
	u.c.handlers[CauseCreate] = []*handlerSpec{h}
	u.c.handlers[CauseUpdate] = []*handlerSpec{h}
	u.put(gizmo(map[string]any{"image": "a"}, nil))
	u.process()
	if got := u.runs(); len(got) != 0 {
		t.Fatalf("field handler ran on create without the field: %v", got)
	}
	ess := `{"spec":{"image":"a"}}`
	u.put(gizmo(map[string]any{"image": "b"}, map[string]string{lastHandled: ess}))
	u.process()
	if got := u.runs(); len(got) != 0 {
		t.Fatalf("field handler ran for another field: %v", got)
	}
	u.put(gizmo(map[string]any{"image": "b", "replicas": int64(3)}, map[string]string{lastHandled: `{"spec":{"image":"b"}}`}))
	u.process()
	if got := u.runs(); !slices.Equal(got, []string{"update/replicas diff=spec.replicas"}) {
		t.Fatalf("runs %v", got)
	}
}

func TestReconcileRequeueAndBackoff(t *testing.T) {
	u := newUnit(t)
	n := 0
	u.c.handlers[CauseReconcile] = []*handlerSpec{{id: "converge", cause: CauseReconcile, fn: func(_ context.Context, ev *rawEvent) error {
		n++
		switch n {
		case 1:
			ev.requeueAfter = time.Minute
			return nil
		case 2:
			return errors.New("boom")
		}
		return nil
	}}}
	u.put(gizmo(map[string]any{}, nil))
	if d := u.process(); d != time.Minute {
		t.Fatalf("requeue after %s, want 1m", d)
	}
	if d := u.process(); d != 10*time.Millisecond {
		t.Fatalf("after an error %s, want the 10ms backoff", d)
	}
	if d := u.process(); d != 0 {
		t.Fatalf("after recovery %s, want 0", d)
	}
	if got := u.events.list(); !slices.Equal(got, []string{"g Warning HandlerFailed", "g Normal HandlerRecovered"}) {
		t.Fatalf("events %v", got)
	}
	if got := u.writer.list(); len(got) != 0 {
		t.Fatalf("reconcile made optel write %v", got)
	}
}

func TestHandlerEventsCanBeDisabled(t *testing.T) {
	u := newUnit(t)
	u.c.e.cfg.handlerEvents = false
	u.on(CauseCreate, "provision", errors.New("boom"))
	u.put(gizmo(map[string]any{}, nil))
	u.process()
	u.process()
	if got := u.events.list(); len(got) != 0 {
		t.Fatalf("events posted while disabled: %v", got)
	}
}

func TestOptionTypesAreSealedPerKind(t *testing.T) {
	checks := []struct {
		name  string
		opt   any
		ok    bool
		iface string
	}{
		{"WithIdle on a change handler", WithIdle(time.Second), false, "change"},
		{"WithIdle on a timer", WithIdle(time.Second), true, "timer"},
		{"WithIdle on a daemon", WithIdle(time.Second), false, "daemon"},
		{"WithCancellationTimeout on a timer", WithCancellationTimeout(time.Second), false, "timer"},
		{"WithCancellationTimeout on a daemon", WithCancellationTimeout(time.Second), true, "daemon"},
		{"WithInitialDelay on a change handler", WithInitialDelay(time.Second), false, "change"},
		{"WithInitialDelay on a timer", WithInitialDelay(time.Second), true, "timer"},
		{"WithLabelSelector everywhere", WithLabelSelector("a=b"), true, "change"},
		{"WithTimeout on a reconcile", WithTimeout(time.Second), true, "reconcile"},
		{"WithTimeout on a daemon", WithTimeout(time.Second), false, "daemon"},
	}
	for _, c := range checks {
		var ok bool
		switch c.iface {
		case "change":
			_, ok = c.opt.(ChangeOption)
		case "timer":
			_, ok = c.opt.(TimerOption)
		case "daemon":
			_, ok = c.opt.(DaemonOption)
		case "reconcile":
			_, ok = c.opt.(ReconcileOption)
		}
		if ok != c.ok {
			t.Errorf("%s: accepted=%v, want %v", c.name, ok, c.ok)
		}
	}
}

func TestKeyLocksExclude(t *testing.T) {
	var k keyLocks
	ctx := context.Background()
	if !k.lock(ctx, "a") {
		t.Fatal("lock")
	}
	// Another key is independent.
	if !k.lock(ctx, "b") {
		t.Fatal("lock b")
	}
	k.unlock("b")
	waitCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if k.lock(waitCtx, "a") {
		t.Fatal("a second holder got the lock")
	}
	k.unlock("a")
	if !k.lock(ctx, "a") {
		t.Fatal("lock after unlock")
	}
	k.unlock("a")
	if len(k.m) != 0 {
		t.Fatalf("locks not released: %v", k.m)
	}
}

func TestProcessRemovesStaleFinalizer(t *testing.T) {
	// A new version dropped its last delete handler: objects that still
	// carry optel's finalizer must not stay Terminating.
	u := newUnit(t)
	u.on(CauseCreate, "provision")
	obj := gizmo(map[string]any{}, nil, "optel.dev/finalizer", "other/finalizer")
	now := metav1.Now()
	obj.SetDeletionTimestamp(&now)
	u.put(obj)
	u.process()
	if got := u.writer.list(); !slices.Equal(got, []string{"finalizer ns/g optel.dev/finalizer false"}) {
		t.Fatalf("writes %v", got)
	}
}

func TestProcessWriteErrorIsRetried(t *testing.T) {
	u := newUnit(t)
	u.on(CauseCreate, "provision")
	u.writer.err = errors.New("apiserver down")
	u.put(gizmo(map[string]any{}, nil))
	u.prepared = true
	u.c.prepare()
	if _, err := u.c.process(context.Background(), "ns/g"); err == nil || !strings.Contains(err.Error(), "record handled state") {
		t.Fatalf("process with a failing write: %v", err)
	}
	u.writer.err = nil
	u.process()
	if got := u.runs(); !slices.Equal(got, []string{"create/provision"}) {
		t.Fatalf("the handler re-ran after a failed annotation write: %v (it had succeeded for this state)", got)
	}
}

func TestOwnsMapsControllerOwner(t *testing.T) {
	op, err := New(&rest.Config{Host: "http://127.0.0.1:1"}, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Server: server.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Telemetry().Shutdown(context.Background()) })
	deployments := Resource{Group: "apps", Version: "v1", Resource: "deployments"}
	owner := For[*unstructured.Unstructured](op, gizmos)
	if err := owner.Reconcile("converge", func(context.Context, *Event) (Result, error) { return Result{}, nil }); err != nil {
		t.Fatal(err)
	}
	if err := owner.Owns(For[*unstructured.Unstructured](op, deployments)); err != nil {
		t.Fatal(err)
	}
	oc, cc := op.controllers[gizmos], op.controllers[deployments]
	oc.gvk, oc.namespaced = gizmos.GroupVersion().WithKind("Gizmo"), true
	oc.prepare()
	t.Cleanup(oc.queue.ShutDown)
	yes, no := true, false
	child := func(rs ...metav1.OwnerReference) *unstructured.Unstructured {
		o := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "d", "namespace": "ns"}}}
		o.SetOwnerReferences(rs)
		return o
	}
	for _, tc := range []struct {
		name string
		obj  *unstructured.Unstructured
		want []string
	}{
		{"controller owner", child(metav1.OwnerReference{APIVersion: "test.optel.dev/v1", Kind: "Gizmo", Name: "g", Controller: &yes}), []string{"ns/g"}},
		{"not the controller", child(metav1.OwnerReference{APIVersion: "test.optel.dev/v1", Kind: "Gizmo", Name: "g", Controller: &no}), nil},
		{"other kind", child(metav1.OwnerReference{APIVersion: "test.optel.dev/v1", Kind: "Gadget", Name: "g", Controller: &yes}), nil},
		{"other group", child(metav1.OwnerReference{APIVersion: "other.dev/v1", Kind: "Gizmo", Name: "g", Controller: &yes}), nil},
		{"no owner", child(), nil},
	} {
		for _, m := range cc.mappers {
			m(tc.obj)
		}
		var got []string
		for oc.queue.Len() > 0 {
			k, _ := oc.queue.Get()
			oc.queue.Done(k)
			got = append(got, k)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: owner keys %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestStaleCacheAfterHandlingRunsUpdateNotCreate: a spec change lands after
// the create handler succeeded but before the watch delivered optel's
// annotation, so the cached copy has the new spec and no annotation. The
// change is an update (with its diff), not a second creation.
func TestStaleCacheAfterHandlingRunsUpdateNotCreate(t *testing.T) {
	u := newUnit(t)
	u.on(CauseCreate, "provision")
	u.on(CauseUpdate, "resize")
	u.put(gizmo(map[string]any{"size": int64(1)}, nil))
	u.process()
	if got := u.runs(); !slices.Equal(got, []string{"create/provision"}) {
		t.Fatalf("runs %v", got)
	}
	u.put(gizmo(map[string]any{"size": int64(2)}, nil)) // newer spec, annotation not seen yet
	u.process()
	if got := u.runs(); !slices.Equal(got, []string{"update/resize diff=spec.size"}) {
		t.Fatalf("runs %v, want one update with the size diff and no second create", got)
	}
}

// TestRecreatedObjectIsCreatedAgain: an object deleted and re-created under
// the same name before a worker saw the deletion is a new object (another
// uid): its create handler runs, whatever was handled for the old one.
func TestRecreatedObjectIsCreatedAgain(t *testing.T) {
	u := newUnit(t)
	u.on(CauseCreate, "provision")
	u.put(gizmo(map[string]any{"size": int64(1)}, nil))
	u.process()
	again := gizmo(map[string]any{"size": int64(1)}, nil)
	again.SetUID("u2")
	u.put(again)
	u.process()
	if got := u.runs(); !slices.Equal(got, []string{"create/provision", "create/provision"}) {
		t.Fatalf("runs %v, want create for the old and the new object", got)
	}
}

// TestRemovedAnnotationIsIgnoredWhileRunning: removing or editing the
// last-handled annotation by hand does not re-run create while the operator
// runs (the in-memory state wins, as operator/doc.go says); a new controller
// (a restart) reads the annotation and runs create for an object without it.
func TestRemovedAnnotationIsIgnoredWhileRunning(t *testing.T) {
	u := newUnit(t)
	u.on(CauseCreate, "provision")
	u.put(gizmo(map[string]any{"size": int64(1)}, nil))
	u.process()
	u.put(gizmo(map[string]any{"size": int64(1)}, map[string]string{lastHandled: `{"spec":{"size":1}}`})) // the watch brings optel's write
	u.process()
	u.put(gizmo(map[string]any{"size": int64(1)}, nil)) // the annotation removed by hand
	u.process()
	u.put(gizmo(map[string]any{"size": int64(1)}, map[string]string{lastHandled: `{"spec":{"size":7}}`})) // or edited by hand
	u.process()
	if got := u.runs(); !slices.Equal(got, []string{"create/provision"}) {
		t.Fatalf("runs %v, want only the first create", got)
	}
	restarted := newUnit(t)
	restarted.on(CauseCreate, "provision")
	restarted.put(gizmo(map[string]any{"size": int64(1)}, nil))
	restarted.process()
	if got := restarted.runs(); !slices.Equal(got, []string{"create/provision"}) {
		t.Fatalf("after a restart: runs %v, want create", got)
	}
}
