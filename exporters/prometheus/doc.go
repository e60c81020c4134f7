// Package prometheus exposes OTel SDK metrics in the Prometheus text format
// and OpenMetrics on an HTTP handler.
//
// New builds the stock go.opentelemetry.io/otel/exporters/prometheus reader
// into a private client_golang registry (no globals) and serves it with
// promhttp: content negotiation picks OpenMetrics when the scraper asks, and
// responses are gzip-compressed when accepted. Metric names follow the pinned
// TranslationStrategy: underscores, unit suffixes and _total on counters.
// Scope labels are dropped by default (WithScopeInfo keeps them); target_info
// carries the resource.
//
// An existing client_golang registry passed with WithGatherer is served on the
// same handler directly. It is not bridged through the OTel SDK here, because
// the OTel Prometheus exporter drops bridged client_golang metrics; the
// telemetry package bridges it to the other exporters instead.
//
// Concurrent scrapes share one collection: a scrape that arrives while a
// collection runs waits for it and encodes the same data, so a storm of
// scrapers costs one collection at a time (Collections counts them).
//
// Lifecycle: the reader is shut down by the MeterProvider; after that a
// scrape returns only the foreign gatherers' metrics. Handler is safe for
// concurrent use.
package prometheus
