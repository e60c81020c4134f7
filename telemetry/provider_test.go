package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/optel-dev/optel/exporters/console"
	"github.com/optel-dev/optel/exporters/jsonexp"
	"github.com/optel-dev/optel/exporters/prometheus"
	"github.com/optel-dev/optel/internal/testpeers"
	"github.com/optel-dev/optel/telemetry"
)

func newProvider(t *testing.T, opts ...telemetry.Option) *telemetry.Provider {
	t.Helper()
	tp, err := telemetry.New(context.Background(), append([]telemetry.Option{telemetry.WithEnvironment(noEnv)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

func snapshot(t *testing.T, tp *telemetry.Provider) *metricdata.ResourceMetrics {
	t.Helper()
	e, ok := tp.Exporter("json")
	if !ok {
		t.Fatal("json exporter not configured")
	}
	rm, err := e.(*jsonexp.Exporter).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rm
}

func find(rm *metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

func scrape(t *testing.T, tp *telemetry.Provider) string {
	t.Helper()
	h := tp.Routes()["/metrics"]
	if h == nil {
		t.Fatal("no /metrics route")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestThirdPartyExporterPlugsIntoFlag(t *testing.T) {
	reg := telemetry.NewExporterRegistry()
	var built atomic.Int32
	reader := sdkmetric.NewManualReader()
	err := reg.Register("memory", telemetry.ExporterFactoryFunc(func(_ context.Context, s telemetry.ExporterSettings) (telemetry.Exporter, error) {
		built.Add(1)
		if s.Name != "memory" {
			return nil, fmt.Errorf("settings name %q", s.Name)
		}
		return telemetry.ReaderExporter(reader), nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register("memory", telemetry.ExporterFactoryFunc(nil)); err == nil {
		t.Error("duplicate registration accepted")
	}
	if err := reg.Register("Bad", telemetry.ExporterFactoryFunc(nil)); err == nil {
		t.Error("upper-case name accepted")
	}
	tf := telemetry.Flags{Registry: reg}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	tf.BindFlags(fs)
	if err := fs.Parse([]string{"--telemetry-exporters=memory,json"}); err != nil {
		t.Fatal(err)
	}
	tp := newProvider(t, append([]telemetry.Option{telemetry.WithExporterRegistry(reg)}, tf.Options()...)...)
	c, _ := tp.Meter("t").Int64Counter("plugged", metric.WithDescription("d"))
	c.Add(context.Background(), 4)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	m, ok := find(&rm, "plugged")
	if !ok || m.Data.(metricdata.Sum[int64]).DataPoints[0].Value != 4 {
		t.Fatalf("third-party reader did not see the measurement: %+v", m)
	}
	if built.Load() != 1 {
		t.Errorf("factory built %d times", built.Load())
	}
}

func TestCardinalityOverflowIsVisible(t *testing.T) {
	tp := newProvider(t, telemetry.WithExporters("json,prometheus"), telemetry.WithCardinalityLimit(5))
	c, _ := tp.Meter("t").Int64Counter("requests", metric.WithDescription("d"))
	for i := range 20 {
		c.Add(context.Background(), 1, metric.WithAttributes(attribute.Int("id", i)))
	}
	m, _ := find(snapshot(t, tp), "requests")
	pts := m.Data.(metricdata.Sum[int64]).DataPoints
	if len(pts) != 5 {
		t.Fatalf("series = %d, want the limit 5", len(pts))
	}
	var overflow, total int64
	for _, p := range pts {
		total += p.Value
		if v, ok := p.Attributes.Value("otel.metric.overflow"); ok && v.AsBool() {
			overflow = p.Value
		}
	}
	if total != 20 || overflow != 16 {
		t.Errorf("total %d (want 20, nothing lost), overflow series %d (want 16)", total, overflow)
	}
	if !strings.Contains(scrape(t, tp), `requests_total{otel_metric_overflow="true"} 16`) {
		t.Error("overflow series not visible in Prometheus text")
	}
}

func TestViewsRenameAndDropAttributes(t *testing.T) {
	tp := newProvider(t, telemetry.WithExporters("json"),
		telemetry.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Name: "old.name"},
			sdkmetric.Stream{Name: "new.name", AttributeFilter: attribute.NewAllowKeysFilter("keep")},
		)))
	c, _ := tp.Meter("t").Int64Counter("old.name", metric.WithDescription("d"))
	c.Add(context.Background(), 1, metric.WithAttributes(attribute.String("keep", "a"), attribute.String("drop", "x")))
	c.Add(context.Background(), 1, metric.WithAttributes(attribute.String("keep", "a"), attribute.String("drop", "y")))
	m, ok := find(snapshot(t, tp), "new.name")
	if !ok {
		t.Fatal("renamed instrument missing")
	}
	pts := m.Data.(metricdata.Sum[int64]).DataPoints
	if len(pts) != 1 || pts[0].Value != 2 || pts[0].Attributes.Len() != 1 {
		t.Errorf("points = %+v, want one series keep=a with 2", pts)
	}
}

func TestSecondsHistogramsGetSecondsBuckets(t *testing.T) {
	tp := newProvider(t, telemetry.WithExporters("json"))
	m := tp.Meter("t")
	sec, _ := m.Float64Histogram("dur", metric.WithUnit("s"), metric.WithDescription("d"))
	ms, _ := m.Float64Histogram("dur.ms", metric.WithUnit("ms"), metric.WithDescription("d"))
	adv, _ := m.Float64Histogram("dur.advised", metric.WithUnit("s"), metric.WithDescription("d"), metric.WithExplicitBucketBoundaries(1, 2))
	for _, h := range []metric.Float64Histogram{sec, ms, adv} {
		h.Record(context.Background(), 0.3)
	}
	rm := snapshot(t, tp)
	bounds := func(name string) []float64 {
		m, _ := find(rm, name)
		return m.Data.(metricdata.Histogram[float64]).DataPoints[0].Bounds
	}
	if b := bounds("dur"); len(b) != 14 || b[0] != 0.005 || b[13] != 10 {
		t.Errorf("seconds bounds = %v", b)
	}
	if b := bounds("dur.ms"); b[len(b)-1] != 10000 {
		t.Errorf("ms histogram should keep SDK defaults, got %v", b)
	}
	if b := bounds("dur.advised"); len(b) != 2 {
		t.Errorf("explicit advice overridden: %v", b)
	}
}

func TestInvalidInstrumentNameIsAnError(t *testing.T) {
	tp := newProvider(t, telemetry.WithExporters("json"))
	for _, name := range []string{"", "1starts.with.digit", "has space", strings.Repeat("x", 300)} {
		if _, err := tp.Meter("t").Int64Counter(name); err == nil {
			t.Errorf("instrument name %q accepted", name)
		}
	}
}

func TestOnCollectRunsForEveryExporter(t *testing.T) {
	var errs []error
	tp := newProvider(t, telemetry.WithExporters("json,prometheus"),
		telemetry.WithErrorHandler(telemetry.ErrorHandlerFunc(func(err error) { errs = append(errs, err) })))
	g, _ := tp.Meter("t").Int64Gauge("queue.size", metric.WithDescription("d"))
	var calls atomic.Int64
	unregister := tp.OnCollect("queue", func(ctx context.Context) error {
		g.Record(ctx, 100+calls.Add(1))
		return nil
	})
	tp.OnCollect("broken", func(context.Context) error { return errors.New("backend down") })
	tp.OnCollect("panicky", func(context.Context) error { panic("boom") })

	m, _ := find(snapshot(t, tp), "queue.size")
	if v := m.Data.(metricdata.Gauge[int64]).DataPoints[0].Value; v != 101 {
		t.Errorf("json saw %d, want the value set during its own collection (101)", v)
	}
	if !strings.Contains(scrape(t, tp), "queue_size 102") {
		t.Error("prometheus scrape did not run the hook")
	}
	unregister()
	snapshot(t, tp)
	if calls.Load() != 2 {
		t.Errorf("hook ran %d times after unregister", calls.Load())
	}
	m, _ = find(snapshot(t, tp), "optel.telemetry.callback.failures")
	if v := m.Data.(metricdata.Sum[int64]).DataPoints[0].Value; v < 6 {
		t.Errorf("callback failures = %d, want >= 6 (2 failing hooks x 3+ collections)", v)
	}
	if len(errs) == 0 || !strings.Contains(errs[0].Error(), "broken") {
		t.Errorf("error handler got %v", errs)
	}
}

func TestObservableCallbacksRunOnEachCollection(t *testing.T) {
	tp := newProvider(t, telemetry.WithExporters("json,prometheus"))
	var n atomic.Int64
	_, err := tp.Meter("t").Int64ObservableGauge("observed", metric.WithDescription("d"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(n.Add(1))
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(scrape(t, tp), "observed 1") {
		t.Error("scrape did not observe")
	}
	m, _ := find(snapshot(t, tp), "observed")
	if v := m.Data.(metricdata.Gauge[int64]).DataPoints[0].Value; v != 2 {
		t.Errorf("json observed %d, want 2", v)
	}
}

// TestClientGolangBridge: an existing client_golang counter appears exactly
// once on /metrics (served directly) and in the JSON snapshot (bridged).
func TestClientGolangBridge(t *testing.T) {
	reg := prom.NewRegistry()
	c := prom.NewCounterVec(prom.CounterOpts{Name: "legacy_jobs_total", Help: "Jobs."}, []string{"queue"})
	reg.MustRegister(c)
	c.WithLabelValues("fast").Add(5)
	tp := newProvider(t, telemetry.WithExporters("prometheus,json"), telemetry.WithGatherer(reg))
	text := scrape(t, tp)
	if n := strings.Count(text, `legacy_jobs_total{queue="fast"} 5`); n != 1 {
		t.Errorf("client_golang series appears %d times on /metrics, want exactly 1:\n%s", n, text)
	}
	if strings.Count(text, "# TYPE legacy_jobs_total counter") != 1 {
		t.Error("TYPE line missing or duplicated")
	}
	m, ok := find(snapshot(t, tp), "legacy_jobs_total")
	if !ok {
		t.Fatal("bridged counter missing from JSON")
	}
	p := m.Data.(metricdata.Sum[float64]).DataPoints[0]
	if v, _ := p.Attributes.Value("queue"); p.Value != 5 || v.AsString() != "fast" {
		t.Errorf("bridged point = %+v", p)
	}
}

func TestShutdownIsIdempotent(t *testing.T) {
	tp := newProvider(t, telemetry.WithExporters("prometheus,json"))
	ctx := context.Background()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := tp.ForceFlush(ctx); !errors.Is(err, telemetry.ErrShutdown) {
		t.Errorf("ForceFlush after Shutdown = %v, want ErrShutdown", err)
	}
	rec := httptest.NewRecorder()
	tp.Routes()["/metrics.json"].ServeHTTP(rec, httptest.NewRequest("GET", "/metrics.json", nil))
	if rec.Code != 503 {
		t.Errorf("/metrics.json after shutdown = %d, want 503", rec.Code)
	}
	body, _ := io.ReadAll(rec.Body)
	if len(body) == 0 {
		t.Error("no explanation in 503 body")
	}
}

func TestConsoleExporterWrites(t *testing.T) {
	var out testpeers.SyncBuffer
	tp := newProvider(t, telemetry.WithExporters("console"), telemetry.WithExporterConfig(telemetry.ExporterConsole, func(c *console.Config) { c.Writer = &out }))
	c, _ := tp.Meter("t").Int64Counter("console.things", metric.WithDescription("d"))
	c.Add(context.Background(), 5)
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, `"console.things"`) || !strings.Contains(s, `"Value":5`) {
		t.Errorf("console output lacks the counter:\n%s", s)
	}
}

// TestPullExportersShareOneReader: the built-in pull exporters collect from
// one SDK reader, so each series is aggregated once for both; the stock
// Prometheus encoder keeps its own.
func TestPullExportersShareOneReader(t *testing.T) {
	for _, tc := range []struct {
		opts   []telemetry.Option
		shared bool
	}{
		{nil, true},
		{[]telemetry.Option{telemetry.WithExporterConfig(telemetry.ExporterPrometheus, func(c *prometheus.Config) { c.Encoder.Set(prometheus.EncoderStock) })}, false},
	} {
		tp, err := telemetry.New(context.Background(), append([]telemetry.Option{telemetry.WithEnvironment(noEnv), telemetry.WithExporters("prometheus,json")}, tc.opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := tp.Exporter("prometheus")
		j, _ := tp.Exporter("json")
		if got := p.Reader() == j.Reader(); got != tc.shared {
			t.Errorf("shared = %v, want %v", got, tc.shared)
		}
		_ = tp.Shutdown(context.Background())
	}
}

// TestExpositionRepairsAreCounted: what the Prometheus exporter repairs in a
// rendering, 100 label values with invalid UTF-8 and one series two scopes
// report, is counted in optel.telemetry.exposition.sanitized and
// optel.telemetry.exposition.dropped on every rendering, and handed to the
// error handler once per rendering however many points it concerns, without
// counting as an export failure.
func TestExpositionRepairsAreCounted(t *testing.T) {
	var mu sync.Mutex
	var handled []error
	tp := newProvider(t, telemetry.WithExporters("prometheus"), telemetry.WithErrorHandler(telemetry.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		handled = append(handled, err)
		mu.Unlock()
	})))
	ctx := context.Background()
	a, _ := tp.Meter("scope.a").Int64Counter("jobs", metric.WithDescription("Jobs."))
	b, _ := tp.Meter("scope.b").Int64Counter("jobs", metric.WithDescription("Jobs."))
	for i := range 100 {
		a.Add(ctx, 1, metric.WithAttributes(attribute.String("k", fmt.Sprintf("bad-%d-\xff", i))))
	}
	a.Add(ctx, 1, metric.WithAttributes(attribute.String("k", "dup")))
	b.Add(ctx, 1, metric.WithAttributes(attribute.String("k", "dup")))

	scrape(t, tp)
	scrape(t, tp)
	text := scrape(t, tp) // its collection observes the first two renderings
	for _, want := range []string{
		`optel_telemetry_exposition_sanitized_total{exporter="prometheus",reason="invalid_utf8"} 200`,
		`optel_telemetry_exposition_dropped_total{exporter="prometheus",reason="duplicate_series"} 2`,
		`optel_telemetry_export_failures_total{exporter="prometheus"} 0`,
	} {
		if !strings.Contains(text, "\n"+want+"\n") {
			t.Errorf("scrape lacks %s:\n%s", want, text)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(handled) != 3 {
		t.Errorf("error handler called %d times for 3 renderings, want once each: %v", len(handled), handled)
	}
	for _, err := range handled {
		if !errors.Is(err, prometheus.ErrRepaired) {
			t.Errorf("handled %v, want it to wrap prometheus.ErrRepaired", err)
		}
	}
}

// TestControllerRuntimeNaming: the controller-runtime profile, a table
// telemetry hands the Prometheus exporter, renders optel's own families
// under controller-runtime's names with both encoders.
func TestControllerRuntimeNaming(t *testing.T) {
	for _, enc := range []prometheus.Encoder{prometheus.EncoderOptel, prometheus.EncoderStock} {
		t.Run(string(enc), func(t *testing.T) {
			tp := newProvider(t, telemetry.WithExporters("prometheus"), telemetry.WithMetricsNaming(telemetry.NamingControllerRuntime), telemetry.WithExporterConfig(telemetry.ExporterPrometheus, func(c *prometheus.Config) { c.Encoder.Set(enc) }))
			inv, _ := tp.Meter("optel").Int64Counter("optel.handler.invocations", metric.WithDescription("d"))
			for _, o := range []string{"success", "temporary_error", "panic"} {
				inv.Add(context.Background(), 2, metric.WithAttributes(attribute.String("resource", "widgets"), attribute.String("outcome", o)))
			}
			body := scrape(t, tp)
			for _, want := range []string{
				`controller_runtime_reconcile_total{controller="widgets",result="error"} 4`,
				`controller_runtime_reconcile_total{controller="widgets",result="success"} 2`,
				`controller_runtime_reconcile_panics_total{controller="widgets"} 2`,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("scrape lacks %s:\n%s", want, body)
				}
			}
			if strings.Contains(body, "optel_handler_invocations_total") {
				t.Errorf("optel name still rendered:\n%s", body)
			}
		})
	}
}
