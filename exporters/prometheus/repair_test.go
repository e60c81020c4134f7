package prometheus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	prom "github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/protobuf/proto"

	"github.com/optel-dev/optel/exporters/prometheus"
	"github.com/optel-dev/optel/internal/testpeers"
)

// TestRepairsAreCounted: every rendering repairs what would break a scrape,
// counts each repair in Exporter.Repairs, and reports once to the error
// handler however many points it concerns. The series kept of several that
// render alike is the same on every scrape.
func TestRepairsAreCounted(t *testing.T) {
	ctx := context.Background()
	kv := attribute.String
	foreignBadHelp := prom.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return []*dto.MetricFamily{{
			Name: proto.String("legacy_total"), Help: proto.String("Legacy \xff."), Type: dto.MetricType_COUNTER.Enum(),
			Metric: []*dto.Metric{{
				Label:   []*dto.LabelPair{{Name: proto.String("k"), Value: proto.String("v\xfe")}},
				Counter: &dto.Counter{Value: proto.Float64(1)},
			}},
		}}, nil
	})
	for _, tc := range []struct {
		name       string
		opts       []prometheus.Option
		res        *resource.Resource
		record     func(mp metric.MeterProvider)
		want       prometheus.Repairs // per rendering
		has, hasNo []string
	}{
		{
			name: "clean data repairs nothing",
			record: func(mp metric.MeterProvider) {
				c, _ := mp.Meter("a").Int64Counter("jobs", metric.WithDescription("Jobs ü."))
				c.Add(ctx, 1, metric.WithAttributes(kv("k", "ü"), attribute.Int("n", 3)))
				d, _ := mp.Meter("b").Int64Counter("other", metric.WithDescription("Other."))
				d.Add(ctx, 1, metric.WithAttributes(kv("k", "v")))
			},
			has: []string{`jobs_total{k="ü",n="3"} 1`, `other_total{k="v"} 1`},
		},
		{
			name: "a flood of invalid label values",
			record: func(mp metric.MeterProvider) {
				c, _ := mp.Meter("a").Int64Counter("jobs", metric.WithDescription("Jobs."))
				for i := range 1000 {
					c.Add(ctx, 1, metric.WithAttributes(kv("k", fmt.Sprintf("x\xff\xfe%dy\xc3", i))))
				}
			},
			want: prometheus.Repairs{Sanitized: 1000},
			has:  []string{"jobs_total{k=\"x\uFFFD7y\uFFFD\"} 1"},
		},
		{
			name: "invalid HELP",
			record: func(mp metric.MeterProvider) {
				g, _ := mp.Meter("a").Int64Gauge("temp", metric.WithDescription("Bad \xff help."))
				g.Record(ctx, 1)
			},
			want: prometheus.Repairs{Sanitized: 1},
			has:  []string{"# HELP temp Bad \uFFFD help.\n"},
		},
		{
			name: "invalid resource attribute",
			res:  resource.NewSchemaless(kv("service.name", "svc\xff")),
			want: prometheus.Repairs{Sanitized: 1},
			has:  []string{"target_info{service_name=\"svc\uFFFD\"} 1\n"},
		},
		{
			name: "invalid scope name with scope labels",
			opts: []prometheus.Option{prometheus.WithScopeInfo()},
			record: func(mp metric.MeterProvider) {
				c, _ := mp.Meter("scope\xff").Int64Counter("jobs", metric.WithDescription("Jobs."))
				c.Add(ctx, 1)
			},
			want: prometheus.Repairs{Sanitized: 1},
			has:  []string{"jobs_total{otel_scope_name=\"scope\uFFFD\",otel_scope_schema_url=\"\",otel_scope_version=\"\"} 1\n"},
		},
		{
			name: "two scopes, one series: the first scope by name wins",
			record: func(mp metric.MeterProvider) {
				for _, s := range []struct {
					scope string
					v     int64
				}{{"z", 2}, {"a", 1}} {
					c, _ := mp.Meter(s.scope).Int64Counter("jobs", metric.WithDescription("Jobs."))
					c.Add(ctx, s.v, metric.WithAttributes(kv("k", "dup")))
					c.Add(ctx, s.v, metric.WithAttributes(kv("k", "only-"+s.scope)))
				}
			},
			want:  prometheus.Repairs{DuplicateSeries: 1},
			has:   []string{`jobs_total{k="dup"} 1`, `jobs_total{k="only-a"} 1`, `jobs_total{k="only-z"} 2`},
			hasNo: []string{`jobs_total{k="dup"} 2`},
		},
		{
			name: "two scopes, one histogram series",
			record: func(mp metric.MeterProvider) {
				for i, scope := range []string{"a", "b"} {
					h, _ := mp.Meter(scope).Float64Histogram("lat", metric.WithDescription("Latency."), metric.WithExplicitBucketBoundaries(1))
					h.Record(ctx, float64(i*5), metric.WithAttributes(kv("k", "dup")))
				}
			},
			want:  prometheus.Repairs{DuplicateSeries: 1},
			has:   []string{`lat_bucket{k="dup",le="1"} 1`, `lat_count{k="dup"} 1`},
			hasNo: []string{`lat_bucket{k="dup",le="1"} 0`},
		},
		{
			name: "scope labels keep two scopes apart",
			opts: []prometheus.Option{prometheus.WithScopeInfo()},
			record: func(mp metric.MeterProvider) {
				for i, scope := range []string{"a", "b"} {
					c, _ := mp.Meter(scope).Int64Counter("jobs", metric.WithDescription("Jobs."))
					c.Add(ctx, int64(i+1), metric.WithAttributes(kv("k", "dup")))
				}
			},
			has: []string{`jobs_total{k="dup",otel_scope_name="a",otel_scope_schema_url="",otel_scope_version=""} 1`, `jobs_total{k="dup",otel_scope_name="b",otel_scope_schema_url="",otel_scope_version=""} 2`},
		},
		{
			name: "scopes that differ only in attributes clash without scope labels",
			record: func(mp metric.MeterProvider) {
				for i, team := range []string{"b", "a"} {
					c, _ := mp.Meter("s", metric.WithInstrumentationAttributes(kv("team", team))).Int64Counter("jobs", metric.WithDescription("Jobs."))
					c.Add(ctx, int64(i+1), metric.WithAttributes(kv("k", "dup")))
				}
			},
			want: prometheus.Repairs{DuplicateSeries: 1},
			has:  []string{`jobs_total{k="dup"} 2`}, // team=a sorts first
		},
		{
			name: "an int and a string that print alike: the int wins",
			opts: []prometheus.Option{prometheus.WithScopeInfo()},
			record: func(mp metric.MeterProvider) {
				c, _ := mp.Meter("a").Int64Counter("jobs", metric.WithDescription("Jobs."))
				c.Add(ctx, 2, metric.WithAttributes(kv("code", "200")))
				c.Add(ctx, 1, metric.WithAttributes(attribute.Int("code", 200)))
			},
			want: prometheus.Repairs{DuplicateSeries: 1},
			has:  []string{`jobs_total{code="200",otel_scope_name="a",otel_scope_schema_url="",otel_scope_version=""} 1`},
		},
		{
			name: "keys that sanitize alike: a.b sorts before a_b",
			record: func(mp metric.MeterProvider) {
				c, _ := mp.Meter("a").Int64Counter("jobs", metric.WithDescription("Jobs."))
				c.Add(ctx, 2, metric.WithAttributes(kv("a_b", "x")))
				c.Add(ctx, 1, metric.WithAttributes(kv("a.b", "x")))
				c.Add(ctx, 3, metric.WithAttributes(kv("a.b", "y")))
			},
			want: prometheus.Repairs{DuplicateSeries: 1},
			has:  []string{`jobs_total{a_b="x"} 1`, `jobs_total{a_b="y"} 3`},
		},
		{
			name: "values that differ only in invalid bytes",
			record: func(mp metric.MeterProvider) {
				c, _ := mp.Meter("a").Int64Counter("jobs", metric.WithDescription("Jobs."))
				c.Add(ctx, 2, metric.WithAttributes(kv("k", "x\xfe")))
				c.Add(ctx, 1, metric.WithAttributes(kv("k", "x\xff")))
			},
			want: prometheus.Repairs{Sanitized: 1, DuplicateSeries: 1}, // the dropped value is not written
			has:  []string{"jobs_total{k=\"x\uFFFD\"} 2"},              // "x\xfe" sorts first
		},
		{
			name: "a client_golang family with invalid UTF-8",
			opts: []prometheus.Option{prometheus.WithGatherer(foreignBadHelp)},
			want: prometheus.Repairs{Sanitized: 2}, // two lines
			has:  []string{"# HELP legacy_total Legacy \uFFFD.\n", "legacy_total{k=\"v\uFFFD\"} 1\n"},
		},
		{
			name: "stock encoder: invalid HELP",
			opts: []prometheus.Option{prometheus.WithEncoder(prometheus.EncoderStock)},
			record: func(mp metric.MeterProvider) {
				g, _ := mp.Meter("a").Int64Gauge("temp", metric.WithDescription("Bad \xff help."))
				g.Record(ctx, 1)
			},
			want: prometheus.Repairs{Sanitized: 1},
			has:  []string{"# HELP temp Bad \uFFFD help.\n"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var reported []error
			opts := append([]prometheus.Option{prometheus.WithErrorHandler(func(err error) {
				mu.Lock()
				reported = append(reported, err)
				mu.Unlock()
			})}, tc.opts...)
			exp, err := prometheus.New(opts...)
			if err != nil {
				t.Fatal(err)
			}
			res := tc.res
			if res == nil {
				res = resource.NewSchemaless(kv("service.name", "svc"))
			}
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()), sdkmetric.WithResource(res))
			defer mp.Shutdown(ctx)
			if tc.record != nil {
				tc.record(mp)
			}
			const scrapes = 5
			for i := range scrapes {
				accept := []string{acceptText, acceptOM}[i%2]
				body := scrape(t, exp.Handler(), accept)
				checkExposition(t, accept, body)
				if accept == acceptText {
					if out, ok := testpeers.Promtool(t, body); !ok {
						t.Errorf("promtool check metrics failed: %s\n%s", out, body)
					}
					for _, s := range tc.has {
						if !strings.Contains(string(body), s) {
							t.Errorf("scrape %d lacks %q:\n%s", i, s, body)
						}
					}
					for _, s := range tc.hasNo {
						if strings.Contains(string(body), s) {
							t.Errorf("scrape %d has %q:\n%s", i, s, body)
						}
					}
				}
			}
			want := prometheus.Repairs{Sanitized: scrapes * tc.want.Sanitized, DuplicateSeries: scrapes * tc.want.DuplicateSeries}
			if got := exp.Repairs(); got != want {
				t.Errorf("Repairs() = %+v after %d scrapes, want %+v", got, scrapes, want)
			}
			mu.Lock()
			defer mu.Unlock()
			wantReports := 0
			if tc.want != (prometheus.Repairs{}) {
				wantReports = scrapes
			}
			if len(reported) != wantReports {
				t.Errorf("%d reports for %d scrapes, want %d: %v", len(reported), scrapes, wantReports, reported)
			}
			for _, err := range reported {
				if !errors.Is(err, prometheus.ErrRepaired) {
					t.Errorf("reported %v, want it to wrap ErrRepaired", err)
				}
			}
		})
	}
}
