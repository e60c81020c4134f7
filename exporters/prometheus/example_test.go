package prometheus_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	prom "github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/optel-dev/optel/exporters/prometheus"
)

// OTel instruments and an existing client_golang counter on one endpoint.
func Example() {
	legacy := prom.NewRegistry()
	c := prom.NewCounter(prom.CounterOpts{Name: "legacy_total", Help: "Old counter."})
	legacy.MustRegister(c)
	c.Add(2)

	exp, _ := prometheus.New(prometheus.WithGatherer(legacy), prometheus.WithoutTargetInfo())
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()))
	defer mp.Shutdown(context.Background())
	h, _ := mp.Meter("x").Float64Histogram("job.duration", metric.WithUnit("s"), metric.WithDescription("Job time."),
		metric.WithExplicitBucketBoundaries(1))
	h.Record(context.Background(), 0.5)

	rec := httptest.NewRecorder()
	exp.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(l, "job_duration_seconds_count") || strings.HasPrefix(l, "legacy_total") {
			fmt.Println(l)
		}
	}
	// Output:
	// job_duration_seconds_count 1
	// legacy_total 2
}
