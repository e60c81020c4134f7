package telemetry

import (
	"context"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// Log settings: environment variables New reads, and their defaults.
const (
	EnvLogsExporter       = "OTEL_LOGS_EXPORTER"
	EnvBLRPQueueSize      = "OTEL_BLRP_MAX_QUEUE_SIZE"
	EnvBLRPScheduleDelay  = "OTEL_BLRP_SCHEDULE_DELAY"
	EnvBLRPExportTimeout  = "OTEL_BLRP_EXPORT_TIMEOUT"
	EnvBLRPMaxExportBatch = "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"

	// DefaultLogsExporters is none: logs go to stderr only unless a log
	// exporter is chosen (the specification's default is otlp).
	DefaultLogsExporters = ExporterNone
)

// DefaultLogBatch are the OTel specification's batch log record processor
// defaults.
var DefaultLogBatch = BatchSettings{MaxQueueSize: 2048, MaxBatchSize: 512, ScheduleDelay: time.Second, ExportTimeout: 30 * time.Second}

// LogExporter is what a log exporter factory builds: a processor for the
// LoggerProvider.
type LogExporter interface {
	LogProcessor() sdklog.Processor
}

// LogExporterFactory builds a log exporter from the generic inputs and, if
// it implements ExporterConfigFactory, the name's config.
type LogExporterFactory interface {
	NewLogExporter(ctx context.Context, s ExporterSettings) (LogExporter, error)
}

// LogExporterFactoryFunc adapts a function to LogExporterFactory.
type LogExporterFactoryFunc func(ctx context.Context, s ExporterSettings) (LogExporter, error)

// NewLogExporter calls f.
func (f LogExporterFactoryFunc) NewLogExporter(ctx context.Context, s ExporterSettings) (LogExporter, error) {
	return f(ctx, s)
}

var _ LogExporterFactory = LogExporterFactoryFunc(nil)

// NewLogExporterFactory pairs a config constructor with a build function,
// as NewExporterFactory does for metrics.
func NewLogExporterFactory[C ExporterConfig](newConfig func() C, build func(ctx context.Context, s ExporterSettings, c C) (LogExporter, error)) LogExporterFactory {
	return logConfigFactory[C]{typedFactory[C, LogExporter]{kind: "log exporter", newConfig: newConfig, build: build}}
}

type logConfigFactory[C ExporterConfig] struct{ typedFactory[C, LogExporter] }

func (f logConfigFactory[C]) NewLogExporter(ctx context.Context, s ExporterSettings) (LogExporter, error) {
	return f.buildFrom(ctx, s)
}

// LogProcessorExporter adapts a log processor (e.g. one built with
// ExporterSettings.BatchLogs) to LogExporter.
func LogProcessorExporter(p sdklog.Processor) LogExporter { return logProcessorExporter{p} }

type logProcessorExporter struct{ p sdklog.Processor }

func (e logProcessorExporter) LogProcessor() sdklog.Processor { return e.p }

// BatchLogs wraps a log exporter in optel's bounded batch processor
// (s.Batch): writing a log never blocks; records that do not fit the
// queue, whose export fails, or that are still queued when a shutdown's
// deadline passes are dropped and counted in optel.telemetry.logs.dropped.
func (s ExporterSettings) BatchLogs(exp sdklog.Exporter) sdklog.Processor {
	return logBatcher{newBatcher(s.Batch, exp.Export, exp.Shutdown, s.reportError(), s.reportSuccess(), s.reportDroppedItems())}
}

// WithLogsExporters selects the log exporters, as --logs-exporters and
// OTEL_LOGS_EXPORTER do: otlp, console, a registered third-party name, or
// none (the default: stderr only).
func WithLogsExporters(list string) Option {
	return optionFunc(func(c *config) { c.logsRaw, c.logs.src = list, "WithLogsExporters" })
}

// WithLogProcessor adds a log processor besides the configured exporters,
// e.g. in tests. The provider shuts it down.
func WithLogProcessor(p sdklog.Processor) Option {
	return optionFunc(func(c *config) { c.logProcessors = append(c.logProcessors, p) })
}

func (c *config) resolveLogs() error {
	raw, src := c.logsRaw, c.logs.src
	if src == "" {
		if v, ok := c.env(EnvLogsExporter); ok {
			raw, src = v, EnvLogsExporter
		} else {
			raw, src = DefaultLogsExporters, "default"
		}
	}
	list, err := parseSignalExporters(src, raw, c.registry, SignalLogs)
	if err != nil {
		return err
	}
	c.logs.set(list, src)
	c.logBatch, err = c.batchFromEnv(DefaultLogBatch, EnvBLRPQueueSize, EnvBLRPMaxExportBatch, EnvBLRPScheduleDelay, EnvBLRPExportTimeout)
	return err
}
