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
	"go.opentelemetry.io/otel/trace"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

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
// real life, watches ConfigMaps. B's handler span starts its own trace and
// links to A's handler span through the tracing.k8s.io/traceparent
// annotation A's write stamped. A re-running with nothing to change writes
// nothing, even though its mutate sets the annotations wholesale; a real
// change is stamped again, and B's next run links to A's latest run.
func TestCrossOperatorTrace(t *testing.T) {
	tpA, recA := tracedProvider(t)
	a := newEnv(t, operator.Options{Telemetry: tpA})
	cms := operator.ForBuiltin[*corev1.ConfigMap](a.op)
	must(t, operator.For[*Gadget](a.op, gadgets).Reconcile("config", func(ctx context.Context, ev *operator.TypedEvent[*Gadget]) (operator.Result, error) {
		_, _, err := cms.CreateOrUpdate(ctx, operator.Key{Namespace: ev.Object.Namespace, Name: "cfg-" + ev.Object.Name}, func(cm *corev1.ConfigMap) error {
			// Annotations set wholesale, as many mutate functions do.
			cm.Annotations = map[string]string{"app": "gadget"}
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
	// B only watches (OnEvent writes nothing), so the ConfigMap is A's alone.
	must(t, bcms.OnEvent("seen", func(context.Context, *operator.TypedEvent[*corev1.ConfigMap]) error { return nil }))
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

	// linked waits for a run of B's event handler on cfg-g1 that links to
	// one of A's spans other than skip, and returns both.
	linked := func(skip trace.SpanID) (bSpan, aSpan sdktrace.ReadOnlySpan) {
		t.Helper()
		testpeers.Eventually(t, 30*time.Second, func() string {
			var names []string
			for _, s := range recB.Ended() {
				names = append(names, "B:"+s.Name())
				if s.Name() != "event v1/configmaps" || len(s.Links()) != 1 || s.Links()[0].SpanContext.SpanID() == skip {
					continue
				}
				for _, as := range recA.Ended() {
					if as.SpanContext().SpanID() == s.Links()[0].SpanContext.SpanID() {
						bSpan, aSpan = s, as
						return ""
					}
				}
				return fmt.Sprintf("B's span links to %v, which is none of A's spans", s.Links()[0].SpanContext)
			}
			for _, s := range recA.Ended() {
				names = append(names, "A:"+s.Name())
			}
			return "no run of B linked to a new run of A yet; spans: " + fmt.Sprint(names)
		})
		return bSpan, aSpan
	}
	bs, as := linked(trace.SpanID{})
	if as.Name() != "reconcile gadgets.test.optel.dev" {
		t.Errorf("B's run links to A's %q, want A's reconcile run", as.Name())
	}
	if bs.SpanContext().TraceID() == as.SpanContext().TraceID() {
		t.Error("B's run is in A's trace; it must start its own and link")
	}

	// A's later runs with nothing to change write nothing, even with a
	// mutate that sets the annotations wholesale: the ConfigMap's
	// resourceVersion and traceparent stay.
	cmKey := operator.Key{Namespace: a.ns, Name: "cfg-g1"}
	kube := kubernetes.NewForConfigOrDie(cp.Config())
	before, err := kube.CoreV1().ConfigMaps(a.ns).Get(context.Background(), "cfg-g1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
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
	after, err := kube.CoreV1().ConfigMaps(a.ns).Get(context.Background(), "cfg-g1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion || after.Annotations[operator.TraceparentAnnotation] != before.Annotations[operator.TraceparentAnnotation] {
		t.Errorf("A's reconcile with nothing to change wrote the ConfigMap: resourceVersion %s -> %s, traceparent %q -> %q",
			before.ResourceVersion, after.ResourceVersion, before.Annotations[operator.TraceparentAnnotation], after.Annotations[operator.TraceparentAnnotation])
	}

	// A real change is stamped again: B's next run links to A's latest.
	a.setSpec("g1", "size", int64(2))
	bu, au := linked(as.SpanContext().SpanID())
	if bu.SpanContext().TraceID() == au.SpanContext().TraceID() {
		t.Error("B's run is in A's trace")
	}
	cm, err := cms.Get(cmKey)
	if err == nil && cm.Annotations[operator.TraceparentAnnotation] == "" {
		t.Error("the ConfigMap has no traceparent annotation")
	}
	if bu.SpanContext().TraceID() == au.SpanContext().TraceID() {
		t.Error("B's update is in A's trace")
	}
}
