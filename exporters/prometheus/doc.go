// Package prometheus exposes OTel SDK metrics in the Prometheus text format
// and OpenMetrics on an HTTP handler.
//
// Two encoders sit behind one API (WithEncoder, or --prometheus-encoder):
//
//   - EncoderOptel (default): a ManualReader collects into storage shaped
//     like the last collection (collect.go), and render.go writes the text
//     format or OpenMetrics straight from metricdata (textfmt.go holds the
//     byte-level formatting), streamed in chunks through gzip or zstd when
//     the scraper accepts them. Nothing is converted into client_golang
//     metric objects, so a steady scrape makes a few dozen allocations
//     however many series there are, and neither the collection nor the
//     exposition is kept between scrapes: what stays allocated does not
//     grow with the number of series (TestScrapeKeepsLittle). Concurrent
//     scrapes of one format and encoding share a render (handler.go). Its
//     output is the stock encoder's, line for line (TestEncoderEquivalence), except that
//     series within a family are not sorted and that a series whose label
//     value holds invalid UTF-8 is written repaired where the stock
//     encoder drops it (below).
//   - EncoderStock: go.opentelemetry.io/otel/exporters/prometheus in a
//     private client_golang registry, served by promhttp. Choose it for
//     exponential histograms as native histograms over the protobuf
//     format; the optel encoder renders an exponential histogram as its
//     +Inf bucket, sum and count, as the stock text output does.
//
// Both write exemplars in OpenMetrics (the text format has no syntax for
// them): on histogram buckets and on counters' _total lines, one per line.
// The optel encoder (exemplar.go) puts each exemplar on the bucket its
// value falls in and, of several for one line, writes the most recent;
// its labels are trace_id and span_id (when the measurement had a span)
// and the exemplar's filtered attributes, sanitized and counted like
// label values, within OpenMetrics' 128 code points: trace_id and span_id
// are kept and the filtered attributes that do not fit are left out. Its
// exemplars are the stock encoder's (TestEncoderEquivalenceExemplars)
// except that it leaves out empty IDs, keeps an exemplar whose attributes
// overflow the limit or hold invalid UTF-8 (the stock encoder drops every
// exemplar of such a point) and writes timestamps exactly. Families a
// FamilyTransform rewrites carry none. The SDK keeps exemplars only when
// its exemplar filter lets it (optel's telemetry package turns them off by
// default).
//
// A scrape never breaks on bad data. Prometheus rejects a whole scrape for
// one label value or HELP text that is not valid UTF-8, and drops the
// second sample of a series it has seen in the scrape. The optel encoder
// writes each run of invalid bytes as U+FFFD (as strings.ToValidUTF8 does)
// in label values, HELP texts and the lines of client_golang families. Of
// the series of a family that render with the same labels it writes only
// the first: scopes in the order of name, version, schema URL and
// attributes, then, within an instrument, the attribute set that sorts
// first. Such series arise when several scopes report one metric without
// scope labels (the default), or when distinct attribute sets render alike
// (keys a.b and a_b; the int 3 and the string "3"; values that differ only
// in invalid bytes). A family is checked only when that can happen, so
// clean data costs a comparison per attribute and per series, and a family
// that needs the check is rendered again (BenchmarkScrapeRepairs). Each
// rendering counts what it repaired (Exporter.Repairs) and, if anything,
// hands the error handler one error wrapping ErrRepaired, however many
// points it concerns. The stock encoder drops a point with an invalid label value
// and each duplicate (client_golang does) and repairs HELP texts, which
// alone it counts.
//
// Both negotiate OpenMetrics when the scraper asks and gzip when accepted;
// the optel encoder also offers zstd (klauspost/compress) to scrapers that
// accept it, and once WithMaxSnapshots expositions are held by slow
// scrapers, later scrapes share the newest of them of their format and
// encoding.
//
// Metric names follow the pinned TranslationStrategy: underscores, unit
// suffixes and _total on counters. Scope labels are dropped by default
// (WithScopeInfo keeps them); target_info carries the resource.
//
// An existing client_golang registry passed with WithGatherer is served on the
// same handler directly. It is not bridged through the OTel SDK here, because
// the OTel Prometheus exporter drops bridged client_golang metrics; the
// telemetry package bridges it to the other exporters instead.
//
// WithFamilyTransform rewrites families at render time (transform.go), for
// example to render a framework's metrics under another framework's names;
// FamilyMappings is a table-driven one. Both encoders apply it alike. The
// exporter knows no metric names itself: the telemetry package passes
// optel's controller-runtime table when --metrics-naming=controller-runtime.
//
// Config is the exporter's own settings (config.go): --prometheus-encoder
// and a FamilyTransform. The telemetry package binds, resolves and builds
// it like any registered exporter's config; the in-flight bound
// (--metrics-max-requests-in-flight) is a generic input telemetry gives
// every pull exporter.
//
// Lifecycle: the reader is shut down by the MeterProvider; after that a
// scrape returns only the foreign gatherers' metrics. Handler is safe for
// concurrent use.
package prometheus
