package prometheus

import (
	"context"
	"fmt"
	"net/http"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// TranslationStrategy is pinned: OTel names are escaped to underscores and
// get unit and type suffixes (optel.probe.duration with unit s becomes
// optel_probe_duration_seconds; a counter gets _total). Pinning it keeps
// names stable across otel-go upgrades, whose default has changed before.
var TranslationStrategy = otlptranslator.UnderscoreEscapingWithSuffixes

type config struct {
	gatherers     []prom.Gatherer
	scopeInfo     bool
	targetInfo    bool
	errorLog      func(error)
	maxInFlight   int
	maxSnapshots  int
	readerOptions []otelprom.Option
	manualOptions []sdkmetric.ManualReaderOption
	sharedReader  *sdkmetric.ManualReader
	transform     FamilyTransform
	encoder       Encoder
}

// Option configures New.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithGatherer serves an existing client_golang registry on the same
// endpoint, directly: its metrics are not converted, so nothing is dropped
// and nothing appears twice. Metric names must not collide with OTel ones.
func WithGatherer(g prom.Gatherer) Option {
	return optionFunc(func(c *config) {
		if g != nil {
			c.gatherers = append(c.gatherers, g)
		}
	})
}

// WithScopeInfo keeps the otel_scope_name, otel_scope_version and
// otel_scope_schema_url labels on every series. Off by default: they are
// empty for most instruments and add nothing a metric name prefix does not.
func WithScopeInfo() Option { return optionFunc(func(c *config) { c.scopeInfo = true }) }

// WithoutTargetInfo drops the target_info series that carries the resource
// attributes. It is on by default.
func WithoutTargetInfo() Option { return optionFunc(func(c *config) { c.targetInfo = false }) }

// WithErrorHandler receives errors from gathering and encoding a scrape,
// and, once per rendering that needed it, an error wrapping ErrRepaired
// that says what was repaired (see Exporter.Repairs).
func WithErrorHandler(f func(error)) Option {
	return optionFunc(func(c *config) { c.errorLog = f })
}

// DefaultMaxRequestsInFlight bounds concurrent scrapes by default.
const DefaultMaxRequestsInFlight = 64

// WithMaxRequestsInFlight limits concurrent scrapes; extra ones get 503 at
// once. 0 means no limit. Default DefaultMaxRequestsInFlight.
func WithMaxRequestsInFlight(n int) Option {
	return optionFunc(func(c *config) { c.maxInFlight = max(n, 0) })
}

// DefaultMaxSnapshots bounds the rendered expositions held at once by
// scrapes that have not finished reading them (optel encoder). Scrapes that
// arrive together (asking for the same format and encoding) share one;
// scrapes that arrive one after another, each reading slowly, hold one
// each. An exposition is held compressed when the scrape accepts gzip or
// zstd, and let go of when its last scrape is done.
const DefaultMaxSnapshots = 4

// WithMaxSnapshots bounds the distinct rendered expositions held at once
// (optel encoder); a scrape that would need another one shares the newest
// held exposition of its format and encoding (at most as old as the
// longest write still holding it), or gets 503 with Retry-After if none of
// them is held. 0 means no bound. Default DefaultMaxSnapshots.
func WithMaxSnapshots(n int) Option {
	return optionFunc(func(c *config) { c.maxSnapshots = max(n, 0) })
}

// WithReaderOption passes an option to the stock OTel Prometheus exporter
// (EncoderStock only; New rejects it with the optel encoder).
func WithReaderOption(o otelprom.Option) Option {
	return optionFunc(func(c *config) { c.readerOptions = append(c.readerOptions, o) })
}

// WithManualReader makes the optel encoder collect from r, a reader
// shared with other pull exporters (the telemetry package shares one with
// the JSON exporter), instead of a reader of its own: every reader makes
// the SDK keep and update its own aggregation of every series, so sharing
// halves recording and memory costs. Metrics r gets from the client_golang
// bridge's producer are skipped, because WithGatherer serves that registry
// directly. Reader then returns r; register it with the MeterProvider once.
func WithManualReader(r *sdkmetric.ManualReader) Option {
	return optionFunc(func(c *config) { c.sharedReader = r })
}

// WithManualReaderOption passes an option (an aggregation selector or a
// producer) to the reader behind the optel encoder (EncoderOptel only).
func WithManualReaderOption(o sdkmetric.ManualReaderOption) Option {
	return optionFunc(func(c *config) { c.manualOptions = append(c.manualOptions, o) })
}

// Exporter is a pull exporter: the MeterProvider collects into Reader at
// scrape time, and Handler serves the result.
type Exporter struct {
	reader      sdkmetric.Reader
	gatherer    prom.Gatherer
	collections func() int64
	repairs     *repairCounts
	handler     http.Handler
}

// New builds an exporter. Nothing is registered globally: the stock
// encoder gets a private registry, and the optel encoder needs none.
func New(opts ...Option) (*Exporter, error) {
	c := config{targetInfo: true, maxInFlight: DefaultMaxRequestsInFlight, maxSnapshots: DefaultMaxSnapshots}
	for _, o := range opts {
		o.apply(&c)
	}
	switch c.encoder {
	case "", EncoderOptel:
		if len(c.readerOptions) > 0 {
			return nil, fmt.Errorf("prometheus exporter: WithReaderOption configures the stock encoder; use WithManualReaderOption with the optel encoder")
		}
		if c.sharedReader != nil && len(c.manualOptions) > 0 {
			return nil, fmt.Errorf("prometheus exporter: WithManualReaderOption cannot apply to a shared reader given with WithManualReader")
		}
		return newOptel(&c), nil
	case EncoderStock:
		if len(c.manualOptions) > 0 || c.sharedReader != nil {
			return nil, fmt.Errorf("prometheus exporter: WithManualReader and WithManualReaderOption configure the optel encoder; use WithReaderOption with the stock encoder")
		}
		return newStock(&c)
	default:
		return nil, fmt.Errorf("prometheus exporter: unknown encoder %q (accepted: optel, stock)", c.encoder)
	}
}

func newOptel(c *config) *Exporter {
	reader := c.sharedReader
	if reader == nil {
		reader = sdkmetric.NewManualReader(c.manualOptions...)
	}
	var foreign prom.Gatherer
	switch len(c.gatherers) {
	case 0:
	case 1:
		foreign = c.gatherers[0]
	default:
		foreign = prom.Gatherers(c.gatherers)
	}
	r := newRenderer(reader, c, foreign)
	h := newHandler(r, c.maxInFlight, c.maxSnapshots)
	return &Exporter{
		reader:      reader,
		gatherer:    renderGatherer{r},
		collections: h.collections.Load,
		repairs:     r.counts,
		handler:     h,
	}
}

// renderGatherer parses the optel encoder's own text output, so Gather
// returns exactly what a scrape sees.
type renderGatherer struct{ r *renderer }

func (g renderGatherer) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := parseText(g.r.render(context.Background(), nil, false))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: parse own output: %w", err)
	}
	return mfs, nil
}

func newStock(c *config) (*Exporter, error) {
	reg := prom.NewRegistry()
	eopts := []otelprom.Option{
		otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(TranslationStrategy),
	}
	if !c.scopeInfo {
		eopts = append(eopts, otelprom.WithoutScopeInfo())
	}
	if !c.targetInfo {
		eopts = append(eopts, otelprom.WithoutTargetInfo())
	}
	eopts = append(eopts, c.readerOptions...)
	exp, err := otelprom.New(eopts...)
	if err != nil {
		return nil, fmt.Errorf("create prometheus exporter: %w", err)
	}
	var g prom.Gatherer = reg
	if len(c.gatherers) > 0 {
		g = prom.Gatherers(append([]prom.Gatherer{reg}, c.gatherers...))
	}
	if c.transform != nil {
		g = transformGatherer{g: g, t: c.transform}
	}
	counts := &repairCounts{}
	g = validHelp{g: g, counts: counts, report: c.errorLog}
	shared := &sharedGatherer{g: g}
	ho := promhttp.HandlerOpts{
		EnableOpenMetrics:   true,
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: c.maxInFlight,
	}
	if c.errorLog != nil {
		ho.ErrorLog = errorLogger(c.errorLog)
	}
	return &Exporter{
		reader:      exp,
		gatherer:    g,
		collections: shared.collections.Load,
		repairs:     counts,
		handler:     promhttp.HandlerFor(shared, ho),
	}, nil
}

// Reader is the reader to register with the MeterProvider.
func (e *Exporter) Reader() sdkmetric.Reader { return e.reader }

// Handler serves the Prometheus text format, or OpenMetrics when the scraper
// asks for it, gzip-compressed when accepted.
func (e *Exporter) Handler() http.Handler { return e.handler }

// Gatherer gathers OTel and foreign metrics together, as a scrape sees them.
func (e *Exporter) Gatherer() prom.Gatherer { return e.gatherer }

// Collections counts the collections scrapes have triggered. Concurrent
// scrapes share one collection, so under load it grows slower than the
// number of scrapes.
func (e *Exporter) Collections() int64 { return e.collections() }

// Repairs returns what the exporter has repaired in its output so far so
// that no scrape breaks: label values and HELP texts with invalid UTF-8, and
// duplicate series. It is safe for concurrent use, also from a callback
// that runs during a scrape's collection.
func (e *Exporter) Repairs() Repairs { return e.repairs.load() }

// Routes mounts Handler at /metrics.
func (e *Exporter) Routes() map[string]http.Handler {
	return map[string]http.Handler{"/metrics": e.handler}
}

type errorLogger func(error)

func (f errorLogger) Println(v ...any) { f(fmt.Errorf("prometheus exporter: %s", fmt.Sprint(v...))) }
