package operator_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/optel-dev/optel/exporters/otlp"
	"github.com/optel-dev/optel/internal/testpeers"
	"github.com/optel-dev/optel/operator"
	"github.com/optel-dev/optel/telemetry"
)

// TestShutdownUnderLoad ends Run while handlers are running and the OTLP
// exporter holds unexported data (its interval is an hour): running
// handlers finish within the graceful deadline, the final flush reaches a
// real Collector, and Run returns nil. A handler that outlives the deadline
// is cancelled. TestMain's goleak check covers leaks.
func TestShutdownUnderLoad(t *testing.T) {
	col := testpeers.StartCollector(t)
	for _, tc := range []struct {
		name       string
		grace      time.Duration
		handler    func(ctx context.Context) error
		wantFinish bool
	}{
		{"handlers finish within the deadline", 20 * time.Second, func(context.Context) error {
			time.Sleep(700 * time.Millisecond) // ignores ctx: must be allowed to finish
			return nil
		}, true},
		{"handlers past the deadline are cancelled", 300 * time.Millisecond, func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp, err := telemetry.New(context.Background(),
				telemetry.WithEnvironment(func(string) (string, bool) { return "", false }),
				telemetry.WithExporters("otlp,json"),
				telemetry.WithExporterConfig(telemetry.ExporterOTLP, func(c *otlp.Config) { c.Endpoint.Set(col.GRPCEndpoint) }),
				telemetry.WithExportInterval(time.Hour),
				telemetry.WithServiceName("shutdown-"+fmt.Sprint(tc.wantFinish)))
			if err != nil {
				t.Fatal(err)
			}
			defer tp.Shutdown(context.Background())
			e := newEnv(t, operator.Options{Telemetry: tp, GracefulShutdownTimeout: tc.grace, Workers: 4})
			var started, finished atomic.Int32
			must(t, e.op.OnCreate(gadgets, "slow", func(ctx context.Context, _ *operator.Event) error {
				started.Add(1)
				err := tc.handler(ctx)
				if err == nil {
					finished.Add(1)
				}
				return err
			}))
			e.start()
			for i := range 4 {
				e.create(fmt.Sprintf("s%d", i), nil)
			}
			eventually(t, func() string {
				if started.Load() < 2 {
					return "handlers not running yet"
				}
				return ""
			})
			begin := time.Now()
			e.stop() // cancels Run's context and requires Run to return nil
			if tc.wantFinish && finished.Load() != started.Load() {
				t.Errorf("%d handlers started but only %d finished before Run returned", started.Load(), finished.Load())
			}
			if !tc.wantFinish && time.Since(begin) > tc.grace+15*time.Second {
				t.Errorf("Run waited %s for handlers past a %s deadline", time.Since(begin), tc.grace)
			}
			if tc.wantFinish {
				want := float64(finished.Load())
				testpeers.Eventually(t, 20*time.Second, func() string {
					v, ok := col.Sink.Value("optel.handler.invocations", map[string]string{
						"resource": "gadgets.test.optel.dev", "handler": "slow", "cause": "create", "outcome": "success"})
					if !ok || v != want {
						return fmt.Sprintf("collector has success=%v (present %v), want %v from the final flush", v, ok, want)
					}
					return ""
				})
			}
		})
	}
}
