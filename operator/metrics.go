package operator

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"

	"github.com/optel-dev/optel/internal/observ"
	"github.com/optel-dev/optel/telemetry"
)

// recorder holds precomputed attribute sets for one handler, so recording
// an invocation allocates nothing.
type recorder struct {
	inst     *observ.Operator
	base     telemetry.Attributes // resource, handler, cause
	outcomes map[outcome]telemetry.Attributes
}

func newRecorder(inst *observ.Operator, resource, handler string, cause Cause) *recorder {
	kv := []attribute.KeyValue{observ.AttrResource.String(resource), observ.AttrHandler.String(handler), observ.AttrCause.String(string(cause))}
	r := &recorder{inst: inst, base: telemetry.NewAttributes(kv...), outcomes: map[outcome]telemetry.Attributes{}}
	for _, oc := range allOutcomes {
		a := telemetry.NewAttributes(append(kv, observ.AttrOutcome.String(string(oc)))...)
		r.outcomes[oc] = a
		// Initialise every outcome to 0 so rates and ratios exist before the
		// first failure.
		inst.HandlerInvocations.Add(context.Background(), 0, a.Add()...)
	}
	return r
}

func (r *recorder) record(ctx context.Context, oc outcome, d time.Duration, retry bool) {
	ctx = context.WithoutCancel(ctx)
	r.inst.HandlerInvocations.Add(ctx, 1, r.outcomes[oc].Add()...)
	r.inst.HandlerDuration.Record(ctx, d.Seconds(), r.base.Record()...)
	if retry {
		r.inst.HandlerRetries.Add(ctx, 1, r.base.Add()...)
	}
}

func (o *Operator) activityRecorder(id string) *recorder {
	return newRecorder(o.eng.inst, "", id, CauseActivity)
}

// apiMetrics wraps the client transport: every request to the API server
// is counted by verb and code and timed until response headers. This uses
// the injected meter rather than client-go's process-global metrics hooks.
type apiMetrics struct {
	inst *observ.Operator

	mu    sync.Mutex
	attrs map[[2]string]telemetry.Attributes
	verbs map[string]telemetry.Attributes
}

type apiRoundTripper struct {
	next   http.RoundTripper
	m      *apiMetrics
	tracer trace.Tracer // nil when tracing is off
}

// newAPIMetrics returns the transport wrapper that measures every API
// request and, when tracer is not nil, makes each request issued inside a
// span (a handler run) a child span of it, with the W3C traceparent header
// sent to the API server.
func newAPIMetrics(inst *observ.Operator, tracer trace.Tracer) func(http.RoundTripper) http.RoundTripper {
	m := &apiMetrics{inst: inst, attrs: map[[2]string]telemetry.Attributes{}, verbs: map[string]telemetry.Attributes{}}
	return func(rt http.RoundTripper) http.RoundTripper { return &apiRoundTripper{next: rt, m: m, tracer: tracer} }
}

func (a *apiRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	var span trace.Span
	if a.tracer != nil && trace.SpanContextFromContext(req.Context()).IsValid() {
		req, span = a.startSpan(req)
	}
	resp, err := a.next.RoundTrip(req)
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	ctx := context.WithoutCancel(req.Context())
	counts, latency := a.m.sets(req.Method, code)
	a.m.inst.APIRequests.Add(ctx, 1, counts.Add()...)
	a.m.inst.APIDuration.Record(ctx, time.Since(start).Seconds(), latency.Record()...)
	if span != nil {
		endAPISpan(span, resp, err)
	}
	return resp, err
}

func (a *apiMetrics) sets(verb, code string) (telemetry.Attributes, telemetry.Attributes) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := [2]string{verb, code}
	c, ok := a.attrs[k]
	if !ok {
		c = telemetry.NewAttributes(observ.AttrVerb.String(verb), observ.AttrCode.String(code))
		a.attrs[k] = c
	}
	v, ok := a.verbs[verb]
	if !ok {
		v = telemetry.NewAttributes(observ.AttrVerb.String(verb))
		a.verbs[verb] = v
	}
	return c, v
}

// queueMetrics adapts client-go's per-queue MetricsProvider to optel's
// instruments (depth, adds, wait). The work-duration and unfinished-work
// hooks are not exported: optel.handler.duration covers them.
type queueMetrics struct {
	inst  *observ.Operator
	attrs telemetry.Attributes
}

func (q queueMetrics) NewDepthMetric(string) workqueue.GaugeMetric { return depth(q) }
func (q queueMetrics) NewAddsMetric(string) workqueue.CounterMetric {
	return counterFunc(func() { q.inst.QueueAdds.Add(context.Background(), 1, q.attrs.Add()...) })
}
func (q queueMetrics) NewLatencyMetric(string) workqueue.HistogramMetric {
	return histFunc(func(v float64) { q.inst.QueueWait.Record(context.Background(), v, q.attrs.Record()...) })
}
func (queueMetrics) NewWorkDurationMetric(string) workqueue.HistogramMetric { return histFunc(nil) }
func (queueMetrics) NewUnfinishedWorkSecondsMetric(string) workqueue.SettableGaugeMetric {
	return settable{}
}
func (queueMetrics) NewLongestRunningProcessorSecondsMetric(string) workqueue.SettableGaugeMetric {
	return settable{}
}
func (queueMetrics) NewRetriesMetric(string) workqueue.CounterMetric { return counterFunc(nil) }

type depth queueMetrics

func (d depth) Inc() { d.inst.QueueDepth.Add(context.Background(), 1, d.attrs.Add()...) }
func (d depth) Dec() { d.inst.QueueDepth.Add(context.Background(), -1, d.attrs.Add()...) }

type counterFunc func()

func (f counterFunc) Inc() {
	if f != nil {
		f()
	}
}

type histFunc func(float64)

func (f histFunc) Observe(v float64) {
	if f != nil {
		f(v)
	}
}

type settable struct{}

func (settable) Set(float64) {}

func metaFor(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace}
}
