// Command standalone shows optel's telemetry core without Kubernetes: one
// OTel meter, a probe, an existing client_golang counter, and whichever
// exporters the flags pick (Prometheus text, OTLP, JSON, console), all at
// once.
//
//	go run ./examples/standalone --telemetry-exporters=prometheus,json,otlp \
//	    --otlp-endpoint=http://127.0.0.1:4317
//
// It serves /metrics, /metrics.json, /healthz and /readyz on
// --metrics-bind-address (default :8080) and exits cleanly on SIGINT/SIGTERM,
// flushing push exporters. A bad flag or OTEL_* value exits with status 2.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/optel-dev/optel/probes"
	"github.com/optel-dev/optel/server"
	"github.com/optel-dev/optel/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("standalone", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var tf telemetry.Flags
	tf.BindFlags(fs)
	var so server.Options
	so.BindFlags(fs)
	tick := fs.Duration("demo-tick", 500*time.Millisecond, "How often the demo records a request.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "error: %v\nrun with --help to list the flags\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	// The user's existing client_golang metrics, in their own registry.
	legacyReg := prom.NewRegistry()
	legacy := prom.NewCounter(prom.CounterOpts{Name: "demo_legacy_events_total", Help: "Events counted by pre-existing client_golang code."})
	legacyReg.MustRegister(legacy)

	tp, err := telemetry.New(ctx, append([]telemetry.Option{
		telemetry.WithServiceName("optel-standalone"),
		telemetry.WithServiceVersion("0.1.0"),
		telemetry.WithGatherer(legacyReg),
		telemetry.WithLogger(log),
	}, tf.Options()...)...)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		if errors.Is(err, telemetry.ErrInvalidConfig) {
			return 2
		}
		return 1
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tp.Shutdown(sctx); err != nil {
			log.Error("telemetry shutdown", "error", err)
		}
	}()

	reg, err := probes.NewRegistry(probes.WithMeterProvider(tp.MeterProvider()))
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	var ticks atomic.Int64
	started := time.Now()
	_ = reg.Register("demo", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) {
		return map[string]any{"ticks": ticks.Load(), "uptime_seconds": int(time.Since(started).Seconds())}, nil
	}))

	if err := instrument(tp, &ticks); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}

	routes := tp.Routes()
	srv, err := server.New(so, routes, server.Routes{
		"/healthz": reg.Handler(probes.Liveness),
		"/readyz":  reg.Handler(probes.Readiness),
	})
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 2
	}
	if a := srv.MetricsAddr(); a != "" {
		for p := range routes {
			fmt.Fprintf(stdout, "serving http://%s%s\n", a, p)
		}
	}
	if a := srv.HealthAddr(); a != "" {
		fmt.Fprintf(stdout, "serving http://%s/healthz and /readyz\n", a)
	}
	fmt.Fprintf(stdout, "exporters: %v\n", tp.Exporters())

	meter := tp.Meter("github.com/optel-dev/optel/examples/standalone")
	requests, _ := meter.Int64Counter("demo.requests", metric.WithDescription("Requests handled by the demo."))
	latency, _ := meter.Float64Histogram("demo.latency", metric.WithUnit("s"), metric.WithDescription("Latency of demo requests."))
	routesAttrs := []telemetry.Attributes{
		telemetry.NewAttributes(attribute.String("route", "/a")),
		telemetry.NewAttributes(attribute.String("route", "/b")),
	}

	go func() {
		t := time.NewTicker(*tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				a := routesAttrs[ticks.Load()%2]
				requests.Add(ctx, 1, a.Add()...)
				latency.Record(ctx, rand.Float64()/4, a.Record()...)
				legacy.Inc()
				ticks.Add(1)
			}
		}
	}()

	if err := srv.Start(ctx); err != nil {
		log.Error("server", "error", err)
		return 1
	}
	fmt.Fprintln(stdout, "shut down cleanly")
	return 0
}

// instrument registers the collect-time instruments: a synchronous gauge
// refreshed by an OnCollect hook, and an asynchronous one observed by an SDK
// callback. Both run whichever exporter collects.
func instrument(tp *telemetry.Provider, ticks *atomic.Int64) error {
	meter := tp.Meter("github.com/optel-dev/optel/examples/standalone")
	backlog, err := meter.Int64Gauge("demo.backlog", metric.WithDescription("Work items waiting, refreshed at collection time."))
	if err != nil {
		return err
	}
	tp.OnCollect("demo.backlog", func(ctx context.Context) error {
		backlog.Record(ctx, ticks.Load()%7)
		return nil
	})
	_, err = meter.Int64ObservableGauge("demo.goroutines",
		metric.WithDescription("Goroutines in the demo process, observed at collection time."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(runtime.NumGoroutine()))
			return nil
		}))
	return err
}
