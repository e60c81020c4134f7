// Package prometheus exposes OTel SDK metrics in the Prometheus text format
// and OpenMetrics on an HTTP handler.
//
// Two encoders sit behind one API (WithEncoder, or --prometheus-encoder):
//
//   - EncoderOptel (default): a ManualReader collects into a ResourceMetrics
//     kept between scrapes, and render.go writes the text format or
//     OpenMetrics straight from metricdata into a pooled buffer (textfmt.go
//     holds the byte-level formatting). Nothing is converted into
//     client_golang metric objects, so a steady scrape makes a few dozen
//     allocations however many series there are. Concurrent scrapes of one
//     format share a render and its compressed forms (handler.go). Its output is the
//     stock encoder's, line for line (TestEncoderEquivalence), except that
//     series within a family are not sorted.
//   - EncoderStock: go.opentelemetry.io/otel/exporters/prometheus in a
//     private client_golang registry, served by promhttp. Choose it for
//     exemplars in OpenMetrics and for exponential histograms as native
//     histograms over the protobuf format; the optel encoder renders an
//     exponential histogram as its +Inf bucket, sum and count, as the
//     stock text output does.
//
// Both negotiate OpenMetrics when the scraper asks and gzip when accepted;
// the optel encoder also offers zstd (klauspost/compress) to scrapers that
// accept it, and holds at most WithMaxSnapshots expositions for slow
// scrapers at once.
// Metric names follow the pinned TranslationStrategy: underscores, unit
// suffixes and _total on counters. Scope labels are dropped by default
// (WithScopeInfo keeps them); target_info carries the resource.
//
// An existing client_golang registry passed with WithGatherer is served on the
// same handler directly. It is not bridged through the OTel SDK here, because
// the OTel Prometheus exporter drops bridged client_golang metrics; the
// telemetry package bridges it to the other exporters instead.
//
// WithNaming(NamingControllerRuntime) renders optel's own families under
// controller-runtime's names (naming.go); both encoders share the mapping.
//
// Lifecycle: the reader is shut down by the MeterProvider; after that a
// scrape returns only the foreign gatherers' metrics. Handler is safe for
// concurrent use.
package prometheus
