// Package otlp builds OTLP metric exporters (gRPC by default, or
// http/protobuf) from a small, validated set of options: endpoint, headers,
// timeout, TLS or plaintext, and gzip.
//
// The entry point is New, which returns an sdkmetric.Exporter; the telemetry
// package wraps it in a periodic reader and counts failed exports. New never
// dials, so a collector that is down cannot fail start-up, and exports use
// cumulative temporality, so a failed export loses nothing.
//
// Large collections are split into requests of at most
// DefaultMaxPointsPerExport data points (WithMaxPointsPerExport), because a
// default Collector refuses gRPC messages over 4 MiB: about 20k histogram
// series. Without the split, an operator with many objects would have every
// export refused (TestSplitLargeExportsReachRealCollector shows both).
//
// Config is the exporter's own settings (config.go): the --otlp-* flags and
// the OTEL_EXPORTER_OTLP_* variables, each a setting.Var, resolved with the
// precedence flag, code, environment, default, and validated with errors
// that name the flag or variable. The telemetry package binds and resolves
// it like any registered exporter's config and builds New from
// Config.Options; telemetry itself knows no OTLP setting.
//
// ParseEndpoint is exported so configuration front-ends can validate an
// endpoint before anything is built and name the flag that carried it.
//
// The exporter's Shutdown flushes within the given context's deadline;
// Export after Shutdown returns an error.
package otlp
