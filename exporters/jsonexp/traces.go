package jsonexp

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TracesPath is where Routes mounts the trace view.
const TracesPath = "/traces.json"

// The bounds of a TraceView, unless an option sets them. docs/tracing.md
// gives the memory they bound, as measured.
const (
	DefaultRecentRuns       = 10
	DefaultSlowestRuns      = 5
	DefaultFailedRuns       = 10
	DefaultMaxSpansPerRun   = 128
	DefaultMaxSpans         = 16384
	DefaultMaxHandlers      = 64
	DefaultMaxPendingTraces = 256
)

// The root span attributes that make a trace a handler run.
const (
	attrHandler  = attribute.Key("optel.handler")
	attrResource = attribute.Key("optel.resource")
)

type traceViewConfig struct {
	recent, slowest, failed  int
	spans, handlers, pending int
	total                    int
}

// TraceViewOption configures NewTraceView.
type TraceViewOption interface{ applyTraceView(*traceViewConfig) }

type traceViewOptionFunc func(*traceViewConfig)

func (f traceViewOptionFunc) applyTraceView(c *traceViewConfig) { f(c) }

// WithRecentRuns keeps the n most recent runs of each handler. 0 keeps
// none; a negative n is 0. Default DefaultRecentRuns.
func WithRecentRuns(n int) TraceViewOption {
	return traceViewOptionFunc(func(c *traceViewConfig) { c.recent = max(n, 0) })
}

// WithSlowestRuns keeps the n slowest runs of each handler since start. 0
// keeps none; a negative n is 0. Default DefaultSlowestRuns.
func WithSlowestRuns(n int) TraceViewOption {
	return traceViewOptionFunc(func(c *traceViewConfig) { c.slowest = max(n, 0) })
}

// WithFailedRuns keeps the n most recent failed runs (root span status
// Error) of each handler. 0 keeps none; a negative n is 0. Default
// DefaultFailedRuns.
func WithFailedRuns(n int) TraceViewOption {
	return traceViewOptionFunc(func(c *traceViewConfig) { c.failed = max(n, 0) })
}

// WithMaxSpansPerRun keeps at most n spans of a run, its handler span
// included; later ones are counted in the run's dropped_spans. Values
// below 1 mean 1 (the handler span alone). Default DefaultMaxSpansPerRun.
func WithMaxSpansPerRun(n int) TraceViewOption {
	return traceViewOptionFunc(func(c *traceViewConfig) { c.spans = max(n, 1) })
}

// WithMaxSpans holds at most n spans other than handler spans across all
// runs, pending and retained; later ones are counted in their run's
// dropped_spans until retained runs are given up. A negative n is 0 (handler
// spans alone). Default DefaultMaxSpans.
func WithMaxSpans(n int) TraceViewOption {
	return traceViewOptionFunc(func(c *traceViewConfig) { c.total = max(n, 0) })
}

// WithMaxHandlers tracks at most n (resource, handler) pairs; runs of any
// further pair are counted, not kept. Values below 1 mean 1. Default
// DefaultMaxHandlers.
func WithMaxHandlers(n int) TraceViewOption {
	return traceViewOptionFunc(func(c *traceViewConfig) { c.handlers = max(n, 1) })
}

// WithMaxPendingTraces holds the spans of at most n traces whose root span
// has not ended yet; starting one more evicts the oldest, counted. Values
// below 1 mean 1. Default DefaultMaxPendingTraces.
func WithMaxPendingTraces(n int) TraceViewOption {
	return traceViewOptionFunc(func(c *traceViewConfig) { c.pending = max(n, 1) })
}

// TraceView is an in-memory view of recent handler runs, served as
// /traces.json, as zPages did: for each handler, its most recent, slowest
// and failed runs, each with its spans. It is an sdktrace.SpanProcessor;
// register it with sdktrace.WithSpanProcessor.
//
// A run is a trace whose root span (no parent) carries the optel.handler
// and optel.resource attributes when it ends; its other spans are the ones
// of the same trace that end while the root is pending, or after it while
// the run is retained. Spans of traces without such a root are not kept:
// a child span whose trace has no pending local root is ignored at once,
// and a local root that ends without optel.handler takes its spans with
// it. Every bound is fixed at construction (see the options).
//
// A TraceView is safe for concurrent use. OnStart and OnEnd, which run on
// the handler's path, never wait on I/O: they hold one mutex only for
// bookkeeping whose cost does not grow with the view (map updates and list
// shifts of at most WithSlowestRuns entries); encoding a response copies
// what it needs under that mutex and encodes outside it. After Shutdown the
// view ignores new spans, drops the pending ones, and keeps serving the
// runs it retained.
type TraceView struct {
	cfg traceViewConfig

	mu       sync.Mutex
	shut     bool
	pending  map[trace.TraceID]*pendingTrace
	oldest   *pendingTrace // pending traces in start order, for eviction
	newest   *pendingTrace
	handlers map[handlerKey]*handlerRuns
	retained map[trace.TraceID]*run // every run some list holds
	held     int                    // spans other than roots, pending and retained

	droppedSpans    uint64 // over the per-run or total bound, all runs
	overflowRuns    uint64 // runs of handlers beyond the handler bound
	evictedPending  uint64 // pending traces evicted by newer ones
	nonHandlerRoots uint64 // local roots that ended without optel.handler
}

var _ sdktrace.SpanProcessor = (*TraceView)(nil)

type handlerKey struct{ resource, handler string }

// pendingTrace holds the ended spans of a trace whose root is running.
type pendingTrace struct {
	id         trace.TraceID
	spans      []sdktrace.ReadOnlySpan
	dropped    int
	prev, next *pendingTrace
	first      [4]sdktrace.ReadOnlySpan // spans' first backing array: most runs make few calls
}

// run is a retained handler run. spans only grows, under TraceView.mu;
// readers copy its header under the lock and read the prefix outside it.
type run struct {
	key     handlerKey
	root    sdktrace.ReadOnlySpan
	spans   []sdktrace.ReadOnlySpan // descendants, in the order they ended
	dropped int
	dur     time.Duration
	lists   uint8 // which of a handler's lists hold it
}

const (
	inRecent uint8 = 1 << iota
	inSlowest
	inFailed
)

type handlerRuns struct {
	runs, failures uint64
	recent, failed ring
	slowest        []*run // longest first
}

// ring keeps the last len(buf) runs pushed.
type ring struct {
	buf  []*run
	next int
	n    int
}

// push adds x and returns the run it displaced, if any.
func (r *ring) push(x *run) *run {
	old := r.buf[r.next]
	r.buf[r.next] = x
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
	return old
}

// appendViews appends views of the runs held, the most recently pushed
// first.
func (r *ring) appendViews(dst []runView) []runView {
	for i := 1; i <= r.n; i++ {
		dst = append(dst, r.buf[(r.next-i+len(r.buf))%len(r.buf)].view())
	}
	return dst
}

// NewTraceView returns an empty view with the given bounds.
func NewTraceView(opts ...TraceViewOption) *TraceView {
	c := traceViewConfig{
		recent: DefaultRecentRuns, slowest: DefaultSlowestRuns, failed: DefaultFailedRuns,
		spans: DefaultMaxSpansPerRun, handlers: DefaultMaxHandlers, pending: DefaultMaxPendingTraces,
		total: DefaultMaxSpans,
	}
	for _, o := range opts {
		o.applyTraceView(&c)
	}
	return &TraceView{
		cfg:      c,
		pending:  make(map[trace.TraceID]*pendingTrace),
		handlers: make(map[handlerKey]*handlerRuns),
		retained: make(map[trace.TraceID]*run),
	}
}

// SpanProcessor returns v, for registration with sdktrace.WithSpanProcessor.
func (v *TraceView) SpanProcessor() sdktrace.SpanProcessor { return v }

// OnStart starts holding the spans of a trace when its root starts.
func (v *TraceView) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	if s.Parent().IsValid() {
		return
	}
	id := s.SpanContext().TraceID()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.shut || v.pending[id] != nil {
		return
	}
	if len(v.pending) >= v.cfg.pending {
		v.held -= len(v.oldest.spans)
		v.unlink(v.oldest)
		v.evictedPending++
	}
	p := &pendingTrace{id: id, prev: v.newest}
	p.spans = p.first[:0]
	if v.newest != nil {
		v.newest.next = p
	} else {
		v.oldest = p
	}
	v.newest = p
	v.pending[id] = p
}

// unlink forgets a pending trace.
func (v *TraceView) unlink(p *pendingTrace) {
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		v.oldest = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		v.newest = p.prev
	}
	p.prev, p.next = nil, nil
	delete(v.pending, p.id)
}

// OnEnd adds s to its pending or retained run, or retains the run s ends.
func (v *TraceView) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.Parent().IsValid() {
		v.endRoot(s)
		return
	}
	id := s.SpanContext().TraceID()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.shut {
		return
	}
	if p := v.pending[id]; p != nil {
		v.hold(&p.spans, &p.dropped, s)
	} else if r := v.retained[id]; r != nil { // ended after its root
		v.hold(&r.spans, &r.dropped, s)
	}
}

// hold appends s to a run's spans, or counts it dropped over a bound.
func (v *TraceView) hold(spans *[]sdktrace.ReadOnlySpan, dropped *int, s sdktrace.ReadOnlySpan) {
	if 1+len(*spans) < v.cfg.spans && v.held < v.cfg.total {
		*spans = append(*spans, s)
		v.held++
		return
	}
	*dropped++
	v.droppedSpans++
}

func (v *TraceView) endRoot(s sdktrace.ReadOnlySpan) {
	var key handlerKey
	var isHandler bool
	for _, kv := range s.Attributes() {
		switch kv.Key {
		case attrHandler:
			key.handler, isHandler = kv.Value.Emit(), true
		case attrResource:
			key.resource = kv.Value.Emit()
		}
	}
	id := s.SpanContext().TraceID()
	failed := s.Status().Code == codes.Error
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.shut {
		return
	}
	p := v.pending[id]
	if p != nil {
		v.unlink(p)
	}
	if !isHandler {
		v.nonHandlerRoots++
		if p != nil {
			v.held -= len(p.spans)
		}
		return
	}
	h := v.handlers[key]
	if h == nil {
		if len(v.handlers) >= v.cfg.handlers {
			v.overflowRuns++
			if p != nil {
				v.held -= len(p.spans)
			}
			return
		}
		h = &handlerRuns{recent: ring{buf: make([]*run, max(v.cfg.recent, 1))}, failed: ring{buf: make([]*run, max(v.cfg.failed, 1))}}
		v.handlers[key] = h
	}
	h.runs++
	r := &run{key: key, root: s, dur: s.EndTime().Sub(s.StartTime())}
	if p != nil {
		r.spans, r.dropped = p.spans, p.dropped
	}
	if failed {
		h.failures++
	}
	if v.cfg.recent > 0 {
		r.lists |= inRecent
		v.release(h.recent.push(r), inRecent)
	}
	if failed && v.cfg.failed > 0 {
		r.lists |= inFailed
		v.release(h.failed.push(r), inFailed)
	}
	if n := len(h.slowest); n < v.cfg.slowest || (n > 0 && r.dur > h.slowest[n-1].dur) {
		i, _ := slices.BinarySearchFunc(h.slowest, r.dur, func(x *run, d time.Duration) int { return cmp.Compare(d, x.dur) })
		for i < len(h.slowest) && h.slowest[i].dur == r.dur {
			i++ // a tie keeps the earlier run ahead
		}
		if n == v.cfg.slowest {
			v.release(h.slowest[n-1], inSlowest)
			h.slowest = h.slowest[:n-1]
		}
		r.lists |= inSlowest
		h.slowest = slices.Insert(h.slowest, i, r)
	}
	if r.lists != 0 {
		v.retained[id] = r
	} else {
		v.held -= len(r.spans)
	}
}

// release drops list from r's holders and forgets r when none is left.
func (v *TraceView) release(r *run, list uint8) {
	if r == nil {
		return
	}
	if r.lists &^= list; r.lists == 0 {
		v.held -= len(r.spans)
		id := r.root.SpanContext().TraceID()
		if v.retained[id] == r {
			delete(v.retained, id)
		}
	}
}

// Shutdown stops taking spans and drops the pending ones; retained runs
// are still served. It is idempotent and does not block.
func (v *TraceView) Shutdown(context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.shut = true
	for _, p := range v.pending {
		v.held -= len(p.spans)
	}
	clear(v.pending)
	v.oldest, v.newest = nil, nil
	return nil
}

// ForceFlush does nothing: a span is in the view as soon as it ends.
func (v *TraceView) ForceFlush(context.Context) error { return nil }

// Routes mounts Handler at TracesPath.
func (v *TraceView) Routes() map[string]http.Handler {
	return map[string]http.Handler{TracesPath: v.Handler()}
}

// Handler serves the view as JSON, in the shape docs/tracing.md gives.
// Query parameters: handler and resource filter the handlers listed;
// trace_id (32 hex digits) returns that one run, or 404 when it is not
// retained. Unknown, repeated or malformed parameters are a 400 whose JSON
// error says what is accepted. Methods other than GET and HEAD get 405.
func (v *TraceView) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSONError(w, http.StatusMethodNotAllowed, r.Method+" "+TracesPath+" is not allowed; use GET", "")
			return
		}
		q := r.URL.Query()
		for k, vals := range q {
			switch k {
			case "handler", "resource", "trace_id":
			default:
				writeJSONError(w, http.StatusBadRequest, "unknown query parameter "+quoteShort(k)+": "+TracesPath+" accepts handler, resource and trace_id", "")
				return
			}
			if len(vals) > 1 {
				writeJSONError(w, http.StatusBadRequest, "query parameter "+strconv.Quote(k)+" is given "+strconv.Itoa(len(vals))+" times; give it once", "")
				return
			}
		}
		if q.Has("trace_id") {
			raw := q.Get("trace_id")
			if q.Has("handler") || q.Has("resource") {
				writeJSONError(w, http.StatusBadRequest, "trace_id selects one run and cannot be combined with handler or resource", "")
				return
			}
			id, err := trace.TraceIDFromHex(strings.ToLower(raw))
			if err != nil {
				writeJSONError(w, http.StatusBadRequest, "trace_id "+quoteShort(raw)+" is malformed: want 32 hex digits, not all zero, e.g. 4bf92f3577b34da6a3ce929d0e0e4736", "")
				return
			}
			rv, pending := v.lookup(id)
			if rv == nil {
				why := "is not retained: it was evicted by newer runs, or was never a handler run"
				if pending {
					why = "is not retained yet: its root span has not ended"
				}
				writeJSONError(w, http.StatusNotFound, "trace "+id.String()+" "+why, id.String())
				return
			}
			b := append(make([]byte, 0, 4<<10), `{"resource":`...)
			b = appendString(b, rv.key.resource)
			b = append(b, `,"handler":`...)
			b = appendString(b, rv.key.handler)
			b = append(b, `,"run":`...)
			b = appendRun(b, rv)
			_, _ = w.Write(append(b, '}', '\n'))
			return
		}
		_, _ = w.Write(v.appendView(make([]byte, 0, 16<<10), q.Get("handler"), q.Get("resource"), q.Has("handler"), q.Has("resource")))
	})
}

// quoteShort quotes s for an error message, cut to 64 bytes: a request
// must not make the answer large.
func quoteShort(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "…"
	}
	return strconv.Quote(s)
}

func writeJSONError(w http.ResponseWriter, code int, msg, traceID string) {
	b := append(make([]byte, 0, 256), `{"error":`...)
	b = appendString(b, msg)
	if traceID != "" {
		b = append(b, `,"trace_id":`...)
		b = appendString(b, traceID)
	}
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '}', '\n'))
}

// runView is a run as copied under the lock: the prefix of its spans that
// had ended then.
type runView struct {
	key     handlerKey
	root    sdktrace.ReadOnlySpan
	spans   []sdktrace.ReadOnlySpan
	dropped int
}

func (r *run) view() runView {
	return runView{key: r.key, root: r.root, spans: r.spans[:len(r.spans):len(r.spans)], dropped: r.dropped}
}

func (v *TraceView) lookup(id trace.TraceID) (rv *runView, pending bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if r := v.retained[id]; r != nil {
		rv := r.view()
		return &rv, false
	}
	return nil, v.pending[id] != nil
}

func (v *TraceView) appendView(b []byte, handler, resource string, byHandler, byResource bool) []byte {
	type handlerView struct {
		key                     handlerKey
		runs, failures          uint64
		recent, slowest, failed []runView
	}
	match := func(k handlerKey) bool {
		return (!byHandler || k.handler == handler) && (!byResource || k.resource == resource)
	}
	// Under the lock only copies, into two allocations: OnEnd waits for it.
	v.mu.Lock()
	nh, nr := 0, 0
	for k, h := range v.handlers {
		if match(k) {
			nh, nr = nh+1, nr+h.recent.n+len(h.slowest)+h.failed.n
		}
	}
	hs, all := make([]handlerView, 0, nh), make([]runView, 0, nr)
	for k, h := range v.handlers {
		if !match(k) {
			continue
		}
		hv := handlerView{key: k, runs: h.runs, failures: h.failures}
		i := len(all)
		all = h.recent.appendViews(all)
		hv.recent, i = all[i:len(all):len(all)], len(all)
		for _, r := range h.slowest {
			all = append(all, r.view())
		}
		hv.slowest, i = all[i:len(all):len(all)], len(all)
		all = h.failed.appendViews(all)
		hv.failed = all[i:len(all):len(all)]
		hs = append(hs, hv)
	}
	pending, held, dropped, overflow, evicted, nonHandler := len(v.pending), v.held, v.droppedSpans, v.overflowRuns, v.evictedPending, v.nonHandlerRoots
	v.mu.Unlock()

	slices.SortFunc(hs, func(a, b handlerView) int {
		return cmp.Or(strings.Compare(a.key.resource, b.key.resource), strings.Compare(a.key.handler, b.key.handler))
	})
	b = append(b, `{"handlers":[`...)
	for i, h := range hs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"resource":`...)
		b = appendString(b, h.key.resource)
		b = append(b, `,"handler":`...)
		b = appendString(b, h.key.handler)
		b = append(b, `,"runs":`...)
		b = strconv.AppendUint(b, h.runs, 10)
		b = append(b, `,"failures":`...)
		b = strconv.AppendUint(b, h.failures, 10)
		for _, l := range []struct {
			key  string
			runs []runView
		}{{`,"recent":[`, h.recent}, {`,"slowest":[`, h.slowest}, {`,"failed":[`, h.failed}} {
			b = append(b, l.key...)
			for j := range l.runs {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendRun(b, &l.runs[j])
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	c := v.cfg
	b = append(b, `],"limits":{"recent_runs":`...)
	b = strconv.AppendInt(b, int64(c.recent), 10)
	b = append(b, `,"slowest_runs":`...)
	b = strconv.AppendInt(b, int64(c.slowest), 10)
	b = append(b, `,"failed_runs":`...)
	b = strconv.AppendInt(b, int64(c.failed), 10)
	b = append(b, `,"spans_per_run":`...)
	b = strconv.AppendInt(b, int64(c.spans), 10)
	b = append(b, `,"handlers":`...)
	b = strconv.AppendInt(b, int64(c.handlers), 10)
	b = append(b, `,"pending_traces":`...)
	b = strconv.AppendInt(b, int64(c.pending), 10)
	b = append(b, `,"spans":`...)
	b = strconv.AppendInt(b, int64(c.total), 10)
	b = append(b, `},"pending_traces":`...)
	b = strconv.AppendInt(b, int64(pending), 10)
	b = append(b, `,"spans_held":`...)
	b = strconv.AppendInt(b, int64(held), 10)
	b = append(b, `,"dropped":{"spans":`...)
	b = strconv.AppendUint(b, dropped, 10)
	b = append(b, `,"runs_over_handler_limit":`...)
	b = strconv.AppendUint(b, overflow, 10)
	b = append(b, `,"pending_evicted":`...)
	b = strconv.AppendUint(b, evicted, 10)
	b = append(b, `,"non_handler_roots":`...)
	b = strconv.AppendUint(b, nonHandler, 10)
	return append(b, "}}\n"...)
}

// appendRun writes a run: a summary of its handler span, then its spans in
// waterfall order (depth first from the handler span, siblings by start).
func appendRun(b []byte, r *runView) []byte {
	root := r.root
	t0 := root.StartTime()
	b = append(b, `{"trace_id":`...)
	b = appendString(b, root.SpanContext().TraceID().String())
	b = append(b, `,"span_id":`...)
	b = appendString(b, root.SpanContext().SpanID().String())
	b = append(b, `,"name":`...)
	b = appendString(b, root.Name())
	b = append(b, `,"start":"`...)
	b = t0.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","duration_seconds":`...)
	b = appendFloat(b, root.EndTime().Sub(t0).Seconds())
	b = append(b, `,"status":`...)
	b = appendStatus(b, root.Status().Code)
	b = append(b, `,"dropped_spans":`...)
	b = strconv.AppendInt(b, int64(r.dropped), 10)
	b = append(b, `,"spans":[`...)
	for i, e := range waterfall(root, r.spans) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSpan(b, e.span, e.depth, t0)
	}
	return append(b, "]}"...)
}

type placed struct {
	span  sdktrace.ReadOnlySpan
	depth int
}

// waterfall orders the handler span and its descendants depth first,
// siblings by start time. A span whose parent is not among them (dropped
// by the span bound) goes under the handler span.
func waterfall(root sdktrace.ReadOnlySpan, spans []sdktrace.ReadOnlySpan) []placed {
	rootID := root.SpanContext().SpanID()
	known := make(map[trace.SpanID]bool, len(spans)+1)
	known[rootID] = true
	for _, s := range spans {
		known[s.SpanContext().SpanID()] = true
	}
	children := make(map[trace.SpanID][]sdktrace.ReadOnlySpan)
	for _, s := range spans {
		p := s.Parent().SpanID()
		if !known[p] || s.SpanContext().SpanID() == rootID {
			p = rootID
		}
		children[p] = append(children[p], s)
	}
	out := make([]placed, 0, len(spans)+1)
	seen := make(map[trace.SpanID]bool, len(spans)+1)
	var walk func(s sdktrace.ReadOnlySpan, depth int)
	walk = func(s sdktrace.ReadOnlySpan, depth int) {
		id := s.SpanContext().SpanID()
		if seen[id] {
			return // a span id seen twice: show it once
		}
		seen[id] = true
		out = append(out, placed{s, depth})
		kids := children[id]
		slices.SortStableFunc(kids, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	walk(root, 0)
	return out
}

func appendSpan(b []byte, s sdktrace.ReadOnlySpan, depth int, t0 time.Time) []byte {
	b = append(b, `{"span_id":`...)
	b = appendString(b, s.SpanContext().SpanID().String())
	b = append(b, `,"parent_span_id":`...)
	if p := s.Parent(); p.IsValid() {
		b = appendString(b, p.SpanID().String())
	} else {
		b = append(b, `""`...)
	}
	b = append(b, `,"depth":`...)
	b = strconv.AppendInt(b, int64(depth), 10)
	b = append(b, `,"name":`...)
	b = appendString(b, s.Name())
	b = append(b, `,"kind":`...)
	b = appendString(b, s.SpanKind().String())
	b = append(b, `,"start_offset_seconds":`...)
	b = appendFloat(b, s.StartTime().Sub(t0).Seconds())
	b = append(b, `,"duration_seconds":`...)
	b = appendFloat(b, s.EndTime().Sub(s.StartTime()).Seconds())
	st := s.Status()
	b = append(b, `,"status":`...)
	b = appendStatus(b, st.Code)
	b = append(b, `,"status_message":`...)
	b = appendString(b, st.Description)
	b = append(b, `,"attributes":`...)
	b = appendKVs(b, s.Attributes())
	b = append(b, `,"events":[`...)
	for i, e := range s.Events() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, e.Name)
		b = append(b, `,"offset_seconds":`...)
		b = appendFloat(b, e.Time.Sub(t0).Seconds())
		b = append(b, `,"attributes":`...)
		b = appendKVs(b, e.Attributes)
		b = append(b, '}')
	}
	b = append(b, `],"links":[`...)
	for i, l := range s.Links() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"trace_id":`...)
		b = appendString(b, l.SpanContext.TraceID().String())
		b = append(b, `,"span_id":`...)
		b = appendString(b, l.SpanContext.SpanID().String())
		b = append(b, `,"attributes":`...)
		b = appendKVs(b, l.Attributes)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

func appendStatus(b []byte, c codes.Code) []byte {
	switch c {
	case codes.Error:
		return append(b, `"error"`...)
	case codes.Ok:
		return append(b, `"ok"`...)
	}
	return append(b, `"unset"`...)
}
