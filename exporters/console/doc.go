// Package console is the console exporter: it writes each collection as
// JSON (go.opentelemetry.io/otel/exporters/stdout/stdoutmetric) to a
// writer, os.Stdout by default. It is for development: there is no
// sampling, rate limit or rotation.
//
// New returns an sdkmetric.Exporter; the telemetry package wraps it in a
// periodic reader (--telemetry-export-interval) and counts failed exports.
// Config carries its one setting, the writer, which only code sets: the
// exporter binds no flag and reads no environment variable.
//
// The exporter is safe for concurrent use as the SDK uses it; writes to
// the writer are serialized by the periodic reader. After Shutdown,
// Export returns an error.
package console
