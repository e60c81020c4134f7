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
package jsonexp
