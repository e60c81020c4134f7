// Package server serves optel's telemetry and probes over HTTP.
//
// One listener by default, so an operator needs one port: /metrics
// (Prometheus text or OpenMetrics), /metrics.json (JSON snapshot), /healthz
// and /readyz (probe reports), plus any ExtraHandlers. Setting
// HealthProbeBindAddress moves the probes to a second listener, so kubelet
// probes can stay plain HTTP when metrics are secured.
//
// Lifecycle: New binds the listeners (port conflicts fail early; ":0" is
// resolved and readable through MetricsAddr). Start serves until its context
// ends, then shuts down gracefully within ShutdownTimeout. Shutdown is
// idempotent and safe before Start; Start after Shutdown returns ErrShutdown.
//
// Timeouts and limits are on by default (ReadHeaderTimeout 10s, ReadTimeout
// 30s, WriteTimeout 60s, IdleTimeout 120s, 64 KiB of headers).
package server
