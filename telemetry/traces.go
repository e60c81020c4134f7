package telemetry

import (
	"context"
	"strconv"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Trace settings: environment variables New reads, and their defaults.
const (
	EnvTracesExporter    = "OTEL_TRACES_EXPORTER"
	EnvTracesSampler     = "OTEL_TRACES_SAMPLER"
	EnvTracesSamplerArg  = "OTEL_TRACES_SAMPLER_ARG"
	EnvBSPQueueSize      = "OTEL_BSP_MAX_QUEUE_SIZE"
	EnvBSPScheduleDelay  = "OTEL_BSP_SCHEDULE_DELAY"
	EnvBSPExportTimeout  = "OTEL_BSP_EXPORT_TIMEOUT"
	EnvBSPMaxExportBatch = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"

	// DefaultTracesExporters is json, the in-memory view served at
	// /traces.json, so traces are visible with no backend. The OTel
	// specification's default is otlp; optel deviates, as it does for
	// metrics, so that a process with no collector configured neither
	// dials one nor loses its traces.
	DefaultTracesExporters = ExporterJSON
	// DefaultSampler is the specification's default.
	DefaultSampler = "parentbased_always_on"
)

// DefaultSpanBatch are the OTel specification's batch span processor
// defaults.
var DefaultSpanBatch = BatchSettings{MaxQueueSize: 2048, MaxBatchSize: 512, ScheduleDelay: 5 * time.Second, ExportTimeout: 30 * time.Second}

// TraceExporter is what a trace exporter factory builds: a span processor
// for the TracerProvider. It may also implement RouteProvider (the json
// exporter serves /traces.json).
type TraceExporter interface {
	SpanProcessor() sdktrace.SpanProcessor
}

// TraceExporterFactory builds a trace exporter from the generic inputs and,
// if it implements ExporterConfigFactory, the name's config.
type TraceExporterFactory interface {
	NewTraceExporter(ctx context.Context, s ExporterSettings) (TraceExporter, error)
}

// TraceExporterFactoryFunc adapts a function to TraceExporterFactory.
type TraceExporterFactoryFunc func(ctx context.Context, s ExporterSettings) (TraceExporter, error)

// NewTraceExporter calls f.
func (f TraceExporterFactoryFunc) NewTraceExporter(ctx context.Context, s ExporterSettings) (TraceExporter, error) {
	return f(ctx, s)
}

var _ TraceExporterFactory = TraceExporterFactoryFunc(nil)

// NewTraceExporterFactory pairs a config constructor with a build function,
// as NewExporterFactory does for metrics.
func NewTraceExporterFactory[C ExporterConfig](newConfig func() C, build func(ctx context.Context, s ExporterSettings, c C) (TraceExporter, error)) TraceExporterFactory {
	return traceConfigFactory[C]{typedFactory[C, TraceExporter]{kind: "trace exporter", newConfig: newConfig, build: build}}
}

type traceConfigFactory[C ExporterConfig] struct{ typedFactory[C, TraceExporter] }

func (f traceConfigFactory[C]) NewTraceExporter(ctx context.Context, s ExporterSettings) (TraceExporter, error) {
	return f.buildFrom(ctx, s)
}

// SpanProcessorExporter adapts a span processor (e.g. one built with
// ExporterSettings.BatchSpans) to TraceExporter.
func SpanProcessorExporter(p sdktrace.SpanProcessor) TraceExporter { return spanProcessorExporter{p} }

type spanProcessorExporter struct{ p sdktrace.SpanProcessor }

func (e spanProcessorExporter) SpanProcessor() sdktrace.SpanProcessor { return e.p }

// BatchSpans wraps a span exporter in optel's bounded batch processor
// (s.Batch): ending a span never blocks; spans that do not fit the queue,
// whose export fails, or that are still queued when a shutdown's deadline
// passes are dropped and counted in optel.telemetry.spans.dropped under
// s.Name. Third-party span exporters should use it.
func (s ExporterSettings) BatchSpans(exp sdktrace.SpanExporter) sdktrace.SpanProcessor {
	return spanBatcher{newBatcher(s.Batch, exp.ExportSpans, exp.Shutdown, s.reportError(), s.reportSuccess(), s.reportDroppedItems())}
}

// FollowLinks returns a sampler that, for a span with no parent but with
// Span Links (a handler span linked to the tracing.k8s.io/traceparent of
// its object), samples it exactly when one of the linked contexts is
// sampled, so a trace that was sampled upstream is sampled here too, and
// one that was not is not. Any other span is left to base.
func FollowLinks(base sdktrace.Sampler) sdktrace.Sampler { return followLinks{base} }

type followLinks struct{ base sdktrace.Sampler }

func (f followLinks) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if trace.SpanContextFromContext(p.ParentContext).IsValid() {
		return f.base.ShouldSample(p)
	}
	linked, sampled := false, false
	for _, l := range p.Links {
		if l.SpanContext.IsValid() {
			linked = true
			sampled = sampled || l.SpanContext.IsSampled()
		}
	}
	if !linked {
		return f.base.ShouldSample(p)
	}
	if sampled {
		return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample}
	}
	return sdktrace.SamplingResult{Decision: sdktrace.Drop}
}

func (f followLinks) Description() string { return "FollowLinks{" + f.base.Description() + "}" }

const acceptedSamplers = "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio"

// parseSampler builds the sampler OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG name. The argument is the ratio of the
// traceidratio samplers, in [0, 1], default 1; other samplers ignore it.
func parseSampler(src, name, argSrc, arg string) (sdktrace.Sampler, error) {
	ratio := func() (float64, error) {
		if strings.TrimSpace(arg) == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(strings.TrimSpace(arg), 64)
		if err != nil || r < 0 || r > 1 {
			return 0, &ConfigError{Source: argSrc, Value: arg, Reason: "not a sampling ratio", Accepted: "a number from 0 to 1"}
		}
		return r, nil
	}
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		return sdktrace.TraceIDRatioBased(r), nil
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	}
	return nil, &ConfigError{Source: src, Value: name, Reason: "unknown sampler", Accepted: acceptedSamplers}
}

// WithTracesExporters selects the trace exporters, as --traces-exporters
// and OTEL_TRACES_EXPORTER do: a comma-separated list of otlp, json,
// console, a registered third-party name, or none. Default json.
func WithTracesExporters(list string) Option {
	return optionFunc(func(c *config) { c.tracesRaw, c.traces.src = list, "WithTracesExporters" })
}

// WithSampler replaces the sampler OTEL_TRACES_SAMPLER would select.
func WithSampler(s sdktrace.Sampler) Option {
	return optionFunc(func(c *config) { c.sampler = s })
}

// WithSamplingFollowsLinks wraps the sampler (from WithSampler, or
// OTEL_TRACES_SAMPLER) in FollowLinks: a handler span linked to its
// object's traceparent is sampled as the linked trace was.
func WithSamplingFollowsLinks() Option {
	return optionFunc(func(c *config) { c.followLinks = true })
}

// WithSpanProcessor adds a span processor besides the configured exporters,
// e.g. a tracetest.SpanRecorder in tests. It turns tracing on even when no
// trace exporter is selected. The provider shuts it down.
func WithSpanProcessor(p sdktrace.SpanProcessor) Option {
	return optionFunc(func(c *config) { c.spanProcessors = append(c.spanProcessors, p) })
}

// resolveTraces settles the trace exporters, the sampler and the batch
// settings: options, then the environment, then defaults.
func (c *config) resolveTraces() error {
	raw, src := c.tracesRaw, c.traces.src
	if src == "" {
		if v, ok := c.env(EnvTracesExporter); ok {
			raw, src = v, EnvTracesExporter
		} else {
			raw, src = DefaultTracesExporters, "default"
		}
	}
	list, err := parseSignalExporters(src, raw, c.registry, SignalTraces)
	if err != nil {
		return err
	}
	c.traces.set(list, src)
	if c.sampler == nil {
		name, nameSrc := DefaultSampler, "default"
		if v, ok := c.env(EnvTracesSampler); ok {
			name, nameSrc = v, EnvTracesSampler
		}
		arg, _ := c.env(EnvTracesSamplerArg)
		s, err := parseSampler(nameSrc, name, EnvTracesSamplerArg, arg)
		if err != nil {
			return err
		}
		c.sampler = s
	}
	if c.followLinks {
		c.sampler = FollowLinks(c.sampler)
	}
	c.spanBatch, err = c.batchFromEnv(DefaultSpanBatch, EnvBSPQueueSize, EnvBSPMaxExportBatch, EnvBSPScheduleDelay, EnvBSPExportTimeout)
	return err
}

// batchFromEnv reads one processor's batch settings from its variables.
func (c *config) batchFromEnv(def BatchSettings, queue, batch, delay, timeout string) (BatchSettings, error) {
	b := def
	for _, v := range []struct {
		name string
		n    *int
	}{{queue, &b.MaxQueueSize}, {batch, &b.MaxBatchSize}} {
		if raw, ok := c.env(v.name); ok {
			n, err := strconv.Atoi(strings.TrimSpace(raw))
			if err != nil || n <= 0 {
				return b, &ConfigError{Source: v.name, Value: raw, Reason: "not a positive integer", Accepted: "a positive integer"}
			}
			*v.n = n
		}
	}
	for _, v := range []struct {
		name string
		d    *time.Duration
	}{{delay, &b.ScheduleDelay}, {timeout, &b.ExportTimeout}} {
		if raw, ok := c.env(v.name); ok {
			d, err := parseMillis(v.name, raw)
			if err != nil {
				return b, err
			}
			if d <= 0 {
				return b, &ConfigError{Source: v.name, Value: raw, Reason: "must be greater than zero", Accepted: "a positive number of milliseconds"}
			}
			*v.d = d
		}
	}
	if b.MaxBatchSize > b.MaxQueueSize {
		b.MaxBatchSize = b.MaxQueueSize
	}
	return b, nil
}
