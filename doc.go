// Package optel is a Go framework for Kubernetes operators in the style of
// kopf, whose distinguishing feature is format-agnostic telemetry: handlers
// record once through an OpenTelemetry meter and a domain-level probe API,
// and whichever exporters are configured render that same data as Prometheus
// text, OTLP push, or JSON, several at once.
//
// This root package holds no code; it is the map. Data flows one way:
//
//	handler -> meter / probe -> SDK -> reader -> exporter -> wire
//
// and no package imports one above it.
//
// # telemetry
//
// Package telemetry builds the one SDK MeterProvider a process uses, and
// its TracerProvider and LoggerProvider (trace exporters from
// --traces-exporters or OTEL_TRACES_EXPORTER, default json; log exporters
// from --logs-exporters or OTEL_LOGS_EXPORTER, default none; each behind a
// bounded batch processor that counts what it drops), with the metric
// exporters chosen by --telemetry-exporters or OTEL_METRICS_EXPORTER:
// one reader per push exporter, and one reader shared by the pull exporters
// (Prometheus and JSON), so each series is aggregated once for both. It resolves configuration (options and flags, then
// the OTel environment, then defaults), attaches the resource, applies the
// cardinality limit and views, bridges an existing client_golang registry,
// runs collect-time callbacks, and owns optel's own telemetry-health metrics.
// Exporters are found by name in an ExporterRegistry, so third parties can
// add one without touching optel. telemetry keeps only what is
// cross-cutting (which exporters run, the resource, the interval,
// cardinality, views, the exemplar filter, optel's naming profile, collect
// hooks); each exporter owns its settings in an ExporterConfig that binds
// its flags and reads its environment. Package telemetry/setting is the
// vocabulary for that (setting.Var, setting.Error) and imports nothing of
// optel.
//
// # exporters
//
// Packages exporters/prometheus, exporters/otlp, exporters/jsonexp and
// exporters/console each turn SDK data into one wire format: Prometheus
// text or OpenMetrics on a handler (rendered straight from the SDK's data
// by optel's own encoder, or by the stock OTel exporter, with an optional
// render-time FamilyTransform), OTLP over gRPC or HTTP (split into
// Collector-sized requests), a JSON snapshot, and JSON lines on a writer.
// Each owns its settings (otlp.Config, prometheus.Config, console.Config).
// They depend on the SDK and telemetry/setting only, never on telemetry,
// internal/observ or the operator, so they know no optel metric names.
//
// # probes
//
// Package probes is the domain-level health API: liveness and readiness
// probes by id, cached, de-duplicated, bounded by a deadline, reported as
// JSON (with a kopf-compatible form) and as metrics.
//
// # server
//
// Package server exposes telemetry routes (/metrics, /metrics.json) and probe
// routes (/healthz, /readyz) on one listener by default, or two.
//
// # statusz
//
// Package statusz serves the live status page (GET / and /statusz): one
// self-contained HTML page that draws handlers, probes, queues, watches,
// daemons, timers and API calls from /metrics.json and the probe reports.
//
// # operator
//
// Package operator is the kopf-style runtime: typed handles on resources
// (For, ForBuiltin), handlers for create, update, field, delete (through a
// finalizer) and resume, raw watch events, level-based Reconcile with owned
// children (Owns, Adopt) and mapped watches, timers, per-object and
// operator-level daemons, startup and cleanup activities, Kubernetes Events
// and conditions, cache reads and measured clients, and leader election,
// built on client-go and instrumented through the injected meter and
// tracer: every handler run is a span (linked to the object's
// tracing.k8s.io/traceparent), API calls made in it are child spans, and
// its logger carries the trace. Its engine (one controller per resource)
// depends on its own small set of dependencies, not on the Operator.
//
// # controlplane
//
// Package controlplane starts a real kube-apiserver and etcd on loopback
// (built from Go modules, no downloads), and optionally kube-controller-manager
// (garbage collector, deployment, ReplicaSet and namespace controllers) and
// the API server's audit log, for tests and for the demos.
//
// # bench
//
// The bench/ directory is a separate Go module with the comparison suite
// (`make bench`): optel against the raw OTel SDK, client_golang, the stock
// Prometheus exporter and controller-runtime, side by side in one run.
//
// # internal
//
// internal/observ names every instrument optel emits (listed in
// docs/metrics.md); internal/testpeers starts the real peers the integration
// tests use: Prometheus, promtool, an OpenTelemetry Collector and headless
// Chromium.
package optel
