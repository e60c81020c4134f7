package prometheus_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

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
