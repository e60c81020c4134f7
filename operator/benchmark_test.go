package operator_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/optel-dev/optel/operator"
	"github.com/optel-dev/optel/server"
	"github.com/optel-dev/optel/telemetry"
)

// BenchmarkEventThroughput measures how fast the operator handles N objects
// on the real API server: N creations (objects exist before the operator
// starts, so it lists and handles them), then N updates. Each iteration runs
// it twice, with self-telemetry on (the default Prometheus and JSON
// exporters) and off (exporter "none"), alternating which goes first so
// drift in the shared API server and etcd does not favour either; the
// overhead is computed from the same iterations. Run it with
// -benchtime=6x: docs/benchmarks.md records the result.
func BenchmarkEventThroughput(b *testing.B) {
	const n = 1000
	var on, off []time.Duration
	for i := range b.N {
		if i%2 == 0 {
			on = append(on, benchOnce(b, "prometheus,json", n))
			off = append(off, benchOnce(b, "none", n))
		} else {
			off = append(off, benchOnce(b, "none", n))
			on = append(on, benchOnce(b, "prometheus,json", n))
		}
	}
	mOn, mOff := median(on), median(off)
	b.ReportMetric(float64(2*n)/mOn.Seconds(), "changes/s-telemetry-on")
	b.ReportMetric(float64(2*n)/mOff.Seconds(), "changes/s-telemetry-off")
	b.ReportMetric(100*(mOn.Seconds()-mOff.Seconds())/mOff.Seconds(), "%overhead")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func benchOnce(b *testing.B, exporters string, n int) time.Duration {
	b.StopTimer()
	ctx := context.Background()
	cfg := fastConfig()
	ns := fmt.Sprintf("bench%d", nsSeq.Add(1))
	dc := dynamic.NewForConfigOrDie(cfg)
	if _, err := dc.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx,
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}},
		metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	ri := dc.Resource(gadgets).Namespace(ns)
	parallel(b, n, func(i int) error {
		_, err := ri.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "test.optel.dev/v1", "kind": "Gadget",
			"metadata": map[string]any{"name": fmt.Sprintf("g%d", i)},
			"spec":     map[string]any{"v": int64(0)},
		}}, metav1.CreateOptions{})
		return err
	})

	tp, err := telemetry.New(ctx, telemetry.WithExporters(exporters), telemetry.WithEnvironment(func(string) (string, bool) { return "", false }))
	if err != nil {
		b.Fatal(err)
	}
	defer tp.Shutdown(ctx)
	op, err := operator.New(cfg, operator.Options{
		Namespaces: []string{ns}, Telemetry: tp, Workers: 8,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Server: server.Options{BindAddress: "0", HealthProbeBindAddress: "0"},
	})
	if err != nil {
		b.Fatal(err)
	}
	var created, updated atomic.Int64
	_ = op.OnCreate(gadgets, "create", func(context.Context, *operator.Event) error { created.Add(1); return nil })
	_ = op.OnUpdate(gadgets, "update", func(context.Context, *operator.Event) error { updated.Add(1); return nil })
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)

	b.StartTimer()
	start := time.Now()
	go func() { done <- op.Run(runCtx) }()
	waitCount(b, &created, n)

	parallel(b, n, func(i int) error {
		obj, err := ri.Get(ctx, fmt.Sprintf("g%d", i), metav1.GetOptions{})
		if err != nil {
			return err
		}
		_ = unstructured.SetNestedField(obj.Object, int64(1), "spec", "v")
		_, err = ri.Update(ctx, obj, metav1.UpdateOptions{})
		return err
	})
	waitCount(b, &updated, n)
	total := time.Since(start)
	b.StopTimer()

	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	// Leave etcd as we found it, so later iterations (and the other
	// variant) do not run against a bigger store.
	if err := ri.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	return total
}

func fastConfig() *rest.Config {
	cfg := cp.Config()
	cfg.QPS, cfg.Burst = 1e6, 1e6 // measure the operator, not client-go's rate limiter
	return cfg
}

func parallel(b *testing.B, n int, fn func(i int) error) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := atomic.Int64{}
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

func waitCount(b *testing.B, c *atomic.Int64, want int) {
	deadline := time.Now().Add(5 * time.Minute)
	for c.Load() < int64(want) {
		if time.Now().After(deadline) {
			b.Fatalf("handled %d of %d", c.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
