package telemetry_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/optel-dev/optel/exporters/otlp"
	"github.com/optel-dev/optel/internal/testpeers"
	"github.com/optel-dev/optel/telemetry"
)

func sinkValue(c *testpeers.Collector, name string, attrs map[string]string, want float64) func() string {
	return func() string {
		v, ok := c.Sink.Value(name, attrs)
		if !ok {
			return fmt.Sprintf("collector has not forwarded %s; names so far: %v", testpeers.SeriesKey(name, attrs), c.Sink.Names())
		}
		if v != want {
			return fmt.Sprintf("%s = %v, want %v", testpeers.SeriesKey(name, attrs), v, want)
		}
		return ""
	}
}

func TestOTLPReachesRealCollector(t *testing.T) {
	col := testpeers.StartCollector(t)
	for _, tc := range []struct {
		name     string
		protocol otlp.Protocol
		endpoint string
		gzip     bool
	}{
		{"grpc", otlp.GRPC, col.GRPCEndpoint, false},
		{"grpc gzip", otlp.GRPC, col.GRPCEndpoint, true},
		{"http/protobuf", otlp.HTTPProtobuf, col.HTTPEndpoint, false},
		{"http/protobuf gzip", otlp.HTTPProtobuf, col.HTTPEndpoint, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			legacyReg := prom.NewRegistry()
			legacy := prom.NewCounter(prom.CounterOpts{Name: "legacy_things_total", Help: "client_golang counter."})
			legacyReg.MustRegister(legacy)
			comp := otlp.NoCompression
			if tc.gzip {
				comp = otlp.Gzip
			}
			tp, err := telemetry.New(ctx,
				telemetry.WithEnvironment(noEnv),
				telemetry.WithExporters("otlp"),
				telemetry.WithExporterConfig(telemetry.ExporterOTLP, func(c *otlp.Config) {
					c.Protocol.Set(tc.protocol)
					c.Endpoint.Set(tc.endpoint)
					c.Compression.Set(comp)
				}),
				telemetry.WithExportInterval(200*time.Millisecond),
				telemetry.WithServiceName("otlp-test"),
				telemetry.WithGatherer(legacyReg),
			)
			if err != nil {
				t.Fatal(err)
			}
			defer tp.Shutdown(ctx)
			protoAttr := attribute.String("proto", tc.name)
			c, err := tp.Meter("test").Int64Counter("test.things", metric.WithDescription("things"))
			if err != nil {
				t.Fatal(err)
			}
			h, _ := tp.Meter("test").Float64Histogram("test.latency", metric.WithUnit("s"), metric.WithDescription("latency"))
			c.Add(ctx, 7, metric.WithAttributes(protoAttr))
			h.Record(ctx, 0.2, metric.WithAttributes(protoAttr))
			h.Record(ctx, 0.3, metric.WithAttributes(protoAttr))
			legacy.Add(3)
			want := map[string]string{"proto": tc.name}
			testpeers.Eventually(t, 20*time.Second, sinkValue(col, "test.things", want, 7))
			testpeers.Eventually(t, 20*time.Second, sinkValue(col, "test.latency", want, 2))
			testpeers.Eventually(t, 20*time.Second, sinkValue(col, "legacy_things_total", map[string]string{}, 3))
			if got := col.Sink.Resource()["service.name"]; got != "otlp-test" {
				t.Errorf("resource service.name = %q, want otlp-test", got)
			}
			if f := tp.ExportFailures()["otlp"]; f != 0 {
				t.Errorf("export failures = %d with a healthy collector", f)
			}
		})
	}
}

// TestCollectorOutageLosesNothing stops the collector mid-run: recording
// continues, failures are counted, and after the collector returns it
// receives cumulative values equal to everything recorded.
func TestCollectorOutageLosesNothing(t *testing.T) {
	col := testpeers.StartCollector(t)
	ctx := context.Background()
	var handled []error
	tp, err := telemetry.New(ctx,
		telemetry.WithEnvironment(noEnv),
		telemetry.WithExporters("otlp,json"),
		telemetry.WithExporterConfig(telemetry.ExporterOTLP, func(c *otlp.Config) { c.Endpoint.Set(col.GRPCEndpoint); c.Timeout.Set(500 * time.Millisecond) }),
		telemetry.WithExportInterval(200*time.Millisecond),
		telemetry.WithErrorHandler(telemetry.ErrorHandlerFunc(func(err error) { handled = append(handled, err) })),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown(ctx)
	c, _ := tp.Meter("test").Int64Counter("outage.things", metric.WithDescription("things"))
	attrs := telemetry.NewAttributes(attribute.String("phase", "all"))
	want := map[string]string{"phase": "all"}

	for range 10 {
		c.Add(ctx, 1, attrs.Add()...)
	}
	testpeers.Eventually(t, 20*time.Second, sinkValue(col, "outage.things", want, 10))

	col.Stop()
	for range 25 {
		c.Add(ctx, 1, attrs.Add()...) // never blocks: recording is in memory
	}
	// Keep recording hard on other series while the collector is down: with
	// cumulative temporality nothing queues up, so the heap must not grow
	// with the outage.
	other, _ := tp.Meter("test").Int64Counter("outage.load", metric.WithDescription("load"))
	loads := make([]telemetry.Attributes, 100)
	for i := range loads {
		loads[i] = telemetry.NewAttributes(attribute.Int("series", i))
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapInuse
	var heapMax uint64
	for round := range 20 {
		for i := range 5000 {
			other.Add(ctx, 1, loads[i%100].Add()...)
		}
		time.Sleep(100 * time.Millisecond) // ~2 s of outage, spanning several failed exports
		if round%5 == 0 {
			runtime.ReadMemStats(&ms)
			heapMax = max(heapMax, ms.HeapInuse)
		}
	}
	t.Logf("outage: heap in use %.1f MiB before, at most %.1f MiB during 100k adds over ~2 s of failed exports",
		float64(heapBefore)/(1<<20), float64(heapMax)/(1<<20))
	if heapMax > heapBefore+64<<20 {
		t.Errorf("heap grew by %.1f MiB during the outage", float64(heapMax-heapBefore)/(1<<20))
	}
	testpeers.Eventually(t, 20*time.Second, func() string {
		if n := tp.ExportFailures()["otlp"]; n < 2 {
			return fmt.Sprintf("otlp export failures = %d, want >= 2 while the collector is down", n)
		}
		return ""
	})
	for range 5 {
		c.Add(ctx, 1, attrs.Add()...)
	}
	col.Start()
	outageEnd := time.Now()
	testpeers.Eventually(t, 30*time.Second, sinkValue(col, "outage.things", want, 40))
	t.Logf("recovery: the restarted collector had the exact total %s after it was up", time.Since(outageEnd).Round(time.Millisecond))
	testpeers.Eventually(t, 30*time.Second, sinkValue(col, "outage.load", map[string]string{"series": "0"}, 1000))
	if tp.ExportFailures()["json"] != 0 {
		t.Errorf("json exporter counted failures; only otlp pushes")
	}
	_ = handled // read only after Shutdown below to avoid racing the export goroutine
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if len(handled) == 0 {
		t.Error("error handler never saw the failed exports")
	}
}

// TestCollectorDownAtStart: New succeeds with no collector, failures are
// counted, and once the collector appears it gets the exact totals.
func TestCollectorDownAtStart(t *testing.T) {
	col := testpeers.StartCollector(t)
	col.Stop()
	ctx := context.Background()
	tp, err := telemetry.New(ctx,
		telemetry.WithEnvironment(noEnv),
		telemetry.WithExporters("otlp"),
		telemetry.WithExporterConfig(telemetry.ExporterOTLP, func(c *otlp.Config) {
			c.Protocol.Set(otlp.HTTPProtobuf)
			c.Endpoint.Set(col.HTTPEndpoint)
			c.Timeout.Set(300 * time.Millisecond)
		}),
		telemetry.WithExportInterval(200*time.Millisecond),
		telemetry.WithErrorHandler(telemetry.ErrorHandlerFunc(func(error) {})),
	)
	if err != nil {
		t.Fatalf("New must not need a reachable collector: %v", err)
	}
	defer tp.Shutdown(ctx)
	c, _ := tp.Meter("test").Float64Counter("late.things", metric.WithDescription("things"))
	for range 12 {
		c.Add(ctx, 0.5)
	}
	testpeers.Eventually(t, 20*time.Second, func() string {
		if n := tp.ExportFailures()["otlp"]; n < 1 {
			return "no export failure counted yet"
		}
		return ""
	})
	col.Start()
	testpeers.Eventually(t, 30*time.Second, sinkValue(col, "late.things", map[string]string{}, 6))
}

// TestTemporalityAcrossCollectorOutage stops a real Collector while
// points are recorded, for each temporality preference given the way the
// OTel specification gives it (the environment). Cumulative delivers the
// exact total after the outage and drops nothing; delta loses exactly the
// points recorded during the outage and counts them as dropped.
func TestTemporalityAcrossCollectorOutage(t *testing.T) {
	for _, tc := range []struct {
		pref       string
		wantTotal  float64
		processEnv string // set in the real process environment, which optel's configuration overrides
	}{
		{pref: "cumulative", wantTotal: 40},
		{pref: "delta", wantTotal: 15},
		{pref: "lowmemory", wantTotal: 15}, // synchronous counters are delta under lowmemory
		{pref: "cumulative", wantTotal: 40, processEnv: "delta"},
	} {
		name := tc.pref
		if tc.processEnv != "" {
			name += " although the process environment says " + tc.processEnv
		}
		t.Run(name, func(t *testing.T) {
			if tc.processEnv != "" {
				// The upstream exporters read this variable themselves;
				// optel's explicit choice must win.
				t.Setenv(otlp.EnvTemporality, tc.processEnv)
			}
			col := testpeers.StartCollector(t)
			ctx := context.Background()
			tp, err := telemetry.New(ctx,
				telemetry.WithEnvironment(func(k string) (string, bool) {
					if k == otlp.EnvTemporality {
						return tc.pref, true
					}
					return "", false
				}),
				telemetry.WithExporters("otlp"),
				telemetry.WithExporterConfig(telemetry.ExporterOTLP, func(c *otlp.Config) { c.Endpoint.Set(col.GRPCEndpoint); c.Timeout.Set(500 * time.Millisecond) }),
				telemetry.WithExportInterval(200*time.Millisecond),
				telemetry.WithErrorHandler(telemetry.ErrorHandlerFunc(func(error) {})),
			)
			if err != nil {
				t.Fatal(err)
			}
			defer tp.Shutdown(ctx)
			c, _ := tp.Meter("test").Int64Counter("temporality.things", metric.WithDescription("things"))
			attrs := telemetry.NewAttributes(attribute.String("pref", tc.pref))
			want := map[string]string{"pref": tc.pref}
			c.Add(ctx, 10, attrs.Add()...)
			testpeers.Eventually(t, 20*time.Second, sinkValue(col, "temporality.things", want, 10))

			col.Stop()
			waitFailures := func(n int64) {
				testpeers.Eventually(t, 20*time.Second, func() string {
					if f := tp.ExportFailures()["otlp"]; f < n {
						return fmt.Sprintf("%d failed exports, want %d", f, n)
					}
					return ""
				})
			}
			waitFailures(1)
			c.Add(ctx, 25, attrs.Add()...) // recorded while every export fails
			waitFailures(tp.ExportFailures()["otlp"] + 2)
			before := col.Sink.Requests()
			col.Start()
			// Record the last points once exports reach the collector
			// again: the first exports after a restart can still fail while
			// the gRPC client reconnects.
			testpeers.Eventually(t, 30*time.Second, func() string {
				if col.Sink.Requests() <= before+1 {
					return "no export has reached the restarted collector yet"
				}
				return ""
			})
			c.Add(ctx, 5, attrs.Add()...)
			testpeers.Eventually(t, 30*time.Second, sinkValue(col, "temporality.things", want, tc.wantTotal))
			time.Sleep(time.Second) // more exports: nothing else may arrive
			if v, _ := col.Sink.Value("temporality.things", want); v != tc.wantTotal {
				t.Errorf("collector total %v, want %v", v, tc.wantTotal)
			}
			dropped := tp.DroppedPoints()["otlp"]
			switch tc.pref {
			case "cumulative":
				if dropped != 0 {
					t.Errorf("cumulative counted %d dropped points", dropped)
				}
			case "delta":
				// Every failed export lost at least one changed point: the
				// first failure after the Add of 25 carried that point, and
				// each later one carried optel's own self-metrics, which the
				// failure before it had changed (all delta here).
				if failures := tp.ExportFailures()["otlp"]; dropped < failures {
					t.Errorf("delta: %d dropped points counted over %d failed exports, want at least one per failed export", dropped, failures)
				}
			case "lowmemory":
				// Only synchronous counters and histograms are delta under
				// lowmemory: the Add of 25 is the one point sure to be lost.
				if dropped < 1 {
					t.Errorf("lowmemory lost the outage's point but counted %d as dropped", dropped)
				}
			}
			t.Logf("%s: collector total %v after the outage, %d delta points counted as dropped", tc.pref, tc.wantTotal, dropped)
		})
	}
}

// TestFinalExportFailureAtShutdownIsLogged: with the collector down at
// shutdown, the final export fails; it is counted and logged once at
// warning level, whatever the error handler does.
func TestFinalExportFailureAtShutdownIsLogged(t *testing.T) {
	col := testpeers.StartCollector(t)
	ctx := context.Background()
	var buf testpeers.SyncBuffer
	tp, err := telemetry.New(ctx,
		telemetry.WithEnvironment(noEnv),
		telemetry.WithExporters("otlp"),
		telemetry.WithExporterConfig(telemetry.ExporterOTLP, func(c *otlp.Config) { c.Endpoint.Set(col.GRPCEndpoint); c.Timeout.Set(300 * time.Millisecond) }),
		telemetry.WithExportInterval(time.Hour), // only the final export runs
		telemetry.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))),
		telemetry.WithErrorHandler(telemetry.ErrorHandlerFunc(func(error) {})),
	)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := tp.Meter("test").Int64Counter("final.things", metric.WithDescription("things"))
	c.Add(ctx, 3)
	col.Stop()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = tp.Shutdown(sctx)
	if f := tp.ExportFailures()["otlp"]; f != 1 {
		t.Errorf("final export failures counted %d, want 1", f)
	}
	if n := strings.Count(buf.String(), "final export failed at shutdown"); n != 1 {
		t.Errorf("shutdown logged the lost final export %d times, want once:\n%s", n, buf.String())
	}
}

// TestHealthyShutdownLogsNoLostExport: with the Collector up, shutdown
// (which can cancel an export in flight and then export once more) logs no
// lost final export, and the Collector has the total.
func TestHealthyShutdownLogsNoLostExport(t *testing.T) {
	col := testpeers.StartCollector(t)
	ctx := context.Background()
	var buf testpeers.SyncBuffer
	tp, err := telemetry.New(ctx,
		telemetry.WithEnvironment(noEnv),
		telemetry.WithExporters("otlp"),
		telemetry.WithExporterConfig(telemetry.ExporterOTLP, func(c *otlp.Config) { c.Endpoint.Set(col.GRPCEndpoint) }),
		telemetry.WithExportInterval(50*time.Millisecond), // exports in flight when shutdown starts
		telemetry.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))),
		telemetry.WithErrorHandler(telemetry.ErrorHandlerFunc(func(error) {})),
	)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := tp.Meter("test").Int64Counter("healthy.things", metric.WithDescription("things"))
	c.Add(ctx, 4)
	time.Sleep(200 * time.Millisecond)
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "final export failed") {
		t.Errorf("a healthy shutdown reported a lost final export:\n%s", buf.String())
	}
	testpeers.Eventually(t, 20*time.Second, sinkValue(col, "healthy.things", map[string]string{}, 4))
}
