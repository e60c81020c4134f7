package prometheus

import (
	"fmt"
	"net/http"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
	readerOptions []otelprom.Option
	naming        Naming
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

// WithErrorHandler receives errors from gathering and encoding a scrape.
func WithErrorHandler(f func(error)) Option {
	return optionFunc(func(c *config) { c.errorLog = f })
}

// WithMaxRequestsInFlight limits concurrent scrapes; extra ones get 503.
// Default 0, no limit.
func WithMaxRequestsInFlight(n int) Option {
	return optionFunc(func(c *config) { c.maxInFlight = n })
}

// WithReaderOption passes an option to the underlying OTel Prometheus
// exporter (e.g. an aggregation selector or a producer).
func WithReaderOption(o otelprom.Option) Option {
	return optionFunc(func(c *config) { c.readerOptions = append(c.readerOptions, o) })
}

// Exporter is a pull exporter: the MeterProvider collects into Reader at
// scrape time, and Handler serves the result.
type Exporter struct {
	reader   sdkmetric.Reader
	registry *prom.Registry
	gatherer prom.Gatherer
	shared   *sharedGatherer
	handler  http.Handler
}

// New builds an exporter with its own private registry; nothing is
// registered globally.
func New(opts ...Option) (*Exporter, error) {
	c := config{targetInfo: true}
	for _, o := range opts {
		o.apply(&c)
	}
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
	switch c.naming {
	case "", NamingOTel:
	case NamingControllerRuntime:
		g = crGatherer{g: g}
	default:
		return nil, fmt.Errorf("prometheus exporter: unknown naming %q (accepted: otel, controller-runtime)", c.naming)
	}
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
		reader:   exp,
		registry: reg,
		gatherer: g,
		shared:   shared,
		handler:  promhttp.HandlerFor(shared, ho),
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
func (e *Exporter) Collections() int64 { return e.shared.collections.Load() }

// Routes mounts Handler at /metrics.
func (e *Exporter) Routes() map[string]http.Handler {
	return map[string]http.Handler{"/metrics": e.handler}
}

type errorLogger func(error)

func (f errorLogger) Println(v ...any) { f(fmt.Errorf("prometheus exporter: %s", fmt.Sprint(v...))) }
