// Package observ holds every instrument that optel itself emits: the names,
// units, descriptions and attribute keys, in one place. docs/metrics.md is
// checked against Catalog by a test, so a new instrument must be added here
// and to the docs together.
//
// Nothing here is global: each constructor takes the metric.Meter it records
// through, which comes from the MeterProvider the user injected.
package observ

import (
	"errors"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of every instrument optel emits.
const ScopeName = "github.com/optel-dev/optel"

// Instrument names. Prometheus renders them with underscores and unit and
// type suffixes, e.g. optel.probe.duration -> optel_probe_duration_seconds.
const (
	ExportFailures   = "optel.telemetry.export.failures"
	CallbackFailures = "optel.telemetry.callback.failures"
	ExportDropped    = "optel.telemetry.export.dropped_points"
	ExpoSanitized    = "optel.telemetry.exposition.sanitized"
	ExpoDropped      = "optel.telemetry.exposition.dropped"
	SpansDropped     = "optel.telemetry.spans.dropped"
	SpanFailures     = "optel.telemetry.spans.export_failures"
	LogsDropped      = "optel.telemetry.logs.dropped"
	LogFailures      = "optel.telemetry.logs.export_failures"
	ProbeStatus      = "optel.probe.status"
	ProbeDuration    = "optel.probe.duration"

	HandlerInvocations = "optel.handler.invocations"
	HandlerDuration    = "optel.handler.duration"
	HandlerRetries     = "optel.handler.retries"
	QueueDepth         = "optel.queue.depth"
	QueueWait          = "optel.queue.wait"
	QueueAdds          = "optel.queue.adds"
	WorkersActive      = "optel.workers.active"
	WatchEvents        = "optel.watch.events"
	WatchRestarts      = "optel.watch.restarts"
	Objects            = "optel.objects"
	DaemonsRunning     = "optel.daemons.running"
	DaemonRestarts     = "optel.daemon.restarts"
	TimerLateness      = "optel.timer.lateness"
	Leader             = "optel.leader"
	APIRequests        = "optel.api.requests"
	APIDuration        = "optel.api.duration"

	ObjectHandlerInvocations = "optel.object.handler.invocations"
)

// Attribute keys used by optel's own instruments.
const (
	AttrExporter  = attribute.Key("exporter")
	AttrProbe     = attribute.Key("probe")
	AttrProbeKind = attribute.Key("kind")
	AttrResource  = attribute.Key("resource")
	AttrHandler   = attribute.Key("handler")
	AttrCause     = attribute.Key("cause")
	AttrOutcome   = attribute.Key("outcome")
	AttrEventType = attribute.Key("type")
	AttrDaemon    = attribute.Key("daemon")
	AttrVerb      = attribute.Key("verb")
	AttrCode      = attribute.Key("code")
	AttrReason    = attribute.Key("reason")
	AttrNamespace = attribute.Key("namespace")
	AttrName      = attribute.Key("name")
)

// Spec describes one instrument for documentation and tests.
type Spec struct {
	Name        string
	Kind        string // counter, gauge, histogram, updowncounter
	Unit        string
	Description string
	Attributes  []attribute.Key
}

// Catalog lists every instrument optel emits, in documentation order.
var Catalog = []Spec{
	{ExportFailures, "counter", "{failure}", "Metric exports that failed, by exporter. Failures never block recording; the next export carries cumulative values.", []attribute.Key{AttrExporter}},
	{CallbackFailures, "counter", "{failure}", "Collect-time callbacks that returned an error or panicked.", nil},
	{ExportDropped, "counter", "{point}", "Delta-temporality data points lost because their export failed (only with --otlp-temporality delta or lowmemory; cumulative points are carried by the next export), by exporter.", []attribute.Key{AttrExporter}},
	{ExpoSanitized, "counter", "{value}", "Label values and HELP texts with invalid UTF-8, which would make Prometheus reject the whole scrape, that the Prometheus exporter wrote with U+FFFD instead (reason invalid_utf8); counted on every rendering that writes them, by exporter.", []attribute.Key{AttrExporter, AttrReason}},
	{ExpoDropped, "counter", "{series}", "Series the Prometheus exporter left out of a rendering because an earlier series of the family had the same labels (reason duplicate_series: several scopes, or attributes that render alike), counted on every rendering, by exporter.", []attribute.Key{AttrExporter, AttrReason}},
	{SpansDropped, "counter", "{span}", "Sampled spans a trace exporter lost, by exporter and reason: queue_full (the bounded queue between handlers and the exporter was full; ending a span never waits), export_failed (the exporter gave up on the batch, e.g. the collector is down) or shutdown (still queued when the shutdown deadline passed).", []attribute.Key{AttrExporter, AttrReason}},
	{SpanFailures, "counter", "{failure}", "Span batch exports that failed, by exporter.", []attribute.Key{AttrExporter}},
	{LogsDropped, "counter", "{record}", "Log records a log exporter lost, by exporter and reason (queue_full, export_failed, shutdown, as for spans). Records also go to stderr, which loses none.", []attribute.Key{AttrExporter, AttrReason}},
	{LogFailures, "counter", "{failure}", "Log batch exports that failed, by exporter.", []attribute.Key{AttrExporter}},
	{ProbeStatus, "gauge", "", "Result of the last run of a probe: 1 passed, 0 failed.", []attribute.Key{AttrProbe, AttrProbeKind}},
	{ProbeDuration, "histogram", "s", "Time a probe took to run, including a timeout.", []attribute.Key{AttrProbe, AttrProbeKind}},
	{HandlerInvocations, "counter", "{invocation}", "Handler runs by outcome: success, temporary_error, permanent_error, panic or timeout. Initialised to 0 for every registered handler.", []attribute.Key{AttrResource, AttrHandler, AttrCause, AttrOutcome}},
	{HandlerDuration, "histogram", "s", "Time a handler run took.", []attribute.Key{AttrResource, AttrHandler, AttrCause}},
	{HandlerRetries, "counter", "{retry}", "Handler runs that were retries of a failed run.", []attribute.Key{AttrResource, AttrHandler, AttrCause}},
	{QueueDepth, "updowncounter", "{item}", "Object keys waiting in the work queue.", []attribute.Key{AttrResource}},
	{QueueWait, "histogram", "s", "Time a key waited in the work queue before a worker took it.", []attribute.Key{AttrResource}},
	{QueueAdds, "counter", "{item}", "Keys added to the work queue.", []attribute.Key{AttrResource}},
	{WorkersActive, "updowncounter", "{worker}", "Workers currently handling a key, out of --workers per resource.", []attribute.Key{AttrResource}},
	{WatchEvents, "counter", "{event}", "Watch events received, by type (added, modified, deleted).", []attribute.Key{AttrResource, AttrEventType}},
	{WatchRestarts, "counter", "{restart}", "Watches that ended abnormally and were re-established, by reason: gone (410, re-list), error (could not open, or an ERROR event), closed (stream ended before its timeout).", []attribute.Key{AttrResource, AttrReason}},
	{Objects, "gauge", "{object}", "Objects in the informer cache.", []attribute.Key{AttrResource}},
	{DaemonsRunning, "updowncounter", "{daemon}", "Per-object and operator-level daemons currently running.", []attribute.Key{AttrDaemon}},
	{DaemonRestarts, "counter", "{restart}", "Daemons restarted after returning an error.", []attribute.Key{AttrDaemon}},
	{TimerLateness, "histogram", "s", "How late a timer fired compared with its schedule.", []attribute.Key{AttrResource, AttrHandler}},
	{Leader, "gauge", "", "1 while this replica is the leader (or leader election is off), else 0.", nil},
	{APIRequests, "counter", "{request}", "Kubernetes API requests by HTTP verb and status code (code is \"error\" when no response arrived).", []attribute.Key{AttrVerb, AttrCode}},
	{APIDuration, "histogram", "s", "Kubernetes API request latency until response headers.", []attribute.Key{AttrVerb}},
	{ObjectHandlerInvocations, "counter", "{invocation}", "Opt-in (--per-object-metrics): handler runs per object and outcome. Series are dropped when the object is deleted.", []attribute.Key{AttrResource, AttrNamespace, AttrName, AttrHandler, AttrCause, AttrOutcome}},
}

// PrometheusName is the name the pinned Prometheus translation
// (UnderscoreEscapingWithSuffixes) gives the instrument, for the units optel
// uses. A real-scrape test in examples/standalone checks it.
func (s Spec) PrometheusName() string {
	n := strings.ReplaceAll(s.Name, ".", "_")
	if s.Unit == "s" {
		n += "_seconds"
	}
	if s.Kind == "counter" {
		n += "_total"
	}
	return n
}

func spec(name string) Spec {
	for _, s := range Catalog {
		if s.Name == name {
			return s
		}
	}
	panic("observ: instrument " + name + " missing from Catalog") // programming error, caught by tests
}

// DurationBuckets are the explicit histogram boundaries, in seconds, used for
// every seconds histogram optel creates (the OTel semantic-conventions HTTP
// duration set). The SDK default buckets suit milliseconds.
var DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// builder creates instruments from their Catalog specs, keeping the first
// error, so every constructor below reads as a list of names.
type builder struct {
	m    metric.Meter
	errs []error
}

func (b *builder) opts(name string) (string, string, string) {
	s := spec(name)
	return s.Name, s.Unit, s.Description
}

func (b *builder) counter(name string) metric.Int64Counter {
	n, u, d := b.opts(name)
	c, err := b.m.Int64Counter(n, metric.WithUnit(u), metric.WithDescription(d))
	b.errs = append(b.errs, err)
	return c
}

func (b *builder) updown(name string) metric.Int64UpDownCounter {
	n, u, d := b.opts(name)
	c, err := b.m.Int64UpDownCounter(n, metric.WithUnit(u), metric.WithDescription(d))
	b.errs = append(b.errs, err)
	return c
}

func (b *builder) gauge(name string) metric.Int64Gauge {
	n, u, d := b.opts(name)
	g, err := b.m.Int64Gauge(n, metric.WithUnit(u), metric.WithDescription(d))
	b.errs = append(b.errs, err)
	return g
}

func (b *builder) observableCounter(name string) metric.Int64ObservableCounter {
	n, u, d := b.opts(name)
	c, err := b.m.Int64ObservableCounter(n, metric.WithUnit(u), metric.WithDescription(d))
	b.errs = append(b.errs, err)
	return c
}

func (b *builder) observableGauge(name string) metric.Int64ObservableGauge {
	n, u, d := b.opts(name)
	g, err := b.m.Int64ObservableGauge(n, metric.WithUnit(u), metric.WithDescription(d))
	b.errs = append(b.errs, err)
	return g
}

// seconds creates a histogram in seconds with DurationBuckets.
func (b *builder) seconds(name string) metric.Float64Histogram {
	n, u, d := b.opts(name)
	h, err := b.m.Float64Histogram(n, metric.WithUnit(u), metric.WithDescription(d), metric.WithExplicitBucketBoundaries(DurationBuckets...))
	b.errs = append(b.errs, err)
	return h
}

func (b *builder) err() error { return errors.Join(b.errs...) }

// Telemetry are the instruments of the telemetry package itself.
type Telemetry struct {
	ExportFailures   metric.Int64ObservableCounter
	CallbackFailures metric.Int64ObservableCounter
	ExportDropped    metric.Int64ObservableCounter
	ExpoSanitized    metric.Int64ObservableCounter
	ExpoDropped      metric.Int64ObservableCounter
	SpansDropped     metric.Int64ObservableCounter
	SpanFailures     metric.Int64ObservableCounter
	LogsDropped      metric.Int64ObservableCounter
	LogFailures      metric.Int64ObservableCounter
}

// Reasons of ExpoSanitized and ExpoDropped.
const (
	ReasonInvalidUTF8     = "invalid_utf8"
	ReasonDuplicateSeries = "duplicate_series"
)

// NewTelemetry creates the telemetry package's instruments on m. They are
// observable: values live in atomics owned by the caller and are read at
// collection time, so nothing here can block an export path.
func NewTelemetry(m metric.Meter) (Telemetry, error) {
	b := &builder{m: m}
	t := Telemetry{
		ExportFailures:   b.observableCounter(ExportFailures),
		CallbackFailures: b.observableCounter(CallbackFailures),
		ExportDropped:    b.observableCounter(ExportDropped),
		ExpoSanitized:    b.observableCounter(ExpoSanitized),
		ExpoDropped:      b.observableCounter(ExpoDropped),
		SpansDropped:     b.observableCounter(SpansDropped),
		SpanFailures:     b.observableCounter(SpanFailures),
		LogsDropped:      b.observableCounter(LogsDropped),
		LogFailures:      b.observableCounter(LogFailures),
	}
	return t, b.err()
}

// Probes are the instruments of the probes package.
type Probes struct {
	Status   metric.Int64Gauge
	Duration metric.Float64Histogram
}

// NewProbes creates the probe instruments on m.
func NewProbes(m metric.Meter) (Probes, error) {
	b := &builder{m: m}
	p := Probes{Status: b.gauge(ProbeStatus), Duration: b.seconds(ProbeDuration)}
	return p, b.err()
}

// Operator are the operator runtime's instruments.
type Operator struct {
	HandlerInvocations metric.Int64Counter
	HandlerDuration    metric.Float64Histogram
	HandlerRetries     metric.Int64Counter
	QueueDepth         metric.Int64UpDownCounter
	QueueWait          metric.Float64Histogram
	QueueAdds          metric.Int64Counter
	WorkersActive      metric.Int64UpDownCounter
	WatchEvents        metric.Int64Counter
	WatchRestarts      metric.Int64Counter
	Objects            metric.Int64ObservableGauge
	DaemonsRunning     metric.Int64UpDownCounter
	DaemonRestarts     metric.Int64Counter
	TimerLateness      metric.Float64Histogram
	Leader             metric.Int64ObservableGauge
	APIRequests        metric.Int64Counter
	APIDuration        metric.Float64Histogram

	ObjectHandlerInvocations metric.Int64ObservableCounter
}

// NewOperator creates the operator runtime's instruments on m. The
// observable instruments have no callback yet: the runtime registers one.
func NewOperator(m metric.Meter) (Operator, error) {
	b := &builder{m: m}
	o := Operator{
		HandlerInvocations:       b.counter(HandlerInvocations),
		HandlerDuration:          b.seconds(HandlerDuration),
		HandlerRetries:           b.counter(HandlerRetries),
		QueueDepth:               b.updown(QueueDepth),
		QueueWait:                b.seconds(QueueWait),
		QueueAdds:                b.counter(QueueAdds),
		WorkersActive:            b.updown(WorkersActive),
		WatchEvents:              b.counter(WatchEvents),
		WatchRestarts:            b.counter(WatchRestarts),
		Objects:                  b.observableGauge(Objects),
		DaemonsRunning:           b.updown(DaemonsRunning),
		DaemonRestarts:           b.counter(DaemonRestarts),
		TimerLateness:            b.seconds(TimerLateness),
		Leader:                   b.observableGauge(Leader),
		APIRequests:              b.counter(APIRequests),
		APIDuration:              b.seconds(APIDuration),
		ObjectHandlerInvocations: b.observableCounter(ObjectHandlerInvocations),
	}
	return o, b.err()
}
