package otlp_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/optel-dev/optel/exporters/otlp"
	"github.com/optel-dev/optel/internal/testpeers"
)

// collectSeries records n counter and n histogram series (14 buckets) from
// two scopes and collects them.
func collectSeries(t *testing.T, n int) *metricdata.ResourceMetrics {
	t.Helper()
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithCardinalityLimit(0))
	t.Cleanup(func() { _ = mp.Shutdown(ctx) })
	c, _ := mp.Meter("a").Int64Counter("split.requests")
	h, _ := mp.Meter("b").Float64Histogram("split.latency", metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	for i := range n {
		o := metric.WithAttributes(attribute.String("id", fmt.Sprint(i)), attribute.String("namespace", "some-namespace"))
		c.Add(ctx, int64(i), o)
		h.Record(ctx, float64(i%100)/10, o)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	return &rm
}

// TestSplitLargeExportsReachRealCollector: 40k series exceed the Collector's
// default 4 MiB gRPC message limit in one request. Unsplit, the export is
// refused; split (the default), every series arrives.
func TestSplitLargeExportsReachRealCollector(t *testing.T) {
	col := testpeers.StartCollector(t)
	rm := collectSeries(t, 20_000)
	ctx := context.Background()

	unsplit, err := otlp.New(ctx, otlp.WithEndpoint(col.GRPCEndpoint), otlp.WithMaxPointsPerExport(0), otlp.WithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer unsplit.Shutdown(ctx)
	if err := unsplit.Export(ctx, rm); err == nil || !strings.Contains(err.Error(), "larger than max") {
		t.Fatalf("unsplit export of 40k series: err = %v, want the collector's message size refusal", err)
	}

	exp, err := otlp.New(ctx, otlp.WithEndpoint(col.GRPCEndpoint), otlp.WithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(ctx)
	if err := exp.Export(ctx, rm); err != nil {
		t.Fatalf("split export: %v", err)
	}
	testpeers.Eventually(t, 30*time.Second, func() string {
		c, h := col.Sink.Count("split.requests"), col.Sink.Count("split.latency")
		if c != 20_000 || h != 20_000 {
			return fmt.Sprintf("collector forwarded %d counter and %d histogram series, want 20000 each", c, h)
		}
		return ""
	})
	if v, ok := col.Sink.Value("split.requests", map[string]string{"id": "19999", "namespace": "some-namespace"}); !ok || v != 19999 {
		t.Errorf("last series = %v (present %v), want 19999", v, ok)
	}
}
