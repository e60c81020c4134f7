// Package telemetry builds the one OTel MeterProvider a process uses and
// renders it through the exporters chosen by --telemetry-exporters or
// OTEL_METRICS_EXPORTER (several at once), beside a TracerProvider
// (--traces-exporters, OTEL_TRACES_EXPORTER: json by default, otlp,
// console; OTEL_TRACES_SAMPLER) and a LoggerProvider (--logs-exporters,
// OTEL_LOGS_EXPORTER: none by default, otlp, console). Spans and log
// records pass through a bounded queue per exporter: ending a span never
// waits, and what is dropped is counted (optel.telemetry.spans.dropped,
// optel.telemetry.logs.dropped). With traces off, TracerProvider is a no-op.
//
// Entry point: New(ctx, opts...), usually with Flags:
//
//	var tf telemetry.Flags
//	tf.BindFlags(pflag.CommandLine) // telemetry's flags and every registered exporter's
//	pflag.Parse()
//	tp, err := telemetry.New(ctx, tf.Options()...)
//
// telemetry keeps only what is cross-cutting: which exporters run, the
// resource, the export interval, the cardinality limit, views, the exemplar
// filter, optel's naming profile (--metrics-naming), collect hooks, the
// client_golang bridge and optel's own telemetry-health metrics. Each
// exporter owns its settings: its factory in the ExporterRegistry may
// implement ExporterConfigFactory, whose ExporterConfig binds the
// exporter's flags, reads its environment through the lookup New was given
// (WithEnvironment) and validates; the factory then gets that config,
// resolved, in ExporterSettings.Config, beside generic inputs only.
// Third-party exporters register the same way (NewExporterFactory), and
// their flags and variables appear in --help and in
// ExporterRegistry.Environment with no change to optel.
//
// Precedence, for every setting: a flag given on the command line, then
// code (options, WithExporterConfig), then the environment, then the
// default. A bad value is an error wrapping ErrInvalidConfig that names the
// flag, variable or option and what is accepted.
//
// Lifecycle: push exporters start exporting in New, which never dials;
// pull exporters serve Routes once mounted (package server). Shutdown
// flushes within the context's deadline and is idempotent; afterwards
// instruments drop measurements and ForceFlush returns ErrShutdown. A
// Provider is safe for concurrent use; Flags and ExporterConfig values are
// for start-up, from one goroutine.
package telemetry
