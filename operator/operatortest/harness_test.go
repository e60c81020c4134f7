package operatortest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/optel-dev/optel/operator"
	"github.com/optel-dev/optel/operator/operatortest"
)

const thingCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.harness.optel.dev}
spec:
  group: harness.optel.dev
  scope: Namespaced
  names: {plural: things, singular: thing, kind: Thing}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`

var things = operator.Resource{Group: "harness.optel.dev", Version: "v1", Resource: "things"}

func thing(name string, size int64) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "harness.optel.dev/v1", "kind": "Thing",
		"metadata": map[string]any{"name": name}, "spec": map[string]any{"size": size},
	}}
}

// TestHarness drives a small operator through create, update and delete and
// asserts on what it recorded.
func TestHarness(t *testing.T) {
	h := operatortest.New(t, operatortest.Options{CRDs: [][]byte{[]byte(thingCRD)}})
	created, _ := h.Operator.Meter().Int64Counter("things.created")
	if err := h.Operator.OnCreate(things, "provision", func(ctx context.Context, ev *operator.Event) error {
		created.Add(ctx, 1)
		return ev.PatchStatus(ctx, map[string]any{"ready": true})
	}); err != nil {
		t.Fatal(err)
	}
	_ = h.Operator.OnUpdate(things, "resize", func(context.Context, *operator.Event) error { return nil })
	_ = h.Operator.OnDelete(things, "release", func(context.Context, *operator.Event) error { return nil })
	h.Start()

	h.Create(things, thing("a", 1))
	h.Create(things, thing("b", 2))
	h.WaitHandled(things, "provision", operator.CauseCreate, 2)
	h.Update(things, "a", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, int64(5), "spec", "size")
	})
	h.WaitHandled(things, "resize", operator.CauseUpdate, 1)
	h.Delete(things, "b")
	h.WaitGone(things, "b")

	h.Metrics.Sum(t, "things.created", 2)
	h.Metrics.Sum(t, "optel.handler.invocations", 1, attribute.String("handler", "release"), attribute.String("outcome", "success"))
	h.Metrics.Sum(t, "optel.handler.invocations", 0, attribute.String("outcome", "panic"))
	h.Metrics.HistogramCount(t, "optel.handler.duration", 4)
	obj, err := h.Get(things, "a")
	if err != nil {
		t.Fatal(err)
	}
	if ready, _, _ := unstructured.NestedBool(obj.Object, "status", "ready"); !ready {
		t.Error("status not written by the create handler")
	}
}

// logTB captures what the harness logs through t.Log.
type logTB struct {
	testing.TB
	mu   sync.Mutex
	logs []string
}

func (l *logTB) Log(args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.logs = append(l.logs, fmt.Sprint(args...))
}

func (l *logTB) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.logs, "\n")
}

// TestHarnessRestartAndLogs stops the operator, changes an object while it
// is down, and starts it again in the same namespace: the update handler
// gets the diff, before the resume handler. The operator's logs reach
// t.Log.
func TestHarnessRestartAndLogs(t *testing.T) {
	lt := &logTB{TB: t}
	var mu sync.Mutex
	var order []string
	record := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, s)
	}
	h := operatortest.New(lt, operatortest.Options{
		CRDs: [][]byte{[]byte(thingCRD)},
		Setup: func(op *operator.Operator) error {
			return errors.Join(
				op.OnCreate(things, "provision", func(context.Context, *operator.Event) error { record("create"); return nil }),
				op.OnUpdate(things, "resize", func(_ context.Context, ev *operator.Event) error {
					record("update " + ev.Diff[0].String())
					return nil
				}),
				op.OnResume(things, "reattach", func(_ context.Context, ev *operator.Event) error {
					record(fmt.Sprintf("resume diff=%d", len(ev.Diff)))
					return nil
				}),
			)
		},
	})
	h.Start()
	h.Create(things, thing("a", 1))
	h.WaitHandled(things, "provision", operator.CauseCreate, 1)
	h.Stop()
	h.Update(things, "a", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, int64(7), "spec", "size")
	})
	h.Start()
	h.WaitHandled(things, "reattach", operator.CauseResume, 1)
	mu.Lock()
	got := strings.Join(order, "; ")
	mu.Unlock()
	if want := "create; update change spec.size: 1 -> 7; resume diff=1"; got != want {
		t.Errorf("handler order %q, want %q", got, want)
	}
	if !strings.Contains(lt.text(), "caches synced") {
		t.Errorf("operator logs did not reach t.Log; got:\n%s", lt.text())
	}
}
