package statusz

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"time"

	"github.com/optel-dev/optel/probes"
)

//go:embed page.html
var pageTemplate []byte

// Default paths.
const (
	PagePath        = "/statusz"
	ProbesPath      = "/statusz/probes.json"
	MetricsJSONPath = "/metrics.json"
	TracesJSONPath  = "/traces.json"
)

// DefaultInterval is how often the page polls.
const DefaultInterval = 2 * time.Second

type config struct {
	title    string
	metrics  string
	traces   string
	interval time.Duration
	root     bool
}

// Option configures Routes.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithTitle sets the page heading. Default "optel operator".
func WithTitle(t string) Option { return optionFunc(func(c *config) { c.title = t }) }

// WithMetricsJSONPath sets where the page reads the metric snapshot.
// Default /metrics.json.
func WithMetricsJSONPath(p string) Option { return optionFunc(func(c *config) { c.metrics = p }) }

// WithTracesJSONPath sets where the page reads the trace view of the json
// traces exporter (jsonexp.TraceView). Default /traces.json. Where it
// answers 404 the traces panel says traces are off. An empty p means the
// default.
func WithTracesJSONPath(p string) Option {
	return optionFunc(func(c *config) {
		if p != "" {
			c.traces = p
		}
	})
}

// WithInterval sets the polling interval (at least 250ms). Default 2s.
func WithInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.interval = max(d, 250*time.Millisecond) })
}

// WithoutRoot serves the page at /statusz only, leaving / unrouted.
func WithoutRoot() Option { return optionFunc(func(c *config) { c.root = false }) }

// Routes returns the page at / (exactly) and /statusz, and the probes JSON
// at /statusz/probes.json. reg may be nil (the page then shows no probes).
func Routes(reg *probes.Registry, opts ...Option) map[string]http.Handler {
	c := config{title: "optel operator", metrics: MetricsJSONPath, traces: TracesJSONPath, interval: DefaultInterval, root: true}
	for _, o := range opts {
		o.apply(&c)
	}
	page := pageHandler(c)
	r := map[string]http.Handler{PagePath: page, ProbesPath: ProbesHandler(reg)}
	if c.root {
		r["/{$}"] = page
	}
	return r
}

// pageHandler serves the page, rendered once.
func pageHandler(c config) http.Handler {
	body := bytes.ReplaceAll(pageTemplate, []byte("{{TITLE}}"), []byte(html.EscapeString(c.title)))
	body = bytes.ReplaceAll(body, []byte("{{METRICS}}"), jsString(c.metrics))
	body = bytes.ReplaceAll(body, []byte("{{PROBES}}"), jsString(ProbesPath))
	body = bytes.ReplaceAll(body, []byte("{{TRACES}}"), jsString(c.traces))
	body = bytes.ReplaceAll(body, []byte("{{INTERVAL}}"), []byte(strconv.FormatInt(c.interval.Milliseconds(), 10)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		// Everything is inline; nothing may load from elsewhere.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(body)
	})
}

// jsString renders s as the inside of a double-quoted JavaScript string
// literal in the page (the template supplies the quotes).
func jsString(s string) []byte {
	b, _ := json.Marshal(s)
	b = bytes.ReplaceAll(b, []byte("<"), []byte(`\u003c`))
	return b[1 : len(b)-1]
}

// ProbesHandler serves {"liveness": report, "readiness": report} in the
// probes package's JSON shape. It always answers 200: the page shows
// failures; the kubelet reads /healthz and /readyz.
func ProbesHandler(reg *probes.Registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		var b bytes.Buffer
		b.WriteByte('{')
		for i, kind := range []probes.Kind{probes.Liveness, probes.Readiness} {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:", kind) // Kind.String: "liveness", "readiness"
			if reg == nil {
				b.WriteString(`{"status":"ok","checks":{}}`)
				continue
			}
			rep, _ := reg.Check(ctx, kind).MarshalJSON()
			b.Write(rep)
		}
		b.WriteByte('}')
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b.Bytes())
	})
}
