package jsonexp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/optel-dev/optel/exporters/jsonexp"
)

// BenchmarkRender encodes a collected snapshot of 2000 counter and 2000
// histogram series with AppendJSON and, as the anchor, encoding/json on the
// same metricdata.
func BenchmarkRender(b *testing.B) {
	ctx := context.Background()
	exp := jsonexp.New()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()), sdkmetric.WithCardinalityLimit(0))
	defer mp.Shutdown(ctx)
	c, _ := mp.Meter("b").Int64Counter("requests")
	h, _ := mp.Meter("b").Float64Histogram("latency", metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	for i := range 2000 {
		o := metric.WithAttributes(attribute.String("id", fmt.Sprint(i)))
		c.Add(ctx, int64(i), o)
		h.Record(ctx, float64(i%100)/10, o)
	}
	rm, err := exp.Snapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("optel/AppendJSON/series=4000", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = jsonexp.AppendJSON(buf[:0], rm)
		}
	})
	b.Run("encoding_json/series=4000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(rm); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("optel/handler(collect+render)/series=4000", func(b *testing.B) {
		b.ReportAllocs()
		h := exp.Handler()
		req := httptest.NewRequest("GET", "/metrics.json", nil)
		for b.Loop() {
			h.ServeHTTP(&discard{h: http.Header{}}, req)
		}
	})
}

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkTraceView measures what the view adds to a handler run (a root
// span and two API children) on the handler's path, against the same spans
// with no processor (the SDK then takes no snapshots) and with one that
// does nothing (the floor of any processor), and the cost of rendering /traces.json with every
// list of 20 handlers full.
func BenchmarkTraceView(b *testing.B) {
	ctx := context.Background()
	run := func(tr trace.Tracer, i int) {
		c, root := tr.Start(ctx, "create widgets.example.com", trace.WithAttributes(
			attribute.String("optel.handler", "h"+strconv.Itoa(i%20)), attribute.String("optel.resource", "widgets.example.com"),
			attribute.String("optel.cause", "create"), attribute.String("k8s.namespace.name", "default")))
		for range 2 {
			_, s := tr.Start(c, "PATCH widgets", trace.WithAttributes(attribute.String("http.request.method", "PATCH"), attribute.Int("http.response.status_code", 200)))
			s.End()
		}
		if i%10 == 0 {
			root.SetStatus(codes.Error, "boom")
		}
		root.End()
	}
	for _, tc := range []struct {
		name string
		sp   func() sdktrace.SpanProcessor // a fresh one per run: Shutdown ends it
	}{
		{"spans/no-processor", nil},
		{"spans/noop-processor", func() sdktrace.SpanProcessor { return noopProcessor{} }},
		{"spans/traceview", func() sdktrace.SpanProcessor { return jsonexp.NewTraceView() }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var opts []sdktrace.TracerProviderOption
			if tc.sp != nil {
				opts = append(opts, sdktrace.WithSpanProcessor(tc.sp()))
			}
			tp := sdktrace.NewTracerProvider(opts...)
			defer tp.Shutdown(ctx)
			tr := tp.Tracer("b")
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				run(tr, i)
				i++
			}
		})
	}
	b.Run("render/handlers=20", func(b *testing.B) {
		v := jsonexp.NewTraceView()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(v))
		defer tp.Shutdown(ctx)
		for i := range 2000 {
			run(tp.Tracer("b"), i)
		}
		h := v.Handler()
		req := httptest.NewRequest("GET", "/traces.json", nil)
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(&discard{h: http.Header{}}, req)
		}
	})
}

type noopProcessor struct{}

func (noopProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (noopProcessor) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (noopProcessor) Shutdown(context.Context) error                  { return nil }
func (noopProcessor) ForceFlush(context.Context) error                { return nil }
