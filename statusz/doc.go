// Package statusz serves a live status page for an operator: a small,
// self-contained HTML page (no external assets, so it works in an air-gapped
// cluster and through kubectl port-forward) at GET / and /statusz on the
// telemetry server.
//
// The page polls two JSON endpoints and draws from them: the metric
// snapshot of the json exporter (/metrics.json), for handler rates,
// outcomes and latency, queue depth and wait, watches, daemons, timers and
// API calls, and /statusz/probes.json, which this package serves from a
// probes.Registry: the liveness and readiness reports side by side. Charts
// are inline SVG sparklines kept in the browser over the last 60 polls.
//
// A traces panel reads the json traces exporter's view (/traces.json, see
// WithTracesJSONPath) for one handler at a time: its recent, slowest and
// failed runs, and one run's spans as a waterfall (bars placed by start
// offset and duration, with key attributes, errors and span links). Each
// row of the handler table links to its handler's runs, and each bucket of
// the handler's optel.handler.duration histogram links its exemplar to the
// trace it was recorded in. The selection lives in the URL fragment
// (#resource=…&handler=…&trace_id=…), so links can be shared; a linked
// trace the view no longer holds is reported as such, and where
// /traces.json answers 404 the panel says traces are off. Data is put into
// the page as text, never parsed as HTML.
//
// Limits: without the json exporter the page says so and shows probes only;
// behind --metrics-secure the page and its data need the same bearer token
// as /metrics, which a browser does not send, so use it through a proxy
// that adds one (or the insecure-local overlay). Latency quantiles are
// estimated from histogram buckets since start, as histogram_quantile would
// over the whole range.
package statusz
