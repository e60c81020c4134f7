package jsonexp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

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
