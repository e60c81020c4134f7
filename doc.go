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
// Package telemetry builds the one SDK MeterProvider a process uses, with one
// reader per exporter chosen by --telemetry-exporters or
// OTEL_METRICS_EXPORTER. It resolves configuration (options and flags, then
// the OTel environment, then defaults), attaches the resource, applies the
// cardinality limit and views, bridges an existing client_golang registry,
// runs collect-time callbacks, and owns optel's own telemetry-health metrics.
// Exporters are found by name in an ExporterRegistry, so third parties can
// add one without touching optel.
//
// # exporters
//
// Packages exporters/prometheus, exporters/otlp and exporters/jsonexp each
// turn SDK data into one wire format: Prometheus text or OpenMetrics on a
// handler, OTLP over gRPC or HTTP, and a JSON snapshot. They depend on the
// SDK only, never on telemetry or the operator.
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
// # operator
//
// Package operator is the kopf-style runtime: handlers for create, update,
// delete (through a finalizer) and resume, raw watch events, timers,
// per-object and operator-level daemons, startup and cleanup activities, and
// leader election, built on client-go and instrumented through the injected
// meter.
//
// # controlplane
//
// Package controlplane starts a real kube-apiserver and etcd on loopback
// (built from Go modules, no downloads) for tests and for the demo.
//
// # internal
//
// internal/observ names every instrument optel emits (listed in
// docs/metrics.md); internal/testpeers starts the real peers the integration
// tests use: Prometheus, promtool and an OpenTelemetry Collector.
package optel
