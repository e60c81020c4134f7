package operator_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	corev1 "k8s.io/api/core/v1"

	"github.com/optel-dev/optel/internal/testpeers"
	"github.com/optel-dev/optel/operator"
	"github.com/optel-dev/optel/server"
	"github.com/optel-dev/optel/telemetry"
)

func tracedProvider(t *testing.T) (*telemetry.Provider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp, err := telemetry.New(context.Background(), telemetry.WithExporters("none"), telemetry.WithTracesExporters("none"),
		telemetry.WithSpanProcessor(rec), telemetry.WithEnvironment(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

// TestCrossOperatorTrace: operator A creates a ConfigMap for each Gadget
// with CreateOrUpdate inside its handler; operator B, another process in
// real life, handles ConfigMaps. B's handler span starts its own trace and
// links to A's handler span through the tracing.k8s.io/traceparent
// annotation A's write stamped. Updating the ConfigMap's data again from A
// re-stamps it, and B's update handler links to A's second run; A's
// handler re-running with nothing to change writes nothing.
func TestCrossOperatorTrace(t *testing.T) {
	tpA, recA := tracedProvider(t)
	a := newEnv(t, operator.Options{Telemetry: tpA})
	cms := operator.ForBuiltin[*corev1.ConfigMap](a.op)
	must(t, operator.For[*Gadget](a.op, gadgets).Reconcile("config", func(ctx context.Context, ev *operator.TypedEvent[*Gadget]) (operator.Result, error) {
		_, _, err := cms.CreateOrUpdate(ctx, operator.Key{Namespace: ev.Object.Namespace, Name: "cfg-" + ev.Object.Name}, func(cm *corev1.ConfigMap) error {
			cm.Data = map[string]string{"size": fmt.Sprint(ev.Object.Spec.Size)}
			return nil
		})
		return operator.Result{}, err
	}))

	tpB, recB := tracedProvider(t)
	b, err := operator.New(cp.Config(), operator.Options{Name: "b", Telemetry: tpB, Namespaces: []string{a.ns},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Server: server.Options{BindAddress: "0", HealthProbeBindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	bcms := operator.ForBuiltin[*corev1.ConfigMap](b)
	must(t, bcms.OnCreate("seen", func(context.Context, *operator.TypedEvent[*corev1.ConfigMap]) error { return nil }))
	must(t, bcms.OnUpdate("changed", func(context.Context, *operator.TypedEvent[*corev1.ConfigMap]) error { return nil }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("operator b: %v", err)
		}
	})
	a.start()
	a.create("g1", map[string]any{"size": int64(1)})

	// linked waits for B's run of handler (cause) on cfg-g1 and returns A's
	// reconcile span it links to.
	linked := func(cause string) (bSpan, aSpan sdktrace.ReadOnlySpan) {
		t.Helper()
		testpeers.Eventually(t, 30*time.Second, func() string {
			for _, s := range recB.Ended() {
				if s.Name() != cause+" v1/configmaps" {
					continue
				}
				if len(s.Links()) != 1 {
					return fmt.Sprintf("B's %s span has links %v, want one", cause, s.Links())
				}
				for _, as := range recA.Ended() {
					if as.SpanContext().SpanID() == s.Links()[0].SpanContext.SpanID() {
						bSpan, aSpan = s, as
						return ""
					}
				}
				return fmt.Sprintf("B's %s span links to %v, which is none of A's spans", cause, s.Links()[0].SpanContext)
			}
			var names []string
			for _, s := range recA.Ended() {
				names = append(names, "A:"+s.Name())
			}
			for _, s := range recB.Ended() {
				names = append(names, "B:"+s.Name())
			}
			return "B has no " + cause + " span yet; spans: " + fmt.Sprint(names)
		})
		return bSpan, aSpan
	}
	bs, as := linked("create")
	if as.Name() != "reconcile gadgets.test.optel.dev" {
		t.Errorf("B's create links to A's %q, want A's reconcile run", as.Name())
	}
	if bs.SpanContext().TraceID() == as.SpanContext().TraceID() {
		t.Error("B's run is in A's trace; it must start its own and link")
	}

	// A's later runs with nothing to change write nothing, so the
	// annotation stays and B sees no update.
	a.setSpec("g1", "color", "red")
	testpeers.Eventually(t, 30*time.Second, func() string {
		n := 0
		for _, s := range recA.Ended() {
			if s.Name() == "reconcile gadgets.test.optel.dev" {
				n++
			}
		}
		if n < 2 {
			return fmt.Sprintf("A reconciled %d times, want 2", n)
		}
		return ""
	})
	time.Sleep(500 * time.Millisecond)
	for _, s := range recB.Ended() {
		if s.Name() == "update v1/configmaps" {
			t.Errorf("B ran update after A changed nothing: the traceparent alone was written, or counted as a change")
		}
	}

	// A real change is stamped again: B's update links to A's latest run.
	a.setSpec("g1", "size", int64(2))
	bu, au := linked("update")
	if au.SpanContext().SpanID() == as.SpanContext().SpanID() {
		t.Error("B's update links to A's first run, not the one that changed the ConfigMap")
	}
	cm, err := cms.Get(operator.Key{Namespace: a.ns, Name: "cfg-g1"})
	if err == nil && cm.Annotations[operator.TraceparentAnnotation] == "" {
		t.Error("the ConfigMap has no traceparent annotation")
	}
	if bu.SpanContext().TraceID() == au.SpanContext().TraceID() {
		t.Error("B's update is in A's trace")
	}
}
