package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/optel-dev/optel/exporters/otlp"
	"github.com/optel-dev/optel/internal/testpeers"
	"github.com/optel-dev/optel/telemetry"
)

func withEnv(m map[string]string) telemetry.Option { return telemetry.WithEnvironment(envOf(m)) }

// TestTracesConfiguration checks where the trace and log exporters come
// from (flag, option, environment, default) and that a bad value is an
// error naming the flag or variable and what is accepted.
func TestTracesConfiguration(t *testing.T) {
	cases := []struct {
		name       string
		env        map[string]string
		args       []string
		opts       []telemetry.Option
		wantTraces []string
		wantLogs   []string
		wantErr    []string // substrings of the error, when one is expected
	}{
		{name: "default is json", wantTraces: []string{"json"}},
		{name: "OTEL_TRACES_EXPORTER=otlp alone", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, wantTraces: []string{"otlp"}},
		{name: "flag beats env", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, args: []string{"--traces-exporters=console"}, wantTraces: []string{"console"}},
		{name: "option beats env", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, opts: []telemetry.Option{telemetry.WithTracesExporters("json")}, wantTraces: []string{"json"}},
		{name: "several at once", args: []string{"--traces-exporters=otlp,json,console"}, wantTraces: []string{"otlp", "json", "console"}},
		{name: "none", env: map[string]string{"OTEL_TRACES_EXPORTER": "none"}, wantTraces: nil},
		{name: "logs to otlp", env: map[string]string{"OTEL_LOGS_EXPORTER": "otlp"}, wantTraces: []string{"json"}, wantLogs: []string{"otlp"}},
		{name: "logs flag beats env", env: map[string]string{"OTEL_LOGS_EXPORTER": "otlp"}, args: []string{"--logs-exporters=none"}, wantTraces: []string{"json"}},
		{name: "unknown trace exporter in env", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: []string{"OTEL_TRACES_EXPORTER", `unknown exporter "zipkin"`, "console, json, none, otlp"}},
		{name: "metrics-only exporter for traces", args: []string{"--traces-exporters=prometheus"}, wantErr: []string{"--traces-exporters", `"prometheus" does not export traces`}},
		{name: "json does not export logs", env: map[string]string{"OTEL_LOGS_EXPORTER": "json"}, wantErr: []string{"OTEL_LOGS_EXPORTER", `"json" does not export logs`, "console, none, otlp"}},
		{name: "bad sampler", env: map[string]string{"OTEL_TRACES_SAMPLER": "jaeger_remote"}, wantErr: []string{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"}},
		{name: "bad sampler ratio", env: map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"}, wantErr: []string{"OTEL_TRACES_SAMPLER_ARG", "from 0 to 1"}},
		{name: "bad queue size", env: map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "-3"}, wantErr: []string{"OTEL_BSP_MAX_QUEUE_SIZE", "positive integer"}},
		{name: "bad traces endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://x"}, wantErr: []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://host:port"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var f telemetry.Flags
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			f.BindFlags(fs)
			err := fs.Parse(tc.args)
			if err == nil {
				opts := append([]telemetry.Option{withEnv(tc.env), telemetry.WithExporters("none")}, tc.opts...)
				var tp *telemetry.Provider
				tp, err = telemetry.New(context.Background(), append(opts, f.Options()...)...)
				if err == nil {
					defer tp.Shutdown(context.Background())
					if got := tp.TraceExporters(); fmt.Sprint(got) != fmt.Sprint(tc.wantTraces) && !(len(got) == 0 && len(tc.wantTraces) == 0) {
						t.Errorf("trace exporters = %v, want %v", got, tc.wantTraces)
					}
					if tp.Tracing() != (len(tc.wantTraces) > 0) {
						t.Errorf("Tracing() = %v with exporters %v", tp.Tracing(), tc.wantTraces)
					}
					if tp.Logging() != (len(tc.wantLogs) > 0) {
						t.Errorf("Logging() = %v, want logs %v", tp.Logging(), tc.wantLogs)
					}
				}
			}
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one naming %v", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.HasPrefix(tc.wantErr[0], "--") && !errors.Is(err, telemetry.ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

// TestExemplarFilterFollowsTracing: the default filter is trace_based when
// spans are exported and always_off when traces are off, so a measurement
// inside a sampled span carries an exemplar only in the first case.
func TestExemplarFilterFollowsTracing(t *testing.T) {
	for _, tc := range []struct {
		traces string
		want   bool
	}{{"json", true}, {"none", false}} {
		t.Run(tc.traces, func(t *testing.T) {
			ctx := context.Background()
			reader := sdkmetric.NewManualReader()
			tp, err := telemetry.New(ctx, withEnv(nil), telemetry.WithExporters("none"), telemetry.WithTracesExporters(tc.traces),
				telemetry.WithReader(reader))
			if err != nil {
				t.Fatal(err)
			}
			defer tp.Shutdown(ctx)
			// A real SDK span, even with traces off, so only the filter decides.
			sdk := sdktrace.NewTracerProvider()
			defer sdk.Shutdown(ctx)
			sctx, span := sdk.Tracer("t").Start(ctx, "run")
			h, _ := tp.Meter("t").Float64Histogram("t.duration")
			h.Record(sctx, 0.1)
			span.End()
			var rm metricdata.ResourceMetrics
			if err := reader.Collect(ctx, &rm); err != nil {
				t.Fatal(err)
			}
			var exemplars []metricdata.Exemplar[float64]
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if hist, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == "t.duration" {
						exemplars = hist.DataPoints[0].Exemplars
					}
				}
			}
			has := len(exemplars) == 1 && trace.TraceID(exemplars[0].TraceID) == span.SpanContext().TraceID()
			if has != tc.want {
				t.Errorf("exemplar carrying the span's trace id = %v (exemplars %v), want %v", has, exemplars, tc.want)
			}
		})
	}
}

func TestFollowLinks(t *testing.T) {
	sampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true})
	unsampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{2}, SpanID: trace.SpanID{2}, Remote: true})
	for _, tc := range []struct {
		name  string
		base  sdktrace.Sampler
		links []trace.Link
		want  bool
	}{
		{"no links: base samples", sdktrace.AlwaysSample(), nil, true},
		{"no links: base drops", sdktrace.NeverSample(), nil, false},
		{"sampled link beats a dropping base", sdktrace.NeverSample(), []trace.Link{{SpanContext: sampled}}, true},
		{"unsampled link beats a sampling base", sdktrace.AlwaysSample(), []trace.Link{{SpanContext: unsampled}}, false},
		{"one sampled link of two", sdktrace.NeverSample(), []trace.Link{{SpanContext: unsampled}, {SpanContext: sampled}}, true},
		{"invalid link is no link", sdktrace.AlwaysSample(), []trace.Link{{}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(telemetry.FollowLinks(tc.base)))
			defer tp.Shutdown(context.Background())
			_, span := tp.Tracer("t").Start(context.Background(), "run", trace.WithLinks(tc.links...))
			span.End()
			if got := span.SpanContext().IsSampled(); got != tc.want {
				t.Errorf("sampled = %v, want %v", got, tc.want)
			}
		})
	}
	// A child follows its parent, not its links.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(telemetry.FollowLinks(sdktrace.ParentBased(sdktrace.AlwaysSample()))))
	defer tp.Shutdown(context.Background())
	ctx, parent := tp.Tracer("t").Start(context.Background(), "parent")
	_, child := tp.Tracer("t").Start(ctx, "child", trace.WithLinks(trace.Link{SpanContext: unsampled}))
	if !child.SpanContext().IsSampled() {
		t.Error("a child of a sampled parent was dropped because of an unsampled link")
	}
	child.End()
	parent.End()
}

// TestSpansReachRealCollector sends spans over both protocols to the real
// Collector and reads them back from what it forwarded.
func TestSpansReachRealCollector(t *testing.T) {
	col := testpeers.StartCollector(t)
	for _, tc := range []struct {
		name     string
		protocol otlp.Protocol
		endpoint string
	}{{"grpc", otlp.GRPC, col.GRPCEndpoint}, {"http/protobuf", otlp.HTTPProtobuf, col.HTTPEndpoint}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			tp, err := telemetry.New(ctx, withEnv(map[string]string{"OTEL_BSP_SCHEDULE_DELAY": "100"}), telemetry.WithExporters("none"), telemetry.WithTracesExporters("otlp,json"),
				telemetry.WithServiceName("traces-test"),
				telemetry.WithExporterConfig(telemetry.ExporterOTLP, func(c *otlp.Config) {
					c.Protocol.Set(tc.protocol)
					c.Endpoint.Set(tc.endpoint)
				}))
			if err != nil {
				t.Fatal(err)
			}
			defer tp.Shutdown(ctx)
			// Shaped like a handler run, so the json view keeps it too.
			ctx, root := tp.TracerProvider().Tracer("t").Start(ctx, "root "+tc.name, trace.WithAttributes(attribute.String("proto", tc.name),
				attribute.String("optel.handler", "h"), attribute.String("optel.resource", "r")))
			_, child := tp.TracerProvider().Tracer("t").Start(ctx, "child "+tc.name)
			child.End()
			root.End()
			testpeers.Eventually(t, 10*time.Second, func() string {
				var gotRoot, gotChild bool
				for _, s := range col.Sink.Spans() {
					if s.TraceID != root.SpanContext().TraceID().String() {
						continue
					}
					switch s.Name {
					case "root " + tc.name:
						gotRoot = s.Attrs["proto"] == tc.name && s.Resource["service.name"] == "traces-test"
					case "child " + tc.name:
						gotChild = s.ParentSpanID == root.SpanContext().SpanID().String()
					}
				}
				if !gotRoot || !gotChild {
					return fmt.Sprintf("collector forwarded root=%v child=%v of trace %s", gotRoot, gotChild, root.SpanContext().TraceID())
				}
				return ""
			})
			// Both exporters got it: the json view serves the same run.
			body := get(t, tp.Routes()["/traces.json"], "/traces.json?trace_id="+root.SpanContext().TraceID().String())
			if !strings.Contains(body, root.SpanContext().TraceID().String()) || !strings.Contains(body, "child "+tc.name) {
				t.Errorf("/traces.json does not serve the run the Collector got: %s", body)
			}
		})
	}
}

// TestCollectorOutageDropsSpansCounted stops the real Collector, ends many
// spans, and checks that ending a span never waited, that the spans lost
// were counted, that memory stayed bounded by the queue, and that spans
// flow again once the Collector is back.
func TestCollectorOutageDropsSpansCounted(t *testing.T) {
	col := testpeers.StartCollector(t)
	ctx := context.Background()
	tp, err := telemetry.New(ctx, withEnv(map[string]string{"OTEL_BSP_SCHEDULE_DELAY": "50", "OTEL_BSP_MAX_QUEUE_SIZE": "256", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "64"}),
		telemetry.WithExporters("json"), telemetry.WithTracesExporters("otlp"),
		telemetry.WithExporterConfig(telemetry.ExporterOTLP, func(c *otlp.Config) {
			c.Protocol.Set(otlp.GRPC)
			c.Endpoint.Set(col.GRPCEndpoint)
			c.Timeout.Set(500 * time.Millisecond)
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown(ctx)
	tracer := tp.TracerProvider().Tracer("t")
	col.Stop()

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 50000
	var slowest time.Duration
	startAll := time.Now()
	for i := range n {
		t0 := time.Now()
		_, s := tracer.Start(ctx, "outage", trace.WithAttributes(attribute.Int("i", i), attribute.String("payload", strings.Repeat("x", 256))))
		s.End()
		slowest = max(slowest, time.Since(t0))
	}
	total := time.Since(startAll)
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d spans ended in %v (slowest %v) with the collector down; heap grew %d KiB", n, total, slowest, growth/1024)
	// 256 queued spans of ~1 KiB, plus one batch in flight: far below what
	// 50000 retained spans would need (~50 MiB).
	if growth > 8<<20 {
		t.Errorf("heap grew %d MiB while the collector was down: spans are not bounded by the queue", growth>>20)
	}
	if slowest > 200*time.Millisecond {
		t.Errorf("ending one span took %v while the collector was down: a handler would stall", slowest)
	}
	testpeers.Eventually(t, 10*time.Second, func() string {
		r := tp.DroppedSpansByReason()["otlp"]
		if r[telemetry.DropQueueFull] < n-1000 || r[telemetry.DropExportFailed] < 1 {
			return fmt.Sprintf("dropped spans by reason %v, want at least %d queue_full of %d and some export_failed", r, n-1000, n)
		}
		return ""
	})
	body := get(t, tp.Routes()["/metrics.json"], "/metrics.json")
	if !queueFullRe.MatchString(body) {
		t.Errorf("/metrics.json has no optel.telemetry.spans.dropped point with reason queue_full and a value above 1000")
	}

	// Spans ended while the exporter reconnects are lost too (counted);
	// keep ending one until one arrives.
	col.Start()
	up := time.Now()
	testpeers.Eventually(t, 60*time.Second, func() string {
		_, s := tracer.Start(ctx, "after the outage")
		s.End()
		for _, sp := range col.Sink.Spans() {
			if sp.Name == "after the outage" {
				return ""
			}
		}
		return "no span ended after the outage has reached the collector"
	})
	t.Logf("spans reached the restarted collector %v after it was up", time.Since(up).Round(time.Millisecond))
}

// queueFullRe finds a data point of optel.telemetry.spans.dropped with
// reason queue_full and a value of at least 1000 in /metrics.json.
var queueFullRe = regexp.MustCompile(`"optel\.telemetry\.spans\.dropped"[\s\S]*?"reason":"queue_full"[^}]*}[^}]*"value":[1-9][0-9]{3,}`)

func get(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	if h == nil {
		t.Fatalf("no handler for %s", path)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != 200 {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// TestShutdownFlushesSpansAndLogs: with batches that would wait an hour,
// Shutdown still delivers what was queued, to the real Collector, within
// its deadline.
func TestShutdownFlushesSpansAndLogs(t *testing.T) {
	col := testpeers.StartCollector(t)
	ctx := context.Background()
	tp, err := telemetry.New(ctx, withEnv(map[string]string{"OTEL_BSP_SCHEDULE_DELAY": "3600000", "OTEL_BLRP_SCHEDULE_DELAY": "3600000"}),
		telemetry.WithExporters("none"), telemetry.WithTracesExporters("otlp"), telemetry.WithLogsExporters("otlp"),
		telemetry.WithExporterConfig(telemetry.ExporterOTLP, func(c *otlp.Config) {
			c.Protocol.Set(otlp.HTTPProtobuf)
			c.Endpoint.Set(col.HTTPEndpoint)
		}))
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.TracerProvider().Tracer("t").Start(ctx, "last words")
	span.End()
	var rec otellog.Record
	rec.SetBody(attribute.StringValue("goodbye"))
	tp.LoggerProvider().Logger("t").Emit(ctx, rec)
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := tp.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	t.Logf("shutdown took %v", time.Since(start))
	testpeers.Eventually(t, 5*time.Second, func() string {
		var gotSpan, gotLog bool
		for _, s := range col.Sink.Spans() {
			gotSpan = gotSpan || s.Name == "last words"
		}
		for _, l := range col.Sink.Logs() {
			gotLog = gotLog || l.Body == "goodbye"
		}
		if !gotSpan || !gotLog {
			return fmt.Sprintf("after Shutdown the collector had span=%v log=%v", gotSpan, gotLog)
		}
		return ""
	})
}
