package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/optel-dev/optel/exporters/jsonexp"
	"github.com/optel-dev/optel/exporters/otlp"
	"github.com/optel-dev/optel/exporters/prometheus"
)

func builtinExporters() map[string]ExporterFactory {
	return map[string]ExporterFactory{
		ExporterPrometheus: ExporterFactoryFunc(newPrometheus),
		ExporterOTLP:       ExporterFactoryFunc(newOTLP),
		ExporterJSON:       ExporterFactoryFunc(newJSON),
		ExporterConsole:    ExporterFactoryFunc(newConsole),
	}
}

// The Prometheus exporter gets the user's gatherer, served directly, and no
// producers: bridged client_golang metrics would be dropped by the OTel
// Prometheus exporter, and served twice if they were not.
func newPrometheus(_ context.Context, s ExporterSettings) (Exporter, error) {
	opts := []prometheus.Option{prometheus.WithGatherer(s.Gatherer), prometheus.WithErrorHandler(s.ReportError), prometheus.WithFamilyTransform(s.Naming.transform()), prometheus.WithEncoder(s.PrometheusEncoder), prometheus.WithMaxRequestsInFlight(s.MaxRequestsInFlight)}
	if s.PullReader != nil && s.PrometheusEncoder != prometheus.EncoderStock {
		opts = append(opts, prometheus.WithManualReader(s.PullReader))
	}
	return prometheus.New(opts...)
}

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

func newOTLP(ctx context.Context, s ExporterSettings) (Exporter, error) {
	opts := []otlp.Option{
		otlp.WithProtocol(s.OTLP.Protocol),
		otlp.WithHeaders(s.OTLP.Headers),
		otlp.WithTimeout(s.OTLP.Timeout),
		otlp.WithInsecure(s.OTLP.Insecure),
		otlp.WithCompression(s.OTLP.Compression),
	}
	if s.OTLP.Temporality != "" {
		opts = append(opts, otlp.WithTemporality(s.OTLP.Temporality))
	}
	if s.OTLP.Endpoint != "" {
		opts = append(opts, otlp.WithEndpoint(s.OTLP.Endpoint))
	}
	if s.OTLP.AppendSignalPath {
		opts = append(opts, otlp.WithSignalPathAppended())
	}
	exp, err := otlp.New(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return ReaderExporter(s.PeriodicReader(exp)), nil
}

func newConsole(_ context.Context, s ExporterSettings) (Exporter, error) {
	exp, err := stdoutmetric.New(stdoutmetric.WithWriter(s.Console))
	if err != nil {
		return nil, fmt.Errorf("create console exporter: %w", err)
	}
	return ReaderExporter(s.PeriodicReader(exp)), nil
}

// ReaderExporter adapts a bare reader (e.g. one built with
// ExporterSettings.PeriodicReader) to Exporter.
func ReaderExporter(r sdkmetric.Reader) Exporter { return readerExporter{r} }

type readerExporter struct{ r sdkmetric.Reader }

func (e readerExporter) Reader() sdkmetric.Reader { return e.r }
