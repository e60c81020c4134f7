package telemetry

import (
	"context"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/optel-dev/optel/exporters/console"
	"github.com/optel-dev/optel/exporters/jsonexp"
	"github.com/optel-dev/optel/exporters/otlp"
	"github.com/optel-dev/optel/exporters/prometheus"
)

// builtinExporters registers optel's exporters the way a third party
// registers one: each package owns its config (flags, environment,
// validation), and telemetry only adds the generic inputs.
func builtinExporters() map[string]ExporterFactory {
	return map[string]ExporterFactory{
		ExporterPrometheus: NewExporterFactory(prometheus.NewConfig, newPrometheus),
		ExporterOTLP:       NewExporterFactory(otlp.NewConfig, newOTLP),
		ExporterJSON:       ExporterFactoryFunc(newJSON),
		ExporterConsole:    NewExporterFactory(console.NewConfig, newConsole),
	}
}

// builtinTraceExporters are the trace exporters: otlp and console, each
// behind optel's bounded batch processor, and json, the in-memory view.
func builtinTraceExporters() map[string]TraceExporterFactory {
	return map[string]TraceExporterFactory{
		ExporterOTLP:    NewTraceExporterFactory(otlp.NewConfig, newOTLPTraces),
		ExporterConsole: NewTraceExporterFactory(console.NewConfig, newConsoleTraces),
		ExporterJSON:    TraceExporterFactoryFunc(newJSONTraces),
	}
}

// builtinLogExporters are the log exporters: otlp and console.
func builtinLogExporters() map[string]LogExporterFactory {
	return map[string]LogExporterFactory{
		ExporterOTLP:    NewLogExporterFactory(otlp.NewConfig, newOTLPLogs),
		ExporterConsole: NewLogExporterFactory(console.NewConfig, newConsoleLogs),
	}
}

func newOTLPTraces(ctx context.Context, s ExporterSettings, c *otlp.Config) (TraceExporter, error) {
	exp, err := otlp.NewTraceExporter(ctx, c.TraceOptions()...)
	if err != nil {
		return nil, err
	}
	return SpanProcessorExporter(s.BatchSpans(exp)), nil
}

func newOTLPLogs(ctx context.Context, s ExporterSettings, c *otlp.Config) (LogExporter, error) {
	exp, err := otlp.NewLogExporter(ctx, c.LogOptions()...)
	if err != nil {
		return nil, err
	}
	return LogProcessorExporter(s.BatchLogs(exp)), nil
}

func newConsoleTraces(_ context.Context, s ExporterSettings, c *console.Config) (TraceExporter, error) {
	exp, err := console.NewTraceExporter(c.Options()...)
	if err != nil {
		return nil, err
	}
	return SpanProcessorExporter(s.BatchSpans(exp)), nil
}

func newConsoleLogs(_ context.Context, s ExporterSettings, c *console.Config) (LogExporter, error) {
	exp, err := console.NewLogExporter(c.Options()...)
	if err != nil {
		return nil, err
	}
	return LogProcessorExporter(s.BatchLogs(exp)), nil
}

// The Prometheus exporter gets the user's gatherer, served directly, and no
// producers: bridged client_golang metrics would be dropped by the OTel
// Prometheus exporter, and served twice if they were not.
func newPrometheus(_ context.Context, s ExporterSettings, c *prometheus.Config) (Exporter, error) {
	opts := append(c.Options(), prometheus.WithGatherer(s.Gatherer), prometheus.WithErrorHandler(s.ReportError), prometheus.WithMaxRequestsInFlight(s.MaxRequestsInFlight))
	if s.PullReader != nil && c.Encoder.Value() != prometheus.EncoderStock {
		opts = append(opts, prometheus.WithManualReader(s.PullReader))
	}
	return prometheus.New(opts...)
}

// The json trace exporter is the in-memory view at /traces.json; it keeps
// spans itself, so it needs no batch processor.
func newJSONTraces(context.Context, ExporterSettings) (TraceExporter, error) {
	return jsonexp.NewTraceView(), nil
}

// The JSON exporter has no settings of its own.
func newJSON(_ context.Context, s ExporterSettings) (Exporter, error) {
	if s.PullReader != nil {
		return jsonexp.New(jsonexp.WithManualReader(s.PullReader), jsonexp.WithMaxRequestsInFlight(s.MaxRequestsInFlight)), nil
	}
	opts := []jsonexp.Option{jsonexp.WithMaxRequestsInFlight(s.MaxRequestsInFlight)}
	for _, p := range s.Producers {
		opts = append(opts, jsonexp.WithProducer(p))
	}
	return jsonexp.New(opts...), nil
}

func newOTLP(ctx context.Context, s ExporterSettings, c *otlp.Config) (Exporter, error) {
	exp, err := otlp.New(ctx, c.Options()...)
	if err != nil {
		return nil, err
	}
	return ReaderExporter(s.PeriodicReader(exp, sdkmetric.WithTimeout(c.Timeout.Value()))), nil
}

func newConsole(_ context.Context, s ExporterSettings, c *console.Config) (Exporter, error) {
	exp, err := console.New(c.Options()...)
	if err != nil {
		return nil, err
	}
	return ReaderExporter(s.PeriodicReader(exp)), nil
}

// ReaderExporter adapts a bare reader (e.g. one built with
// ExporterSettings.PeriodicReader) to Exporter.
func ReaderExporter(r sdkmetric.Reader) Exporter { return readerExporter{r} }

type readerExporter struct{ r sdkmetric.Reader }

func (e readerExporter) Reader() sdkmetric.Reader { return e.r }
