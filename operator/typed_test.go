package operator_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/optel-dev/optel/operator"
)

// Gadget is a typed view of the test CRD, a plain struct with JSON tags.
type Gadget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              GadgetSpec `json:"spec"`
}

type GadgetSpec struct {
	Size  int64  `json:"size"`
	Color string `json:"color,omitempty"`
}

// TestTypedHandlersAndDecodeErrors registers typed handlers for the gadget
// CRD and a built-in kind on the real API server. An object that does not
// decode into the Go type fails permanently with the decoder's message, as
// a Warning event on the object.
func TestTypedHandlersAndDecodeErrors(t *testing.T) {
	e := newEnv(t, operator.Options{})
	g := operator.For[*Gadget](e.op, gadgets)
	var mu sync.Mutex
	seen := map[string]string{}
	must(t, g.OnCreate("provision", func(_ context.Context, ev *operator.TypedEvent[*Gadget]) error {
		mu.Lock()
		defer mu.Unlock()
		seen[ev.Object.Name] = fmt.Sprintf("%s size=%d kind=%s", ev.Object.Spec.Color, ev.Object.Spec.Size, ev.Object.Kind)
		return nil
	}))
	must(t, g.OnField("spec.size", "resized", func(_ context.Context, ev *operator.TypedEvent[*Gadget]) error {
		if ev.Cause == operator.CauseUpdate {
			mu.Lock()
			defer mu.Unlock()
			seen["resized"] = fmt.Sprintf("%d->%d", ev.Old.Spec.Size, ev.Object.Spec.Size)
		}
		return nil
	}))
	cms := operator.ForBuiltin[*corev1.ConfigMap](e.op)
	must(t, cms.OnEvent("watch", func(_ context.Context, ev *operator.TypedEvent[*corev1.ConfigMap]) error {
		mu.Lock()
		defer mu.Unlock()
		seen["cm/"+ev.Object.Name] = ev.Type
		return nil
	}))
	e.start()
	e.create("good", map[string]any{"size": int64(3), "color": "red"})
	e.create("bad", map[string]any{"size": "big"})
	get := func(k string) string { mu.Lock(); defer mu.Unlock(); return seen[k] }
	eventually(t, func() string {
		if got := get("good"); got != "red size=3 kind=Gadget" {
			return "typed create handler saw " + got
		}
		return ""
	})
	e.setSpec("good", "size", int64(5))
	eventually(t, func() string {
		if got := get("resized"); got != "3->5" {
			return "field handler saw " + got
		}
		return ""
	})
	cs := kubernetes.NewForConfigOrDie(cp.Config())
	eventually(t, func() string {
		evs, err := cs.CoreV1().Events(e.ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=bad"})
		if err != nil {
			return err.Error()
		}
		for _, ev := range evs.Items {
			if ev.Reason == operator.ReasonHandlerFailedPermanently && strings.Contains(ev.Message, "decode") && strings.Contains(ev.Message, "*operator_test.Gadget") {
				return ""
			}
		}
		return fmt.Sprintf("no HandlerFailedPermanently event naming the decode error on gadget bad: %+v", evs.Items)
	})
	// A ConfigMap someone else owns is seen through the typed cache, and
	// never written to.
	if _, err := cs.CoreV1().ConfigMaps(e.ns).Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"mode": "fast"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		if get("cm/settings") != "ADDED" {
			return "no ADDED event for ConfigMap settings"
		}
		return ""
	})
	time.Sleep(500 * time.Millisecond) // time for a write, were there one
	cm, err := cms.Get(operator.Key{Namespace: e.ns, Name: "settings"})
	if err != nil || cm.Data["mode"] != "fast" {
		t.Fatalf("typed cache read: %v %v", cm, err)
	}
	live, err := cs.CoreV1().ConfigMaps(e.ns).Get(context.Background(), "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(live.Annotations) > 0 || len(live.Finalizers) > 0 || live.ResourceVersion != cm.ResourceVersion {
		t.Errorf("a watched-only ConfigMap was written: annotations %v, finalizers %v, resourceVersion %s (cache saw %s)", live.Annotations, live.Finalizers, live.ResourceVersion, cm.ResourceVersion)
	}
}

// TestTimerNeverOverlapsUpdate runs a fast timer and a slow update handler
// on one object and checks, from the start and end times each recorded,
// that no two runs for the object overlapped.
func TestTimerNeverOverlapsUpdate(t *testing.T) {
	e := newEnv(t, operator.Options{Workers: 4})
	type span struct {
		what       string
		start, end time.Time
	}
	var mu sync.Mutex
	var spans []span
	run := func(what string, d time.Duration) {
		s := time.Now()
		time.Sleep(d)
		mu.Lock()
		spans = append(spans, span{what, s, time.Now()})
		mu.Unlock()
	}
	must(t, e.op.OnUpdate(gadgets, "slow-update", func(context.Context, *operator.Event) error { run("update", 150*time.Millisecond); return nil }))
	must(t, e.op.OnCreate(gadgets, "create", func(context.Context, *operator.Event) error { run("create", 50*time.Millisecond); return nil }))
	must(t, e.op.Timer(gadgets, "tick", 20*time.Millisecond, func(context.Context, *operator.Event) error { run("timer", 30*time.Millisecond); return nil }))
	e.start()
	e.create("g", map[string]any{"size": int64(0)})
	for i := 1; i <= 8; i++ {
		time.Sleep(60 * time.Millisecond)
		e.setSpec("g", "size", int64(i))
	}
	eventually(t, func() string {
		mu.Lock()
		defer mu.Unlock()
		n := map[string]int{}
		for _, s := range spans {
			n[s.what]++
		}
		if n["update"] < 3 || n["timer"] < 10 {
			return fmt.Sprintf("runs so far %v", n)
		}
		return ""
	})
	mu.Lock()
	defer mu.Unlock()
	for i := range spans {
		for j := i + 1; j < len(spans); j++ {
			a, b := spans[i], spans[j]
			if a.start.Before(b.end) && b.start.Before(a.end) {
				t.Fatalf("%s [%s, %s] overlaps %s [%s, %s]", a.what, a.start.Format("05.000"), a.end.Format("05.000"), b.what, b.start.Format("05.000"), b.end.Format("05.000"))
			}
		}
	}
}

// TestWatchesMapsRelatedObjects maps ConfigMaps to the gadget their
// "gadget" label names: creating or changing one runs that gadget's
// reconcile handler, through its queue.
func TestWatchesMapsRelatedObjects(t *testing.T) {
	e := newEnv(t, operator.Options{})
	g := operator.For[*Gadget](e.op, gadgets)
	cms := operator.ForBuiltin[*corev1.ConfigMap](e.op)
	var mu sync.Mutex
	seen := map[string]string{}
	must(t, g.Reconcile("converge", func(_ context.Context, ev *operator.TypedEvent[*Gadget]) (operator.Result, error) {
		cm, err := cms.Get(operator.Key{Namespace: ev.Object.Namespace, Name: ev.Object.Name + "-config"})
		mode := "none"
		if err == nil {
			mode = cm.Data["mode"]
		}
		mu.Lock()
		seen[ev.Object.Name] = mode
		mu.Unlock()
		return operator.Result{}, nil
	}))
	must(t, operator.Watches(g, cms, func(cm *corev1.ConfigMap) []operator.Key {
		if name := cm.Labels["gadget"]; name != "" {
			return []operator.Key{{Namespace: cm.Namespace, Name: name}}
		}
		return nil
	}))
	e.start()
	e.create("w", map[string]any{"size": int64(1)})
	get := func() string { mu.Lock(); defer mu.Unlock(); return seen["w"] }
	eventually(t, func() string {
		if get() != "none" {
			return "first reconcile saw " + get()
		}
		return ""
	})
	cs := kubernetes.NewForConfigOrDie(cp.Config()).CoreV1().ConfigMaps(e.ns)
	ctx := context.Background()
	cm, err := cs.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "w-config", Labels: map[string]string{"gadget": "w"}}, Data: map[string]string{"mode": "fast"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		if get() != "fast" {
			return "after the ConfigMap was created, reconcile saw " + get()
		}
		return ""
	})
	cm.Data["mode"] = "slow"
	if _, err := cs.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		if get() != "slow" {
			return "after the ConfigMap changed, reconcile saw " + get()
		}
		return ""
	})
	// Without a Reconcile handler, a watch that wakes nothing is an error.
	e2 := newEnv(t, operator.Options{})
	g2 := operator.For[*Gadget](e2.op, gadgets)
	must(t, g2.OnCreate("c", func(context.Context, *operator.TypedEvent[*Gadget]) error { return nil }))
	must(t, g2.Owns(operator.ForBuiltin[*corev1.ConfigMap](e2.op)))
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = e2.op.Run(rctx)
	if err == nil || !strings.Contains(err.Error(), "no Reconcile handler") {
		t.Fatalf("Run with Owns but no Reconcile: %v", err)
	}
}

// TestSlowEventHandlerDoesNotBlockOthers: an event handler that takes 30 s
// for one object must not delay a create handler on another object (event
// handlers run off the watch's delivery goroutine).
func TestSlowEventHandlerDoesNotBlockOthers(t *testing.T) {
	e := newEnv(t, operator.Options{GracefulShutdownTimeout: time.Second})
	var slowStarted atomic.Bool
	must(t, e.op.OnEvent(gadgets, "audit", func(ctx context.Context, ev *operator.Event) error {
		if ev.Object.GetName() == "slow" && ev.Type == "ADDED" {
			slowStarted.Store(true)
			select {
			case <-time.After(30 * time.Second):
			case <-ctx.Done():
			}
		}
		return nil
	}))
	created := make(chan time.Time, 4)
	must(t, e.op.OnCreate(gadgets, "provision", func(_ context.Context, ev *operator.Event) error {
		if ev.Object.GetName() == "fast" {
			created <- time.Now()
		}
		return nil
	}))
	e.start()
	e.create("slow", nil)
	eventually(t, func() string {
		if !slowStarted.Load() {
			return "slow event handler not started"
		}
		return ""
	})
	start := time.Now()
	e.create("fast", nil)
	select {
	case at := <-created:
		if d := at.Sub(start); d > 5*time.Second {
			t.Fatalf("create handler on another object ran %s after creation, behind the slow event handler", d)
		} else {
			t.Logf("create handler on another object ran %s after creation while the slow event handler ran", d.Round(time.Millisecond))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("create handler on another object did not run within 10 s while a slow event handler ran")
	}
}
