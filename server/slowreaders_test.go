package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/optel-dev/optel/server"
	"github.com/optel-dev/optel/telemetry"
)

// slowReaderHeapBound is the documented bound (docs/reliability.md) on the
// heap in use while 200 slow readers hold /metrics.json at 100k series.
const slowReaderHeapBound = 256 << 20

// TestSlowJSONReaders: 200 concurrent readers of /metrics.json at 100k
// series, each reading 4 KiB every 50 ms for 3 s, through server.New. They
// share collections (single flight), the excess over the in-flight bound
// gets 503 at once, and the heap stays within slowReaderHeapBound. It runs
// alone in `make test` (its own step), as the scrape storm does.
func TestSlowJSONReaders(t *testing.T) {
	if testing.Short() {
		t.Skip("runs alone in make test's slow step (-run TestSlowJSONReaders), not in the -short race pass")
	}
	ctx := context.Background()
	tp, err := telemetry.New(ctx, telemetry.WithExporters("json"), telemetry.WithCardinalityLimit(0),
		telemetry.WithEnvironment(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown(ctx)
	c, _ := tp.Meter("slow").Int64Counter("slow.series", metric.WithDescription("series"))
	for i := range 100_000 {
		c.Add(ctx, 1, metric.WithAttributes(attribute.Int("i", i)))
	}
	srv, err := server.New(server.Options{BindAddress: "127.0.0.1:0", HealthProbeBindAddress: "0"}, tp.Routes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, srv)
	url := "http://" + srv.MetricsAddr() + "/metrics.json"
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse

	stop := make(chan struct{})
	var peak atomic.Uint64
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			resp, err := client.Get(url)
			code := 0
			if err == nil {
				code = resp.StatusCode
				buf := make([]byte, 4<<10)
				deadline := time.Now().Add(3 * time.Second)
				for time.Now().Before(deadline) {
					if _, err := resp.Body.Read(buf); err != nil {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	close(stop)
	grew := int64(peak.Load()) - int64(base)
	t.Logf("200 slow readers at 100k series: status counts %v; heap in use %.0f MiB before, peak %.0f MiB (+%.0f MiB); bound %d MiB",
		codes, float64(base)/(1<<20), float64(peak.Load())/(1<<20), float64(grew)/(1<<20), slowReaderHeapBound>>20)
	if codes[200] == 0 {
		t.Fatalf("no reader got the snapshot: %v", codes)
	}
	if codes[200]+codes[503] != 200 {
		t.Errorf("readers saw other answers than 200 and 503: %v", codes)
	}
	if peak.Load() > slowReaderHeapBound {
		t.Errorf("peak heap in use %s exceeds the documented %d MiB", fmt.Sprintf("%.0f MiB", float64(peak.Load())/(1<<20)), slowReaderHeapBound>>20)
	}
}
