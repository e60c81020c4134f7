package jsonexp_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/optel-dev/optel/exporters/jsonexp"
)

// The JSON shape of /traces.json, as a client decodes it.
type (
	tvView struct {
		Handlers      []tvHandler
		Limits        map[string]int
		PendingTraces int `json:"pending_traces"`
		SpansHeld     int `json:"spans_held"`
		Dropped       map[string]uint64
	}
	tvHandler struct {
		Resource, Handler       string
		Runs, Failures          uint64
		Recent, Slowest, Failed []tvRun
	}
	tvRun struct {
		TraceID      string `json:"trace_id"`
		SpanID       string `json:"span_id"`
		Name         string
		Start        time.Time
		Duration     float64 `json:"duration_seconds"`
		Status       string
		DroppedSpans int `json:"dropped_spans"`
		Spans        []tvSpan
	}
	tvSpan struct {
		SpanID        string `json:"span_id"`
		ParentSpanID  string `json:"parent_span_id"`
		Depth         int
		Name, Kind    string
		StartOffset   float64 `json:"start_offset_seconds"`
		Duration      float64 `json:"duration_seconds"`
		Status        string
		StatusMessage string `json:"status_message"`
		Attributes    map[string]any
		Events        []struct {
			Name       string
			Offset     float64 `json:"offset_seconds"`
			Attributes map[string]any
		}
		Links []struct {
			TraceID    string `json:"trace_id"`
			SpanID     string `json:"span_id"`
			Attributes map[string]any
		}
	}
	tvOne struct {
		Resource, Handler string
		Run               tvRun
	}
	tvError struct {
		Error   string
		TraceID string `json:"trace_id"`
	}
)

// seqIDs numbers traces and spans 1, 2, 3…, so the golden file is stable.
type seqIDs struct {
	mu sync.Mutex
	n  uint64
}

func (g *seqIDs) next() uint64 { g.mu.Lock(); defer g.mu.Unlock(); g.n++; return g.n }

func (g *seqIDs) NewIDs(context.Context) (trace.TraceID, trace.SpanID) {
	var t trace.TraceID
	binary.BigEndian.PutUint64(t[8:], g.next())
	t[0] = 0x7e
	return t, g.NewSpanID(context.Background(), t)
}

func (g *seqIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID {
	var s trace.SpanID
	binary.BigEndian.PutUint64(s[:], g.next())
	return s
}

func newTracer(t testing.TB, v *jsonexp.TraceView, opts ...sdktrace.TracerProviderOption) trace.Tracer {
	tp := sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{sdktrace.WithSpanProcessor(v.SpanProcessor())}, opts...)...)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer("github.com/optel-dev/optel/operator")
}

var tStart = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// runSpec is one handler run as the operator produces it: a root span with
// the handler attributes and children API calls.
type runSpec struct {
	resource, handler string
	n                 int // optel.retry, to tell runs apart
	at, dur           time.Duration
	fail              bool
	children          int
}

func emit(tr trace.Tracer, r runSpec) trace.SpanContext {
	if r.resource == "" {
		r.resource = "widgets.example.com"
	}
	if r.handler == "" {
		r.handler = "provision"
	}
	start := tStart.Add(r.at)
	ctx, root := tr.Start(context.Background(), "create "+r.resource, trace.WithTimestamp(start), trace.WithAttributes(
		attribute.String("optel.handler", r.handler), attribute.String("optel.resource", r.resource),
		attribute.String("optel.cause", "create"), attribute.Int("optel.retry", r.n),
	))
	for i := range r.children {
		cs := start.Add(time.Duration(i+1) * r.dur / time.Duration(r.children+2))
		_, c := tr.Start(ctx, "PATCH widgets", trace.WithTimestamp(cs), trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("http.request.method", "PATCH"), attribute.Int("http.response.status_code", 200)))
		c.End(trace.WithTimestamp(cs.Add(r.dur / time.Duration(r.children+2) / 2)))
	}
	outcome := "success"
	if r.fail {
		outcome = "failure"
		root.SetAttributes(attribute.String("error.type", "*errors.errorString"))
		root.SetStatus(codes.Error, "boom")
	}
	root.SetAttributes(attribute.String("optel.outcome", outcome))
	root.End(trace.WithTimestamp(start.Add(r.dur)))
	return root.SpanContext()
}

func get(t testing.TB, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	if ct, cc := rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
		t.Errorf("%s %s: Content-Type %q, Cache-Control %q; want application/json, no-store", method, target, ct, cc)
	}
	return rec
}

func decode[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields() // the documented shape, nothing else
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, rec.Body)
	}
	return v
}

// view gets the listing and, for the whole of it, checks the accounting:
// spans_held counts exactly the non-handler spans of the distinct retained
// runs, plus those of pending traces.
func view(t testing.TB, v *jsonexp.TraceView, query string) tvView {
	t.Helper()
	rec := get(t, v.Handler(), "GET", jsonexp.TracesPath+query)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", query, rec.Code, rec.Body)
	}
	got := decode[tvView](t, rec)
	if query == "" {
		seen, held := map[string]bool{}, 0
		for _, h := range got.Handlers {
			for _, r := range slices.Concat(h.Recent, h.Slowest, h.Failed) {
				if !seen[r.TraceID] {
					held += len(r.Spans) - 1
				}
				seen[r.TraceID] = true
			}
		}
		if got.SpansHeld < held || (got.PendingTraces == 0 && got.SpansHeld != held) || got.SpansHeld > got.Limits["spans"] {
			t.Errorf("spans_held = %d with %d pending traces; the retained runs hold %d, the limit is %d", got.SpansHeld, got.PendingTraces, held, got.Limits["spans"])
		}
	}
	return got
}

func retries(rs []tvRun) []int {
	out := []int{}
	for _, r := range rs {
		out = append(out, int(r.Spans[0].Attributes["optel.retry"].(float64)))
	}
	return out
}

// TestTraceViewGolden pins the documented shape of /traces.json
// (docs/tracing.md quotes it): a run linked to a remote trace, with an API
// child and a user span holding an event, and a failed run.
func TestTraceViewGolden(t *testing.T) {
	v := jsonexp.NewTraceView()
	tr := newTracer(t, v, sdktrace.WithIDGenerator(&seqIDs{}))
	linked := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, TraceFlags: trace.FlagsSampled, Remote: true,
	})
	ctx, root := tr.Start(context.Background(), "create widgets.example.com", trace.WithTimestamp(tStart),
		trace.WithLinks(trace.Link{SpanContext: linked}),
		trace.WithAttributes(
			attribute.String("optel.handler", "provision"), attribute.String("optel.resource", "widgets.example.com"),
			attribute.String("optel.cause", "create"), attribute.Int("optel.retry", 0), attribute.Float64("optel.queue.wait", 0.0015),
			attribute.String("k8s.namespace.name", "default"), attribute.String("optel.object.name", "w1"),
			attribute.String("optel.object.uid", "6b0f3c9e-1d2a-4c43-9a53-2f1e0c7d8b11"), attribute.Int("optel.object.generation", 1),
			attribute.String("optel.object.resource_version", "4711"),
		))
	uctx, user := tr.Start(ctx, "render config", trace.WithTimestamp(tStart.Add(time.Millisecond)))
	user.AddEvent("cache miss", trace.WithTimestamp(tStart.Add(2*time.Millisecond)), trace.WithAttributes(attribute.String("key", "w1")))
	_, api := tr.Start(uctx, "PATCH widgets", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(tStart.Add(3*time.Millisecond)),
		trace.WithAttributes(attribute.String("http.request.method", "PATCH"), attribute.Int("http.response.status_code", 200),
			attribute.String("url.full", "https://10.0.0.1:6443/apis/example.com/v1/namespaces/default/widgets/w1/status"),
			attribute.String("server.address", "10.0.0.1")))
	api.End(trace.WithTimestamp(tStart.Add(7 * time.Millisecond)))
	user.SetStatus(codes.Ok, "")
	user.End(trace.WithTimestamp(tStart.Add(8 * time.Millisecond)))
	root.SetAttributes(attribute.String("optel.outcome", "success"))
	root.End(trace.WithTimestamp(tStart.Add(12500 * time.Microsecond)))
	emit(tr, runSpec{n: 1, at: time.Second, dur: 40 * time.Millisecond, fail: true, children: 1})

	rec := get(t, v.Handler(), "GET", "/traces.json")
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, rec.Body.Bytes(), "", "  "); err != nil {
		t.Fatalf("%v\n%s", err, rec.Body)
	}
	path := filepath.Join("testdata", "traces.golden.json")
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("/traces.json differs from %s:\n%s", path, pretty.Bytes())
	}
	_ = decode[tvView](t, rec) // and it decodes into the documented shape

	// The waterfall: depth first from the handler span, offsets from its start.
	run := view(t, v, "").Handlers[0].Slowest[1]
	var got []string
	for _, s := range run.Spans {
		got = append(got, fmt.Sprintf("%d %s +%gs %gs", s.Depth, s.Name, s.StartOffset, s.Duration))
	}
	if want := []string{"0 create widgets.example.com +0s 0.0125s", "1 render config +0.001s 0.007s", "2 PATCH widgets +0.003s 0.004s"}; !slices.Equal(got, want) {
		t.Errorf("waterfall = %q, want %q", got, want)
	}
	if l := run.Spans[0].Links; len(l) != 1 || l[0].TraceID != linked.TraceID().String() {
		t.Errorf("handler span links = %+v, want the remote traceparent", l)
	}
}

// TestTraceViewRetention: which runs each list keeps, and which it gives
// up for newer or slower ones.
func TestTraceViewRetention(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name                       string
		opts                       []jsonexp.TraceViewOption
		runs                       []runSpec // n numbers them
		recent, slowest, failed    []int     // by n, in list order
		runsTotal, failuresTotal   uint64
		goneByTraceID, keptByTrace []int
	}{
		{
			name:   "recent keeps the last N, newest first",
			opts:   []jsonexp.TraceViewOption{jsonexp.WithRecentRuns(3), jsonexp.WithSlowestRuns(0), jsonexp.WithFailedRuns(0)},
			runs:   []runSpec{{n: 1, dur: ms}, {n: 2, dur: ms}, {n: 3, dur: ms}, {n: 4, dur: ms}, {n: 5, dur: ms}},
			recent: []int{5, 4, 3}, slowest: []int{}, failed: []int{}, runsTotal: 5,
			goneByTraceID: []int{1, 2}, keptByTrace: []int{3, 5},
		},
		{
			name:   "slowest replaces the fastest it keeps, slowest first",
			opts:   []jsonexp.TraceViewOption{jsonexp.WithRecentRuns(1), jsonexp.WithSlowestRuns(2)},
			runs:   []runSpec{{n: 1, dur: 3 * ms}, {n: 2, dur: ms}, {n: 3, dur: 4 * ms}, {n: 4, dur: ms}, {n: 5, dur: 5 * ms}, {n: 6, dur: 2 * ms}},
			recent: []int{6}, slowest: []int{5, 3}, failed: []int{}, runsTotal: 6,
			goneByTraceID: []int{1, 2, 4}, keptByTrace: []int{3, 5, 6},
		},
		{
			name:   "a tie keeps the earlier slow run",
			opts:   []jsonexp.TraceViewOption{jsonexp.WithRecentRuns(0), jsonexp.WithSlowestRuns(2)},
			runs:   []runSpec{{n: 1, dur: 2 * ms}, {n: 2, dur: 2 * ms}, {n: 3, dur: 2 * ms}, {n: 4, dur: 3 * ms}},
			recent: []int{}, slowest: []int{4, 1}, failed: []int{}, runsTotal: 4,
			goneByTraceID: []int{2, 3}, keptByTrace: []int{1, 4},
		},
		{
			name:   "failed keeps the last N failed runs, which outlive newer successes",
			opts:   []jsonexp.TraceViewOption{jsonexp.WithRecentRuns(2), jsonexp.WithSlowestRuns(0), jsonexp.WithFailedRuns(2)},
			runs:   []runSpec{{n: 1, dur: ms, fail: true}, {n: 2, dur: ms, fail: true}, {n: 3, dur: ms}, {n: 4, dur: ms, fail: true}, {n: 5, dur: ms}, {n: 6, dur: ms}},
			recent: []int{6, 5}, slowest: []int{}, failed: []int{4, 2}, runsTotal: 6, failuresTotal: 3,
			goneByTraceID: []int{1, 3}, keptByTrace: []int{2, 4, 5, 6},
		},
		{
			name:   "negative bounds keep nothing but still count runs",
			opts:   []jsonexp.TraceViewOption{jsonexp.WithRecentRuns(-1), jsonexp.WithSlowestRuns(-1), jsonexp.WithFailedRuns(-1)},
			runs:   []runSpec{{n: 1, dur: ms, fail: true, children: 2}, {n: 2, dur: ms, children: 2}},
			recent: []int{}, slowest: []int{}, failed: []int{}, runsTotal: 2, failuresTotal: 1,
			goneByTraceID: []int{1, 2},
		},
		{
			name: "defaults are 10 recent, 5 slowest, 10 failed",
			runs: func() (rs []runSpec) {
				for i := 1; i <= 30; i++ {
					rs = append(rs, runSpec{n: i, dur: time.Duration(i%7+1) * ms, fail: i%3 == 0})
				}
				return rs
			}(),
			recent:  []int{30, 29, 28, 27, 26, 25, 24, 23, 22, 21},
			slowest: []int{6, 13, 20, 27, 5}, // 7 ms each, then the first 6 ms
			failed:  []int{30, 27, 24, 21, 18, 15, 12, 9, 6, 3}, runsTotal: 30, failuresTotal: 10,
			goneByTraceID: []int{1, 2, 4}, keptByTrace: []int{3, 5, 6, 13},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := jsonexp.NewTraceView(tc.opts...)
			tr := newTracer(t, v)
			ids := map[int]trace.SpanContext{}
			for i, r := range tc.runs {
				r.at = time.Duration(i) * time.Second
				ids[r.n] = emit(tr, r)
			}
			got := view(t, v, "")
			if len(got.Handlers) != 1 {
				t.Fatalf("%d handlers, want 1", len(got.Handlers))
			}
			h := got.Handlers[0]
			if r := retries(h.Recent); !slices.Equal(r, tc.recent) {
				t.Errorf("recent = %v, want %v", r, tc.recent)
			}
			if r := retries(h.Slowest); !slices.Equal(r, tc.slowest) {
				t.Errorf("slowest = %v, want %v", r, tc.slowest)
			}
			if r := retries(h.Failed); !slices.Equal(r, tc.failed) {
				t.Errorf("failed = %v, want %v", r, tc.failed)
			}
			if h.Runs != tc.runsTotal || h.Failures != tc.failuresTotal {
				t.Errorf("runs/failures = %d/%d, want %d/%d", h.Runs, h.Failures, tc.runsTotal, tc.failuresTotal)
			}
			for _, n := range tc.goneByTraceID {
				if rec := get(t, v.Handler(), "GET", "/traces.json?trace_id="+ids[n].TraceID().String()); rec.Code != http.StatusNotFound {
					t.Errorf("run %d, in no list, answers %d by trace_id, want 404", n, rec.Code)
				}
			}
			for _, n := range tc.keptByTrace {
				rec := get(t, v.Handler(), "GET", "/traces.json?trace_id="+ids[n].TraceID().String())
				if rec.Code != http.StatusOK {
					t.Fatalf("run %d, retained, answers %d by trace_id: %s", n, rec.Code, rec.Body)
				}
				if one := decode[tvOne](t, rec); one.Run.TraceID != ids[n].TraceID().String() || one.Handler != "provision" || one.Resource != "widgets.example.com" {
					t.Errorf("run %d by trace_id = %+v", n, one)
				}
			}
		})
	}
}

// TestTraceViewBounds: every bound holds, and what it turns away is
// counted; spans of traces that are not handler runs are not kept.
func TestTraceViewBounds(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name  string
		opts  []jsonexp.TraceViewOption
		feed  func(t *testing.T, v *jsonexp.TraceView, tr trace.Tracer) (traceID string)
		check func(t *testing.T, v *jsonexp.TraceView, got tvView, traceID string)
	}{
		{
			name: "spans per run: the handler span and the first children, the rest counted",
			opts: []jsonexp.TraceViewOption{jsonexp.WithMaxSpansPerRun(4)},
			feed: func(t *testing.T, _ *jsonexp.TraceView, tr trace.Tracer) string {
				emit(tr, runSpec{dur: 10 * ms, children: 10})
				return ""
			},
			check: func(t *testing.T, _ *jsonexp.TraceView, got tvView, _ string) {
				r := got.Handlers[0].Recent[0]
				if len(r.Spans) != 4 || r.DroppedSpans != 7 || got.Dropped["spans"] != 7 || got.Limits["spans_per_run"] != 4 {
					t.Errorf("kept %d spans, dropped %d (total %d), limit %d; want 4, 7, 7, 4", len(r.Spans), r.DroppedSpans, got.Dropped["spans"], got.Limits["spans_per_run"])
				}
			},
		},
		{
			name: "spans per run below 1 keeps the handler span alone",
			opts: []jsonexp.TraceViewOption{jsonexp.WithMaxSpansPerRun(0)},
			feed: func(t *testing.T, _ *jsonexp.TraceView, tr trace.Tracer) string {
				emit(tr, runSpec{dur: ms, children: 2})
				return ""
			},
			check: func(t *testing.T, _ *jsonexp.TraceView, got tvView, _ string) {
				if r := got.Handlers[0].Recent[0]; len(r.Spans) != 1 || r.DroppedSpans != 2 {
					t.Errorf("kept %d spans, dropped %d; want 1, 2", len(r.Spans), r.DroppedSpans)
				}
			},
		},
		{
			name: "the total span bound holds across runs and frees with them",
			opts: []jsonexp.TraceViewOption{jsonexp.WithMaxSpans(3), jsonexp.WithRecentRuns(1), jsonexp.WithSlowestRuns(0), jsonexp.WithFailedRuns(0)},
			feed: func(t *testing.T, v *jsonexp.TraceView, tr trace.Tracer) string {
				res := attribute.String("optel.resource", "widgets.example.com")
				ctx, first := tr.Start(context.Background(), "create widgets.example.com", trace.WithAttributes(attribute.String("optel.handler", "a"), res))
				ctx2, second := tr.Start(context.Background(), "create widgets.example.com", trace.WithAttributes(attribute.String("optel.handler", "b"), res))
				for _, c := range []context.Context{ctx, ctx, ctx2, ctx2} {
					_, s := tr.Start(c, "GET widgets")
					s.End()
				}
				first.End()
				second.End()
				if got := view(t, v, ""); got.SpansHeld != 3 || len(got.Handlers[0].Recent[0].Spans) != 3 || len(got.Handlers[1].Recent[0].Spans) != 2 || got.Handlers[1].Recent[0].DroppedSpans != 1 {
					t.Errorf("held %d; a %+v, b %+v; want 3 held, a with both children, b with one (one dropped)", got.SpansHeld, got.Handlers[0].Recent, got.Handlers[1].Recent)
				}
				// The bound is full: this run's children are dropped, and
				// when it ends it replaces a's first run, freeing 2.
				emit(tr, runSpec{handler: "a", n: 1, dur: time.Millisecond, children: 2})
				if got := view(t, v, ""); got.SpansHeld != 1 || got.Handlers[0].Recent[0].DroppedSpans != 2 {
					t.Errorf("held %d, a's second run %+v; want 1 held and its 2 children dropped", got.SpansHeld, got.Handlers[0].Recent[0])
				}
				emit(tr, runSpec{handler: "a", n: 2, dur: time.Millisecond, children: 2}) // room again
				return ""
			},
			check: func(t *testing.T, _ *jsonexp.TraceView, got tvView, _ string) {
				if got.SpansHeld != 3 || len(got.Handlers[0].Recent[0].Spans) != 3 || got.Dropped["spans"] != 3 || got.Limits["spans"] != 3 {
					t.Errorf("held %d, a's third run %d spans, dropped %d, limit %d; want 3, 3, 3, 3", got.SpansHeld, len(got.Handlers[0].Recent[0].Spans), got.Dropped["spans"], got.Limits["spans"])
				}
			},
		},
		{
			name: "a span whose parent was dropped goes under the handler span",
			opts: []jsonexp.TraceViewOption{jsonexp.WithMaxSpansPerRun(3)},
			feed: func(t *testing.T, v *jsonexp.TraceView, tr trace.Tracer) string {
				ctx, root := tr.Start(context.Background(), "create widgets.example.com", trace.WithAttributes(attribute.String("optel.handler", "provision")))
				pctx, parent := tr.Start(ctx, "reconcile children")
				_, grandchild := tr.Start(pctx, "GET configmaps")
				grandchild.End()
				_, sibling := tr.Start(ctx, "PATCH widgets")
				sibling.End()
				parent.End() // over the bound: dropped
				root.End()
				return parent.SpanContext().SpanID().String()
			},
			check: func(t *testing.T, _ *jsonexp.TraceView, got tvView, parentID string) {
				var placed []string
				for _, s := range got.Handlers[0].Recent[0].Spans {
					placed = append(placed, fmt.Sprint(s.Depth, " ", s.Name))
				}
				if r := got.Handlers[0].Recent[0]; !slices.Equal(placed, []string{"0 create widgets.example.com", "1 GET configmaps", "1 PATCH widgets"}) || r.Spans[1].ParentSpanID != parentID || r.DroppedSpans != 1 {
					t.Errorf("waterfall %q, GET's parent %s, dropped %d; want the orphan under the handler span keeping its parent id %s, 1 dropped", placed, r.Spans[1].ParentSpanID, r.DroppedSpans, parentID)
				}
			},
		},
		{
			name: "handlers beyond the bound are counted, not kept",
			opts: []jsonexp.TraceViewOption{jsonexp.WithMaxHandlers(2)},
			feed: func(t *testing.T, v *jsonexp.TraceView, tr trace.Tracer) string {
				for i, h := range []string{"a", "b", "c", "c", "a"} {
					emit(tr, runSpec{handler: h, at: time.Duration(i) * time.Second, dur: ms, children: 1})
				}
				return ""
			},
			check: func(t *testing.T, _ *jsonexp.TraceView, got tvView, _ string) {
				var names []string
				for _, h := range got.Handlers {
					names = append(names, h.Handler)
				}
				if !slices.Equal(names, []string{"a", "b"}) || got.Dropped["runs_over_handler_limit"] != 2 || got.Handlers[0].Runs != 2 {
					t.Errorf("handlers %v (a: %d runs), over the limit %d; want [a b], 2 runs, 2", names, got.Handlers[0].Runs, got.Dropped["runs_over_handler_limit"])
				}
			},
		},
		{
			name: "the same handler id under two resources is two handlers",
			feed: func(t *testing.T, v *jsonexp.TraceView, tr trace.Tracer) string {
				emit(tr, runSpec{resource: "widgets.example.com", dur: ms})
				emit(tr, runSpec{resource: "gadgets.example.com", dur: ms})
				return ""
			},
			check: func(t *testing.T, _ *jsonexp.TraceView, got tvView, _ string) {
				if len(got.Handlers) != 2 || got.Handlers[0].Resource != "gadgets.example.com" {
					t.Errorf("handlers = %+v, want gadgets then widgets", got.Handlers)
				}
			},
		},
		{
			name: "pending traces beyond the bound evict the oldest, whose children are lost",
			opts: []jsonexp.TraceViewOption{jsonexp.WithMaxPendingTraces(2)},
			feed: func(t *testing.T, v *jsonexp.TraceView, tr trace.Tracer) string {
				var roots []trace.Span
				var ctxs []context.Context
				for i := range 3 {
					ctx, s := tr.Start(context.Background(), "daemon widgets.example.com", trace.WithAttributes(
						attribute.String("optel.handler", fmt.Sprint("d", i)), attribute.String("optel.resource", "widgets.example.com")))
					roots, ctxs = append(roots, s), append(ctxs, ctx)
					if i == 0 { // a child held while pending, given up with its trace
						_, c := tr.Start(ctx, "LIST widgets")
						c.End()
					}
				}
				for _, ctx := range ctxs {
					_, c := tr.Start(ctx, "GET widgets")
					c.End()
				}
				for _, s := range roots {
					s.End()
				}
				return ""
			},
			check: func(t *testing.T, _ *jsonexp.TraceView, got tvView, _ string) {
				spans := map[string]int{}
				for _, h := range got.Handlers {
					spans[h.Handler] = len(h.Recent[0].Spans)
				}
				if got.Dropped["pending_evicted"] != 1 || got.PendingTraces != 0 || spans["d0"] != 1 || spans["d1"] != 2 || spans["d2"] != 2 {
					t.Errorf("evicted %d, pending %d, spans per run %v; want 1, 0, d0 alone (evicted) and d1, d2 with their child", got.Dropped["pending_evicted"], got.PendingTraces, spans)
				}
			},
		},
		{
			name: "spans of traces without a local root are not kept",
			feed: func(t *testing.T, v *jsonexp.TraceView, tr trace.Tracer) string {
				remote := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
					TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true}))
				for range 100 {
					ctx, s := tr.Start(remote, "GET /healthz", trace.WithAttributes(attribute.String("optel.handler", "not a root")))
					_, c := tr.Start(ctx, "check")
					c.End()
					s.End()
				}
				return ""
			},
			check: func(t *testing.T, _ *jsonexp.TraceView, got tvView, _ string) {
				if len(got.Handlers) != 0 || got.PendingTraces != 0 || got.Dropped["non_handler_roots"] != 0 {
					t.Errorf("kept %+v, pending %d; want nothing", got.Handlers, got.PendingTraces)
				}
			},
		},
		{
			name: "a local root without optel.handler takes its spans with it",
			feed: func(t *testing.T, v *jsonexp.TraceView, tr trace.Tracer) string {
				for range 100 {
					ctx, s := tr.Start(context.Background(), "LIST widgets")
					_, c := tr.Start(ctx, "decode")
					c.End()
					s.End()
				}
				return ""
			},
			check: func(t *testing.T, _ *jsonexp.TraceView, got tvView, _ string) {
				if len(got.Handlers) != 0 || got.PendingTraces != 0 || got.Dropped["non_handler_roots"] != 100 {
					t.Errorf("kept %+v, pending %d, non-handler roots %d; want nothing, 0, 100", got.Handlers, got.PendingTraces, got.Dropped["non_handler_roots"])
				}
			},
		},
		{
			name: "a child that ends after its handler span joins the retained run",
			feed: func(t *testing.T, v *jsonexp.TraceView, tr trace.Tracer) string {
				ctx, root := tr.Start(context.Background(), "create widgets.example.com", trace.WithAttributes(
					attribute.String("optel.handler", "provision"), attribute.String("optel.resource", "widgets.example.com")))
				_, late := tr.Start(ctx, "GET widgets")
				root.End()
				late.End()
				return ""
			},
			check: func(t *testing.T, _ *jsonexp.TraceView, got tvView, _ string) {
				if s := got.Handlers[0].Recent[0].Spans; len(s) != 2 || s[1].Name != "GET widgets" || s[1].Depth != 1 {
					t.Errorf("spans = %+v, want the handler span and the late GET under it", s)
				}
			},
		},
		{
			name: "a running handler is pending; its trace_id says so",
			feed: func(t *testing.T, v *jsonexp.TraceView, tr trace.Tracer) string {
				_, s := tr.Start(context.Background(), "daemon widgets.example.com", trace.WithAttributes(attribute.String("optel.handler", "d")))
				t.Cleanup(func() { s.End() })
				return s.SpanContext().TraceID().String()
			},
			check: func(t *testing.T, v *jsonexp.TraceView, got tvView, pendingID string) {
				rec := get(t, v.Handler(), "GET", "/traces.json?trace_id="+pendingID)
				e := decode[tvError](t, rec)
				if rec.Code != http.StatusNotFound || got.PendingTraces != 1 || !strings.Contains(e.Error, "has not ended") || e.TraceID != pendingID {
					t.Errorf("pending %d; by trace_id %d %+v; want 1, 404 saying it has not ended", got.PendingTraces, rec.Code, e)
				}
			},
		},
		{
			name: "after Shutdown new spans are ignored and retained runs still served",
			feed: func(t *testing.T, v *jsonexp.TraceView, tr trace.Tracer) string {
				emit(tr, runSpec{n: 1, dur: ms})
				ctx, running := tr.Start(context.Background(), "daemon widgets.example.com", trace.WithAttributes(attribute.String("optel.handler", "d")))
				_, c := tr.Start(ctx, "GET widgets")
				c.End()       // held while pending, given up at Shutdown
				for range 2 { // idempotent
					if err := v.Shutdown(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				if err := v.ForceFlush(context.Background()); err != nil {
					t.Fatal(err)
				}
				emit(tr, runSpec{n: 2, dur: ms})
				running.End()
				return ""
			},
			check: func(t *testing.T, _ *jsonexp.TraceView, got tvView, _ string) {
				if len(got.Handlers) != 1 || !slices.Equal(retries(got.Handlers[0].Recent), []int{1}) || got.PendingTraces != 0 {
					t.Errorf("after shutdown: %+v, pending %d; want run 1 alone and nothing pending", got.Handlers, got.PendingTraces)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := jsonexp.NewTraceView(tc.opts...)
			id := tc.feed(t, v, newTracer(t, v))
			tc.check(t, v, view(t, v, ""), id)
		})
	}
}

// TestTraceViewEscapes: names, attributes and ids from spans are escaped
// as /metrics.json escapes them, and non-finite floats become strings.
func TestTraceViewEscapes(t *testing.T) {
	v := jsonexp.NewTraceView()
	tr := newTracer(t, v)
	odd := "<script>\"x\"&\xff\u2028"
	ctx, root := tr.Start(context.Background(), odd, trace.WithAttributes(attribute.String("optel.handler", odd), attribute.String("optel.resource", odd),
		attribute.Float64("nan", math.NaN()), attribute.Float64("inf", math.Inf(1)), attribute.StringSlice(odd, []string{odd})))
	_, c := tr.Start(ctx, odd)
	c.AddEvent(odd, trace.WithAttributes(attribute.String(odd, odd)))
	c.SetStatus(codes.Error, odd)
	c.End()
	root.End()
	rec := get(t, v.Handler(), "GET", "/traces.json")
	body := rec.Body.String()
	if !json.Valid(rec.Body.Bytes()) || strings.ContainsAny(body, "<>&\u2028") || strings.Contains(body, "\xff") {
		t.Fatalf("unescaped or invalid JSON:\n%s", body)
	}
	got := decode[tvView](t, rec)
	want := strings.ToValidUTF8(odd, "\ufffd")
	s := got.Handlers[0].Recent[0].Spans
	if got.Handlers[0].Handler != want || s[0].Name != want || s[1].StatusMessage != want || s[1].Events[0].Name != want ||
		s[0].Attributes["nan"] != "NaN" || s[0].Attributes["inf"] != "+Inf" {
		t.Errorf("round trip: handler %q, names %q %q, message %q, event %q, floats %v %v; want %q and NaN, +Inf",
			got.Handlers[0].Handler, s[0].Name, s[1].Name, s[1].StatusMessage, s[1].Events[0].Name, s[0].Attributes["nan"], s[0].Attributes["inf"], want)
	}
}

// TestTraceViewQueries: the filters, and a clear error for every bad
// request.
func TestTraceViewQueries(t *testing.T) {
	v := jsonexp.NewTraceView()
	tr := newTracer(t, v)
	a := emit(tr, runSpec{handler: "a", resource: "r1", dur: time.Millisecond})
	emit(tr, runSpec{handler: "b", resource: "r1", dur: time.Millisecond})
	emit(tr, runSpec{handler: "a", resource: "r2", dur: time.Millisecond})
	_, running := tr.Start(context.Background(), "timer r1", trace.WithAttributes(attribute.String("optel.handler", "t")))
	defer running.End()
	aID := a.TraceID().String()

	for _, tc := range []struct {
		name, method, query string
		code                int
		handlers            []string // resource/handler, for 200 listings
		errorHas            []string // for errors
		errorTraceID        string
	}{
		{name: "everything", query: "", code: 200, handlers: []string{"r1/a", "r1/b", "r2/a"}},
		{name: "by handler", query: "?handler=a", code: 200, handlers: []string{"r1/a", "r2/a"}},
		{name: "by resource", query: "?resource=r1", code: 200, handlers: []string{"r1/a", "r1/b"}},
		{name: "by both", query: "?handler=a&resource=r2", code: 200, handlers: []string{"r2/a"}},
		{name: "no match is an empty list", query: "?handler=zzz", code: 200, handlers: []string{}},
		{name: "an empty filter matches the empty id only", query: "?handler=", code: 200, handlers: []string{}},
		{name: "HEAD", method: "HEAD", query: "", code: 200},
		{name: "trace_id", query: "?trace_id=" + aID, code: 200},
		{name: "trace_id in capitals", query: "?trace_id=" + strings.ToUpper(aID), code: 200},
		{name: "unknown trace_id", query: "?trace_id=0123456789abcdef0123456789abcdef", code: 404,
			errorHas: []string{"0123456789abcdef0123456789abcdef", "not retained"}, errorTraceID: "0123456789abcdef0123456789abcdef"},
		{name: "running trace_id", query: "?trace_id=" + running.SpanContext().TraceID().String(), code: 404,
			errorHas: []string{"has not ended"}, errorTraceID: running.SpanContext().TraceID().String()},
		{name: "short trace_id", query: "?trace_id=abc", code: 400, errorHas: []string{`"abc"`, "32 hex digits"}},
		{name: "non-hex trace_id", query: "?trace_id=zz23456789abcdef0123456789abcdef", code: 400, errorHas: []string{"32 hex digits"}},
		{name: "all-zero trace_id", query: "?trace_id=00000000000000000000000000000000", code: 400, errorHas: []string{"not all zero"}},
		{name: "huge trace_id is cut in the error", query: "?trace_id=" + strings.Repeat("x", 5000), code: 400, errorHas: []string{"…", "32 hex digits"}},
		{name: "trace_id with a filter", query: "?trace_id=" + aID + "&handler=a", code: 400, errorHas: []string{"cannot be combined"}},
		{name: "repeated filter", query: "?handler=a&handler=b", code: 400, errorHas: []string{`"handler"`, "2 times"}},
		{name: "unknown parameter", query: "?handlr=a", code: 400, errorHas: []string{`"handlr"`, "accepts handler, resource and trace_id"}},
		{name: "POST", method: "POST", query: "", code: 405, errorHas: []string{"use GET"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := cmpOr(tc.method, "GET")
			rec := get(t, v.Handler(), method, "/traces.json"+tc.query)
			if rec.Code != tc.code {
				t.Fatalf("%s %s: %d, want %d: %s", method, tc.query, rec.Code, tc.code, rec.Body)
			}
			switch {
			case tc.code == 405:
				if rec.Header().Get("Allow") != "GET, HEAD" {
					t.Errorf("Allow = %q", rec.Header().Get("Allow"))
				}
				fallthrough
			case tc.code >= 400:
				e := decode[tvError](t, rec)
				for _, s := range tc.errorHas {
					if !strings.Contains(e.Error, s) {
						t.Errorf("error %q lacks %q", e.Error, s)
					}
				}
				if e.TraceID != tc.errorTraceID {
					t.Errorf("error trace_id = %q, want %q", e.TraceID, tc.errorTraceID)
				}
				if len(rec.Body.String()) > 400 {
					t.Errorf("error body is %d bytes", len(rec.Body.String()))
				}
			case strings.HasPrefix(tc.query, "?trace_id="):
				if one := decode[tvOne](t, rec); one.Run.TraceID != aID || one.Handler != "a" || one.Resource != "r1" || len(one.Run.Spans) != 1 {
					t.Errorf("run = %+v", one)
				}
			case method == "GET":
				got := []string{}
				for _, h := range decode[tvView](t, rec).Handlers {
					got = append(got, h.Resource+"/"+h.Handler)
				}
				if !slices.Equal(got, tc.handlers) {
					t.Errorf("handlers = %v, want %v", got, tc.handlers)
				}
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestTraceViewConcurrentRuns: runs ending on many goroutines while
// others read /traces.json are all counted, each retained run is whole,
// and nothing stays pending (run with -race).
func TestTraceViewConcurrentRuns(t *testing.T) {
	const workers, perWorker = 8, 150
	v := jsonexp.NewTraceView()
	tr := newTracer(t, v)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readErr error
	var readMu sync.Mutex
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				rec := httptest.NewRecorder()
				v.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/traces.json", nil))
				if !json.Valid(rec.Body.Bytes()) {
					readMu.Lock()
					readErr = errors.New("invalid JSON mid-run: " + rec.Body.String())
					readMu.Unlock()
				}
			}
		})
	}
	var writers sync.WaitGroup
	for w := range workers {
		writers.Go(func() {
			for i := range perWorker {
				emit(tr, runSpec{handler: fmt.Sprint("h", w%4), n: i, dur: time.Duration(1+i%13) * time.Millisecond, fail: i%5 == 0, children: 3})
			}
		})
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
	got := view(t, v, "")
	var runs, failures uint64
	for _, h := range got.Handlers {
		runs, failures = runs+h.Runs, failures+h.Failures
		if len(h.Recent) != 10 || len(h.Slowest) != 5 || len(h.Failed) != 10 {
			t.Errorf("%s keeps %d/%d/%d runs, want 10/5/10", h.Handler, len(h.Recent), len(h.Slowest), len(h.Failed))
		}
		for _, r := range slices.Concat(h.Recent, h.Slowest, h.Failed) {
			if len(r.Spans) != 4 || r.DroppedSpans != 0 {
				t.Errorf("run %s has %d spans (%d dropped), want 4", r.TraceID, len(r.Spans), r.DroppedSpans)
			}
		}
	}
	if len(got.Handlers) != 4 || runs != workers*perWorker || failures != workers*perWorker/5 || got.PendingTraces != 0 {
		t.Errorf("%d handlers, %d runs, %d failures, %d pending; want 4, %d, %d, 0", len(got.Handlers), runs, failures, got.PendingTraces, workers*perWorker, workers*perWorker/5)
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// The measured bounds docs/tracing.md states (they hold with -race too,
// which makes allocations larger).
const (
	typicalHeapBound = 2 << 20  // 20 handlers, 20,000 runs of 3 spans
	worstHeapBound   = 16 << 20 // every bound full at the defaults
	typicalRunsFed   = 20_000
	typicalHandlers  = 20
	runsPerHandler   = jsonexp.DefaultRecentRuns + jsonexp.DefaultSlowestRuns + jsonexp.DefaultFailedRuns
)

// TestTraceViewMemoryBound feeds 20,000 handler runs (a handler span and
// two API children, with the operator's attributes) to 20 handlers, and
// then fills every bound at the defaults: 64 handlers with 25 distinct runs
// of 21 spans each, and 512 handler spans that never end. It requires the
// retained runs and the heap growth to stay within bounds.
func TestTraceViewMemoryBound(t *testing.T) {
	t.Run("typical", func(t *testing.T) {
		before := heapAlloc()
		v := jsonexp.NewTraceView()
		tr := newTracer(t, v)
		for i := range typicalRunsFed {
			emit(tr, runSpec{handler: fmt.Sprint("handler-", i%typicalHandlers), n: i, at: time.Duration(i) * time.Millisecond,
				dur: time.Duration(1+i%97) * time.Millisecond, fail: i%7 == 0, children: 2})
		}
		grown := int64(heapAlloc()) - int64(before)
		got := view(t, v, "")
		distinct := map[string]bool{}
		for _, h := range got.Handlers {
			for _, r := range slices.Concat(h.Recent, h.Slowest, h.Failed) {
				distinct[r.TraceID] = true
			}
		}
		t.Logf("%d runs fed to %d handlers: %d runs (%d spans) retained, heap grew %d KiB", typicalRunsFed, typicalHandlers, len(distinct), len(distinct)+got.SpansHeld, grown>>10)
		if len(got.Handlers) != typicalHandlers || len(distinct) > typicalHandlers*runsPerHandler || got.PendingTraces != 0 {
			t.Errorf("%d handlers, %d distinct runs retained, %d pending; want %d, at most %d, 0", len(got.Handlers), len(distinct), got.PendingTraces, typicalHandlers, typicalHandlers*runsPerHandler)
		}
		if grown > typicalHeapBound {
			t.Errorf("heap grew %d KiB, bound %d KiB", grown>>10, typicalHeapBound>>10)
		}
		runtime.KeepAlive(v)
	})
	t.Run("every bound full", func(t *testing.T) {
		before := heapAlloc()
		v := jsonexp.NewTraceView()
		tr := newTracer(t, v)
		// Per handler 5 slow successes, 10 failures, 10 fast successes: 25
		// distinct runs, each offering 20 API children.
		for h := range jsonexp.DefaultMaxHandlers {
			for i := range runsPerHandler {
				d, fail := time.Millisecond, i >= 5 && i < 15
				if i < 5 {
					d = time.Duration(100+i) * time.Millisecond
				}
				emit(tr, runSpec{handler: fmt.Sprint("handler-", h), n: i, dur: d, fail: fail, children: 20})
			}
		}
		var roots []trace.Span
		for i := range 2 * jsonexp.DefaultMaxPendingTraces {
			ctx, s := tr.Start(context.Background(), "daemon widgets.example.com", trace.WithAttributes(
				attribute.String("optel.handler", fmt.Sprint("d", i)), attribute.String("optel.resource", "widgets.example.com")))
			for range 20 {
				_, c := tr.Start(ctx, "GET widgets", trace.WithAttributes(attribute.String("http.request.method", "GET"), attribute.Int("http.response.status_code", 200)))
				c.End()
			}
			roots = append(roots, s) // never ended
		}
		grown := int64(heapAlloc()) - int64(before)
		got := view(t, v, "")
		distinct := map[string]bool{}
		for _, h := range got.Handlers {
			for _, r := range slices.Concat(h.Recent, h.Slowest, h.Failed) {
				distinct[r.TraceID] = true
			}
		}
		t.Logf("every bound full: %d runs and %d pending traces, %d spans held (+%d dropped), heap grew %d KiB", len(distinct), got.PendingTraces, got.SpansHeld, got.Dropped["spans"], grown>>10)
		if len(distinct) != jsonexp.DefaultMaxHandlers*runsPerHandler || got.PendingTraces != jsonexp.DefaultMaxPendingTraces ||
			got.Dropped["pending_evicted"] != jsonexp.DefaultMaxPendingTraces || got.SpansHeld != jsonexp.DefaultMaxSpans {
			t.Errorf("%d runs, %d pending (%d evicted), %d spans held; want %d, %d (%d), %d", len(distinct), got.PendingTraces, got.Dropped["pending_evicted"], got.SpansHeld,
				jsonexp.DefaultMaxHandlers*runsPerHandler, jsonexp.DefaultMaxPendingTraces, jsonexp.DefaultMaxPendingTraces, jsonexp.DefaultMaxSpans)
		}
		if grown > worstHeapBound {
			t.Errorf("heap grew %d KiB, bound %d KiB", grown>>10, worstHeapBound>>10)
		}
		runtime.KeepAlive(v)
		for _, s := range roots {
			s.End()
		}
	})
}

// TestTracingDocStatesTheBounds keeps docs/tracing.md true to the code:
// its table of bounds gives the defaults, and its memory table the bounds
// TestTraceViewMemoryBound asserts.
func TestTracingDocStatesTheBounds(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "tracing.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for opt, def := range map[string]int{
		"WithRecentRuns": jsonexp.DefaultRecentRuns, "WithSlowestRuns": jsonexp.DefaultSlowestRuns, "WithFailedRuns": jsonexp.DefaultFailedRuns,
		"WithMaxSpansPerRun": jsonexp.DefaultMaxSpansPerRun, "WithMaxSpans": jsonexp.DefaultMaxSpans,
		"WithMaxHandlers": jsonexp.DefaultMaxHandlers, "WithMaxPendingTraces": jsonexp.DefaultMaxPendingTraces,
	} {
		if want := fmt.Sprintf("| `%s` | %d |", opt, def); !strings.Contains(doc, want) {
			t.Errorf("docs/tracing.md lacks the row %q", want)
		}
	}
	roots := jsonexp.DefaultMaxHandlers*runsPerHandler + jsonexp.DefaultMaxPendingTraces
	for _, want := range []string{
		fmt.Sprintf("%d × (%d + %d + %d) + %d = %s handler spans and %s other spans", jsonexp.DefaultMaxHandlers, jsonexp.DefaultRecentRuns,
			jsonexp.DefaultSlowestRuns, jsonexp.DefaultFailedRuns, jsonexp.DefaultMaxPendingTraces, thousands(roots), thousands(jsonexp.DefaultMaxSpans)),
		fmt.Sprintf("| %d MiB |\n| every bound full", typicalHeapBound>>20),
		fmt.Sprintf("| %d MiB |\n\n", worstHeapBound>>20),
		fmt.Sprintf("%s runs (a handler span and two API children) fed to %d handlers", thousands(typicalRunsFed), typicalHandlers),
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("docs/tracing.md lacks %q", want)
		}
	}
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
