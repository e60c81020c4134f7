package bench

import (
	"context"
	"testing"

	prom "github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"

	"github.com/optel-dev/optel/telemetry"
)

var (
	recKV     = []attribute.KeyValue{attribute.String("resource", "widgets.example.com"), attribute.String("handler", "on_create"), attribute.String("outcome", "success")}
	recLabels = []string{"widgets.example.com", "on_create", "success"}
	recNames  = []string{"resource", "handler", "outcome"}
)

// recorders are the meters compared: optel as shipped with traces off
// (Prometheus and JSON readers, exemplars off), and the raw SDK configured
// as its careful users configure it: exemplars off, like optel, and the
// measurement options hoisted out of the hot loop (see the benchmarks).
// sdkDefault keeps the SDK's default exemplar filter (trace_based), for
// information only.
type recorders struct {
	optel, sdk, sdkDefault metric.Meter
}

func newRecorders(b *testing.B) recorders {
	b.Helper()
	ctx := context.Background()
	// Traces off: the SDK anchor has exemplars off, and so does optel
	// without traces (BenchmarkRecordExemplars measures them on).
	tp, err := telemetry.New(ctx, telemetry.WithEnvironment(func(string) (string, bool) { return "", false }), telemetry.WithExporters("prometheus,json"), telemetry.WithTracesExporters("none"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tp.Shutdown(ctx) })
	off := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()), sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
	def := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() { _ = off.Shutdown(ctx); _ = def.Shutdown(ctx) })
	return recorders{optel: tp.Meter("bench"), sdk: off.Meter("bench"), sdkDefault: def.Meter("bench")}
}

// recordCase is one recording operation on each system. precomputed means
// the attribute set is built once: optel's telemetry.Attributes, the SDK's
// option slice built once (metric.WithAttributeSet in a hoisted
// []metric.AddOption, so the variadic call allocates nothing), and
// client_golang's bound child. per-call builds the attributes on every call
// (optel and the SDK from key-values, client_golang through
// WithLabelValues).
type recordCase struct {
	name                                 string
	optel, sdk, sdkDefault, clientGolang func()
}

func recordCases(b *testing.B) []recordCase {
	ctx := context.Background()
	r := newRecorders(b)
	attrs := telemetry.NewAttributes(recKV...)
	set := attribute.NewSet(recKV...)
	addOpts := []metric.AddOption{metric.WithAttributeSet(set)}
	recOpts := []metric.RecordOption{metric.WithAttributeSet(set)}
	bo := metric.WithExplicitBucketBoundaries(buckets...)

	oc, _ := r.optel.Int64Counter("c")
	sc, _ := r.sdk.Int64Counter("c")
	dc, _ := r.sdkDefault.Int64Counter("c")
	cvec := prom.NewCounterVec(prom.CounterOpts{Name: "c", Help: "c"}, recNames)
	cb := cvec.WithLabelValues(recLabels...)

	oh, _ := r.optel.Float64Histogram("h", metric.WithUnit("s"), bo)
	sh, _ := r.sdk.Float64Histogram("h", metric.WithUnit("s"), bo)
	dh, _ := r.sdkDefault.Float64Histogram("h", metric.WithUnit("s"), bo)
	hvec := prom.NewHistogramVec(prom.HistogramOpts{Name: "h", Help: "h", Buckets: buckets}, recNames)
	hb := hvec.WithLabelValues(recLabels...)

	ou, _ := r.optel.Int64UpDownCounter("u")
	su, _ := r.sdk.Int64UpDownCounter("u")
	du, _ := r.sdkDefault.Int64UpDownCounter("u")
	gvec := prom.NewGaugeVec(prom.GaugeOpts{Name: "u", Help: "u"}, recNames)
	gb := gvec.WithLabelValues(recLabels...)

	return []recordCase{
		{"counter/precomputed", func() { oc.Add(ctx, 1, attrs.Add()...) }, func() { sc.Add(ctx, 1, addOpts...) }, func() { dc.Add(ctx, 1, addOpts...) }, func() { cb.Inc() }},
		{"counter/per-call", func() { oc.Add(ctx, 1, telemetry.NewAttributes(recKV...).Add()...) }, func() { sc.Add(ctx, 1, metric.WithAttributes(recKV...)) }, func() { dc.Add(ctx, 1, metric.WithAttributes(recKV...)) }, func() { cvec.WithLabelValues(recLabels...).Inc() }},
		{"histogram/precomputed", func() { oh.Record(ctx, 0.3, attrs.Record()...) }, func() { sh.Record(ctx, 0.3, recOpts...) }, func() { dh.Record(ctx, 0.3, recOpts...) }, func() { hb.Observe(0.3) }},
		{"histogram/per-call", func() { oh.Record(ctx, 0.3, telemetry.NewAttributes(recKV...).Record()...) }, func() { sh.Record(ctx, 0.3, metric.WithAttributes(recKV...)) }, func() { dh.Record(ctx, 0.3, metric.WithAttributes(recKV...)) }, func() { hvec.WithLabelValues(recLabels...).Observe(0.3) }},
		{"updown/precomputed", func() { ou.Add(ctx, 1, attrs.Add()...) }, func() { su.Add(ctx, 1, addOpts...) }, func() { du.Add(ctx, 1, addOpts...) }, func() { gb.Add(1) }},
		{"updown/per-call", func() { ou.Add(ctx, 1, telemetry.NewAttributes(recKV...).Add()...) }, func() { su.Add(ctx, 1, metric.WithAttributes(recKV...)) }, func() { du.Add(ctx, 1, metric.WithAttributes(recKV...)) }, func() { gvec.WithLabelValues(recLabels...).Add(1) }},
	}
}

// BenchmarkRecord compares, for each recording operation, optel with its
// anchor in rotated pairs (measurePairs): <case>/vs-sdk is the target row
// (the SDK as optel configures it), vs-sdk-default-exemplars and
// vs-client_golang are for information. The benchmark's own b.N is 1; the
// pairs do the counting.
func BenchmarkRecord(b *testing.B) {
	for _, c := range recordCases(b) {
		for _, anchor := range []struct {
			name string
			fn   func()
		}{{"vs-sdk", c.sdk}, {"vs-sdk-default-exemplars", c.sdkDefault}, {"vs-client_golang", c.clientGolang}} {
			b.Run(c.name+"/"+anchor.name, func(b *testing.B) {
				for b.Loop() {
					r := measurePairs(pairs, 200_000, c.optel, anchor.fn)
					r.report(b, testing.AllocsPerRun(1000, c.optel), testing.AllocsPerRun(1000, anchor.fn))
				}
			})
		}
	}
}

// BenchmarkRecordExemplars measures what exemplars cost on the record path,
// in rotated pairs: optel with traces on (the trace_based exemplar filter,
// its default then) against optel with exemplars off, both recording
// inside the same sampled span, as a handler's measurements are.
func BenchmarkRecordExemplars(b *testing.B) {
	env := telemetry.WithEnvironment(func(string) (string, bool) { return "", false })
	bg := context.Background()
	on, err := telemetry.New(bg, env, telemetry.WithExporters("prometheus,json"), telemetry.WithTracesExporters("json"))
	if err != nil {
		b.Fatal(err)
	}
	off, err := telemetry.New(bg, env, telemetry.WithExporters("prometheus,json"), telemetry.WithTracesExporters("json"), telemetry.WithExemplarFilter(telemetry.ExemplarsOff))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = on.Shutdown(bg); _ = off.Shutdown(bg) })
	ctx, span := on.TracerProvider().Tracer("bench").Start(bg, "run")
	defer span.End()
	if !span.SpanContext().IsSampled() {
		b.Fatal("the span is not sampled: exemplars would not be kept")
	}
	attrs := telemetry.NewAttributes(recKV...)
	bo := metric.WithExplicitBucketBoundaries(buckets...)
	hOn, _ := on.Meter("bench").Float64Histogram("h", metric.WithUnit("s"), bo)
	hOff, _ := off.Meter("bench").Float64Histogram("h", metric.WithUnit("s"), bo)
	cOn, _ := on.Meter("bench").Int64Counter("c")
	cOff, _ := off.Meter("bench").Int64Counter("c")
	for _, c := range []struct {
		name    string
		on, off func()
	}{
		{"histogram/precomputed", func() { hOn.Record(ctx, 0.3, attrs.Record()...) }, func() { hOff.Record(ctx, 0.3, attrs.Record()...) }},
		{"counter/precomputed", func() { cOn.Add(ctx, 1, attrs.Add()...) }, func() { cOff.Add(ctx, 1, attrs.Add()...) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				r := measurePairs(pairs, 200_000, c.on, c.off)
				r.report(b, testing.AllocsPerRun(1000, c.on), testing.AllocsPerRun(1000, c.off))
			}
		})
	}
}
