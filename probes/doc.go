// Package probes is optel's domain-level health API: liveness and readiness
// probes registered by id, run on demand, reported as JSON and as metrics.
//
// Entry point: NewRegistry, then Register(id, kind, probe). Handler(kind)
// serves /healthz (Liveness) or /readyz (Readiness).
//
// Guarantees:
//   - Results are cached for the TTL (default 10 s, as in kopf).
//   - Concurrent requests never run one probe twice at once: they join the
//     run in flight.
//   - Each run has a deadline (default 5 s). A probe that hangs past it is
//     reported failed ("timed out after 5s") and the report returns; the hung
//     run is not restarted until it returns, so hangs cannot pile up.
//   - A panicking probe, or one whose value cannot be encoded as JSON, is
//     reported failed with the reason; it never breaks the endpoint.
//   - Every run records optel.probe.status (1/0) and optel.probe.duration
//     through the injected MeterProvider, so probe health also reaches
//     Prometheus and OTLP.
//
// The report: {"status":"ok|failed","checks":{"<id>":{"status","value" or
// "error","duration_seconds","age_seconds"}}}, HTTP 200 when all pass and 503
// otherwise. ?format=kopf serves kopf's flat {"<id>": value} body.
//
// A Registry has no lifecycle of its own; it is safe for concurrent use.
package probes
