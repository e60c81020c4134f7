package prometheus_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/optel-dev/optel/exporters/prometheus"
)

// producer hands the reader fixed metricdata, so a test controls every
// field of an exemplar.
type producer []metricdata.ScopeMetrics

func (p producer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) { return p, nil }

func exemplarExporter(t *testing.T, opts []prometheus.Option, ms ...metricdata.Metrics) *prometheus.Exporter {
	t.Helper()
	exp, err := prometheus.New(append([]prometheus.Option{prometheus.WithoutTargetInfo(),
		prometheus.WithManualReaderOption(sdkmetric.WithProducer(producer{{Metrics: ms}}))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return exp
}

var (
	traceID = []byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	spanID  = []byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	ids     = `trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"`
	t0      = time.Unix(1700000000, 123_000_000)
)

func counter[N int64 | float64](name string, dps ...metricdata.DataPoint[N]) metricdata.Metrics {
	return metricdata.Metrics{Name: name, Description: "d", Data: metricdata.Sum[N]{
		DataPoints: dps, Temporality: metricdata.CumulativeTemporality, IsMonotonic: true}}
}

func point[N int64 | float64](v N, exs ...metricdata.Exemplar[N]) metricdata.DataPoint[N] {
	return metricdata.DataPoint[N]{Attributes: attribute.NewSet(attribute.String("k", "v")), Value: v, Exemplars: exs}
}

func traced[N int64 | float64](v N, at time.Time, attrs ...attribute.KeyValue) metricdata.Exemplar[N] {
	return metricdata.Exemplar[N]{Value: v, Time: at, TraceID: traceID, SpanID: spanID, FilteredAttributes: attrs}
}

// TestExemplarRendering: what the optel encoder writes for exemplars in
// OpenMetrics, line by line, and that the text format carries none.
func TestExemplarRendering(t *testing.T) {
	kv := attribute.String
	long := func(n int) string { return strings.Repeat("x", n) }
	hist := metricdata.Metrics{Name: "job.duration", Unit: "s", Description: "d", Data: metricdata.Histogram[float64]{
		Temporality: metricdata.CumulativeTemporality,
		DataPoints: []metricdata.HistogramDataPoint[float64]{{
			Attributes: attribute.NewSet(kv("job", "a")), Bounds: []float64{0.1, 0.5, 1},
			BucketCounts: []uint64{1, 3, 0, 2}, Count: 6, Sum: 9.5,
			Exemplars: []metricdata.Exemplar[float64]{
				traced(0.3, t0.Add(2*time.Second)), // the latest in (0.1, 0.5]: written,
				traced(0.2, t0),                    // though not the last in the list
				traced(0.5, t0.Add(time.Second)),   // on its bound: (0.1, 0.5] too
				traced(0.05, t0),                   // (-Inf, 0.1]
				traced(7.0, t0),                    // +Inf, tied in time with
				traced(9.0, t0, kv("user", "u-1")), // this later one, which wins
			},
		}},
	}}
	for _, tc := range []struct {
		name   string
		opts   []prometheus.Option
		data   []metricdata.Metrics
		want   []string // whole OpenMetrics lines
		absent []string
		repair prometheus.Repairs
	}{
		{
			name: "histogram: the latest exemplar of each bucket, on that bucket",
			data: []metricdata.Metrics{hist},
			want: []string{
				`job_duration_seconds_bucket{job="a",le="0.1"} 1 # {` + ids + `} 0.05 1700000000.123`,
				`job_duration_seconds_bucket{job="a",le="0.5"} 4 # {` + ids + `} 0.3 1700000002.123`,
				`job_duration_seconds_bucket{job="a",le="1.0"} 4`,
				`job_duration_seconds_bucket{job="a",le="+Inf"} 6 # {` + ids + `,user="u-1"} 9.0 1700000000.123`,
				`job_duration_seconds_sum{job="a"} 9.5`,
				`job_duration_seconds_count{job="a"} 6`,
			},
		},
		{
			name: "int histogram",
			data: []metricdata.Metrics{{Name: "size", Description: "d", Data: metricdata.Histogram[int64]{
				Temporality: metricdata.CumulativeTemporality,
				DataPoints: []metricdata.HistogramDataPoint[int64]{{
					Bounds: []float64{10}, BucketCounts: []uint64{1, 0}, Count: 1, Sum: 4,
					Exemplars: []metricdata.Exemplar[int64]{traced[int64](4, t0)},
				}},
			}}},
			want: []string{`size_bucket{le="10.0"} 1 # {` + ids + `} 4.0 1700000000.123`, `size_bucket{le="+Inf"} 1`},
		},
		{
			name: "counter: the latest exemplar on the _total line",
			data: []metricdata.Metrics{counter("jobs", point[int64](3, traced[int64](2, t0.Add(time.Second)), traced[int64](1, t0)))},
			want: []string{`jobs_total{k="v"} 3.0 # {` + ids + `} 2.0 1700000001.123`},
		},
		{
			name: "no span, no attributes: empty label set",
			data: []metricdata.Metrics{counter("jobs", point(1.5, metricdata.Exemplar[float64]{Value: 1.5, Time: time.Unix(1700000000, 0)}))},
			want: []string{`jobs_total{k="v"} 1.5 # {} 1.5 1700000000`},
		},
		{
			name: "no time: no timestamp",
			data: []metricdata.Metrics{counter("jobs", point[int64](1, metricdata.Exemplar[int64]{Value: 1, SpanID: spanID}))},
			want: []string{`jobs_total{k="v"} 1.0 # {span_id="00f067aa0ba902b7"} 1.0`},
		},
		{
			name: "timestamps: leading zeros of the fraction, before 1970",
			data: []metricdata.Metrics{
				counter("a", point[int64](1, metricdata.Exemplar[int64]{Value: 1, Time: time.Unix(1700000000, 5_000_000)})),
				counter("b", point[int64](1, metricdata.Exemplar[int64]{Value: 1, Time: time.Unix(-1, 500_000_000)})),
				counter("c", point[int64](1, metricdata.Exemplar[int64]{Value: 1, Time: time.Unix(-2, 0)})),
				counter("d", point[int64](1, metricdata.Exemplar[int64]{Value: 1, Time: time.Unix(0, 1)})),
			},
			want: []string{
				`a_total{k="v"} 1.0 # {} 1.0 1700000000.005`,
				`b_total{k="v"} 1.0 # {} 1.0 -0.5`,
				`c_total{k="v"} 1.0 # {} 1.0 -2`,
				`d_total{k="v"} 1.0 # {} 1.0 0.000000001`,
			},
		},
		{
			name: "filtered attributes: named and escaped like labels, invalid UTF-8 replaced and counted",
			data: []metricdata.Metrics{counter("jobs", point[int64](1, traced[int64](1, t0,
				kv("http.route", "/a\"b\\c\nd"), kv("user", "x\xff\xfey"), attribute.Int("n", 3))))},
			want:   []string{`jobs_total{k="v"} 1.0 # {` + ids + `,http_route="/a\"b\\c\nd",user="x` + "\uFFFD" + `y",n="3"} 1.0 1700000000.123`},
			repair: prometheus.Repairs{Sanitized: 1},
		},
		{
			name: "label names trace_id, span_id and repeated names are left out",
			data: []metricdata.Metrics{counter("jobs", point[int64](1, traced[int64](1, t0,
				kv("trace_id", "forged"), kv("span.id", "forged"), kv("a.b", "first"), kv("a_b", "second"))))},
			want: []string{`jobs_total{k="v"} 1.0 # {` + ids + `,a_b="first"} 1.0 1700000000.123`},
		},
		{
			// trace_id and span_id take 63 of the 128 code points, which
			// leaves 65: "a" and a value of 64 fill them exactly.
			name: "128 code points: what fits exactly is kept",
			data: []metricdata.Metrics{counter("jobs", point[int64](1, traced[int64](1, t0, kv("a", long(64)))))},
			want: []string{`jobs_total{k="v"} 1.0 # {` + ids + `,a="` + long(64) + `"} 1.0 1700000000.123`},
		},
		{
			name: "128 code points: an attribute that overflows is left out, a later shorter one kept",
			data: []metricdata.Metrics{counter("jobs", point[int64](1, traced[int64](1, t0,
				kv("a", long(40)), kv("b", long(24)), kv("c", "y"))))},
			want: []string{`jobs_total{k="v"} 1.0 # {` + ids + `,a="` + long(40) + `",c="y"} 1.0 1700000000.123`},
		},
		{
			name: "128 code points are counted after U+FFFD replaced invalid bytes",
			data: []metricdata.Metrics{counter("jobs", point[int64](1, traced[int64](1, t0,
				kv("a", long(62)+"\xff\xfe\xfd")))), // 63 code points once repaired: fits
			},
			want:   []string{`jobs_total{k="v"} 1.0 # {` + ids + `,a="` + long(62) + "\uFFFD" + `"} 1.0 1700000000.123`},
			repair: prometheus.Repairs{Sanitized: 1},
		},
		{
			name: "128 code points: without IDs the attributes have them all",
			data: []metricdata.Metrics{counter("jobs", point[int64](1, metricdata.Exemplar[int64]{Value: 1,
				FilteredAttributes: []attribute.KeyValue{kv("a", long(127)), kv("b", long(1))}}))},
			want: []string{`jobs_total{k="v"} 1.0 # {a="` + long(127) + `"} 1.0`},
		},
		{
			name: "IDs that alone overflow the limit: no exemplar",
			data: []metricdata.Metrics{counter("jobs", point[int64](1, metricdata.Exemplar[int64]{Value: 1, TraceID: make([]byte, 64)}))},
			want: []string{`jobs_total{k="v"} 1.0`},
		},
		{
			name: "gauges and up-down counters carry none",
			data: []metricdata.Metrics{
				{Name: "temp", Description: "d", Data: metricdata.Gauge[float64]{DataPoints: []metricdata.DataPoint[float64]{point(1.5, traced(1.5, t0))}}},
				{Name: "depth", Description: "d", Data: metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality,
					DataPoints: []metricdata.DataPoint[int64]{point[int64](2, traced[int64](2, t0))}}},
			},
			want: []string{`temp{k="v"} 1.5`, `depth{k="v"} 2.0`},
		},
		{
			name: "families a FamilyTransform rewrites carry none",
			opts: []prometheus.Option{prometheus.WithFamilyTransform(prometheus.FamilyMappings{
				{From: "jobs_total", To: "work_total", Help: "w", Labels: map[string]string{"k": "k"}}})},
			data: []metricdata.Metrics{counter("jobs", point[int64](1, traced[int64](1, t0)))},
			want: []string{`work_total{k="v"} 1.0`},
		},
		{
			name: "exponential histograms carry none",
			data: []metricdata.Metrics{{Name: "lat", Description: "d", Data: metricdata.ExponentialHistogram[float64]{
				Temporality: metricdata.CumulativeTemporality,
				DataPoints: []metricdata.ExponentialHistogramDataPoint[float64]{{Count: 1, Sum: 2,
					Exemplars: []metricdata.Exemplar[float64]{traced(2.0, t0)}}},
			}}},
			want: []string{`lat_bucket{le="+Inf"} 1`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := exemplarExporter(t, tc.opts, tc.data...)
			om := string(scrape(t, exp.Handler(), acceptOM))
			checkExposition(t, "OpenMetrics", []byte(om))
			for _, w := range tc.want {
				if !strings.Contains(om, "\n"+w+"\n") {
					t.Errorf("missing line\n%s\nin\n%s", w, om)
				}
			}
			if !slices.ContainsFunc(tc.want, func(l string) bool { return strings.Contains(l, " # {") }) && strings.Contains(om, " # {") {
				t.Errorf("an exemplar was written:\n%s", om)
			}
			if got := exp.Repairs(); got != tc.repair {
				t.Errorf("repairs %+v, want %+v", got, tc.repair)
			}
			text := string(scrape(t, exp.Handler(), acceptText))
			if strings.Contains(text, "# {") {
				t.Errorf("the text format carries an exemplar:\n%s", text)
			}
		})
	}
}
