package prometheus_test

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	prom "github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/protobuf/proto"

	"github.com/optel-dev/optel/exporters/prometheus"
	"github.com/optel-dev/optel/internal/observ"
	"github.com/optel-dev/optel/internal/testpeers"
)

const (
	acceptText = "text/plain;version=0.0.4"
	acceptOM   = "application/openmetrics-text;version=1.0.0"
)

// recordRich records, through one MeterProvider, data that exercises every
// corner of the Prometheus translation: every instrument kind, int and
// float, units, names and attribute keys that need sanitizing, keys that
// collide once sanitized, values and descriptions that need escaping, large
// and special floats, one metric name shared by two scopes, an exponential
// histogram and the resource. It also holds what must not break a scrape: a
// label value and a description with invalid UTF-8, one series that both
// scopes report (with the same value, because the stock encoder keeps
// whichever it collects first), and two attribute sets of one instrument that
// render alike (an int and a string 3).
func recordRich(t *testing.T, readers ...sdkmetric.Reader) *sdkmetric.MeterProvider {
	t.Helper()
	ctx := context.Background()
	res := resource.NewSchemaless(attribute.String("service.name", "rich"), attribute.String("k8s.pod.name", "p-1"), attribute.Int("replica", 2))
	opts := []sdkmetric.Option{
		sdkmetric.WithResource(res),
		sdkmetric.WithView(sdkmetric.NewView(sdkmetric.Instrument{Name: "exp.latency"},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}})),
	}
	for _, r := range readers {
		opts = append(opts, sdkmetric.WithReader(r))
	}
	mp := sdkmetric.NewMeterProvider(opts...)
	m := mp.Meter("optel.dev/a", metric.WithInstrumentationVersion("v1.2.3"), metric.WithSchemaURL("https://x/1.0"),
		metric.WithInstrumentationAttributes(attribute.String("team", "core")))
	m2 := mp.Meter("optel.dev/b")

	ic, _ := m.Int64Counter("http.requests", metric.WithDescription("Requests \"served\",\nby path \\ method."))
	for i, path := range []string{"/", "/a\"b", "/c\\d", "/e\nf", "/ü"} {
		ic.Add(ctx, int64(1+i*1234567), metric.WithAttributes(attribute.String("http.route", path), attribute.String("http.method", "GET")))
	}
	ic.Add(ctx, 3) // no attributes
	ic.Add(ctx, 11, metric.WithAttributes(attribute.String("http.route", "/bad\xff\xfe"), attribute.String("http.method", "GET")))
	fc, _ := m.Float64Counter("bytes.sent", metric.WithUnit("By"), metric.WithDescription("Bytes."))
	fc.Add(ctx, 0.1, metric.WithAttributes(attribute.Bool("ok", true), attribute.Int64("0code", 200)))
	fc.Add(ctx, 1e21, metric.WithAttributes(attribute.Bool("ok", false), attribute.Int64("0code", 500)))
	// a.b and a_b both become a_b: the values are joined with ";".
	fc.Add(ctx, 1, metric.WithAttributes(attribute.String("a.b", "x"), attribute.String("a_b", "y"), attribute.StringSlice("list", []string{"p", "q"})))

	ud, _ := m.Int64UpDownCounter("queue.depth", metric.WithUnit("{item}"), metric.WithDescription("Depth."))
	ud.Add(ctx, -1, metric.WithAttributes(attribute.String("queue", "q1")))
	ud.Add(ctx, 7, metric.WithAttributes(attribute.String("queue", "q2")))
	ud.Add(ctx, 5, metric.WithAttributes(attribute.Int("queue", 3)))
	ud.Add(ctx, 5, metric.WithAttributes(attribute.String("queue", "3")))
	bad, _ := m.Int64Gauge("bad.help", metric.WithDescription("Bytes \xff\xfe in a description."))
	bad.Record(ctx, 1)
	g, _ := m.Float64Gauge("temperature", metric.WithUnit("Cel"), metric.WithDescription("T."))
	g.Record(ctx, math.NaN(), metric.WithAttributes(attribute.String("room", "nan")))
	g.Record(ctx, math.Inf(-1), metric.WithAttributes(attribute.String("room", "cold")))
	g.Record(ctx, 1, metric.WithAttributes(attribute.String("room", "one")))
	g.Record(ctx, 0.000012345, metric.WithAttributes(attribute.String("room", "tiny")))
	_, _ = m.Int64ObservableGauge("goroutines", metric.WithDescription("Goroutines."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error { o.Observe(42); return nil }))

	h, _ := m.Float64Histogram("job.duration", metric.WithUnit("s"), metric.WithDescription("Job time."),
		metric.WithExplicitBucketBoundaries(0, 0.005, 0.5, 1, 2.5, 1e6))
	for i, v := range []float64{0, 0.001, 0.3, 1, 2, 7e5, 5e6} {
		h.Record(ctx, v, metric.WithAttributes(attribute.String("job", []string{"x", "y"}[i%2])))
	}
	ih, _ := m.Int64Histogram("payload.size", metric.WithUnit("By"), metric.WithDescription("Size."), metric.WithExplicitBucketBoundaries(10, 100))
	ih.Record(ctx, 5)
	ih.Record(ctx, 500)
	eh, _ := m.Float64Histogram("exp.latency", metric.WithUnit("s"), metric.WithDescription("Latency."))
	eh.Record(ctx, 3)
	eh.Record(ctx, 30)

	// The same metric from a second scope shares the family.
	ic2, _ := m2.Int64Counter("http.requests", metric.WithDescription("Requests \"served\",\nby path \\ method."))
	ic2.Add(ctx, 9, metric.WithAttributes(attribute.String("http.route", "/b-scope")))
	// ... and reports one series scope a reports too.
	ic2.Add(ctx, 1, metric.WithAttributes(attribute.String("http.route", "/"), attribute.String("http.method", "GET")))
	return mp
}

func scrape(t *testing.T, h http.Handler, accept string) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", accept)
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

// familyBlocks splits an exposition into families: the header lines in
// order, then the sample lines sorted. Two outputs with equal blocks differ
// at most in the order of series within a family, which Prometheus ignores.
func familyBlocks(b []byte) []string {
	var blocks []string
	var head, samples []string
	flush := func() {
		if len(head)+len(samples) == 0 {
			return
		}
		sort.Strings(samples)
		blocks = append(blocks, strings.Join(head, "\n")+"\n--\n"+strings.Join(samples, "\n"))
		head, samples = nil, nil
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if strings.HasPrefix(l, "# HELP ") || strings.HasPrefix(l, "# EOF") || (strings.HasPrefix(l, "# TYPE ") && len(samples) > 0) {
			flush()
		}
		if strings.HasPrefix(l, "#") {
			head = append(head, l)
		} else {
			samples = append(samples, l)
		}
	}
	flush()
	return blocks
}

func parseText(t *testing.T, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, b)
	}
	for _, mf := range mfs {
		slices.SortFunc(mf.Metric, func(a, b *dto.Metric) int {
			return strings.Compare(labelKey(a), labelKey(b))
		})
	}
	return mfs
}

func labelKey(m *dto.Metric) string {
	var sb strings.Builder
	for _, l := range m.GetLabel() {
		sb.WriteString(l.GetName() + "=" + l.GetValue() + "\xff")
	}
	return sb.String()
}

// TestEncoderEquivalence proves the optel encoder and the stock exporter
// render the same data the same way: for the text format and OpenMetrics,
// every family's header lines are byte-identical and its sample lines are
// the same bytes (the optel encoder does not sort series within a family);
// the text output parses into equal client_golang families; and promtool
// accepts both. Both bodies are valid UTF-8 and hold no series twice. The one
// difference is the series whose label value holds invalid UTF-8: the stock
// encoder drops it, the optel encoder writes it with U+FFFD.
func TestEncoderEquivalence(t *testing.T) {
	legacy := prom.NewRegistry()
	lc := prom.NewCounterVec(prom.CounterOpts{Name: "legacy_jobs_total", Help: "Legacy."}, []string{"kind"})
	legacy.MustRegister(lc)
	lc.WithLabelValues("a").Add(3)

	for _, tc := range []struct {
		name string
		opts []prometheus.Option
	}{
		{"default", nil},
		{"scope-info", []prometheus.Option{prometheus.WithScopeInfo()}},
		{"no-target-info", []prometheus.Option{prometheus.WithoutTargetInfo()}},
		{"with-gatherer", []prometheus.Option{prometheus.WithGatherer(legacy)}},
		{"controller-runtime", []prometheus.Option{prometheus.WithFamilyTransform(observ.ControllerRuntimeNaming)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			optel, err := prometheus.New(tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			stock, err := prometheus.New(append(slices.Clone(tc.opts), prometheus.WithEncoder(prometheus.EncoderStock))...)
			if err != nil {
				t.Fatal(err)
			}
			mp := recordRich(t, optel.Reader(), stock.Reader())
			defer mp.Shutdown(context.Background())
			if tc.name == "controller-runtime" {
				recordOptelFamilies(t, mp)
			}
			for _, accept := range []string{acceptText, acceptOM} {
				got, want := scrape(t, optel.Handler(), accept), scrape(t, stock.Handler(), accept)
				checkExposition(t, "optel "+accept, got)
				checkExposition(t, "stock "+accept, want)
				if accept == acceptText {
					for _, b := range [][]byte{got, want} {
						if out, ok := testpeers.Promtool(t, b); !ok {
							t.Errorf("promtool check metrics failed: %s\n%s", out, b)
						}
					}
				}
				got, repaired := cutLines(got, "\uFFFD")
				if len(repaired) != 1 || !strings.HasPrefix(repaired[0], "http_requests_total{http_method=\"GET\",http_route=\"/bad\uFFFD\"") {
					t.Errorf("%s: want the one series with invalid UTF-8 written with U+FFFD, got %q", accept, repaired)
				}
				gb, wb := familyBlocks(got), familyBlocks(want)
				if !slices.Equal(gb, wb) {
					t.Errorf("%s: optel and stock outputs differ\n--- optel:\n%s\n--- stock:\n%s", accept, got, want)
					continue
				}
				if len(gb) < 8 {
					t.Errorf("%s: only %d families rendered:\n%s", accept, len(gb), got)
				}
				if accept != acceptText {
					continue
				}
				gf, wf := parseText(t, got), parseText(t, want)
				if len(gf) != len(wf) {
					t.Errorf("parsed %d families, stock %d", len(gf), len(wf))
				}
				for name, w := range wf {
					if !proto.Equal(gf[name], w) {
						t.Errorf("family %s differs:\noptel %v\nstock %v", name, gf[name], w)
					}
				}
			}
		})
	}
}

// checkExposition fails unless body is valid UTF-8 and no series (name and
// label set) appears in it twice, two things promtool 2.42 does not check and
// Prometheus does: it rejects a scrape with invalid UTF-8, and drops the
// second sample of a series as a duplicate.
func checkExposition(t *testing.T, what string, body []byte) {
	t.Helper()
	if !utf8.Valid(body) {
		t.Errorf("%s: body is not valid UTF-8:\n%q", what, body)
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(string(body), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		series := l[:strings.LastIndexByte(l, ' ')] // values hold no spaces; label values may
		if seen[series] {
			t.Errorf("%s: series %s appears twice", what, series)
		}
		seen[series] = true
	}
}

// cutLines removes the sample lines that contain sub and returns them.
func cutLines(body []byte, sub string) ([]byte, []string) {
	var kept []string
	var cut []string
	for _, l := range strings.SplitAfter(string(body), "\n") {
		if !strings.HasPrefix(l, "#") && strings.Contains(l, sub) {
			cut = append(cut, strings.TrimSuffix(l, "\n"))
			continue
		}
		kept = append(kept, l)
	}
	return []byte(strings.Join(kept, "")), cut
}

// recordOptelFamilies records under the names the controller-runtime
// profile translates.
func recordOptelFamilies(t *testing.T, mp *sdkmetric.MeterProvider) {
	t.Helper()
	ctx := context.Background()
	m := mp.Meter("optel")
	inv, _ := m.Int64Counter("optel.handler.invocations", metric.WithDescription("Handler invocations."))
	for _, o := range []string{"success", "temporary_error", "permanent_error", "panic"} {
		inv.Add(ctx, 2, metric.WithAttributes(attribute.String("resource", "widgets"), attribute.String("handler", "create"), attribute.String("outcome", o)))
	}
	d, _ := m.Float64Histogram("optel.handler.duration", metric.WithUnit("s"), metric.WithDescription("Handler duration."))
	d.Record(ctx, 0.2, metric.WithAttributes(attribute.String("resource", "widgets"), attribute.String("handler", "create")))
	q, _ := m.Int64UpDownCounter("optel.queue.depth", metric.WithDescription("Depth."))
	q.Add(ctx, 4, metric.WithAttributes(attribute.String("resource", "widgets")))
	l, _ := m.Int64Gauge("optel.leader", metric.WithDescription("Leader."))
	l.Record(ctx, 1)
}
