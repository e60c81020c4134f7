package telemetry_test

import (
	"context"
	"net/http/httptest"
	"testing"

	prom "github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/optel-dev/optel/telemetry"
)

var benchKV = []attribute.KeyValue{
	attribute.String("resource", "widgets.example.com"),
	attribute.String("handler", "on_create"),
	attribute.String("outcome", "success"),
}

// benchProviders returns optel's meter (Prometheus + JSON readers, the
// default) and, as the anchor, a raw SDK meter with one manual reader.
func benchProviders(b *testing.B, exporters string) (optel, raw metric.Meter) {
	b.Helper()
	tp, err := telemetry.New(context.Background(), telemetry.WithEnvironment(noEnv), telemetry.WithExporters(exporters))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return tp.Meter("bench"), mp.Meter("bench")
}

// BenchmarkCounterAdd compares the record path: optel with a precomputed
// Attributes, the raw SDK as usually called, and client_golang.
func BenchmarkCounterAdd(b *testing.B) {
	ctx := context.Background()
	optelM, rawM := benchProviders(b, "prometheus,json")
	noneM, _ := benchProviders(b, "none")
	attrs := telemetry.NewAttributes(benchKV...)
	set := attribute.NewSet(benchKV...)

	oc, _ := optelM.Int64Counter("c")
	nc, _ := noneM.Int64Counter("c")
	rc, _ := rawM.Int64Counter("c")
	b.Run("optel/precomputed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			oc.Add(ctx, 1, attrs.Add()...)
		}
	})
	b.Run("optel/telemetry-off", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			nc.Add(ctx, 1, attrs.Add()...)
		}
	})
	b.Run("sdk/WithAttributeSet", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rc.Add(ctx, 1, metric.WithAttributeSet(set))
		}
	})
	b.Run("sdk/WithAttributes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rc.Add(ctx, 1, metric.WithAttributes(benchKV...))
		}
	})
	vec := prom.NewCounterVec(prom.CounterOpts{Name: "c", Help: "c"}, []string{"resource", "handler", "outcome"})
	b.Run("client_golang/WithLabelValues", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			vec.WithLabelValues("widgets.example.com", "on_create", "success").Inc()
		}
	})
	bound := vec.WithLabelValues("widgets.example.com", "on_create", "success")
	b.Run("client_golang/bound", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bound.Inc()
		}
	})
}

func BenchmarkHistogramRecord(b *testing.B) {
	ctx := context.Background()
	optelM, rawM := benchProviders(b, "prometheus,json")
	attrs := telemetry.NewAttributes(benchKV...)
	set := attribute.NewSet(benchKV...)
	oh, _ := optelM.Float64Histogram("h", metric.WithUnit("s"))
	rh, _ := rawM.Float64Histogram("h", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	b.Run("optel/precomputed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			oh.Record(ctx, 0.3, attrs.Record()...)
		}
	})
	b.Run("sdk/WithAttributeSet", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rh.Record(ctx, 0.3, metric.WithAttributeSet(set))
		}
	})
	vec := prom.NewHistogramVec(prom.HistogramOpts{Name: "h", Help: "h", Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}}, []string{"resource", "handler", "outcome"})
	b.Run("client_golang/WithLabelValues", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			vec.WithLabelValues("widgets.example.com", "on_create", "success").Observe(0.3)
		}
	})
}

func BenchmarkUpDownCounterAdd(b *testing.B) {
	ctx := context.Background()
	optelM, rawM := benchProviders(b, "prometheus,json")
	attrs := telemetry.NewAttributes(benchKV...)
	set := attribute.NewSet(benchKV...)
	ou, _ := optelM.Int64UpDownCounter("u")
	ru, _ := rawM.Int64UpDownCounter("u")
	b.Run("optel/precomputed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ou.Add(ctx, 1, attrs.Add()...)
		}
	})
	b.Run("sdk/WithAttributeSet", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ru.Add(ctx, 1, metric.WithAttributeSet(set))
		}
	})
	vec := prom.NewGaugeVec(prom.GaugeOpts{Name: "u", Help: "u"}, []string{"resource", "handler", "outcome"})
	b.Run("client_golang/WithLabelValues", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			vec.WithLabelValues("widgets.example.com", "on_create", "success").Inc()
		}
	})
}

// BenchmarkScrapeExemplarFilter measures what the trace_based exemplar
// filter, the default when traces are on, costs a scrape of 4000 counter
// and histogram series recorded outside any span (so no exemplar is kept),
// against always_off, the default when traces are off.
func BenchmarkScrapeExemplarFilter(b *testing.B) {
	for _, f := range []telemetry.ExemplarFilter{telemetry.ExemplarsOff, telemetry.ExemplarsTraceBased} {
		b.Run(string(f), func(b *testing.B) {
			ctx := context.Background()
			tp, err := telemetry.New(ctx, telemetry.WithEnvironment(noEnv), telemetry.WithExporters("prometheus"), telemetry.WithTracesExporters("none"), telemetry.WithExemplarFilter(f))
			if err != nil {
				b.Fatal(err)
			}
			defer tp.Shutdown(ctx)
			c, _ := tp.Meter("bench").Int64Counter("c")
			h, _ := tp.Meter("bench").Float64Histogram("h", metric.WithUnit("s"))
			for i := range 2000 {
				a := metric.WithAttributes(attribute.Int("i", i))
				c.Add(ctx, 1, a)
				h.Record(ctx, 0.1, a)
			}
			srv := tp.Routes()["/metrics"]
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
				if rec.Code != 200 {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
