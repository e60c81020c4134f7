package telemetry

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	lognoop "go.opentelemetry.io/otel/log/noop"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/optel-dev/optel/internal/observ"
)

// itemStats counts what one trace or log exporter lost.
type itemStats struct {
	failures   atomic.Int64
	queueFull  atomic.Int64
	exportFail atomic.Int64
	shutdown   atomic.Int64
	attrs      metric.ObserveOption    // exporter
	reasons    [3]metric.ObserveOption // exporter, reason
	lastFailed atomic.Bool
}

func newItemStats(name string) *itemStats {
	s := &itemStats{attrs: metric.WithAttributeSet(attribute.NewSet(observ.AttrExporter.String(name)))}
	for i, r := range []string{DropQueueFull, DropExportFailed, DropShutdown} {
		s.reasons[i] = metric.WithAttributeSet(attribute.NewSet(observ.AttrExporter.String(name), observ.AttrReason.String(r)))
	}
	return s
}

func (s *itemStats) drop(reason string, n int) {
	switch reason {
	case DropQueueFull:
		s.queueFull.Add(int64(n))
	case DropExportFailed:
		s.exportFail.Add(int64(n))
	default:
		s.shutdown.Add(int64(n))
	}
}

func (s *itemStats) total() int64 {
	return s.queueFull.Load() + s.exportFail.Load() + s.shutdown.Load()
}

func (s *itemStats) observe(o metric.Observer, dropped, failures metric.Int64ObservableCounter) {
	o.ObserveInt64(failures, s.failures.Load(), s.attrs)
	for i, c := range []*atomic.Int64{&s.queueFull, &s.exportFail, &s.shutdown} {
		o.ObserveInt64(dropped, c.Load(), s.reasons[i])
	}
}

// signalSettings are the generic inputs of one trace or log exporter.
func (p *Provider) signalSettings(c *config, name string, signal Signal, st *itemStats, batch BatchSettings) ExporterSettings {
	return ExporterSettings{
		Name:     name,
		Signal:   signal,
		Resource: p.res,
		Config:   c.exporterConfig(name),
		ReportError: func(err error) {
			st.failures.Add(1)
			st.lastFailed.Store(true)
			p.handler.Handle(fmt.Errorf("%s %s exporter: %w", name, signal, err))
		},
		ReportSuccess:      func() { st.lastFailed.Store(false) },
		ReportDroppedItems: st.drop,
		Batch:              batch,
	}
}

// buildTracing creates the TracerProvider when spans go anywhere.
func (p *Provider) buildTracing(ctx context.Context, c *config) error {
	if !c.tracing() {
		return nil
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(p.res), sdktrace.WithSampler(c.sampler)}
	var built []sdktrace.SpanProcessor
	for _, name := range c.traces.val {
		e, _ := c.registry.getEntry(name) // parseSignalExporters checked it
		st := newItemStats(name)
		exp, err := e.traces.NewTraceExporter(ctx, p.signalSettings(c, name, SignalTraces, st, c.spanBatch))
		if err != nil {
			for _, sp := range built {
				_ = sp.Shutdown(ctx)
			}
			return fmt.Errorf("create %s trace exporter (from %s): %w", name, c.traces.src, err)
		}
		sp := exp.SpanProcessor()
		if err := p.addRoutes(name, exp); err != nil {
			for _, b := range append(built, sp) {
				_ = b.Shutdown(ctx)
			}
			return err
		}
		p.spanStats[name] = st
		built = append(built, sp)
		opts = append(opts, sdktrace.WithSpanProcessor(sp))
	}
	for _, sp := range c.spanProcessors {
		opts = append(opts, sdktrace.WithSpanProcessor(sp))
	}
	p.tp = sdktrace.NewTracerProvider(opts...)
	p.traceNames = c.traces.val
	return nil
}

// buildLogging creates the LoggerProvider when log records go anywhere.
func (p *Provider) buildLogging(ctx context.Context, c *config) error {
	if len(c.logs.val) == 0 && len(c.logProcessors) == 0 {
		return nil
	}
	opts := []sdklog.LoggerProviderOption{sdklog.WithResource(p.res)}
	var built []sdklog.Processor
	fail := func(err error) error {
		for _, b := range built {
			_ = b.Shutdown(ctx)
		}
		return err
	}
	for _, name := range c.logs.val {
		e, _ := c.registry.getEntry(name)
		st := newItemStats(name)
		exp, err := e.logs.NewLogExporter(ctx, p.signalSettings(c, name, SignalLogs, st, c.logBatch))
		if err != nil {
			return fail(fmt.Errorf("create %s log exporter (from %s): %w", name, c.logs.src, err))
		}
		lp := exp.LogProcessor()
		built = append(built, lp)
		if err := p.addRoutes(name, exp); err != nil {
			return fail(err)
		}
		p.logStats[name] = st
		opts = append(opts, sdklog.WithProcessor(lp))
	}
	for _, lp := range c.logProcessors {
		opts = append(opts, sdklog.WithProcessor(lp))
	}
	p.lp = sdklog.NewLoggerProvider(opts...)
	p.logNames = c.logs.val
	return nil
}

func (p *Provider) addRoutes(name string, exp any) error {
	rp, ok := exp.(RouteProvider)
	if !ok {
		return nil
	}
	for path, h := range rp.Routes() {
		if _, dup := p.routes[path]; dup {
			return fmt.Errorf("exporter %s: route %s is already served by another exporter", name, path)
		}
		p.routes[path] = h
	}
	return nil
}

// TracerProvider returns the provider to inject into the operator and
// libraries. It is a no-op provider when no trace exporter is selected
// (--traces-exporters=none) and no span processor was added, so spans
// then cost nothing. optel never sets the global one.
func (p *Provider) TracerProvider() trace.TracerProvider {
	if p.tp == nil {
		return tracenoop.NewTracerProvider()
	}
	return p.tp
}

// Tracing reports whether spans go anywhere.
func (p *Provider) Tracing() bool { return p.tp != nil }

// TraceExporters returns the trace exporters' names, in the order given.
func (p *Provider) TraceExporters() []string { return append([]string(nil), p.traceNames...) }

// LoggerProvider returns the OTel logs provider for the slog bridge. It is
// a no-op provider when no log exporter is selected (the default: logs go
// to stderr only). optel never sets the global one.
func (p *Provider) LoggerProvider() log.LoggerProvider {
	if p.lp == nil {
		return lognoop.NewLoggerProvider()
	}
	return p.lp
}

// Logging reports whether log records are exported.
func (p *Provider) Logging() bool { return p.lp != nil }

// DroppedSpans returns, per trace exporter, the sampled spans it lost
// (optel.telemetry.spans.dropped, all reasons).
func (p *Provider) DroppedSpans() map[string]int64 { return totals(p.spanStats) }

// DroppedSpansByReason returns, per trace exporter, the sampled spans it
// lost by reason (DropQueueFull, DropExportFailed, DropShutdown).
func (p *Provider) DroppedSpansByReason() map[string]map[string]int64 {
	out := make(map[string]map[string]int64, len(p.spanStats))
	for n, s := range p.spanStats {
		out[n] = map[string]int64{DropQueueFull: s.queueFull.Load(), DropExportFailed: s.exportFail.Load(), DropShutdown: s.shutdown.Load()}
	}
	return out
}

// DroppedLogs returns, per log exporter, the records it lost.
func (p *Provider) DroppedLogs() map[string]int64 { return totals(p.logStats) }

func totals(m map[string]*itemStats) map[string]int64 {
	out := make(map[string]int64, len(m))
	for n, s := range m {
		out[n] = s.total()
	}
	return out
}

// flushSignals flushes the trace and log providers.
func (p *Provider) flushSignals(ctx context.Context) error {
	var errs []error
	if p.tp != nil {
		errs = append(errs, p.tp.ForceFlush(ctx))
	}
	if p.lp != nil {
		errs = append(errs, p.lp.ForceFlush(ctx))
	}
	return errors.Join(errs...)
}

// shutdownSignals shuts the trace and log providers down within ctx, at
// once: queued spans and records are exported first.
func (p *Provider) shutdownSignals(ctx context.Context) error {
	type shutdowner struct {
		what string
		fn   func(context.Context) error
	}
	var all []shutdowner
	if p.tp != nil {
		all = append(all, shutdowner{"tracing", p.tp.Shutdown})
	}
	if p.lp != nil {
		all = append(all, shutdowner{"logs", p.lp.Shutdown})
	}
	errs := make(chan error, len(all))
	for _, sd := range all {
		go func() {
			if err := sd.fn(ctx); err != nil {
				errs <- fmt.Errorf("shut down %s: %w", sd.what, err)
				return
			}
			errs <- nil
		}()
	}
	var out []error
	for range all {
		out = append(out, <-errs)
	}
	return errors.Join(out...)
}
