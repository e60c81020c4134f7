package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/optel-dev/optel/exporters/otlp"
	"github.com/optel-dev/optel/exporters/prometheus"
)

// Exporter is what an exporter factory builds: a reader that the
// MeterProvider collects into. A pull exporter usually also implements
// RouteProvider to serve its data on the metrics listener.
type Exporter interface {
	Reader() sdkmetric.Reader
}

// RouteProvider is an optional capability of an Exporter: HTTP handlers,
// keyed by path, to mount on the metrics listener (e.g. "/metrics").
type RouteProvider interface {
	Routes() map[string]http.Handler
}

// RepairReporter is an optional capability of an Exporter that repairs what
// it renders rather than let a scrape fail, as the Prometheus exporter does
// with invalid UTF-8 and duplicate series. New observes its counts as
// optel.telemetry.exposition.sanitized and optel.telemetry.exposition.dropped
// under the exporter's name.
type RepairReporter interface {
	Repairs() prometheus.Repairs
}

var _ RepairReporter = (*prometheus.Exporter)(nil)

// ExporterFactory builds an exporter. It gets only generic inputs, in
// ExporterSettings, and, if it implements ExporterConfigFactory, the
// exporter's own settings, resolved, in ExporterSettings.Config.
type ExporterFactory interface {
	NewExporter(ctx context.Context, s ExporterSettings) (Exporter, error)
}

// ExporterFactoryFunc adapts a function to ExporterFactory, for an exporter
// with no settings of its own.
type ExporterFactoryFunc func(ctx context.Context, s ExporterSettings) (Exporter, error)

// NewExporter calls f.
func (f ExporterFactoryFunc) NewExporter(ctx context.Context, s ExporterSettings) (Exporter, error) {
	return f(ctx, s)
}

var _ ExporterFactory = ExporterFactoryFunc(nil)

// ExporterConfig is an exporter's own settings, defined by its package:
// it binds the exporter's flags, reads its environment through the lookup
// it is given (never os.Getenv: WithEnvironment decides), and validates.
// Package setting has the building blocks (setting.Var, setting.Error).
//
// Flags.BindFlags calls BindFlags once for every exporter registered when
// it runs, so the flags appear in --help whether or not the exporter is
// selected. New calls Resolve for every registered exporter, selected or
// not, so a malformed value fails start-up wherever it is; a setting that is
// required only when the exporter runs belongs in its factory. An error
// from Resolve should be a *setting.Error naming the flag or variable and
// what is accepted; New wraps any other error so that it still matches
// ErrInvalidConfig.
type ExporterConfig interface {
	BindFlags(fs *pflag.FlagSet)
	Resolve(lookup func(string) (string, bool)) error
}

// EnvironmentDocumenter is an optional capability of an ExporterConfig:
// the environment variables Resolve reads, for docs/configuration.md
// (ExporterRegistry.Environment).
type EnvironmentDocumenter interface {
	Environment() []EnvVar
}

// ExporterConfigFactory is an optional capability of an ExporterFactory
// whose exporter has settings of its own: NewExporterConfig returns them
// with their defaults, ready to bind flags to.
type ExporterConfigFactory interface {
	NewExporterConfig() ExporterConfig
}

// NewExporterFactory pairs an exporter's config constructor with a build
// function that gets that config, resolved, with its concrete type. It is
// how an exporter package with flags or environment variables of its own
// registers:
//
//	reg.Register("kafka", telemetry.NewExporterFactory(kafka.NewConfig, buildKafka))
func NewExporterFactory[C ExporterConfig](newConfig func() C, build func(ctx context.Context, s ExporterSettings, c C) (Exporter, error)) ExporterFactory {
	return configFactory[C]{typedFactory[C, Exporter]{kind: "exporter", newConfig: newConfig, build: build}}
}

// typedFactory is what the factories NewExporterFactory,
// NewTraceExporterFactory and NewLogExporterFactory return have in common:
// a config constructor, and a build function that gets the config with
// its concrete type. kind names the exporter in errors ("exporter",
// "trace exporter", "log exporter").
type typedFactory[C ExporterConfig, E any] struct {
	kind      string
	newConfig func() C
	build     func(context.Context, ExporterSettings, C) (E, error)
}

func (f typedFactory[C, E]) NewExporterConfig() ExporterConfig { return f.newConfig() }

func (f typedFactory[C, E]) buildFrom(ctx context.Context, s ExporterSettings) (E, error) {
	c, ok := s.Config.(C)
	if !ok {
		var zero E
		return zero, fmt.Errorf("%s %s: config is %T, want %T", f.kind, s.Name, s.Config, *new(C))
	}
	return f.build(ctx, s, c)
}

type configFactory[C ExporterConfig] struct{ typedFactory[C, Exporter] }

func (f configFactory[C]) NewExporter(ctx context.Context, s ExporterSettings) (Exporter, error) {
	return f.buildFrom(ctx, s)
}

// Signal names the kind of telemetry an exporter is built for.
type Signal string

// The signals.
const (
	SignalMetrics Signal = "metrics"
	SignalTraces  Signal = "traces"
	SignalLogs    Signal = "logs"
)

// ExporterSettings are the generic inputs of a factory, built once per
// exporter by New. Everything exporter-specific is in Config.
type ExporterSettings struct {
	// Name is the name the exporter was selected by.
	Name string
	// Signal is what the exporter exports.
	Signal Signal
	// Resource is attached to everything the provider exports; readers get
	// it with every collection, so most exporters need not look at it.
	Resource *resource.Resource
	// Config is the exporter's own settings, resolved (flags, code,
	// environment, defaults), when its factory implements
	// ExporterConfigFactory; nil otherwise.
	Config ExporterConfig
	// ExportInterval is the push interval for periodic exporters.
	ExportInterval time.Duration
	// Producers are extra metric sources (the client_golang bridge) that every
	// reader except Prometheus must include.
	Producers []sdkmetric.Producer
	// Gatherer is the user's client_golang registry, or nil. The Prometheus
	// exporter serves it directly.
	Gatherer prom.Gatherer
	// PullReader is one manual reader, with the Producers, that the
	// built-in pull exporters (prometheus with the optel encoder, json)
	// share, so the SDK aggregates each series once for both. New registers
	// it once however many exporters return it from Reader.
	PullReader *sdkmetric.ManualReader
	// MaxRequestsInFlight bounds concurrent requests to each endpoint a
	// pull exporter serves on the metrics listener (0: no bound): one
	// setting, --metrics-max-requests-in-flight, for every pull exporter.
	MaxRequestsInFlight int
	// ReportError counts an export failure under this exporter's name and
	// hands it to the error handler. An error wrapping
	// prometheus.ErrRepaired is handed on but not counted as a failure: the
	// scrape succeeded, and RepairReporter counts the repairs. It never
	// blocks.
	ReportError func(error)
	// ReportSuccess records that an export succeeded, so a failure earlier
	// in a shutdown (an export the shutdown cancelled) is not reported as
	// the final one.
	ReportSuccess func()
	// ReportDropped counts data points that a failed export lost for good
	// (delta temporality), under this exporter's name.
	ReportDropped func(points int)
	// ReportDroppedItems counts spans or log records dropped, by reason
	// (DropQueueFull, DropExportFailed, DropShutdown), under this
	// exporter's name; BatchSpans and BatchLogs call it.
	ReportDroppedItems func(reason string, n int)
	// Batch bounds the batch processor of a trace or log exporter
	// (OTEL_BSP_*, OTEL_BLRP_*).
	Batch BatchSettings
}

func (s ExporterSettings) reportError() func(error) {
	if s.ReportError == nil {
		return func(error) {}
	}
	return s.ReportError
}

func (s ExporterSettings) reportSuccess() func() {
	if s.ReportSuccess == nil {
		return func() {}
	}
	return s.ReportSuccess
}

func (s ExporterSettings) reportDroppedItems() func(string, int) {
	if s.ReportDroppedItems == nil {
		return func(string, int) {}
	}
	return s.ReportDroppedItems
}

// PeriodicReader wraps a push exporter in a periodic reader with the
// configured interval and producers, and opts (e.g. the exporter's own
// sdkmetric.WithTimeout), counting failed exports under s.Name.
// Third-party push exporters should use it so failures are visible in
// optel.telemetry.export.failures.
func (s ExporterSettings) PeriodicReader(exp sdkmetric.Exporter, opts ...sdkmetric.PeriodicReaderOption) sdkmetric.Reader {
	all := []sdkmetric.PeriodicReaderOption{sdkmetric.WithInterval(s.ExportInterval)}
	all = append(all, opts...)
	for _, p := range s.Producers {
		all = append(all, sdkmetric.WithProducer(p))
	}
	return sdkmetric.NewPeriodicReader(&countingExporter{Exporter: exp, report: s.ReportError, ok: s.ReportSuccess, dropped: s.ReportDropped}, all...)
}

// countingExporter reports failed exports and then swallows them: the reader
// has nothing to do with the error. With cumulative temporality the next
// export carries everything; the delta points of a failed export are lost,
// and counted.
type countingExporter struct {
	sdkmetric.Exporter
	report  func(error)
	ok      func()
	dropped func(points int)
}

func (c *countingExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := c.Exporter.Export(ctx, rm)
	if err == nil && c.ok != nil {
		c.ok()
	}
	if err != nil {
		if c.report != nil {
			c.report(err)
		}
		if c.dropped != nil {
			// A split OTLP export says which of its requests failed; any
			// other exporter loses the whole collection's delta points.
			n, ok := droppedPoints(err)
			if !ok {
				n = otlp.DeltaPoints(rm)
			}
			if n > 0 {
				c.dropped(n)
			}
		}
	}
	return nil
}

// droppedPoints sums the DeltaPoints of every *otlp.DroppedError in err's
// tree (errors.As would find only the first of several joined ones); ok is
// false when there is none.
func droppedPoints(err error) (n int, ok bool) {
	switch e := err.(type) {
	case nil:
		return 0, false
	case *otlp.DroppedError:
		return e.DeltaPoints, true
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			if m, found := droppedPoints(inner); found {
				n, ok = n+m, true
			}
		}
		return n, ok
	case interface{ Unwrap() error }:
		return droppedPoints(e.Unwrap())
	}
	return 0, false
}

// ExporterRegistry maps exporter names to factories, per signal: one name
// (otlp, console, json) may export metrics, traces and logs, each with its
// own factory, and all of them share the name's one ExporterConfig. It
// holds constructors only, never telemetry state, so a process-wide default
// is safe.
type ExporterRegistry struct {
	mu      sync.RWMutex
	entries map[string]*registryEntry
}

type registryEntry struct {
	metrics ExporterFactory
	traces  TraceExporterFactory
	logs    LogExporterFactory
}

// config returns the name's config factory: the first of its factories
// (metrics, traces, logs) that has one.
func (e *registryEntry) config() (ExporterConfigFactory, bool) {
	for _, f := range []any{e.metrics, e.traces, e.logs} {
		if cf, ok := f.(ExporterConfigFactory); ok {
			return cf, true
		}
	}
	return nil, false
}

func (e *registryEntry) supports(s Signal) bool {
	switch s {
	case SignalMetrics:
		return e.metrics != nil
	case SignalTraces:
		return e.traces != nil
	case SignalLogs:
		return e.logs != nil
	}
	return false
}

// NewExporterRegistry returns a registry holding the built-in exporters:
// prometheus, otlp, json and console for metrics; otlp, json and console
// for traces; otlp and console for logs.
func NewExporterRegistry() *ExporterRegistry {
	r := &ExporterRegistry{entries: map[string]*registryEntry{}}
	for name, f := range builtinExporters() {
		r.entry(name).metrics = f
	}
	for name, f := range builtinTraceExporters() {
		r.entry(name).traces = f
	}
	for name, f := range builtinLogExporters() {
		r.entry(name).logs = f
	}
	return r
}

func (r *ExporterRegistry) entry(name string) *registryEntry {
	e := r.entries[name]
	if e == nil {
		e = &registryEntry{}
		r.entries[name] = e
	}
	return e
}

// DefaultExporterRegistry is used by New unless WithExporterRegistry is given.
// A third-party package adds an exporter with
//
//	func init() { telemetry.DefaultExporterRegistry.Register("kafka", factory) }
//
// and --telemetry-exporters=kafka then works without touching optel.
var DefaultExporterRegistry = NewExporterRegistry()

// Register adds a metrics exporter factory under name. Names are lower
// case; registering a name twice for one signal, or "none", is an error.
func (r *ExporterRegistry) Register(name string, f ExporterFactory) error {
	return r.register(name, SignalMetrics, f, func(e *registryEntry) { e.metrics = f })
}

// RegisterTraces adds a trace exporter factory under name, beside any
// metrics or logs factory of that name. If several of a name's factories
// have configs (ExporterConfigFactory), they must have the same type: the
// name has one config.
func (r *ExporterRegistry) RegisterTraces(name string, f TraceExporterFactory) error {
	return r.register(name, SignalTraces, f, func(e *registryEntry) { e.traces = f })
}

// RegisterLogs adds a log exporter factory under name, as RegisterTraces
// does for traces.
func (r *ExporterRegistry) RegisterLogs(name string, f LogExporterFactory) error {
	return r.register(name, SignalLogs, f, func(e *registryEntry) { e.logs = f })
}

func (r *ExporterRegistry) register(name string, s Signal, f any, set func(*registryEntry)) error {
	if name == "" || name == ExporterNone || name != strings.ToLower(name) {
		return fmt.Errorf("register %s exporter %q: name must be non-empty, lower case and not %q", s, name, ExporterNone)
	}
	if f == nil || (reflect.ValueOf(f).Kind() == reflect.Func && reflect.ValueOf(f).IsNil()) {
		return fmt.Errorf("register %s exporter %q: nil factory", s, name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[name]
	if e != nil && e.supports(s) {
		return fmt.Errorf("register %s exporter %q: already registered", s, name)
	}
	if e != nil {
		if have, ok := e.config(); ok {
			if cf, ok := f.(ExporterConfigFactory); ok {
				a, b := reflect.TypeOf(have.NewExporterConfig()), reflect.TypeOf(cf.NewExporterConfig())
				if a != b {
					return fmt.Errorf("register %s exporter %q: its config is %v, but the name's other factories use %v; one name has one config", s, name, b, a)
				}
			}
		}
	}
	set(r.entry(name))
	return nil
}

// Has reports whether name is registered for any signal.
func (r *ExporterRegistry) Has(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.entries[name]
	return ok
}

// Supports reports whether name is registered for signal s.
func (r *ExporterRegistry) Supports(name string, s Signal) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.entries[name]
	return ok && e.supports(s)
}

// Names returns the registered names, sorted.
func (r *ExporterRegistry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.entries))
	for n := range r.entries {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// NamesFor returns the names registered for signal s, sorted.
func (r *ExporterRegistry) NamesFor(s Signal) []string {
	var out []string
	for _, n := range r.Names() {
		if r.Supports(n, s) {
			out = append(out, n)
		}
	}
	return out
}

// Environment lists every environment variable New reads with this
// registry: telemetry's own (the Environment variable), then each
// registered exporter's whose config documents them, by exporter name. A
// test keeps docs/configuration.md in step with DefaultExporterRegistry's.
func (r *ExporterRegistry) Environment() []EnvVar {
	out := slices.Clone(Environment)
	for _, name := range r.Names() {
		if cf, ok := r.configFactory(name); ok {
			if d, ok := cf.NewExporterConfig().(EnvironmentDocumenter); ok {
				out = append(out, d.Environment()...)
			}
		}
	}
	return out
}

// get returns the metrics factory of name.
func (r *ExporterRegistry) get(name string) (ExporterFactory, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.entries[name]
	if !ok || e.metrics == nil {
		return nil, false
	}
	return e.metrics, true
}

func (r *ExporterRegistry) getEntry(name string) (registryEntry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.entries[name]
	if !ok {
		return registryEntry{}, false
	}
	return *e, true
}

func (r *ExporterRegistry) configFactory(name string) (ExporterConfigFactory, bool) {
	e, ok := r.getEntry(name)
	if !ok {
		return nil, false
	}
	return e.config()
}
