package telemetry

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Built-in exporter names accepted by --telemetry-exporters and
// OTEL_METRICS_EXPORTER.
const (
	ExporterPrometheus = "prometheus"
	ExporterOTLP       = "otlp"
	ExporterJSON       = "json"
	ExporterConsole    = "console"
	// ExporterNone selects no exporter; it cannot be combined with others.
	ExporterNone = "none"
)

// Defaults. Every one is documented in docs/configuration.md, which a test
// checks against this code. Exporters' own defaults live in their packages
// (otlp.DefaultProtocol, otlp.DefaultTimeout, ...).
const (
	DefaultExporters = "prometheus,json"
	// DefaultMaxRequestsInFlight bounds concurrent requests per pull endpoint.
	DefaultMaxRequestsInFlight = 64
	DefaultExportInterval      = 60 * time.Second
	DefaultCardinalityLimit    = 2000
)

// Environment variables read by New itself. Options and flags win over
// them. Exporters' own variables are in their packages (otlp.EnvEndpoint,
// ...); ExporterRegistry.Environment lists them all.
const (
	EnvMetricsExporter      = "OTEL_METRICS_EXPORTER"
	EnvMetricExportInterval = "OTEL_METRIC_EXPORT_INTERVAL"
	// Deprecated: misspelled; use EnvMetricExportInterval.
	EnvMetricExportInteval = EnvMetricExportInterval
	EnvExemplarFilter      = "OTEL_METRICS_EXEMPLAR_FILTER"
	EnvServiceName         = "OTEL_SERVICE_NAME"
	EnvResourceAttributes  = "OTEL_RESOURCE_ATTRIBUTES"
	EnvPodName             = "POD_NAME"
	EnvPodNamespace        = "POD_NAMESPACE"
)

// setting is one configurable value and where it came from; src is empty
// until an option, the environment or the default sets it.
type sourced[T any] struct {
	val T
	src string
}

func (s *sourced[T]) set(v T, src string) { s.val, s.src = v, src }
func (s *sourced[T]) isSet() bool         { return s.src != "" }

// config is the resolved configuration. Build it with newConfig.
type config struct {
	lookupEnv func(string) (string, bool)
	registry  *ExporterRegistry

	exporters    sourced[[]string]
	exportersRaw string // the unparsed option value, validated once the registry is known
	interval     sourced[time.Duration]
	cardinality  sourced[int]
	maxInFlight  sourced[int]

	// Exporters' own configs: those Flags bound, and the edits of
	// WithExporterConfig, by exporter name; resolved has one resolved
	// config per registered exporter that has one.
	bound    map[string]ExporterConfig
	edits    map[string][]func(ExporterConfig) error
	resolved map[string]ExporterConfig

	serviceName    string
	serviceVersion string
	resourceAttrs  []attribute.KeyValue

	naming       sourced[Naming]
	exemplars    sourced[ExemplarFilter]
	views        []sdkmetric.View
	readers      []sdkmetric.Reader
	gatherer     prom.Gatherer
	errorHandler ErrorHandler
	logger       *slog.Logger

	traces         sourced[[]string]
	tracesRaw      string
	sampler        sdktrace.Sampler
	followLinks    bool
	spanProcessors []sdktrace.SpanProcessor
	spanBatch      BatchSettings

	logs          sourced[[]string]
	logsRaw       string
	logProcessors []sdklog.Processor
	logBatch      BatchSettings
}

// tracing reports whether spans go anywhere: a trace exporter is selected,
// or a span processor was added.
func (c *config) tracing() bool { return len(c.traces.val) > 0 || len(c.spanProcessors) > 0 }

// Option configures New. Options win over the environment.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithExporters selects exporters by name, as a comma list ("prometheus,otlp").
// Unknown names make New fail with a ConfigError. Default "prometheus,json".
func WithExporters(list string) Option {
	return optionFunc(func(c *config) { c.exportersRaw = list; c.exporters.src = "WithExporters" })
}

// WithMaxRequestsInFlight bounds concurrent requests to each pull endpoint
// (/metrics and /metrics.json); the excess gets 503 at once. Concurrent
// requests to one endpoint share one collection. 0 means no bound. Default
// DefaultMaxRequestsInFlight.
func WithMaxRequestsInFlight(n int) Option {
	return optionFunc(func(c *config) { c.maxInFlight.set(n, "WithMaxRequestsInFlight") })
}

// WithExportInterval sets how often push exporters (otlp, console) export.
// Default 60s.
func WithExportInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.interval.set(d, "WithExportInterval") })
}

// WithCardinalityLimit caps the attribute sets kept per instrument per
// collection; measurements beyond it are folded into one series carrying
// otel.metric.overflow=true. 0 means no limit. Default 2000.
func WithCardinalityLimit(n int) Option {
	return optionFunc(func(c *config) { c.cardinality.set(n, "WithCardinalityLimit") })
}

// WithServiceName sets service.name. Unlike other options, it is a default:
// OTEL_SERVICE_NAME and a service.name in OTEL_RESOURCE_ATTRIBUTES override
// it, because naming a deployment is the deployer's call. Default: the
// program's base name.
func WithServiceName(name string) Option {
	return optionFunc(func(c *config) { c.serviceName = name })
}

// WithServiceVersion sets service.version.
func WithServiceVersion(v string) Option {
	return optionFunc(func(c *config) { c.serviceVersion = v })
}

// WithResourceAttributes adds attributes to the resource; they win over
// OTEL_RESOURCE_ATTRIBUTES.
func WithResourceAttributes(kv ...attribute.KeyValue) Option {
	return optionFunc(func(c *config) { c.resourceAttrs = append(c.resourceAttrs, kv...) })
}

// WithView adds SDK views: rename instruments, drop attributes, change
// aggregation or histogram boundaries, or set a per-instrument cardinality
// limit.
func WithView(v ...sdkmetric.View) Option {
	return optionFunc(func(c *config) { c.views = append(c.views, v...) })
}

// WithMetricsNaming selects the names the Prometheus exporter renders
// optel's own metrics under: otel (default) or controller-runtime.
func WithMetricsNaming(n Naming) Option {
	return optionFunc(func(c *config) { c.naming.set(n, "WithMetricsNaming") })
}

// ExemplarFilter selects which measurements may become exemplars.
type ExemplarFilter string

// Exemplar filters, as OTEL_METRICS_EXEMPLAR_FILTER names them.
const (
	// ExemplarsOff (optel's default when traces are off) keeps no
	// exemplars. The OTel default,
	// trace_based, keeps a reservoir per series that every collection
	// resets, which costs about a third of a scrape (docs/benchmarks.md)
	// for exemplars that only exist when handlers run inside sampled spans.
	ExemplarsOff ExemplarFilter = "always_off"
	// ExemplarsTraceBased keeps measurements made in a sampled span.
	ExemplarsTraceBased ExemplarFilter = "trace_based"
	// ExemplarsOn keeps any measurement.
	ExemplarsOn ExemplarFilter = "always_on"
)

// WithExemplarFilter selects the exemplar filter. Default
// ExemplarsTraceBased when spans are exported (a trace exporter or span
// processor), ExemplarsOff otherwise.
// Exemplars reach OTLP, JSON and Prometheus (OpenMetrics), either encoder.
func WithExemplarFilter(f ExemplarFilter) Option {
	return optionFunc(func(c *config) { c.exemplars.set(f, "WithExemplarFilter") })
}

// WithReader adds an SDK reader besides the configured exporters, e.g. a
// telemetrytest.Reader in tests. The provider shuts it down.
func WithReader(r sdkmetric.Reader) Option {
	return optionFunc(func(c *config) { c.readers = append(c.readers, r) })
}

// WithGatherer makes metrics of an existing client_golang registry appear in
// every exporter: served directly on the Prometheus endpoint (no conversion,
// no double exposition) and bridged to OTLP, JSON and console.
func WithGatherer(g prom.Gatherer) Option {
	return optionFunc(func(c *config) { c.gatherer = g })
}

// WithErrorHandler receives asynchronous errors (failed exports, failing
// collect callbacks). Default: a rate-limited slog logger.
func WithErrorHandler(h ErrorHandler) Option {
	return optionFunc(func(c *config) { c.errorHandler = h })
}

// WithLogger sets the logger of the default error handler. Default slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithExporterConfig edits, in code, the config of the exporter registered
// as name: what edit sets wins over the environment, and a flag given on
// the command line wins over it. C is the config type the exporter's
// package defines; New fails if the exporter has another or none.
//
//	telemetry.WithExporterConfig(telemetry.ExporterOTLP, func(c *otlp.Config) {
//		c.Endpoint.Set("collector:4317")
//	})
//
// With Flags, edit changes the config Flags bound, in place.
func WithExporterConfig[C ExporterConfig](name string, edit func(C)) Option {
	return optionFunc(func(c *config) {
		c.edits[name] = append(c.edits[name], func(ec ExporterConfig) error {
			typed, ok := ec.(C)
			if !ok {
				return fmt.Errorf("WithExporterConfig(%q): the exporter's config is %T, not %T", name, ec, *new(C))
			}
			edit(typed)
			return nil
		})
	})
}

// WithEnvironment replaces os.LookupEnv, for tests and for embedding.
func WithEnvironment(lookup func(string) (string, bool)) Option {
	return optionFunc(func(c *config) { c.lookupEnv = lookup })
}

// WithExporterRegistry replaces DefaultExporterRegistry.
func WithExporterRegistry(r *ExporterRegistry) Option {
	return optionFunc(func(c *config) { c.registry = r })
}

// newConfig applies options, then fills what they left unset from the
// environment, then from defaults. The result is fully validated.
func newConfig(opts []Option) (*config, error) {
	c := &config{lookupEnv: os.LookupEnv, registry: DefaultExporterRegistry, edits: map[string][]func(ExporterConfig) error{}}
	for _, o := range opts {
		o.apply(c)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.errorHandler == nil {
		c.errorHandler = newRateLimitedLogger(c.logger, 30*time.Second)
	}
	if c.serviceName == "" {
		c.serviceName = filepath.Base(os.Args[0])
	}

	// Exporters: option, then env, then default.
	raw, src := c.exportersRaw, c.exporters.src
	if !c.exporters.isSet() {
		if v, ok := c.env(EnvMetricsExporter); ok {
			raw, src = v, EnvMetricsExporter
		} else {
			raw, src = DefaultExporters, "default"
		}
	}
	list, err := parseSignalExporters(src, raw, c.registry, SignalMetrics)
	if err != nil {
		return nil, err
	}
	c.exporters.set(list, src)
	if err := c.resolveTraces(); err != nil {
		return nil, err
	}
	if err := c.resolveLogs(); err != nil {
		return nil, err
	}

	if err := c.resolveExporterConfigs(); err != nil {
		return nil, err
	}
	if err := fromEnv(c, &c.interval, parseMillis, EnvMetricExportInterval); err != nil {
		return nil, err
	}
	if !c.interval.isSet() {
		c.interval.set(DefaultExportInterval, "default")
	}
	if c.interval.val <= 0 {
		return nil, &ConfigError{Source: c.interval.src, Value: c.interval.val.String(), Reason: "must be greater than zero", Accepted: "a positive duration"}
	}
	if !c.naming.isSet() {
		c.naming.set(NamingOTel, "default")
	}
	if _, err := parseNaming(c.naming.src, string(c.naming.val)); err != nil {
		return nil, err
	}
	if err := fromEnv(c, &c.exemplars, parseExemplarFilter, EnvExemplarFilter); err != nil {
		return nil, err
	}
	if !c.exemplars.isSet() {
		// trace_based when spans go somewhere, as the SDK defaults;
		// always_off otherwise, so recording pays nothing for exemplars
		// that could never carry a trace.
		if c.tracing() {
			c.exemplars.set(ExemplarsTraceBased, "default")
		} else {
			c.exemplars.set(ExemplarsOff, "default")
		}
	}
	if _, err := parseExemplarFilter(c.exemplars.src, string(c.exemplars.val)); err != nil {
		return nil, err
	}
	if !c.cardinality.isSet() {
		c.cardinality.set(DefaultCardinalityLimit, "default")
	}
	if !c.maxInFlight.isSet() {
		c.maxInFlight.set(DefaultMaxRequestsInFlight, "default")
	}
	if c.maxInFlight.val < 0 {
		return nil, &ConfigError{Source: c.maxInFlight.src, Value: strconv.Itoa(c.maxInFlight.val), Reason: "must not be negative", Accepted: "0 (no limit) or a positive integer"}
	}
	if c.cardinality.val < 0 {
		return nil, &ConfigError{Source: c.cardinality.src, Value: strconv.Itoa(c.cardinality.val), Reason: "must not be negative", Accepted: "0 (no limit) or a positive integer"}
	}
	return c, nil
}

// resolveExporterConfigs resolves the config of every registered exporter
// that has one, selected or not, so a malformed value fails start-up
// wherever it is: the one Flags bound, else a new one, after the
// WithExporterConfig edits.
func (c *config) resolveExporterConfigs() error {
	c.resolved = map[string]ExporterConfig{}
	for _, name := range c.registry.Names() {
		cf, ok := c.registry.configFactory(name)
		if !ok {
			continue
		}
		ec := c.bound[name]
		if ec == nil {
			ec = cf.NewExporterConfig()
		}
		for _, edit := range c.edits[name] {
			if err := edit(ec); err != nil {
				return err
			}
		}
		if err := ec.Resolve(c.env); err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				err = fmt.Errorf("%w: %s exporter: %w", ErrInvalidConfig, name, err)
			}
			return err
		}
		c.resolved[name] = ec
	}
	for name := range c.edits {
		if _, ok := c.resolved[name]; !ok {
			return fmt.Errorf("WithExporterConfig(%q): no registered exporter of that name has a config", name)
		}
	}
	return nil
}

// fromEnv fills s from the first environment variable present in names,
// unless an option already set it.
func fromEnv[T any](c *config, s *sourced[T], parse func(src, v string) (T, error), names ...string) error {
	if s.isSet() {
		return nil
	}
	for _, n := range names {
		if raw, ok := c.env(n); ok {
			v, err := parse(n, raw)
			if err != nil {
				return err
			}
			s.set(v, n)
			return nil
		}
	}
	return nil
}

// env returns a variable only when it is set and not blank: the OTel
// specification treats an empty value as unset.
func (c *config) env(name string) (string, bool) {
	v, ok := c.lookupEnv(name)
	if !ok || len(strings.TrimSpace(v)) == 0 {
		return "", false
	}
	return v, true
}
