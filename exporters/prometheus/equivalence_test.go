package prometheus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
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
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
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

// recordExemplars records, inside sampled spans of a real TracerProvider
// and through one MeterProvider with every measurement offered as an
// exemplar, a histogram whose values fall in several buckets (one on a
// bound, one above the last bound), counters and the instruments that
// carry no exemplars (a gauge, an up-down counter, an exponential
// histogram). Views drop an attribute of the histogram and of a counter,
// so their exemplars carry it as a filtered attribute. A few measurements
// are made outside any span: their exemplars have no trace_id or span_id.
// Every bucket of a histogram series and every counter series gets at most
// one measurement: each reader's reservoir samples a bucket's measurements
// at random, independently of the other reader's, so with more the two
// encoders could be shown different exemplars.
func recordExemplars(t *testing.T, readers ...sdkmetric.Reader) *sdkmetric.MeterProvider {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tracer := tp.Tracer("test")
	opts := []sdkmetric.Option{
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "ex"))),
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOnFilter),
		sdkmetric.WithView(
			sdkmetric.NewView(sdkmetric.Instrument{Name: "job.duration"}, sdkmetric.Stream{AttributeFilter: attribute.NewAllowKeysFilter("job")}),
			sdkmetric.NewView(sdkmetric.Instrument{Name: "jobs"}, sdkmetric.Stream{AttributeFilter: attribute.NewAllowKeysFilter("job")}),
			sdkmetric.NewView(sdkmetric.Instrument{Name: "exp.latency"},
				sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}})),
	}
	for _, r := range readers {
		opts = append(opts, sdkmetric.WithReader(r))
	}
	mp := sdkmetric.NewMeterProvider(opts...)
	m := mp.Meter("optel.dev/ex")
	inSpan := func(f func(ctx context.Context)) {
		ctx, span := tracer.Start(context.Background(), "work")
		f(ctx)
		span.End()
	}
	h, _ := m.Float64Histogram("job.duration", metric.WithUnit("s"), metric.WithDescription("Job time."),
		metric.WithExplicitBucketBoundaries(0.1, 0.5, 1, 5))
	for i, r := range []struct {
		job string
		v   float64
	}{{"x", 0.05}, {"x", 0.4}, {"x", 2}, {"y", 0.5}, {"y", 9}} { // one per bucket; 0.5 on a bound
		inSpan(func(ctx context.Context) {
			h.Record(ctx, r.v, metric.WithAttributes(attribute.String("job", r.job), attribute.String("user.id", fmt.Sprint("u-", i))))
		})
	}
	h.Record(context.Background(), 0.2, metric.WithAttributes(attribute.String("job", "z")))
	ih, _ := m.Int64Histogram("payload.size", metric.WithUnit("By"), metric.WithDescription("Size."), metric.WithExplicitBucketBoundaries(10, 100))
	inSpan(func(ctx context.Context) { ih.Record(ctx, 50) })

	ic, _ := m.Int64Counter("jobs", metric.WithDescription("Jobs."))
	inSpan(func(ctx context.Context) { ic.Add(ctx, 2, metric.WithAttributes(attribute.String("job", "a"))) })
	inSpan(func(ctx context.Context) {
		ic.Add(ctx, 3, metric.WithAttributes(attribute.String("job", "b"), attribute.String("user.id", "u-9")))
	})
	ic.Add(context.Background(), 4, metric.WithAttributes(attribute.String("job", "c")))
	fc, _ := m.Float64Counter("bytes.sent", metric.WithUnit("By"), metric.WithDescription("Bytes."))
	inSpan(func(ctx context.Context) { fc.Add(ctx, 1.5) })

	ud, _ := m.Int64UpDownCounter("queue.depth", metric.WithDescription("Depth."))
	g, _ := m.Float64Gauge("temperature", metric.WithUnit("Cel"), metric.WithDescription("T."))
	eh, _ := m.Float64Histogram("exp.latency", metric.WithUnit("s"), metric.WithDescription("Latency."))
	inSpan(func(ctx context.Context) {
		ud.Add(ctx, 5)
		g.Record(ctx, 21.5)
		eh.Record(ctx, 3)
	})
	return mp
}

// exemplarOf is an exemplar as parsed from an OpenMetrics line.
type exemplarOf struct {
	labels    map[string]string
	value, ts float64
}

// splitExemplars removes the exemplars from an OpenMetrics body and
// returns them by the sample they were on ("name{labels}").
func splitExemplars(t *testing.T, body []byte) ([]byte, map[string]exemplarOf) {
	t.Helper()
	exs := map[string]exemplarOf{}
	var out strings.Builder
	for _, l := range strings.SplitAfter(string(body), "\n") {
		i := strings.Index(l, " # {")
		if strings.HasPrefix(l, "#") || i < 0 {
			out.WriteString(l)
			continue
		}
		// Sample label values in this data hold no " # {".
		sample, ex := l[:i], strings.TrimSuffix(l[i+len(" # "):], "\n")
		out.WriteString(sample + "\n")
		end := strings.LastIndexByte(ex, '}')
		labels, rest := ex[1:end], strings.Fields(ex[end+1:])
		e := exemplarOf{labels: map[string]string{}}
		for _, pair := range splitLabelPairs(labels) {
			name, quoted, _ := strings.Cut(pair, "=")
			v, err := strconv.Unquote(quoted)
			if err != nil {
				t.Fatalf("exemplar label %q in %q: %v", pair, l, err)
			}
			e.labels[name] = v
		}
		if len(rest) != 2 {
			t.Fatalf("exemplar %q: want a value and a timestamp", ex)
		}
		var err1, err2 error
		e.value, err1 = strconv.ParseFloat(rest[0], 64)
		e.ts, err2 = strconv.ParseFloat(rest[1], 64)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("exemplar %q: %v", ex, err)
		}
		exs[sample[:strings.LastIndexByte(sample, ' ')]] = e
	}
	return []byte(out.String()), exs
}

// splitLabelPairs splits `a="x",b="y,z"` at the commas between pairs.
func splitLabelPairs(s string) []string {
	var pairs []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case quoted && s[i] == '\\':
			i++
		case s[i] == '"':
			quoted = !quoted
		case !quoted && s[i] == ',':
			pairs = append(pairs, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		pairs = append(pairs, s[start:])
	}
	return pairs
}

// TestEncoderEquivalenceExemplars: on the same recorded data, the optel
// encoder's OpenMetrics output carries the exemplars the stock encoder's
// does, on the same lines, and is otherwise the same bytes. What differs
// by design is normalised before comparing: the stock encoder writes
// trace_id="" and span_id="" for a measurement without a span (optel
// leaves them out), its exemplar labels come in map order, and its
// timestamps go through a float64. The timestamps are compared to within
// a second because each reader's reservoir stamps a measurement with its
// own clock reading. When the SDK hands over several exemplars for one
// bucket or counter, the encoders may choose differently (stock the last
// of the list, optel the most recent; TestExemplarRendering covers that);
// the data here gives each reservoir one, so the choices must agree.
// promtool's OpenMetrics parser accepts both bodies, and promtool check
// metrics the text format of the same data, which carries no exemplars.
func TestEncoderEquivalenceExemplars(t *testing.T) {
	optel, err := prometheus.New()
	if err != nil {
		t.Fatal(err)
	}
	stock, err := prometheus.New(prometheus.WithEncoder(prometheus.EncoderStock))
	if err != nil {
		t.Fatal(err)
	}
	mp := recordExemplars(t, optel.Reader(), stock.Reader())
	defer mp.Shutdown(context.Background())

	got, want := scrape(t, optel.Handler(), acceptOM), scrape(t, stock.Handler(), acceptOM)
	for name, b := range map[string][]byte{"optel": got, "stock": want} {
		checkExposition(t, name, b)
		if out, ok := testpeers.PromtoolOpenMetrics(t, b); !ok {
			t.Errorf("%s: promtool's OpenMetrics parser rejects the body: %s\n%s", name, out, b)
		}
	}
	text := scrape(t, optel.Handler(), acceptText)
	if strings.Contains(string(text), "# {") {
		t.Errorf("the text format carries exemplars:\n%s", text)
	}
	if out, ok := testpeers.Promtool(t, text); !ok {
		t.Errorf("promtool check metrics failed: %s\n%s", out, text)
	}

	gotBody, gotEx := splitExemplars(t, got)
	wantBody, wantEx := splitExemplars(t, want)
	if gb, wb := familyBlocks(gotBody), familyBlocks(wantBody); !slices.Equal(gb, wb) {
		t.Errorf("without exemplars, optel and stock outputs differ\n--- optel:\n%s\n--- stock:\n%s", got, want)
	}
	for sample, w := range wantEx {
		for _, id := range []string{"trace_id", "span_id"} {
			if w.labels[id] == "" {
				delete(w.labels, id)
			}
		}
		g, ok := gotEx[sample]
		switch {
		case !ok:
			t.Errorf("%s: no exemplar from optel, stock wrote %+v", sample, w)
		case !maps.Equal(g.labels, w.labels) || g.value != w.value || math.Abs(g.ts-w.ts) > 1:
			t.Errorf("%s: optel exemplar %+v, stock %+v", sample, g, w)
		}
	}
	for sample := range gotEx {
		if _, ok := wantEx[sample]; !ok {
			t.Errorf("%s: optel wrote an exemplar the stock encoder did not: %+v", sample, gotEx[sample])
		}
	}
	// Not vacuous: the buckets and counters that got measurements carry
	// them, with and without a span, with a filtered attribute.
	for _, sample := range []string{
		`job_duration_seconds_bucket{job="x",le="0.1"}`, `job_duration_seconds_bucket{job="x",le="0.5"}`,
		`job_duration_seconds_bucket{job="x",le="5.0"}`, `job_duration_seconds_bucket{job="y",le="0.5"}`,
		`job_duration_seconds_bucket{job="y",le="+Inf"}`, `job_duration_seconds_bucket{job="z",le="0.5"}`,
		`payload_size_bytes_bucket{le="100.0"}`, `jobs_total{job="a"}`, `jobs_total{job="b"}`, `jobs_total{job="c"}`,
		`bytes_sent_total`,
	} {
		if _, ok := gotEx[sample]; !ok {
			t.Errorf("no exemplar on %s:\n%s", sample, got)
		}
	}
	if n := len(gotEx); n != 11 {
		t.Errorf("%d exemplars, want the 11 above:\n%s", n, got)
	}
	if e := gotEx[`job_duration_seconds_bucket{job="y",le="0.5"}`]; e.value != 0.5 || e.labels["user_id"] != "u-3" || len(e.labels["trace_id"]) != 32 || len(e.labels["span_id"]) != 16 {
		t.Errorf("the (0.1, 0.5] bucket of job y: %+v, want 0.5 by u-3, with its trace", e)
	}
	if e := gotEx[`jobs_total{job="c"}`]; len(e.labels) != 0 {
		t.Errorf("an exemplar recorded outside a span has labels %v, want none", e.labels)
	}

	t.Run("where they differ", func(t *testing.T) {
		// An exemplar whose filtered attributes overflow 128 code points
		// or hold invalid UTF-8: the stock encoder drops every exemplar of
		// the point, the optel encoder keeps it and leaves out or repairs
		// the attribute.
		optel, _ := prometheus.New(prometheus.WithoutTargetInfo(), prometheus.WithErrorHandler(func(error) {}))
		stock, _ := prometheus.New(prometheus.WithoutTargetInfo(), prometheus.WithEncoder(prometheus.EncoderStock))
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		defer tp.Shutdown(context.Background())
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(optel.Reader()), sdkmetric.WithReader(stock.Reader()),
			sdkmetric.WithView(sdkmetric.NewView(sdkmetric.Instrument{Name: "jobs"}, sdkmetric.Stream{AttributeFilter: attribute.NewAllowKeysFilter("job")})))
		defer mp.Shutdown(context.Background())
		c, _ := mp.Meter("m").Int64Counter("jobs", metric.WithDescription("Jobs."))
		ctx, span := tp.Tracer("t").Start(context.Background(), "work")
		c.Add(ctx, 1, metric.WithAttributes(attribute.String("job", "long"), attribute.String("note", strings.Repeat("x", 100))))
		c.Add(ctx, 1, metric.WithAttributes(attribute.String("job", "bad"), attribute.String("note", "x\xffy")))
		span.End()
		_, gotEx := splitExemplars(t, scrape(t, optel.Handler(), acceptOM))
		_, wantEx := splitExemplars(t, scrape(t, stock.Handler(), acceptOM))
		for _, tc := range []struct{ sample, note string }{
			{`jobs_total{job="long"}`, ""},
			{`jobs_total{job="bad"}`, "x\uFFFDy"},
		} {
			if e, ok := wantEx[tc.sample]; ok {
				t.Errorf("%s: stock wrote an exemplar %+v; want none (client_golang rejects it)", tc.sample, e)
			}
			e, ok := gotEx[tc.sample]
			if !ok || e.labels["trace_id"] != span.SpanContext().TraceID().String() || e.labels["note"] != tc.note {
				t.Errorf("%s: optel exemplar %+v (written: %v), want its trace_id and note=%q", tc.sample, e, ok, tc.note)
			}
		}
	})
}
