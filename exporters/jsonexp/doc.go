// Package jsonexp renders OTel SDK metrics as a JSON snapshot, the third
// rendering of the same recorded data next to Prometheus text and OTLP.
//
// New returns a pull exporter around an sdkmetric.ManualReader: every request
// to Handler (mounted at /metrics.json) collects, which runs collect-time
// callbacks, and encodes with AppendJSON. AppendJSON is a standalone encoder
// with no reflection; its output shape is documented in docs/exporters.md:
//
//	{"resource": {...}, "scopes": [{"name", "version", "metrics": [
//	  {"name", "unit", "description", "kind", "temporality", "monotonic",
//	   "points": [{"attributes", "start", "time", "value", "exemplars"} |
//	              {"attributes", "start", "time", "count", "sum", "min", "max",
//	               "buckets": [{"le", "count"}], "exemplars"}]}]}]}
//
// "exemplars" is present only on points that have some:
// [{"value", "time", "trace_id", "span_id", "filtered_attributes"}], the ids
// in lowercase hex and absent when the measurement had no sampled span.
//
// Non-finite floats become the strings "NaN", "+Inf" and "-Inf"; invalid
// UTF-8 becomes U+FFFD. Handler is safe for concurrent use; after the
// MeterProvider shuts down it answers 503.
//
// NewTraceView returns the traces side: an sdktrace.SpanProcessor that keeps,
// for each handler (root spans with optel.handler), its most recent, slowest
// and failed runs with their spans, and serves them at /traces.json (Routes).
// Every bound is an option, and what a bound turns away is counted; the
// shape, the bounds and their measured memory are in docs/tracing.md. It is
// safe for concurrent use, starts no goroutine, and after Shutdown keeps
// serving what it retained.
package jsonexp
