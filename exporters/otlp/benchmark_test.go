package otlp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/optel-dev/optel/exporters/otlp"
)

// BenchmarkExport measures one OTLP/HTTP export of 2000 counter and 2000
// histogram series: protobuf encoding plus a POST to a loopback server that
// discards the body. Encoding dominates; gzip is shown separately.
func BenchmarkExport(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithCardinalityLimit(0))
	defer mp.Shutdown(ctx)
	c, _ := mp.Meter("b").Int64Counter("requests")
	h, _ := mp.Meter("b").Float64Histogram("latency", metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	for i := range 2000 {
		o := metric.WithAttributes(attribute.String("id", fmt.Sprint(i)))
		c.Add(ctx, int64(i), o)
		h.Record(ctx, float64(i%100)/10, o)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		b.Fatal(err)
	}
	for _, comp := range []otlp.Compression{otlp.NoCompression, otlp.Gzip} {
		b.Run(fmt.Sprintf("http/compression=%s/series=4000", comp), func(b *testing.B) {
			exp, err := otlp.New(ctx, otlp.WithProtocol(otlp.HTTPProtobuf), otlp.WithEndpoint(srv.URL), otlp.WithCompression(comp))
			if err != nil {
				b.Fatal(err)
			}
			defer exp.Shutdown(ctx)
			b.ReportAllocs()
			for b.Loop() {
				if err := exp.Export(ctx, &rm); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
