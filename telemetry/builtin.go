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
