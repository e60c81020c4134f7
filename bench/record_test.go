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

// recorders are the meters compared: optel as shipped (Prometheus and
// JSON readers), the raw SDK with one manual reader as shipped (exemplar
// filter trace_based) and with exemplars off like optel.
type recorders struct {
	optel, sdk, sdkNoExemplars metric.Meter
}

func newRecorders(b *testing.B) recorders {
	b.Helper()
	ctx := context.Background()
	tp, err := telemetry.New(ctx, telemetry.WithEnvironment(func(string) (string, bool) { return "", false }), telemetry.WithExporters("prometheus,json"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tp.Shutdown(ctx) })
	sdk := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	off := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()), sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
	b.Cleanup(func() { _ = sdk.Shutdown(ctx); _ = off.Shutdown(ctx) })
	return recorders{optel: tp.Meter("bench"), sdk: sdk.Meter("bench"), sdkNoExemplars: off.Meter("bench")}
}

// Each Benchmark<Op> has sub-benchmarks named <system>/<attributes>:
// precomputed means the attribute set is built once (optel's
// telemetry.Attributes, the SDK's metric.WithAttributeSet option hoisted
// out of the loop, client_golang's bound child); per-call builds it on
// every call (optel and the SDK from key-values, client_golang through
// WithLabelValues).

func BenchmarkCounterAdd(b *testing.B) {
	ctx := context.Background()
	r := newRecorders(b)
	attrs := telemetry.NewAttributes(recKV...)
	setOpt := metric.WithAttributeSet(attribute.NewSet(recKV...))
	oc, _ := r.optel.Int64Counter("c")
	sc, _ := r.sdk.Int64Counter("c")
	nc, _ := r.sdkNoExemplars.Int64Counter("c")
	vec := prom.NewCounterVec(prom.CounterOpts{Name: "c", Help: "c"}, recNames)
	bound := vec.WithLabelValues(recLabels...)
	run(b, "optel/precomputed", func() { oc.Add(ctx, 1, attrs.Add()...) })
	run(b, "sdk/precomputed", func() { sc.Add(ctx, 1, setOpt) })
	run(b, "sdk-exemplars-off/precomputed", func() { nc.Add(ctx, 1, setOpt) })
	run(b, "client_golang/precomputed", func() { bound.Inc() })
	run(b, "optel/per-call", func() { oc.Add(ctx, 1, telemetry.NewAttributes(recKV...).Add()...) })
	run(b, "sdk/per-call", func() { sc.Add(ctx, 1, metric.WithAttributes(recKV...)) })
	run(b, "sdk-exemplars-off/per-call", func() { nc.Add(ctx, 1, metric.WithAttributes(recKV...)) })
	run(b, "client_golang/per-call", func() { vec.WithLabelValues(recLabels...).Inc() })
}

func BenchmarkHistogramRecord(b *testing.B) {
	ctx := context.Background()
	r := newRecorders(b)
	attrs := telemetry.NewAttributes(recKV...)
	setOpt := metric.WithAttributeSet(attribute.NewSet(recKV...))
	bo := metric.WithExplicitBucketBoundaries(buckets...)
	oh, _ := r.optel.Float64Histogram("h", metric.WithUnit("s"), bo)
	sh, _ := r.sdk.Float64Histogram("h", metric.WithUnit("s"), bo)
	nh, _ := r.sdkNoExemplars.Float64Histogram("h", metric.WithUnit("s"), bo)
	vec := prom.NewHistogramVec(prom.HistogramOpts{Name: "h", Help: "h", Buckets: buckets}, recNames)
	bound := vec.WithLabelValues(recLabels...)
	run(b, "optel/precomputed", func() { oh.Record(ctx, 0.3, attrs.Record()...) })
	run(b, "sdk/precomputed", func() { sh.Record(ctx, 0.3, setOpt) })
	run(b, "sdk-exemplars-off/precomputed", func() { nh.Record(ctx, 0.3, setOpt) })
	run(b, "client_golang/precomputed", func() { bound.Observe(0.3) })
	run(b, "optel/per-call", func() { oh.Record(ctx, 0.3, telemetry.NewAttributes(recKV...).Record()...) })
	run(b, "sdk/per-call", func() { sh.Record(ctx, 0.3, metric.WithAttributes(recKV...)) })
	run(b, "sdk-exemplars-off/per-call", func() { nh.Record(ctx, 0.3, metric.WithAttributes(recKV...)) })
	run(b, "client_golang/per-call", func() { vec.WithLabelValues(recLabels...).Observe(0.3) })
}

func BenchmarkUpDownAdd(b *testing.B) {
	ctx := context.Background()
	r := newRecorders(b)
	attrs := telemetry.NewAttributes(recKV...)
	setOpt := metric.WithAttributeSet(attribute.NewSet(recKV...))
	ou, _ := r.optel.Int64UpDownCounter("u")
	su, _ := r.sdk.Int64UpDownCounter("u")
	nu, _ := r.sdkNoExemplars.Int64UpDownCounter("u")
	vec := prom.NewGaugeVec(prom.GaugeOpts{Name: "u", Help: "u"}, recNames)
	bound := vec.WithLabelValues(recLabels...)
	run(b, "optel/precomputed", func() { ou.Add(ctx, 1, attrs.Add()...) })
	run(b, "sdk/precomputed", func() { su.Add(ctx, 1, setOpt) })
	run(b, "sdk-exemplars-off/precomputed", func() { nu.Add(ctx, 1, setOpt) })
	run(b, "client_golang/precomputed", func() { bound.Add(1) })
	run(b, "optel/per-call", func() { ou.Add(ctx, 1, telemetry.NewAttributes(recKV...).Add()...) })
	run(b, "sdk/per-call", func() { su.Add(ctx, 1, metric.WithAttributes(recKV...)) })
	run(b, "sdk-exemplars-off/per-call", func() { nu.Add(ctx, 1, metric.WithAttributes(recKV...)) })
	run(b, "client_golang/per-call", func() { vec.WithLabelValues(recLabels...).Add(1) })
}

func run(b *testing.B, name string, f func()) {
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f()
		}
	})
}
