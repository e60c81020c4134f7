// Package bench is optel's comparison suite. It lives in its own module so
// that controller-runtime, and anchors used only for comparison, stay out of
// the library's go.mod.
//
// Every benchmark puts optel next to its anchor in the same run:
//
//   - record_test.go: counter add, histogram record and up-down add, with a
//     precomputed attribute set and with per-call attributes: optel, the raw
//     OTel SDK called carefully (options hoisted; exemplars off, as optel
//     without traces, and with the default filter) and client_golang, in
//     rotated pairs inside one process (pairs_test.go).
//   - scrape_test.go: collection and rendering at 4k, 100k and 1M series
//     (half counters, half 14-bucket histograms): optel's encoder and
//     client_golang's promhttp on identical data, scraped as Prometheus
//     scrapes (its Accept header, gzip), with churn, and uncompressed; the
//     stock OTel exporter, JSON and OTLP for information. Each reports time,
//     bytes and allocations per scrape, the heap kept between scrapes and
//     the peak heap of one scrape.
//   - operator_test.go: 1000 creations plus 1000 updates handled on the
//     embedded real API server by optel (self-telemetry on and off, and
//     tracing on and off) and by an equivalent controller-runtime
//     reconciler reading from its cache (with and without
//     GenerationChangedPredicate), each variant in a process of its own,
//     in an order that rotates from sample to sample and is logged.
//
// `make bench` runs it (scrapes as rotated pairs of processes) and prints
// the ratio tables with cmd/benchtable; docs/benchmarks.md records the
// results.
package bench
