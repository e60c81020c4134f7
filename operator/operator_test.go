package operator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.uber.org/goleak"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/optel-dev/optel/controlplane"
	"github.com/optel-dev/optel/operator"
	"github.com/optel-dev/optel/telemetry"
	"github.com/optel-dev/optel/telemetry/telemetrytest"
)

const gadgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.test.optel.dev
spec:
  group: test.optel.dev
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
`

var (
	gadgets = schema.GroupVersionResource{Group: "test.optel.dev", Version: "v1", Resource: "gadgets"}
	cp      *controlplane.ControlPlane
	nsSeq   atomic.Int32
)

func TestMain(m *testing.M) {
	var err error
	cp, err = controlplane.Start(context.Background(), controlplane.Options{})
	if err != nil {
		if errors.Is(err, controlplane.ErrBinaryMissing) && controlplane.SkipMissing() {
			fmt.Fprintln(os.Stderr, "skipping operator tests because", controlplane.EnvSkip, "is set:", err)
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := controlplane.ApplyCRDs(context.Background(), cp.Config(), []byte(gadgetCRD)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = cp.Stop()
		os.Exit(1)
	}
	code := m.Run()
	_ = cp.Stop()
	// Every operator goroutine (informers, workers, timers, daemons, queue,
	// leader election) must be gone once Run returned. klog's flush daemon
	// and idle HTTP keep-alive connections are process-wide and expected.
	if code == 0 {
		if err := goleak.Find(
			goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// env is one operator under test in its own namespace.
type env struct {
	t      *testing.T
	ns     string
	dc     dynamic.NamespaceableResourceInterface
	op     *operator.Operator
	tel    *telemetry.Provider
	reader *telemetrytest.Reader
	cancel context.CancelFunc
	done   chan error
	// restConfig replaces the control plane's admin config (a proxy).
	restConfig *rest.Config
}

func newEnv(t *testing.T, opts operator.Options) *env {
	t.Helper()
	return newEnvWithConfig(t, opts, nil)
}

// newEnvWithConfig is newEnv with the operator reaching the API server
// through cfg (nil: the admin config).
func newEnvWithConfig(t *testing.T, opts operator.Options, cfg *rest.Config) *env {
	t.Helper()
	ns := fmt.Sprintf("t%d", nsSeq.Add(1))
	core := dynamic.NewForConfigOrDie(cp.Config()).Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	_, err := core.Create(context.Background(), &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ns: ns, dc: dynamic.NewForConfigOrDie(cp.Config()).Resource(gadgets), restConfig: cfg}
	e.build(opts)
	return e
}

func (e *env) build(opts operator.Options) {
	e.t.Helper()
	if opts.Telemetry == nil {
		e.reader = telemetrytest.NewReader()
		tp, err := telemetry.New(context.Background(), telemetry.WithExporters("prometheus,json"), telemetry.WithReader(e.reader),
			telemetry.WithEnvironment(func(string) (string, bool) { return "", false }))
		if err != nil {
			e.t.Fatal(err)
		}
		e.t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		opts.Telemetry = tp
	}
	e.tel = opts.Telemetry
	opts.Namespaces = []string{e.ns}
	if opts.Server.BindAddress == "" {
		opts.Server.BindAddress = "0"
	}
	if opts.Server.HealthProbeBindAddress == "" {
		opts.Server.HealthProbeBindAddress = "0"
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase = 20 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg := cp.Config()
	if e.restConfig != nil {
		cfg = e.restConfig
	}
	op, err := operator.New(cfg, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.op = op
}

func (e *env) start() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- e.op.Run(ctx) }()
	e.t.Cleanup(e.stop)
}

func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	e.cancel = nil
	if err := <-e.done; err != nil {
		e.t.Errorf("Run returned %v", err)
	}
}

func (e *env) create(name string, spec map[string]any) {
	e.t.Helper()
	if spec == nil {
		spec = map[string]any{}
	}
	_, err := e.dc.Namespace(e.ns).Create(context.Background(), &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "test.optel.dev/v1", "kind": "Gadget",
		"metadata": map[string]any{"name": name},
		"spec":     spec,
	}}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) get(name string) (*unstructured.Unstructured, error) {
	return e.dc.Namespace(e.ns).Get(context.Background(), name, metav1.GetOptions{})
}

func (e *env) setSpec(name, field string, v any) {
	e.t.Helper()
	obj, err := e.get(name)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := unstructured.SetNestedField(obj.Object, v, "spec", field); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.dc.Namespace(e.ns).Update(context.Background(), obj, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsConflict(err) {
			e.setSpec(name, field, v)
			return
		}
		e.t.Fatal(err)
	}
}

func (e *env) delete(name string) {
	e.t.Helper()
	if err := e.dc.Namespace(e.ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// eventually polls until cond returns "" (an upper bound for the real API
// server to converge, not a performance assertion).
func eventually(t *testing.T, cond func() string) {
	t.Helper()
	eventuallyWithin(t, 30*time.Second, cond)
}

// eventuallyWithin is eventually with its own bound.
func eventuallyWithin(t *testing.T, d time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// counter totals the points of an instrument whose attributes include
// want, through the in-memory reader: values for sums and gauges, counts
// for histograms.
func (e *env) counter(name string, want map[string]string) float64 {
	e.t.Helper()
	kvs := make([]attribute.KeyValue, 0, len(want))
	for k, v := range want {
		kvs = append(kvs, attribute.String(k, v))
	}
	v, _ := e.reader.Value(e.t, name, kvs...)
	return v
}

// jsonValue reads a sum's point from the /metrics.json body the operator
// serves, matching attributes exactly.
func (e *env) jsonValue(name string, attrs map[string]any) (float64, bool) {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.tel.Routes()["/metrics.json"].ServeHTTP(rec, httptest.NewRequest("GET", "/metrics.json", nil))
	var snap struct {
		Scopes []struct {
			Metrics []struct {
				Name   string
				Points []struct {
					Attributes map[string]any
					Value      float64
				}
			}
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &snap); err != nil {
		e.t.Fatalf("/metrics.json: %v", err)
	}
	for _, sc := range snap.Scopes {
		for _, m := range sc.Metrics {
			if m.Name != name {
				continue
			}
			for _, p := range m.Points {
				if reflect.DeepEqual(p.Attributes, attrs) {
					return p.Value, true
				}
			}
		}
	}
	return 0, false
}

// scrape returns the Prometheus text the operator's /metrics serves.
func (e *env) scrape() string {
	rec := httptest.NewRecorder()
	e.tel.Routes()["/metrics"].ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) inc(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[k]++
	return c.m[k]
}

func (c *counts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.m)
}

func (c *counts) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func TestCreateUpdateDeleteOnRealAPIServer(t *testing.T) {
	e := newEnv(t, operator.Options{})
	var n counts
	var diffs []operator.Diff
	var mu sync.Mutex
	must(t, e.op.OnCreate(gadgets, "create", func(ctx context.Context, ev *operator.Event) error {
		n.inc("create/" + ev.Object.GetName())
		if operator.ObjectFrom(ctx) == nil || operator.Logger(ctx) == nil {
			return errors.New("context lacks the object or logger")
		}
		return ev.PatchStatus(ctx, map[string]any{"phase": "Created"})
	}))
	must(t, e.op.OnUpdate(gadgets, "update", func(_ context.Context, ev *operator.Event) error {
		n.inc("update/" + ev.Object.GetName())
		mu.Lock()
		diffs = append(diffs, ev.Diff)
		mu.Unlock()
		return nil
	}))
	must(t, e.op.OnDelete(gadgets, "delete", func(_ context.Context, ev *operator.Event) error {
		n.inc("delete/" + ev.Object.GetName())
		return nil
	}))
	e.start()

	e.create("g1", map[string]any{"size": int64(1)})
	eventually(t, func() string {
		obj, err := e.get("g1")
		if err != nil {
			return err.Error()
		}
		if phase, _, _ := unstructured.NestedString(obj.Object, "status", "phase"); phase != "Created" {
			return "status not written yet"
		}
		if _, ok := obj.GetAnnotations()["optel.dev/last-handled-configuration"]; !ok {
			return "handled state not recorded yet"
		}
		return ""
	})
	obj, _ := e.get("g1")
	if fs := obj.GetFinalizers(); len(fs) != 1 || fs[0] != "optel.dev/finalizer" {
		t.Errorf("finalizers = %v, want optel.dev/finalizer (there is a delete handler)", fs)
	}

	e.setSpec("g1", "size", int64(5))
	eventually(t, func() string {
		if n.get("update/g1") != 1 {
			return fmt.Sprintf("update ran %d times", n.get("update/g1"))
		}
		return ""
	})
	mu.Lock()
	d := diffs[0]
	mu.Unlock()
	if len(d) != 1 || d[0].Op != operator.DiffChange || strings.Join(d[0].Path, ".") != "spec.size" || !d.Changed("spec.size") {
		t.Errorf("diff = %v, want one change of spec.size", d)
	}

	e.delete("g1")
	eventually(t, func() string {
		if _, err := e.get("g1"); !apierrors.IsNotFound(err) {
			return fmt.Sprintf("object still exists (%v)", err)
		}
		return ""
	})
	for k, want := range map[string]int{"create/g1": 1, "update/g1": 1, "delete/g1": 1} {
		if got := n.get(k); got != want {
			t.Errorf("%s ran %d times, want %d", k, got, want)
		}
	}
	res := "gadgets.test.optel.dev"
	for _, c := range []struct {
		handler, cause, outcome string
		want                    float64
	}{
		{"create", "create", "success", 1},
		{"update", "update", "success", 1},
		{"delete", "delete", "success", 1},
		{"create", "create", "panic", 0}, // initialised to 0
	} {
		got := e.counter("optel.handler.invocations", map[string]string{"resource": res, "handler": c.handler, "cause": c.cause, "outcome": c.outcome})
		if got != c.want {
			t.Errorf("invocations{%s,%s,%s} = %v, want %v", c.handler, c.cause, c.outcome, got, c.want)
		}
	}
	text := e.scrape()
	for _, want := range []string{
		`optel_handler_invocations_total{cause="create",handler="create",outcome="success",resource="gadgets.test.optel.dev"} 1`,
		`optel_handler_invocations_total{cause="create",handler="create",outcome="timeout",resource="gadgets.test.optel.dev"} 0`,
		`optel_handler_duration_seconds_count{cause="update",handler="update",resource="gadgets.test.optel.dev"} 1`,
		`optel_watch_events_total{resource="gadgets.test.optel.dev",type="added"}`,
		`optel_objects{resource="gadgets.test.optel.dev"} 0`,
		`optel_leader 1`,
		`optel_queue_wait_seconds_count{resource="gadgets.test.optel.dev"}`,
		`optel_api_requests_total{code="200",verb="PATCH"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}

func TestErrorKindsAndRetries(t *testing.T) {
	e := newEnv(t, operator.Options{HandlerTimeout: 200 * time.Millisecond})
	var n counts
	release := make(chan struct{})
	defer close(release)
	must(t, e.op.OnCreate(gadgets, "temporary", func(_ context.Context, ev *operator.Event) error {
		if n.inc("temporary") == 1 {
			return operator.Temporary(errors.New("not yet"), 30*time.Millisecond)
		}
		return nil
	}))
	must(t, e.op.OnCreate(gadgets, "permanent", func(context.Context, *operator.Event) error {
		n.inc("permanent")
		return operator.Permanent(errors.New("invalid spec"))
	}))
	must(t, e.op.OnCreate(gadgets, "panics", func(context.Context, *operator.Event) error {
		if n.inc("panics") == 1 {
			var m map[string]int
			m["boom"]++ // a real runtime panic
		}
		return nil
	}))
	must(t, e.op.OnCreate(gadgets, "hangs", func(ctx context.Context, _ *operator.Event) error {
		if n.inc("hangs") == 1 {
			<-release // ignores ctx: cut at the timeout
		}
		return nil
	}))
	must(t, e.op.OnCreate(gadgets, "plain", func(context.Context, *operator.Event) error {
		if n.inc("plain") <= 2 {
			return errors.New("transient")
		}
		return nil
	}))
	e.start()
	e.create("g", map[string]any{"size": int64(1)})
	res := "gadgets.test.optel.dev"
	want := map[[2]string]float64{
		{"temporary", "temporary_error"}: 1, {"temporary", "success"}: 1,
		{"permanent", "permanent_error"}: 1, {"permanent", "success"}: 0,
		{"panics", "panic"}: 1, {"panics", "success"}: 1,
		{"hangs", "timeout"}: 1, {"hangs", "success"}: 1,
		{"plain", "temporary_error"}: 2, {"plain", "success"}: 1,
	}
	eventually(t, func() string {
		for k, v := range want {
			got := e.counter("optel.handler.invocations", map[string]string{"resource": res, "handler": k[0], "cause": "create", "outcome": k[1]})
			if got != v {
				return fmt.Sprintf("invocations{%s,%s} = %v, want %v", k[0], k[1], got, v)
			}
		}
		return ""
	})
	if n.get("permanent") != 1 {
		t.Errorf("permanent error retried: ran %d times", n.get("permanent"))
	}
	// The same outcomes through the JSON rendering (/metrics.json)...
	for k, v := range want {
		got, ok := e.jsonValue("optel.handler.invocations", map[string]any{"resource": res, "handler": k[0], "cause": "create", "outcome": k[1]})
		if !ok || got != v {
			t.Errorf("/metrics.json invocations{%s,%s} = %v (found %v), want %v", k[0], k[1], got, ok, v)
		}
	}
	// ...and through the Prometheus rendering.
	text := e.scrape()
	for k, v := range want {
		line := fmt.Sprintf(`optel_handler_invocations_total{cause="create",handler=%q,outcome=%q,resource="gadgets.test.optel.dev"} %v`, k[0], k[1], v)
		if !strings.Contains(text, line) {
			t.Errorf("scrape lacks %s", line)
		}
	}
	if got := e.counter("optel.handler.retries", map[string]string{"handler": "plain"}); got != 2 {
		t.Errorf("retries{plain} = %v, want 2", got)
	}
	// Other objects keep flowing after all that.
	e.create("after", nil)
	eventually(t, func() string {
		if n.get("plain") < 4 {
			return "second object not handled"
		}
		return ""
	})
}

func TestResumeAfterRestart(t *testing.T) {
	e := newEnv(t, operator.Options{})
	var n counts
	register := func(op *operator.Operator) {
		must(t, op.OnCreate(gadgets, "create", func(_ context.Context, ev *operator.Event) error { n.inc("create/" + ev.Object.GetName()); return nil }))
		must(t, op.OnResume(gadgets, "resume", func(_ context.Context, ev *operator.Event) error { n.inc("resume/" + ev.Object.GetName()); return nil }))
		must(t, op.OnUpdate(gadgets, "update", func(_ context.Context, ev *operator.Event) error { n.inc("update/" + ev.Object.GetName()); return nil }))
	}
	register(e.op)
	e.start()
	e.create("a", map[string]any{"v": "1"})
	e.create("b", map[string]any{"v": "1"})
	eventually(t, func() string {
		if n.get("create/a") != 1 || n.get("create/b") != 1 {
			return "not created"
		}
		return ""
	})
	e.stop()
	// While the operator is down, b changes and c appears.
	e.setSpec("b", "v", "2")
	e.create("c", nil)

	e.build(operator.Options{})
	register(e.op)
	e.start()
	eventually(t, func() string {
		if n.get("resume/a") != 1 || n.get("resume/b") != 1 || n.get("update/b") != 1 || n.get("create/c") != 1 {
			return fmt.Sprintf("after restart: %v", n.String())
		}
		return ""
	})
	time.Sleep(300 * time.Millisecond) // let any wrong extra run surface
	for k, want := range map[string]int{"create/a": 1, "create/b": 1, "resume/a": 1, "resume/b": 1, "update/a": 0, "update/b": 1, "create/c": 1, "resume/c": 0} {
		if got := n.get(k); got != want {
			t.Errorf("%s = %d, want %d", k, got, want)
		}
	}
}

func TestTimerDaemonAndBackground(t *testing.T) {
	e := newEnv(t, operator.Options{})
	var n counts
	daemonStopped := make(chan string, 4)
	must(t, e.op.Timer(gadgets, "tick", 50*time.Millisecond, func(_ context.Context, ev *operator.Event) error {
		n.inc("tick/" + ev.Object.GetName())
		return nil
	}))
	must(t, e.op.Daemon(gadgets, "watcher", func(ctx context.Context, ev *operator.Event) error {
		n.inc("daemon/" + ev.Object.GetName())
		<-ctx.Done()
		daemonStopped <- ev.Object.GetName()
		return nil
	}))
	must(t, e.op.Background("loop", func(ctx context.Context) error {
		if n.inc("background") == 1 {
			return errors.New("first run fails")
		}
		<-ctx.Done()
		n.inc("background-cancelled")
		return nil
	}))
	must(t, e.op.OnStartup("init", func(context.Context) error { n.inc("startup"); return nil }))
	must(t, e.op.OnCleanup("fini", func(context.Context) error { n.inc("cleanup"); return nil }))
	e.start()
	e.create("g", nil)
	eventually(t, func() string {
		if n.get("tick/g") < 3 || n.get("daemon/g") != 1 || n.get("background") != 2 {
			return fmt.Sprintf("counts %v", n.String())
		}
		return ""
	})
	if got := e.counter("optel.daemons.running", map[string]string{"daemon": "gadgets.test.optel.dev/watcher"}); got != 1 {
		t.Errorf("daemons.running = %v, want 1", got)
	}
	if got := e.counter("optel.daemon.restarts", map[string]string{"daemon": "loop"}); got != 1 {
		t.Errorf("daemon.restarts{loop} = %v, want 1", got)
	}
	if got := e.counter("optel.timer.lateness", map[string]string{"handler": "tick"}); got < 3 {
		t.Errorf("timer.lateness count = %v, want >= 3", got)
	}
	e.delete("g")
	select {
	case name := <-daemonStopped:
		if name != "g" {
			t.Errorf("stopped daemon for %q", name)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon not cancelled on delete")
	}
	eventually(t, func() string {
		if _, err := e.get("g"); !apierrors.IsNotFound(err) {
			return "object not gone"
		}
		return ""
	})
	ticks := n.get("tick/g")
	time.Sleep(200 * time.Millisecond)
	if n.get("tick/g") != ticks {
		t.Error("timer kept firing after the object was deleted")
	}
	e.stop()
	if n.get("background-cancelled") != 1 || n.get("startup") != 1 || n.get("cleanup") != 1 {
		t.Errorf("lifecycle counts %v", n.String())
	}
}

func TestFilters(t *testing.T) {
	e := newEnv(t, operator.Options{})
	var n counts
	must(t, e.op.OnCreate(gadgets, "labelled", func(_ context.Context, ev *operator.Event) error {
		n.inc("labelled/" + ev.Object.GetName())
		return nil
	}, operator.WithLabelSelector("tier in (web),env!=dev")))
	must(t, e.op.OnCreate(gadgets, "big", func(_ context.Context, ev *operator.Event) error {
		n.inc("big/" + ev.Object.GetName())
		return nil
	}, operator.When(func(obj *unstructured.Unstructured) bool {
		size, _, _ := unstructured.NestedInt64(obj.Object, "spec", "size")
		return size > 10
	})))
	must(t, e.op.OnCreate(gadgets, "all", func(_ context.Context, ev *operator.Event) error {
		n.inc("all/" + ev.Object.GetName())
		return nil
	}))
	if err := e.op.OnCreate(gadgets, "bad", func(context.Context, *operator.Event) error { return nil }, operator.WithLabelSelector("tier in (")); err == nil {
		t.Error("malformed label selector accepted")
	}
	if err := e.op.OnCreate(gadgets, "all", func(context.Context, *operator.Event) error { return nil }); !errors.Is(err, operator.ErrDuplicateHandler) {
		t.Errorf("duplicate id: %v", err)
	}
	e.start()
	for _, o := range []struct {
		name   string
		labels map[string]any
		size   int64
	}{
		{"web-prod", map[string]any{"tier": "web", "env": "prod"}, 1},
		{"web-dev", map[string]any{"tier": "web", "env": "dev"}, 20},
		{"db", map[string]any{"tier": "db"}, 5},
	} {
		_, err := e.dc.Namespace(e.ns).Create(context.Background(), &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "test.optel.dev/v1", "kind": "Gadget",
			"metadata": map[string]any{"name": o.name, "labels": o.labels},
			"spec":     map[string]any{"size": o.size},
		}}, metav1.CreateOptions{})
		must(t, err)
	}
	// Another namespace is outside Options.Namespaces.
	other := newEnv(t, operator.Options{})
	other.create("elsewhere", map[string]any{"size": int64(50)})
	eventually(t, func() string {
		if n.get("all/web-prod")+n.get("all/web-dev")+n.get("all/db") != 3 {
			return n.String()
		}
		return ""
	})
	time.Sleep(200 * time.Millisecond)
	want := map[string]int{"labelled/web-prod": 1, "labelled/web-dev": 0, "labelled/db": 0, "big/web-dev": 1, "big/web-prod": 0, "big/db": 0, "all/elsewhere": 0}
	for k, v := range want {
		if got := n.get(k); got != v {
			t.Errorf("%s = %d, want %d", k, got, v)
		}
	}
	if err := e.op.OnCreate(gadgets, "late", func(context.Context, *operator.Event) error { return nil }); !errors.Is(err, operator.ErrStarted) {
		t.Errorf("registration after Run: %v, want ErrStarted", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func unstructuredString(obj map[string]any, fields ...string) (string, bool, error) {
	return unstructured.NestedString(obj, fields...)
}
