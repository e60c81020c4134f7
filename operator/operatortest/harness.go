package operatortest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"

	"github.com/optel-dev/optel/controlplane"
	"github.com/optel-dev/optel/operator"
	"github.com/optel-dev/optel/telemetry"
	"github.com/optel-dev/optel/telemetry/telemetrytest"
)

// Options configure New.
type Options struct {
	// ControlPlane to use; nil starts one for this test (a few seconds).
	// Share one across a package's tests from TestMain for speed.
	ControlPlane *controlplane.ControlPlane
	// CRDs are applied (and awaited) before the operator is built.
	CRDs [][]byte
	// Operator options. Namespaces is set to the harness's namespace, the
	// HTTP server is off, and Telemetry is an in-memory provider. A nil
	// Logger logs to t.Log (text, debug level), so a failing test shows
	// what the operator did.
	Operator operator.Options
	// Setup registers the operator's handlers. It runs on every operator
	// the harness builds: in New, and again in Restart, which builds a new
	// operator as a restarted process would. Without Setup, register on
	// h.Operator directly; Restart then fails the test.
	Setup func(op *operator.Operator) error
	// Timeout bounds every Wait. Default 30s.
	Timeout time.Duration
}

// Harness is an operator under test in its own namespace of a real API
// server, with its telemetry in memory.
type Harness struct {
	T            testing.TB
	ControlPlane *controlplane.ControlPlane
	Operator     *operator.Operator
	Telemetry    *telemetry.Provider
	Metrics      *telemetrytest.Reader
	Namespace    string
	Client       dynamic.Interface

	timeout time.Duration
	opts    operator.Options
	setup   func(op *operator.Operator) error
	ran     bool
	cancel  context.CancelFunc
	done    chan error
}

var nsSeq atomic.Int64

// New prepares the harness: control plane, CRDs, a fresh namespace and the
// operator. Register handlers on h.Operator, then call Start.
func New(t testing.TB, opts Options) *Harness {
	t.Helper()
	cp := opts.ControlPlane
	if cp == nil {
		cp = controlplane.StartForTest(t, controlplane.Options{})
	}
	ctx := context.Background()
	if len(opts.CRDs) > 0 {
		if err := controlplane.ApplyCRDs(ctx, cp.Config(), opts.CRDs...); err != nil {
			t.Fatalf("operatortest: %v", err)
		}
	}
	h := &Harness{T: t, ControlPlane: cp, Client: dynamic.NewForConfigOrDie(cp.Config()), timeout: opts.Timeout}
	if h.timeout <= 0 {
		h.timeout = 30 * time.Second
	}
	h.Namespace = fmt.Sprintf("optest-%d-%d", time.Now().UnixNano()%1e6, nsSeq.Add(1))
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": h.Namespace}}}
	if _, err := h.Client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("operatortest: create namespace: %v", err)
	}
	o := opts.Operator
	o.Namespaces = []string{h.Namespace}
	o.Server.BindAddress, o.Server.HealthProbeBindAddress = "0", "0"
	if o.Logger == nil {
		w := &testLog{t: t}
		t.Cleanup(w.close) // registered before Start's Stop, so it runs after it
		o.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h.opts, h.setup = o, opts.Setup
	h.build()
	return h
}

// build makes a fresh operator with fresh in-memory telemetry and runs
// Setup on it.
func (h *Harness) build() {
	h.T.Helper()
	h.Telemetry, h.Metrics = telemetrytest.NewProvider(h.T)
	o := h.opts
	o.Telemetry = h.Telemetry
	op, err := operator.New(h.ControlPlane.Config(), o)
	if err != nil {
		h.T.Fatalf("operatortest: %v", err)
	}
	if h.setup != nil {
		if err := h.setup(op); err != nil {
			h.T.Fatalf("operatortest: setup: %v", err)
		}
	}
	h.Operator = op
}

// Restart stops the operator and starts a new one on the same namespace and
// control plane, with handlers registered again by Options.Setup: what a
// restarted process does. Change the world between Stop and Start to test
// what the operator does with changes made while it was down. The new
// operator records into fresh telemetry (h.Telemetry and h.Metrics are
// replaced), as a new process would.
func (h *Harness) Restart() {
	h.T.Helper()
	h.Stop()
	h.Start()
}

// testLog writes each log record to t.Log until the test ends.
type testLog struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLog) close() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// Start runs the operator until the test ends; then it stops it and fails
// the test if Run did not return nil. After Stop, Start builds a new
// operator first (see Restart), since an operator runs once.
func (h *Harness) Start() {
	h.T.Helper()
	if h.ran {
		if h.setup == nil {
			h.T.Fatal("operatortest: starting again needs Options.Setup, to register the handlers on the new operator")
		}
		h.build()
	}
	h.ran = true
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	op := h.Operator
	go func() { h.done <- op.Run(ctx) }()
	h.T.Cleanup(h.Stop)
}

// Stop stops the operator (idempotent) and checks Run's result.
func (h *Harness) Stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	if err := <-h.done; err != nil {
		h.T.Errorf("operatortest: Run returned %v", err)
	}
}

// Create creates an object of r in the harness namespace.
func (h *Harness) Create(r operator.Resource, obj *unstructured.Unstructured) *unstructured.Unstructured {
	h.T.Helper()
	obj.SetNamespace(h.Namespace)
	out, err := h.Client.Resource(r).Namespace(h.Namespace).Create(context.Background(), obj, metav1.CreateOptions{})
	if err != nil {
		h.T.Fatalf("operatortest: create %s: %v", obj.GetName(), err)
	}
	return out
}

// Update applies mutate to the latest object and writes it, retrying on
// conflicts (the operator writes annotations and status concurrently).
func (h *Harness) Update(r operator.Resource, name string, mutate func(*unstructured.Unstructured)) {
	h.T.Helper()
	ri := h.Client.Resource(r).Namespace(h.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := ri.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(cur)
		_, err = ri.Update(context.Background(), cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		h.T.Fatalf("operatortest: update %s: %v", name, err)
	}
}

// Delete deletes an object; with delete handlers the finalizer keeps it
// until they ran (see WaitGone).
func (h *Harness) Delete(r operator.Resource, name string) {
	h.T.Helper()
	if err := h.Client.Resource(r).Namespace(h.Namespace).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		h.T.Fatalf("operatortest: delete %s: %v", name, err)
	}
}

// Get returns the current object, or an error (IsNotFound once it is gone).
func (h *Harness) Get(r operator.Resource, name string) (*unstructured.Unstructured, error) {
	return h.Client.Resource(r).Namespace(h.Namespace).Get(context.Background(), name, metav1.GetOptions{})
}

// WaitHandled waits until handler of resource r has succeeded n times for
// cause, as the operator's own telemetry (optel.handler.invocations) says.
func (h *Harness) WaitHandled(r operator.Resource, handler string, cause operator.Cause, n int) {
	h.T.Helper()
	attrs := []attribute.KeyValue{
		attribute.String("resource", operator.ResourceName(r)), attribute.String("handler", handler),
		attribute.String("cause", string(cause)), attribute.String("outcome", "success"),
	}
	h.Wait(func() error {
		v, _ := h.Metrics.Value(h.T, "optel.handler.invocations", attrs...)
		if v < float64(n) {
			return fmt.Errorf("%s handler %q succeeded %v times, want %d", cause, handler, v, n)
		}
		return nil
	})
}

// WaitGone waits until the object no longer exists.
func (h *Harness) WaitGone(r operator.Resource, name string) {
	h.T.Helper()
	h.Wait(func() error {
		if _, err := h.Get(r, name); err == nil {
			return fmt.Errorf("%s still exists", name)
		}
		return nil
	})
}

// Wait polls cond until it returns nil, failing the test with its last
// error after the harness timeout (a bound for convergence, not a
// performance assertion).
func (h *Harness) Wait(cond func() error) {
	h.T.Helper()
	deadline := time.Now().Add(h.timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			h.T.Fatalf("operatortest: not reached within %s: %v", h.timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
