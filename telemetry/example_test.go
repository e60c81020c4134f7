package telemetry_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/optel-dev/optel/telemetry"
)

// Record once through the OTel meter; every configured exporter renders it.
func Example() {
	ctx := context.Background()
	tp, err := telemetry.New(ctx,
		telemetry.WithExporters("prometheus,json"),
		telemetry.WithServiceName("example"),
		telemetry.WithEnvironment(func(string) (string, bool) { return "", false }),
	)
	if err != nil {
		panic(err)
	}
	defer tp.Shutdown(ctx)

	requests, _ := tp.Meter("example").Int64Counter("demo.requests", metric.WithDescription("Requests served."))
	ok := telemetry.NewAttributes(attribute.String("route", "/a")) // precomputed: 0 allocs per Add
	requests.Add(ctx, 3, ok.Add()...)

	rec := httptest.NewRecorder()
	tp.Routes()["/metrics"].ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "demo_requests_total") {
			fmt.Println(line)
		}
	}
	fmt.Println(tp.Exporters())
	// Output:
	// demo_requests_total{route="/a"} 3
	// [prometheus json]
}

// OnCollect refreshes a gauge right before any exporter reads it.
func ExampleProvider_OnCollect() {
	ctx := context.Background()
	tp, _ := telemetry.New(ctx, telemetry.WithExporters("prometheus"),
		telemetry.WithEnvironment(func(string) (string, bool) { return "", false }))
	defer tp.Shutdown(ctx)

	backlog, _ := tp.Meter("example").Int64Gauge("jobs.backlog", metric.WithDescription("Jobs waiting."))
	pending := func() int64 { return 7 } // e.g. a database count
	tp.OnCollect("backlog", func(ctx context.Context) error {
		backlog.Record(ctx, pending())
		return nil
	})

	rec := httptest.NewRecorder()
	tp.Routes()["/metrics"].ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	fmt.Println(strings.Contains(string(body), "jobs_backlog 7"))
	// Output: true
}

// A bad value names its source and what is accepted.
func ExampleConfigError() {
	_, err := telemetry.New(context.Background(), telemetry.WithEnvironment(func(k string) (string, bool) {
		if k == "OTEL_METRICS_EXPORTER" {
			return "prometheus,statsd", true
		}
		return "", false
	}))
	fmt.Println(err)
	// Output: invalid value "prometheus,statsd" for OTEL_METRICS_EXPORTER: unknown exporter "statsd" (accepted: console, json, none, otlp, prometheus)
}
