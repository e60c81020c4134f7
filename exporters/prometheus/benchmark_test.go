package prometheus_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/optel-dev/optel/exporters/prometheus"
)

var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// discard is a ResponseWriter that throws the body away, so the benchmark
// measures gathering and encoding, not a network.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkScrape renders n counter and n histogram series through optel's
// encoder, the stock OTel exporter and, as the anchor in the same run,
// client_golang's promhttp on identical data. The two OTel readers share a
// MeterProvider, so each collection also pays for the other's aggregation
// store being present (not walked). bench/ has the 100k and 1M cases.
func BenchmarkScrape(b *testing.B) {
	const n = 2000
	ctx := context.Background()
	exp, err := prometheus.New(prometheus.WithoutTargetInfo())
	if err != nil {
		b.Fatal(err)
	}
	stock, err := prometheus.New(prometheus.WithoutTargetInfo(), prometheus.WithEncoder(prometheus.EncoderStock))
	if err != nil {
		b.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()), sdkmetric.WithReader(stock.Reader()), sdkmetric.WithCardinalityLimit(0),
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter)) // optel's default (telemetry.ExemplarsOff)
	defer mp.Shutdown(ctx)
	c, _ := mp.Meter("b").Int64Counter("requests", metric.WithDescription("r"))
	h, _ := mp.Meter("b").Float64Histogram("latency", metric.WithUnit("s"), metric.WithDescription("l"), metric.WithExplicitBucketBoundaries(buckets...))
	reg := prom.NewRegistry()
	pc := prom.NewCounterVec(prom.CounterOpts{Name: "requests_total", Help: "r"}, []string{"id"})
	ph := prom.NewHistogramVec(prom.HistogramOpts{Name: "latency_seconds", Help: "l", Buckets: buckets}, []string{"id"})
	reg.MustRegister(pc, ph)
	for i := range n {
		id := fmt.Sprint(i)
		c.Add(ctx, int64(i), metric.WithAttributes(attribute.String("id", id)))
		h.Record(ctx, float64(i%100)/10, metric.WithAttributes(attribute.String("id", id)))
		pc.WithLabelValues(id).Add(float64(i))
		ph.WithLabelValues(id).Observe(float64(i%100) / 10)
	}
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{
		{"optel", exp.Handler()},
		{"stock", stock.Handler()},
		{"client_golang", promhttp.HandlerFor(reg, promhttp.HandlerOpts{})},
	} {
		b.Run(fmt.Sprintf("%s/series=%d", tc.name, 2*n), func(b *testing.B) {
			b.ReportAllocs()
			req, _ := http.NewRequest("GET", "/metrics", nil)
			for b.Loop() {
				tc.h.ServeHTTP(&discard{h: http.Header{}}, req)
			}
		})
	}
}

// BenchmarkScrapeRepairs prices the repairs (repair.go) against clean data
// of the same size: n counter series from one scope; the same n series
// reported by a second scope too (n duplicates dropped, scope labels off);
// and n series whose label value holds an invalid byte.
func BenchmarkScrapeRepairs(b *testing.B) {
	const n = 2000
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		scopes []string
		value  string
	}{
		{"clean", []string{"a"}, "v"},
		{"two-scopes", []string{"a", "b"}, "v"},
		{"invalid-utf8", []string{"a"}, "v\xff"},
	} {
		b.Run(fmt.Sprintf("%s/series=%d", tc.name, n), func(b *testing.B) {
			exp, err := prometheus.New(prometheus.WithoutTargetInfo(), prometheus.WithErrorHandler(func(error) {}))
			if err != nil {
				b.Fatal(err)
			}
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()), sdkmetric.WithCardinalityLimit(0),
				sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
			defer mp.Shutdown(ctx)
			for _, s := range tc.scopes {
				c, _ := mp.Meter(s).Int64Counter("requests", metric.WithDescription("r"))
				for i := range n {
					c.Add(ctx, int64(i), metric.WithAttributes(attribute.String("id", fmt.Sprint(i)), attribute.String("v", tc.value)))
				}
			}
			b.ReportAllocs()
			req, _ := http.NewRequest("GET", "/metrics", nil)
			for b.Loop() {
				exp.Handler().ServeHTTP(&discard{h: http.Header{}}, req)
			}
		})
	}
}

// BenchmarkScrapeExemplars prices rendering exemplars: n counter and n
// histogram series scraped as OpenMetrics by the optel encoder, recorded
// inside a sampled span with the trace-based filter (each counter and the
// histogram bucket its value fell in carry an exemplar: trace_id, span_id,
// value, timestamp) against the same data recorded with exemplars off.
func BenchmarkScrapeExemplars(b *testing.B) {
	const n = 2000
	for _, tc := range []struct {
		name   string
		filter exemplar.Filter
	}{
		{"off", exemplar.AlwaysOffFilter},
		{"on", exemplar.TraceBasedFilter},
	} {
		b.Run(fmt.Sprintf("exemplars=%s/series=%d", tc.name, 2*n), func(b *testing.B) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
			defer tp.Shutdown(context.Background())
			ctx, span := tp.Tracer("b").Start(context.Background(), "record")
			defer span.End()
			exp, err := prometheus.New(prometheus.WithoutTargetInfo())
			if err != nil {
				b.Fatal(err)
			}
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()), sdkmetric.WithCardinalityLimit(0), sdkmetric.WithExemplarFilter(tc.filter))
			defer mp.Shutdown(ctx)
			c, _ := mp.Meter("b").Int64Counter("requests", metric.WithDescription("r"))
			h, _ := mp.Meter("b").Float64Histogram("latency", metric.WithUnit("s"), metric.WithDescription("l"), metric.WithExplicitBucketBoundaries(buckets...))
			for i := range n {
				o := metric.WithAttributes(attribute.String("id", fmt.Sprint(i)))
				c.Add(ctx, int64(i), o)
				h.Record(ctx, float64(i%100)/10, o)
			}
			req, _ := http.NewRequest("GET", "/metrics", nil)
			req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
			w := &discard{h: http.Header{}}
			exp.Handler().ServeHTTP(w, req)
			b.ReportAllocs()
			for b.Loop() {
				exp.Handler().ServeHTTP(&discard{h: http.Header{}}, req)
			}
		})
	}
}
