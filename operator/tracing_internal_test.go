package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/optel-dev/optel/internal/observ"
)

// traced turns tracing on in a unit, recording spans, and sends the
// engine's logs to a JSON buffer.
func traced(t *testing.T, u *unit) (*tracetest.SpanRecorder, *bytes.Buffer) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	var logs bytes.Buffer
	u.c.e.tracer, u.c.e.tracing = tp.Tracer("test"), true
	u.c.e.log = slog.New(slog.NewJSONHandler(&logs, nil))
	return rec, &logs
}

func attrsOf(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestHandlerRunIsASpan(t *testing.T) {
	u := newUnit(t)
	rec, logs := traced(t, u)
	var handlerCtx context.Context
	h := u.on(CauseCreate, "provision", errors.New("quota exceeded"))
	inner := h.fn
	h.fn = func(ctx context.Context, ev *rawEvent) error {
		handlerCtx = ctx
		ev.logger.Info("provisioning")
		return inner(ctx, ev)
	}
	upstream := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	obj := gizmo(map[string]any{"size": int64(1)}, map[string]string{TraceparentAnnotation: upstream})
	obj.SetGeneration(3)
	obj.SetResourceVersion("42")
	u.put(obj)
	u.process() // fails: retry
	u.process() // succeeds

	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want one per run (2)", len(spans))
	}
	failed, ok := spans[0], spans[1]
	for _, s := range spans {
		if s.Name() != "create gizmos.test.optel.dev" {
			t.Errorf("span name %q, want %q", s.Name(), "create gizmos.test.optel.dev")
		}
		if s.Parent().IsValid() {
			t.Errorf("handler span has parent %v; it must start a new trace", s.Parent())
		}
		if len(s.Links()) != 1 || s.Links()[0].SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("links = %v, want one to the traceparent annotation's trace", s.Links())
		}
		if s.SpanContext().TraceID().String() == "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Error("handler span is in the annotation's trace; it must be a new one")
		}
		a := attrsOf(s)
		for k, want := range map[attribute.Key]string{
			AttrSpanResource: "gizmos.test.optel.dev", AttrSpanHandler: "provision", AttrSpanCause: "create",
			"k8s.namespace.name": "ns", AttrSpanName: "g", AttrSpanUID: "u1", AttrSpanRV: "42",
		} {
			if a[k].AsString() != want {
				t.Errorf("%s = %q, want %q", k, a[k].AsString(), want)
			}
		}
		if a[AttrSpanGeneration].AsInt64() != 3 {
			t.Errorf("generation = %v", a[AttrSpanGeneration])
		}
	}
	fa, oa := attrsOf(failed), attrsOf(ok)
	if fa[AttrSpanOutcome].AsString() != "retry" || fa["error.type"].AsString() != "*errors.errorString" || failed.Status().Code.String() != "Error" {
		t.Errorf("failed run: outcome %q error.type %q status %v", fa[AttrSpanOutcome].AsString(), fa["error.type"].AsString(), failed.Status())
	}
	if oa[AttrSpanOutcome].AsString() != "success" || oa[AttrSpanRetry].AsInt64() != 1 || ok.Status().Code.String() == "Error" {
		t.Errorf("second run: outcome %q retry %d status %v", oa[AttrSpanOutcome].AsString(), oa[AttrSpanRetry].AsInt64(), ok.Status())
	}
	if sc := trace.SpanContextFromContext(handlerCtx); sc.SpanID() != ok.SpanContext().SpanID() {
		t.Error("the handler's context does not carry its run's span")
	}

	// Every line logged in a run carries its trace and span ids.
	var n int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["msg"] != "provisioning" && rec["msg"] != "handler failed" {
			continue
		}
		n++
		if rec["trace_id"] == nil || rec["span_id"] == nil {
			t.Errorf("log line without trace_id/span_id: %s", line)
		}
	}
	if n != 3 {
		t.Errorf("%d handler log lines, want 3 (two runs, one failure)", n)
	}
}

func TestTracingOffMakesNoSpans(t *testing.T) {
	u := newUnit(t)
	var logs bytes.Buffer
	u.c.e.log = slog.New(slog.NewJSONHandler(&logs, nil))
	h := u.on(CauseCreate, "provision")
	inner := h.fn
	h.fn = func(ctx context.Context, ev *rawEvent) error {
		if trace.SpanContextFromContext(ctx).IsValid() {
			t.Error("a span in the handler's context with tracing off")
		}
		ev.logger.Info("hello")
		return inner(ctx, ev)
	}
	u.put(gizmo(nil, nil))
	u.process()
	if strings.Contains(logs.String(), "trace_id") {
		t.Errorf("trace_id logged with tracing off: %s", logs.String())
	}
}

func TestTraceparentIsNotAChange(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	// While running: the same object, then stamped.
	u := newUnit(t)
	u.on(CauseCreate, "c")
	u.on(CauseUpdate, "u")
	u.put(gizmo(map[string]any{"size": int64(1)}, nil))
	u.process()
	if got := u.runs(); len(got) != 1 {
		t.Fatalf("runs %v, want the create", got)
	}
	u.put(gizmo(map[string]any{"size": int64(1)}, map[string]string{TraceparentAnnotation: tp}))
	u.process()
	if got := u.runs(); len(got) != 0 {
		t.Errorf("stamping the traceparent ran %v; it must not be a change", got)
	}
	// After a restart: the annotation is compared with the last-handled state.
	u = newUnit(t)
	u.on(CauseCreate, "c")
	u.on(CauseUpdate, "u")
	u.put(gizmo(map[string]any{"size": int64(1)}, map[string]string{lastHandled: `{"spec":{"size":1}}`, TraceparentAnnotation: tp}))
	u.process()
	if got := u.runs(); len(got) != 0 {
		t.Errorf("after a restart, a stamped object ran %v", got)
	}
	if w := u.writer.list(); len(w) != 0 {
		t.Errorf("after a restart, a stamped object caused writes %v", w)
	}
}

func TestStampTraceparent(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("t").Start(context.Background(), "run")
	defer span.End()
	child := gizmo(nil, nil)
	if !StampTraceparent(ctx, child) {
		t.Fatal("not stamped")
	}
	l, ok := linkFromAnnotation(child)
	if !ok || l.SpanContext.TraceID() != span.SpanContext().TraceID() || l.SpanContext.SpanID() != span.SpanContext().SpanID() {
		t.Errorf("stamped %q does not round-trip to the span", child.GetAnnotations()[TraceparentAnnotation])
	}
	if StampTraceparent(context.Background(), gizmo(nil, nil)) {
		t.Error("stamped without a span")
	}
	for _, bad := range []string{"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		if _, ok := linkFromAnnotation(gizmo(nil, map[string]string{TraceparentAnnotation: bad})); ok {
			t.Errorf("invalid traceparent %q made a link", bad)
		}
	}
}

func TestAPICallsInAHandlerAreChildSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	inst, err := observ.NewOperator(metricnoop.NewMeterProvider().Meter("t"))
	if err != nil {
		t.Fatal(err)
	}
	var gotHeader string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHeader = r.Header.Get("traceparent")
		w.WriteHeader(http.StatusConflict)
	}))
	defer srv.Close()
	client := &http.Client{Transport: newAPIMetrics(&inst, tp.Tracer("t"))(http.DefaultTransport)}

	// Outside a span: no span, no header.
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/namespaces/ns/pods", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(rec.Ended()) != 0 || gotHeader != "" {
		t.Fatalf("a request outside any span made %d spans, header %q", len(rec.Ended()), gotHeader)
	}

	ctx, parent := tp.Tracer("t").Start(context.Background(), "create widgets")
	req, _ = http.NewRequestWithContext(ctx, "PATCH", srv.URL+"/apis/example.com/v1/namespaces/ns/widgets/w/status", nil)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	parent.End()
	if req.Header.Get("traceparent") != "" {
		t.Error("the caller's request was modified")
	}
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want the API span and its parent", len(spans))
	}
	api := spans[0]
	a := attrsOf(api)
	if api.Name() != "PATCH widgets/status" || api.Parent().SpanID() != parent.SpanContext().SpanID() || api.SpanKind() != trace.SpanKindClient {
		t.Errorf("API span %q kind %v parent %v", api.Name(), api.SpanKind(), api.Parent())
	}
	if a["http.request.method"].AsString() != "PATCH" || a["http.response.status_code"].AsInt64() != 409 || a["error.type"].AsString() != "409" || !strings.HasSuffix(a["url.full"].AsString(), "/widgets/w/status") {
		t.Errorf("API span attributes %v", a)
	}
	if !strings.Contains(gotHeader, api.SpanContext().TraceID().String()) || !strings.Contains(gotHeader, api.SpanContext().SpanID().String()) {
		t.Errorf("traceparent sent %q, want the API span's context", gotHeader)
	}
}

func TestAPIResource(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/namespaces/ns/pods":                          "pods",
		"/api/v1/namespaces/ns/pods/p":                        "pods",
		"/api/v1/namespaces/ns/pods/p/log":                    "pods/log",
		"/api/v1/namespaces/ns":                               "namespaces",
		"/api/v1/namespaces/ns/status":                        "namespaces/status",
		"/api/v1/namespaces/ns/finalize":                      "namespaces/finalize",
		"/api/v1/namespaces":                                  "namespaces",
		"/apis/example.com/v1/namespaces/ns/widgets/w/status": "widgets/status",
		"/apis/coordination.k8s.io/v1/namespaces/ns/leases/l": "leases",
		"/apis/example.com/v1/widgets":                        "widgets",
		"/version":                                            "",
		"/apis/example.com/v1":                                "",
	} {
		if got := apiResource(path); got != want {
			t.Errorf("apiResource(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestResourcePath(t *testing.T) {
	for _, tc := range []struct {
		r        Resource
		ns, want string
	}{
		{Resource{Group: "example.com", Version: "v1", Resource: "widgets"}, "ns", "/apis/example.com/v1/namespaces/ns/widgets/w"},
		{Resource{Group: "example.com", Version: "v1", Resource: "clusterwidgets"}, "", "/apis/example.com/v1/clusterwidgets/w"},
		{Resource{Version: "v1", Resource: "configmaps"}, "ns", "/api/v1/namespaces/ns/configmaps/w"},
	} {
		if got := resourcePath(tc.r, tc.ns, "w"); got != tc.want {
			t.Errorf("resourcePath(%v, %q) = %q, want %q", tc.r, tc.ns, got, tc.want)
		}
	}
}

// TestLazyLoggerWritesLikeWith: the deferred attributes come out as With's
// would, in order, before the record's own, groups included.
func TestLazyLoggerWritesLikeWith(t *testing.T) {
	var a, b bytes.Buffer
	base := func(w *bytes.Buffer) *slog.Logger {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{ReplaceAttr: func(_ []string, at slog.Attr) slog.Attr {
			if at.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return at
		}}))
	}
	want := base(&a).With("resource", "r", "name", "n").With("handler", "h")
	got := newLazyLogger(base(&b), "resource", "r", "name", "n").With("handler", "h")
	for _, l := range []*slog.Logger{want, got} {
		l.Info("one", "k", 1)
		l.WithGroup("g").Info("two", "k", 2)
	}
	if a.String() != b.String() {
		t.Errorf("lazy logger wrote\n%s\nWith wrote\n%s", b.String(), a.String())
	}
}

// TestHandlersGetACopy: a handler that changes its object, or the diff it
// is given, leaves the cached object as it was.
func TestHandlersGetACopy(t *testing.T) {
	u := newUnit(t)
	for _, cause := range []Cause{CauseCreate, CauseUpdate, CauseReconcile} {
		h := u.on(cause, "mutate-"+string(cause))
		inner := h.fn
		h.fn = func(ctx context.Context, ev *rawEvent) error {
			ev.obj.SetLabels(map[string]string{"mutated": "yes"})
			_ = unstructuredSetSpec(ev.obj)
			for _, d := range ev.diff {
				if m, ok := d.New.(map[string]any); ok {
					m["mutated"] = true
				}
			}
			return inner(ctx, ev)
		}
	}
	u.put(gizmo(map[string]any{"size": int64(1)}, nil))
	u.process()
	u.put(gizmo(map[string]any{"size": int64(2), "nested": map[string]any{"a": int64(1)}}, map[string]string{lastHandled: `{"spec":{"size":1}}`}))
	u.process()
	cached, _, _ := u.store.GetByKey("ns/g")
	obj := cached.(*unstructured.Unstructured)
	if obj.GetLabels()["mutated"] != "" {
		t.Error("a handler's change to its object reached the cache")
	}
	if spec, _, _ := unstructured.NestedMap(obj.Object, "spec"); spec["touched"] != nil || spec["nested"].(map[string]any)["mutated"] != nil {
		t.Errorf("a handler's change reached the cached spec: %v", spec)
	}
}

func unstructuredSetSpec(u *unstructured.Unstructured) error {
	return unstructured.SetNestedField(u.Object, true, "spec", "touched")
}

func TestOnlyAnnotationChanged(t *testing.T) {
	base := func() *unstructured.Unstructured {
		o := gizmo(map[string]any{"size": int64(1)}, map[string]string{"keep": "1", lastHandled: "a"})
		o.SetResourceVersion("1")
		return o
	}
	for _, tc := range []struct {
		name   string
		change func(*unstructured.Unstructured)
		want   bool
	}{
		{"only optel's annotation and resourceVersion", func(o *unstructured.Unstructured) {
			o.SetAnnotations(map[string]string{"keep": "1", lastHandled: "b"})
			o.SetResourceVersion("2")
		}, true},
		{"nothing changed (a relist)", func(o *unstructured.Unstructured) {}, false},
		{"optel's annotation removed", func(o *unstructured.Unstructured) {
			o.SetAnnotations(map[string]string{"keep": "1"})
		}, false},
		{"annotation added", func(o *unstructured.Unstructured) {
			o.SetAnnotations(map[string]string{"keep": "1", lastHandled: "a", "new": "x"})
		}, false},
		{"other annotation changed", func(o *unstructured.Unstructured) {
			o.SetAnnotations(map[string]string{"keep": "2", lastHandled: "b"})
		}, false},
		{"spec changed", func(o *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(o.Object, int64(2), "spec", "size")
		}, false},
		{"status added", func(o *unstructured.Unstructured) { o.Object["status"] = map[string]any{"ok": true} }, false},
		{"label", func(o *unstructured.Unstructured) { o.SetLabels(map[string]string{"a": "b"}) }, false},
		{"finalizer", func(o *unstructured.Unstructured) { o.SetFinalizers([]string{"f"}) }, false},
		{"deletion", func(o *unstructured.Unstructured) {
			now := metav1.Now()
			o.SetDeletionTimestamp(&now)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := base()
			tc.change(b)
			if got := onlyAnnotationChanged(base(), b, lastHandled); got != tc.want {
				t.Errorf("onlyAnnotationChanged = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestErrorType(t *testing.T) {
	gr := schema.GroupResource{Group: "example.com", Resource: "widgets"}
	for _, tc := range []struct {
		oc   outcome
		err  error
		want string
	}{
		{outcomePanic, &panicError{v: "boom"}, "panic"},
		{outcomeTimeout, ErrHandlerTimeout, "timeout"},
		{outcomePermanent, &PermanentError{Err: errors.New("bad spec")}, "permanent_error"},
		{outcomeTemporary, apierrors.NewConflict(gr, "w", errors.New("changed")), "Conflict"},
		{outcomeTemporary, &TemporaryError{Err: apierrors.NewNotFound(gr, "w")}, "NotFound"},
		{outcomeTemporary, fmt.Errorf("wrapped: %w", errors.New("plain")), "*errors.errorString"},
	} {
		if got := errorType(tc.oc, tc.err); got != tc.want {
			t.Errorf("errorType(%s, %v) = %q, want %q", tc.oc, tc.err, got, tc.want)
		}
	}
}

// TestRunLoggerText: the text handler writes the run's ids too.
func TestRunLoggerText(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	_, span := tp.Tracer("t").Start(context.Background(), "run")
	defer span.End()
	var buf bytes.Buffer
	runLogger(slog.New(slog.NewTextHandler(&buf, nil)), span).Info("hello")
	want := "trace_id=" + span.SpanContext().TraceID().String() + " span_id=" + span.SpanContext().SpanID().String()
	if !strings.Contains(buf.String(), want) {
		t.Errorf("text line %q lacks %q", buf.String(), want)
	}
}
