package prometheus_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/optel-dev/optel/exporters/prometheus"
	"github.com/optel-dev/optel/internal/testpeers"
)

// TestRealPrometheusIngestsRepairedExposition: a real Prometheus scrapes an
// optel endpoint whose data hold a label value and a description with the
// bytes 0xff 0xfe and a series that two scopes report. Raw, either UTF-8
// problem makes Prometheus reject the whole scrape. Repaired, the target
// stays up with no scrape error, the valid series are queryable, the
// sanitized one is stored with U+FFFD, and the duplicate is sent once, with
// the first scope's value.
func TestRealPrometheusIngestsRepairedExposition(t *testing.T) {
	exp, err := prometheus.New()
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()))
	defer mp.Shutdown(context.Background())
	ctx := context.Background()
	a, _ := mp.Meter("scope.a").Int64Counter("jobs", metric.WithDescription("Jobs \xff\xfe done."))
	b, _ := mp.Meter("scope.b").Int64Counter("jobs", metric.WithDescription("Jobs done."))
	a.Add(ctx, 7, metric.WithAttributes(attribute.String("k", "ok")))
	a.Add(ctx, 3, metric.WithAttributes(attribute.String("k", "x\xff\xfey")))
	a.Add(ctx, 1, metric.WithAttributes(attribute.String("k", "dup")))
	b.Add(ctx, 2, metric.WithAttributes(attribute.String("k", "dup")))
	g, _ := mp.Meter("scope.b").Int64Gauge("workers", metric.WithDescription("Workers."))
	g.Record(ctx, 4)

	srv := httptest.NewServer(exp.Handler())
	defer srv.Close()
	p := testpeers.StartPrometheus(t, strings.TrimPrefix(srv.URL, "http://"))
	p.WaitTargetsUp(t)

	for _, tc := range []struct {
		query string
		want  float64
	}{
		{`jobs_total{k="ok"}`, 7},
		{`workers`, 4},
		{`jobs_total{k="x\uFFFDy"}`, 3}, // PromQL 2.42 takes U+FFFD only escaped
		{`jobs_total{k="dup"}`, 1},
	} {
		got := p.WaitQuery(t, tc.query)
		if len(got) != 1 || got[0].Float() != tc.want {
			t.Errorf("%s = %v, want one sample %v", tc.query, got, tc.want)
		}
	}
	if got := p.Query(t, `jobs_total{k=~"x.y"}`); len(got) != 1 || got[0].Metric["k"] != "x\uFFFDy" {
		t.Errorf("sanitized series stored as %v, want k=%q", got, "x\uFFFDy")
	}
	// Prometheus 2.42 drops a repeated series without counting it as a
	// duplicate sample, but counts every sample it read: four series and
	// target_info, each once.
	if got := p.WaitQuery(t, `scrape_samples_scraped{job="optel"}`); got[0].Float() != 5 {
		t.Errorf("Prometheus read %v samples per scrape, want 5 (each series once)", got[0].Float())
	}
	p.WaitQuery(t, `count_over_time(up{job="optel"}[1m]) >= 3`)
	p.WaitTargetsUp(t) // still up after several scrapes
}

// TestRealPrometheusIngestsExemplars: a real Prometheus with exemplar
// storage scrapes an optel endpoint whose histogram and counter were
// recorded inside a sampled span of a real TracerProvider, with the
// trace-based exemplar filter; /api/v1/query_exemplars then returns that
// span's trace_id and span_id on the bucket the value fell in and on the
// counter. Prometheus stores exemplars only from OpenMetrics, so the test
// also checks that its scrapes negotiated OpenMetrics.
func TestRealPrometheusIngestsExemplars(t *testing.T) {
	exp, err := prometheus.New()
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer tp.Shutdown(context.Background())
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()), sdkmetric.WithExemplarFilter(exemplar.TraceBasedFilter))
	defer mp.Shutdown(context.Background())
	m := mp.Meter("scope.a")
	h, _ := m.Float64Histogram("job.duration", metric.WithUnit("s"), metric.WithDescription("Job time."),
		metric.WithExplicitBucketBoundaries(0.1, 0.5, 1))
	c, _ := m.Int64Counter("jobs", metric.WithDescription("Jobs."))
	ctx, span := tp.Tracer("test").Start(context.Background(), "job")
	h.Record(ctx, 0.27, metric.WithAttributes(attribute.String("kind", "a")))
	c.Add(ctx, 1, metric.WithAttributes(attribute.String("kind", "a")))
	span.End()
	h.Record(context.Background(), 0.7, metric.WithAttributes(attribute.String("kind", "a"))) // no span: no exemplar
	traceID, spanID := span.SpanContext().TraceID().String(), span.SpanContext().SpanID().String()

	var contentTypes sync.Map // what the handler answered Prometheus's scrapes with
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		exp.Handler().ServeHTTP(w, r)
		contentTypes.Store(w.Header().Get("Content-Type"), r.Header.Get("Accept"))
	}))
	defer srv.Close()
	start := time.Now().Add(-time.Minute)
	p := testpeers.StartPrometheusWithFeatures(t, []string{"exemplar-storage"}, strings.TrimPrefix(srv.URL, "http://"))
	p.WaitTargetsUp(t)
	p.WaitQuery(t, `jobs_total`)

	for _, tc := range []struct{ query, le string }{
		{`job_duration_seconds_bucket{kind="a"}`, "0.5"},
		{`jobs_total{kind="a"}`, ""},
	} {
		var got []testpeers.ExemplarSeries
		testpeers.Eventually(t, 30*time.Second, func() string {
			got = p.QueryExemplars(t, tc.query, start, time.Now().Add(time.Minute))
			if len(got) == 0 {
				return "no exemplars stored for " + tc.query
			}
			return ""
		})
		if len(got) != 1 || got[0].SeriesLabels["le"] != tc.le || len(got[0].Exemplars) == 0 {
			t.Errorf("%s: exemplars %+v, want them on the one series with le=%q", tc.query, got, tc.le)
			continue
		}
		for _, e := range got[0].Exemplars {
			if e.Labels["trace_id"] != traceID || e.Labels["span_id"] != spanID {
				t.Errorf("%s: exemplar %+v, want trace_id %s and span_id %s", tc.query, e, traceID, spanID)
			}
		}
	}
	contentTypes.Range(func(ct, accept any) bool {
		if !strings.HasPrefix(ct.(string), "application/openmetrics-text") {
			t.Errorf("a scrape was answered with %q (Accept %q), not OpenMetrics", ct, accept)
		}
		return true
	})
}
