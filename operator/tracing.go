package operator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/workqueue"
)

// TraceparentAnnotation is the KEP-5915 annotation: the W3C traceparent of
// the operation that last created the object or changed its spec. A
// handler span for an object that carries it starts a new trace with a
// Span Link to that context (not a child of it: one object change can fan
// out into many runs over hours). Changing only this annotation is not a
// change of the object: it is left out of the last-handled state, so
// stamping it never fires update handlers.
const TraceparentAnnotation = "tracing.k8s.io/traceparent"

// Span attribute keys of handler runs. docs/tracing.md lists them.
const (
	AttrSpanResource   = attribute.Key("optel.resource")
	AttrSpanHandler    = attribute.Key("optel.handler")
	AttrSpanCause      = attribute.Key("optel.cause")
	AttrSpanOutcome    = attribute.Key("optel.outcome")
	AttrSpanRetry      = attribute.Key("optel.retry")
	AttrSpanQueueWait  = attribute.Key("optel.queue.wait")
	AttrSpanName       = attribute.Key("optel.object.name")
	AttrSpanUID        = attribute.Key("optel.object.uid")
	AttrSpanGeneration = attribute.Key("optel.object.generation")
	AttrSpanRV         = attribute.Key("optel.object.resource_version")
	AttrSpanAttempt    = attribute.Key("optel.daemon.attempt")
)

// Outcomes on a handler span (optel.outcome): success; retry, when the
// handler will run again (a temporary error, a timeout or a panic);
// failure, when it will not (a PermanentError).
const (
	spanSuccess = "success"
	spanRetry   = "retry"
	spanFailure = "failure"
)

var traceContext = propagation.TraceContext{}

// linkFromAnnotation returns the Span Link to the object's traceparent
// annotation, if it has a valid one.
func linkFromAnnotation(obj metav1.Object) (trace.Link, bool) {
	if obj == nil {
		return trace.Link{}, false
	}
	tp, ok := obj.GetAnnotations()[TraceparentAnnotation]
	if !ok {
		return trace.Link{}, false
	}
	sc := trace.SpanContextFromContext(traceContext.Extract(context.Background(), propagation.MapCarrier{"traceparent": tp}))
	if !sc.IsValid() {
		return trace.Link{}, false
	}
	return trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{attribute.String("optel.link.source", TraceparentAnnotation)}}, true
}

// startRun starts the span of one handler run: a new root, linked to the
// object's traceparent annotation, named "<cause> <resource>".
func (c *controller) startRun(ctx context.Context, cause Cause, handler string, obj *unstructured.Unstructured, retry int, extra ...attribute.KeyValue) (context.Context, trace.Span) {
	if !c.e.tracing {
		return ctx, trace.SpanFromContext(context.Background()) // non-recording; no allocation
	}
	attrs := make([]attribute.KeyValue, 0, 11+len(extra))
	attrs = append(attrs, AttrSpanResource.String(c.name), AttrSpanHandler.String(handler), AttrSpanCause.String(string(cause)), AttrSpanRetry.Int(retry))
	opts := []trace.SpanStartOption{trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindInternal)}
	if obj != nil {
		if ns := obj.GetNamespace(); ns != "" {
			attrs = append(attrs, semconv.K8SNamespaceName(ns))
		}
		attrs = append(attrs, AttrSpanName.String(obj.GetName()), AttrSpanUID.String(string(obj.GetUID())),
			AttrSpanGeneration.Int64(obj.GetGeneration()), AttrSpanRV.String(obj.GetResourceVersion()))
		if l, ok := linkFromAnnotation(obj); ok {
			opts = append(opts, trace.WithLinks(l))
		}
	}
	attrs = append(attrs, extra...)
	opts = append(opts, trace.WithAttributes(attrs...))
	return c.e.tracer.Start(ctx, string(cause)+" "+c.name, opts...)
}

// startActivity starts the span of an operator-level activity run
// (startup, cleanup, or a Background start): "activity <id>", with
// optel.handler set to the id and optel.resource empty.
func (e *engine) startActivity(ctx context.Context, id string, attempt int) (context.Context, trace.Span) {
	if !e.tracing {
		return ctx, trace.SpanFromContext(context.Background())
	}
	return e.tracer.Start(ctx, string(CauseActivity)+" "+id, trace.WithNewRoot(), trace.WithAttributes(
		AttrSpanResource.String(""), AttrSpanHandler.String(id), AttrSpanCause.String(string(CauseActivity)), AttrSpanRetry.Int(attempt), AttrSpanAttempt.Int(attempt)))
}

// endRun sets the outcome of a run on its span and ends it.
func endRun(span trace.Span, oc outcome, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	switch oc {
	case outcomeSuccess:
		span.SetAttributes(AttrSpanOutcome.String(spanSuccess))
	default:
		o := spanRetry
		if oc == outcomePermanent {
			o = spanFailure
		}
		span.SetAttributes(AttrSpanOutcome.String(o), semconv.ErrorTypeKey.String(errorType(oc, err)))
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// errorType is a low-cardinality error.type: the outcome for panics,
// timeouts and permanent errors, the API status reason for API errors,
// else the error's Go type.
func errorType(oc outcome, err error) string {
	switch oc {
	case outcomePanic, outcomeTimeout, outcomePermanent:
		return string(oc)
	}
	var te *TemporaryError
	if errors.As(err, &te) && te.Err != nil {
		err = te.Err
	}
	if r := apierrors.ReasonForError(err); r != metav1.StatusReasonUnknown {
		return string(r)
	}
	for {
		u := errors.Unwrap(err)
		if u == nil {
			break
		}
		err = u
	}
	return fmt.Sprintf("%T", err)
}

// runLogger adds the span's trace_id and span_id to every record, in text
// and JSON alike, and hands the span to handlers that read it from the
// context (the OTel slog bridge), so a line logged without a context still
// carries the run's trace.
func runLogger(l *slog.Logger, span trace.Span) *slog.Logger {
	sc := span.SpanContext()
	if !sc.IsValid() {
		return l
	}
	return slog.New(spanHandler{Handler: l.Handler().WithAttrs([]slog.Attr{slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String())}), sc: sc})
}

type spanHandler struct {
	slog.Handler
	sc trace.SpanContext
}

func (h spanHandler) Handle(ctx context.Context, r slog.Record) error {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, h.sc)
	}
	return h.Handler.Handle(ctx, r)
}

func (h spanHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return spanHandler{Handler: h.Handler.WithAttrs(as), sc: h.sc}
}

func (h spanHandler) WithGroup(name string) slog.Handler {
	return spanHandler{Handler: h.Handler.WithGroup(name), sc: h.sc}
}

// StampTraceparent writes the current span's context into obj's
// tracing.k8s.io/traceparent annotation (KEP-5915), so the handlers of
// whoever watches obj link their runs to this one: call it on an object
// you are about to create, or whose spec you are about to change, inside a
// handler. Never use it for status writes. It reports whether it stamped
// (false when ctx has no sampled span, e.g. with tracing off).
func StampTraceparent(ctx context.Context, obj metav1.Object) bool {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsSampled() {
		return false
	}
	carrier := propagation.MapCarrier{}
	traceContext.Inject(ctx, carrier)
	tp := carrier.Get("traceparent")
	if tp == "" {
		return false
	}
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[TraceparentAnnotation] = tp
	obj.SetAnnotations(ann)
	return true
}

// timedQueue is the queue under the rate-limiting and delaying layers:
// it remembers when each key was first added, so a run knows how long its
// key waited (optel.queue.wait on the span; the histogram of the same name
// is client-go's own measurement).
type timedQueue struct {
	workqueue.TypedInterface[string]
	mu    sync.Mutex
	added map[string]time.Time
}

func (q *timedQueue) Add(key string) {
	q.mu.Lock()
	if _, ok := q.added[key]; !ok {
		q.added[key] = time.Now()
	}
	q.mu.Unlock()
	q.TypedInterface.Add(key)
}

// waited forgets key's add time and returns how long ago it was (0 if
// unknown).
func (q *timedQueue) waited(key string) time.Duration {
	if q == nil {
		return 0
	}
	q.mu.Lock()
	t, ok := q.added[key]
	delete(q.added, key)
	q.mu.Unlock()
	if !ok {
		return 0
	}
	return time.Since(t)
}

type queueWaitKey struct{}

func withQueueWait(ctx context.Context, d time.Duration) context.Context {
	if d <= 0 {
		return ctx
	}
	return context.WithValue(ctx, queueWaitKey{}, d)
}

func queueWaitFrom(ctx context.Context) time.Duration {
	d, _ := ctx.Value(queueWaitKey{}).(time.Duration)
	return d
}

// queueWait returns how long the key waited in the queue as a span
// attribute, or nothing when it is not known.
func queueWaitAttr(d time.Duration) []attribute.KeyValue {
	if d <= 0 {
		return nil
	}
	return []attribute.KeyValue{AttrSpanQueueWait.Float64(d.Seconds())}
}

// startSpan starts the client span of one API request, child of the span
// in its context, named "<METHOD> <resource>" (e.g. "PATCH widgets"), and
// returns a copy of the request carrying the traceparent header: the API
// server, with its own tracing on, continues the trace.
func (a *apiRoundTripper) startSpan(req *http.Request) (*http.Request, trace.Span) {
	u := *req.URL
	u.User = nil
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(req.Method),
		semconv.URLFull(u.String()),
		semconv.ServerAddress(u.Hostname()),
	}
	if p, err := strconv.Atoi(u.Port()); err == nil {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	resource := apiResource(u.Path)
	if resource != "" {
		attrs = append(attrs, attribute.String("k8s.resource", resource))
	}
	name := req.Method
	if resource != "" {
		name += " " + resource
	}
	ctx, span := a.tracer.Start(req.Context(), name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	out := req.Clone(ctx)
	traceContext.Inject(ctx, propagation.HeaderCarrier(out.Header))
	return out, span
}

func endAPISpan(span trace.Span, resp *http.Response, err error) {
	if err != nil {
		span.SetAttributes(semconv.ErrorTypeKey.String(fmt.Sprintf("%T", err)))
		span.SetStatus(codes.Error, err.Error())
		span.End()
		return
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
	}
	span.End()
}

// apiResource is the resource (with its subresource) of a Kubernetes API
// path: "widgets" for /apis/example.com/v1/namespaces/ns/widgets/w,
// "widgets/status" for its status, "namespaces" for /api/v1/namespaces/ns.
// Names are left out: span names stay low-cardinality.
func apiResource(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return ""
	}
	if len(parts) == 3 && parts[0] == "namespaces" && (parts[2] == "status" || parts[2] == "finalize") {
		return "namespaces/" + parts[2] // a namespace's own subresource
	}
	if len(parts) >= 3 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	switch len(parts) {
	case 0:
		return ""
	case 1, 2:
		return parts[0]
	}
	return parts[0] + "/" + parts[2]
}
