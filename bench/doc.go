// Package bench is optel's comparison suite. It lives in its own module so
// that controller-runtime, and anchors used only for comparison, stay out of
// the library's go.mod.
//
// Every benchmark puts optel next to its anchor in the same run:
//
//   - record_test.go: counter add, histogram record and up-down add, with a
//     precomputed attribute set and with per-call attributes: optel, the raw
//     OTel SDK (as shipped, and with exemplars off like optel) and
//     client_golang.
//   - scrape_test.go: collection and rendering at 4k, 100k and 1M series
//     (half counters, half 14-bucket histograms): Prometheus text and
//     OpenMetrics from optel's encoder, the stock OTel exporter and
//     client_golang's promhttp on identical data, plus JSON and OTLP. Each
//     reports ns, bytes and allocations per scrape and the peak extra heap.
//   - operator_test.go: 1000 creations plus 1000 updates handled on the
//     embedded real API server by optel (self-telemetry on and off) and by
//     an equivalent controller-runtime reconciler, interleaved.
//
// `make bench` runs it with -count=5 and prints the ratio table with
// cmd/benchtable; docs/benchmarks.md records the results.
package bench
