package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	prombridge "go.opentelemetry.io/contrib/bridges/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/optel-dev/optel/exporters/prometheus"
	"github.com/optel-dev/optel/internal/observ"
)

// Provider owns one SDK MeterProvider with one reader per push exporter
// (OTLP, console) and one reader shared by the pull exporters (Prometheus
// and JSON), so each series is aggregated once for both. Everything
// recorded through it is rendered by every configured exporter.
//
// A Provider is safe for concurrent use. After Shutdown, instruments keep
// accepting measurements (they are dropped, as the SDK does) and
// Collect-style calls return ErrShutdown.
type Provider struct {
	mp        *sdkmetric.MeterProvider
	wrapped   meterProvider
	exporters map[string]Exporter
	names     []string
	routes    map[string]http.Handler
	res       *resource.Resource
	handler   ErrorHandler

	failures         map[string]*atomic.Int64
	dropped          map[string]*atomic.Int64
	lastFailed       map[string]*atomic.Bool
	failureAttrs     map[string]metric.ObserveOption
	repairers        map[string]RepairReporter
	repairAttrs      map[string][2]metric.ObserveOption // sanitized, dropped
	log              *slog.Logger
	callbackFailures atomic.Int64

	tp         *sdktrace.TracerProvider
	lp         *sdklog.LoggerProvider
	traceNames []string
	logNames   []string
	spanStats  map[string]*itemStats
	logStats   map[string]*itemStats

	hooksMu sync.RWMutex
	hooks   []*hook
	nextID  int

	shutdownOnce sync.Once
	shutdownErr  error
	down         atomic.Bool
}

// New builds the provider: it resolves configuration (options, then the OTel
// environment, then defaults), creates each selected exporter, and registers
// optel's own telemetry instruments. A configuration error wraps
// ErrInvalidConfig and names the flag, variable or option at fault.
//
// New starts no listener: mount Routes on a server (see package server).
// Push exporters start their export loop immediately; they never dial
// synchronously, so an unreachable collector does not fail New.
func New(ctx context.Context, opts ...Option) (*Provider, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	res, err := buildResource(ctx, c)
	if err != nil {
		return nil, err
	}
	p := &Provider{
		res:          res,
		handler:      c.errorHandler,
		exporters:    map[string]Exporter{},
		routes:       map[string]http.Handler{},
		failures:     map[string]*atomic.Int64{},
		dropped:      map[string]*atomic.Int64{},
		lastFailed:   map[string]*atomic.Bool{},
		failureAttrs: map[string]metric.ObserveOption{},
		repairers:    map[string]RepairReporter{},
		repairAttrs:  map[string][2]metric.ObserveOption{},
		spanStats:    map[string]*itemStats{},
		logStats:     map[string]*itemStats{},
		log:          c.logger,
	}

	var producers []sdkmetric.Producer
	if c.gatherer != nil {
		producers = append(producers, prombridge.NewMetricProducer(prombridge.WithGatherer(c.gatherer)))
	}

	mpOpts := []sdkmetric.Option{
		sdkmetric.WithResource(res),
		sdkmetric.WithCardinalityLimit(c.cardinality.val),
		sdkmetric.WithExemplarFilter(exemplarFilter(c.exemplars.val)),
	}
	switch {
	case c.exemplars.val != ExemplarsOff:
		mpOpts = append(mpOpts, sdkmetric.WithView(exemplarViews(c.views)...))
	case len(c.views) > 0:
		mpOpts = append(mpOpts, sdkmetric.WithView(c.views...))
	}
	var readers []sdkmetric.Reader
	var pullOpts []sdkmetric.ManualReaderOption
	for _, pr := range producers {
		pullOpts = append(pullOpts, sdkmetric.WithProducer(pr))
	}
	pull := sdkmetric.NewManualReader(pullOpts...)
	registered := map[sdkmetric.Reader]bool{}
	for _, name := range c.exporters.val {
		f, _ := c.registry.get(name) // parseExporters checked it exists
		counter, dropped, lastFailed := new(atomic.Int64), new(atomic.Int64), new(atomic.Bool)
		p.failures[name], p.dropped[name], p.lastFailed[name] = counter, dropped, lastFailed
		p.failureAttrs[name] = metric.WithAttributeSet(attribute.NewSet(observ.AttrExporter.String(name)))
		s := ExporterSettings{
			Name:                name,
			Signal:              SignalMetrics,
			Resource:            res,
			Config:              c.exporterConfig(name),
			ExportInterval:      c.interval.val,
			Producers:           producers,
			Gatherer:            c.gatherer,
			ReportError:         p.reportFunc(name, counter, lastFailed),
			ReportSuccess:       func() { lastFailed.Store(false) },
			ReportDropped:       func(n int) { dropped.Add(int64(n)) },
			PullReader:          pull,
			MaxRequestsInFlight: c.maxInFlight.val,
		}
		exp, err := f.NewExporter(ctx, s)
		if err != nil {
			shutdownReaders(ctx, readers)
			return nil, fmt.Errorf("create %s exporter (from %s): %w", name, c.exporters.src, err)
		}
		if rp, ok := exp.(RouteProvider); ok {
			for path, h := range rp.Routes() {
				if _, dup := p.routes[path]; dup {
					shutdownReaders(ctx, append(readers, exp.Reader()))
					return nil, fmt.Errorf("exporter %s: route %s is already served by another exporter", name, path)
				}
				p.routes[path] = h
			}
		}
		if rr, ok := exp.(RepairReporter); ok {
			p.repairers[name] = rr
			p.repairAttrs[name] = [2]metric.ObserveOption{
				metric.WithAttributeSet(attribute.NewSet(observ.AttrExporter.String(name), observ.AttrReason.String(observ.ReasonInvalidUTF8))),
				metric.WithAttributeSet(attribute.NewSet(observ.AttrExporter.String(name), observ.AttrReason.String(observ.ReasonDuplicateSeries))),
			}
		}
		p.exporters[name] = exp
		p.names = append(p.names, name)
		if r := exp.Reader(); !registered[r] {
			registered[r] = true
			readers = append(readers, r)
			mpOpts = append(mpOpts, sdkmetric.WithReader(r))
		}
	}
	for _, r := range c.readers {
		mpOpts = append(mpOpts, sdkmetric.WithReader(r))
	}
	p.mp = sdkmetric.NewMeterProvider(mpOpts...)
	p.wrapped = meterProvider{sdk: p.mp}

	if err := p.buildTracing(ctx, c); err != nil {
		_ = p.mp.Shutdown(ctx)
		return nil, err
	}
	if err := p.buildLogging(ctx, c); err != nil {
		_ = p.shutdownSignals(ctx)
		_ = p.mp.Shutdown(ctx)
		return nil, err
	}
	if err := p.registerSelfMetrics(); err != nil {
		_ = p.shutdownSignals(ctx)
		_ = p.mp.Shutdown(ctx)
		return nil, fmt.Errorf("register optel self-metrics: %w", err)
	}
	return p, nil
}

// exporterConfig returns the resolved config of the named exporter. The
// Prometheus exporter's gets optel's naming profile (--metrics-naming), a
// FamilyTransform, unless code set one: telemetry owns optel's metric names,
// the exporter knows none. It is a copy, so the config Flags bound is not
// changed.
func (c *config) exporterConfig(name string) ExporterConfig {
	ec := c.resolved[name]
	if pc, ok := ec.(*prometheus.Config); ok && name == ExporterPrometheus && pc.Transform == nil {
		cp := *pc
		cp.Transform = c.naming.val.transform()
		return &cp
	}
	return ec
}

func shutdownReaders(ctx context.Context, rs []sdkmetric.Reader) {
	for _, r := range rs {
		_ = r.Shutdown(ctx)
	}
}

func (p *Provider) reportFunc(name string, counter *atomic.Int64, lastFailed *atomic.Bool) func(error) {
	return func(err error) {
		if !errors.Is(err, prometheus.ErrRepaired) { // a repaired scrape succeeded
			counter.Add(1)
			lastFailed.Store(true)
		}
		p.handler.Handle(fmt.Errorf("%s exporter: %w", name, err))
	}
}

// registerSelfMetrics installs one callback that runs the user's collect
// hooks and then observes optel's own counters. It runs once per reader per
// collection, whichever exporter triggers it.
func (p *Provider) registerSelfMetrics() error {
	inst, err := observ.NewTelemetry(p.mp.Meter(observ.ScopeName))
	if err != nil {
		return err
	}
	_, err = p.mp.Meter(observ.ScopeName).RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		p.runHooks(ctx)
		for name, c := range p.failures {
			o.ObserveInt64(inst.ExportFailures, c.Load(), p.failureAttrs[name])
		}
		for name, c := range p.dropped {
			o.ObserveInt64(inst.ExportDropped, c.Load(), p.failureAttrs[name])
		}
		o.ObserveInt64(inst.CallbackFailures, p.callbackFailures.Load())
		for name, rr := range p.repairers {
			r, attrs := rr.Repairs(), p.repairAttrs[name]
			o.ObserveInt64(inst.ExpoSanitized, r.Sanitized, attrs[0])
			o.ObserveInt64(inst.ExpoDropped, r.DuplicateSeries, attrs[1])
		}
		for _, st := range p.spanStats {
			st.observe(o, inst.SpansDropped, inst.SpanFailures)
		}
		for _, st := range p.logStats {
			st.observe(o, inst.LogsDropped, inst.LogFailures)
		}
		return nil
	}, inst.ExportFailures, inst.CallbackFailures, inst.ExportDropped, inst.ExpoSanitized, inst.ExpoDropped,
		inst.SpansDropped, inst.SpanFailures, inst.LogsDropped, inst.LogFailures)
	return err
}

// Meter returns a meter for the named instrumentation scope. Histograms with
// unit "s" that have no explicit bucket advice get observ.DurationBuckets
// (seconds), because the SDK's defaults suit milliseconds.
func (p *Provider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return p.wrapped.Meter(name, opts...)
}

// MeterProvider returns the provider to inject into libraries. It applies the
// same seconds-bucket default as Meter.
func (p *Provider) MeterProvider() metric.MeterProvider { return p.wrapped }

// SDK returns the underlying SDK provider, for code that needs SDK-only
// features. Prefer MeterProvider.
func (p *Provider) SDK() *sdkmetric.MeterProvider { return p.mp }

// Resource returns the resource attached to every exported metric.
func (p *Provider) Resource() *resource.Resource { return p.res }

// Exporters returns the names of the active exporters, in configured order.
func (p *Provider) Exporters() []string { return slices.Clone(p.names) }

// Exporter returns the active exporter with that name.
func (p *Provider) Exporter(name string) (Exporter, bool) {
	e, ok := p.exporters[name]
	return e, ok
}

// Routes returns the HTTP handlers the pull exporters serve, keyed by path
// ("/metrics", "/metrics.json").
func (p *Provider) Routes() map[string]http.Handler { return maps.Clone(p.routes) }

// DroppedPoints returns, per exporter, the delta-temporality data points
// that failed exports lost (optel.telemetry.export.dropped_points).
func (p *Provider) DroppedPoints() map[string]int64 {
	out := make(map[string]int64, len(p.dropped))
	for n, c := range p.dropped {
		out[n] = c.Load()
	}
	return out
}

// ExportFailures returns the number of failed exports per exporter so far.
func (p *Provider) ExportFailures() map[string]int64 {
	out := make(map[string]int64, len(p.failures))
	for n, c := range p.failures {
		out[n] = c.Load()
	}
	return out
}

// ForceFlush makes push exporters export now.
func (p *Provider) ForceFlush(ctx context.Context) error {
	if p.down.Load() {
		return ErrShutdown
	}
	return errors.Join(p.flushSignals(ctx), p.mp.ForceFlush(ctx))
}

// Shutdown flushes push exporters and shuts every reader down, within ctx's
// deadline. It is idempotent: later calls return the first call's result.
//
// A push exporter's final export can fail (the collector is down): it is
// counted in optel.telemetry.export.failures like any other, and logged
// once at warning level whatever the error handler's rate limit, because
// nothing after it will carry the totals: what was recorded since that
// exporter's last successful export is not delivered.
func (p *Provider) Shutdown(ctx context.Context) error {
	p.shutdownOnce.Do(func() {
		before := p.ExportFailures()
		p.down.Store(true)
		// All three signals at once, on the one deadline: a Collector
		// that is down must not let the span drain use up the time of the
		// final metric export.
		sigDone := make(chan error, 1)
		go func() { sigDone <- p.shutdownSignals(ctx) }()
		err := p.mp.Shutdown(ctx)
		sigErr := <-sigDone
		if err != nil && !errors.Is(err, sdkmetric.ErrReaderShutdown) {
			p.shutdownErr = fmt.Errorf("shut down telemetry: %w", err)
		}
		p.shutdownErr = errors.Join(p.shutdownErr, sigErr)
		for name, n := range p.ExportFailures() {
			// The last export of the shutdown failed: not one the shutdown
			// cancelled and then retried successfully.
			if n > before[name] && p.lastFailed[name].Load() && p.log != nil {
				p.log.Warn("final export failed at shutdown; data recorded since its last successful export was not delivered", "exporter", name)
			}
		}
	})
	return p.shutdownErr
}

// meterProvider wraps the SDK provider so histograms in seconds get sensible
// default buckets. Instruments are the SDK's own: the record path is not
// wrapped.
type meterProvider struct {
	embedded.MeterProvider
	sdk *sdkmetric.MeterProvider
}

func (m meterProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return meter{Meter: m.sdk.Meter(name, opts...)}
}

type meter struct{ metric.Meter }

func (m meter) Float64Histogram(name string, opts ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	cfg := metric.NewFloat64HistogramConfig(opts...)
	if cfg.Unit() == "s" && len(cfg.ExplicitBucketBoundaries()) == 0 {
		opts = append(opts, metric.WithExplicitBucketBoundaries(observ.DurationBuckets...))
	}
	return m.Meter.Float64Histogram(name, opts...)
}

func (m meter) Int64Histogram(name string, opts ...metric.Int64HistogramOption) (metric.Int64Histogram, error) {
	cfg := metric.NewInt64HistogramConfig(opts...)
	if cfg.Unit() == "s" && len(cfg.ExplicitBucketBoundaries()) == 0 {
		opts = append(opts, metric.WithExplicitBucketBoundaries(observ.DurationBuckets...))
	}
	return m.Meter.Int64Histogram(name, opts...)
}

func exemplarFilter(f ExemplarFilter) exemplar.Filter {
	switch f {
	case ExemplarsOn:
		return exemplar.AlwaysOnFilter
	case ExemplarsTraceBased:
		return exemplar.TraceBasedFilter
	}
	return exemplar.AlwaysOffFilter
}
