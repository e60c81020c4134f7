package prometheus_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/optel-dev/optel/exporters/prometheus"
)

// TestScrapeStorm: 50 concurrent scrapers hammer a loopback server with
// 3000 series for OPTEL_STORM_SECONDS (default 60). Every scrape succeeds,
// concurrent scrapes share collections, and the heap stays bounded; the
// figures are logged for docs/reliability.md.
func TestScrapeStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("storm runs for a minute; skipped with -short")
	}
	dur := 60 * time.Second
	if s := os.Getenv("OPTEL_STORM_SECONDS"); s != "" {
		var n int
		_, _ = fmt.Sscan(s, &n)
		dur = time.Duration(n) * time.Second
	}
	exp, err := prometheus.New()
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()))
	defer mp.Shutdown(context.Background())
	c, _ := mp.Meter("storm").Int64Counter("storm.requests", metric.WithDescription("r"))
	h, _ := mp.Meter("storm").Float64Histogram("storm.latency", metric.WithUnit("s"), metric.WithDescription("l"))
	for i := range 1000 {
		o := metric.WithAttributes(attribute.Int("id", i))
		c.Add(context.Background(), 1, o)
		h.Record(context.Background(), 0.1, o)
	}
	srv := httptest.NewServer(exp.Handler())
	defer srv.Close()

	var scrapes, failures atomic.Int64
	var maxHeap atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // sample the heap, and keep recording while scraped
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > maxHeap.Load() {
					maxHeap.Store(ms.HeapInuse)
				}
				c.Add(context.Background(), 1, metric.WithAttributes(attribute.Int("id", 1)))
			}
		}
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(dur)
	for range 50 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				resp, err := client.Get(srv.URL)
				if err != nil {
					failures.Add(1)
					continue
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || n == 0 {
					failures.Add(1)
					continue
				}
				scrapes.Add(1)
			}
		})
	}
	time.Sleep(time.Until(deadline))
	close(stop)
	wg.Wait()

	t.Logf("storm: %d scrapes in %s by 50 scrapers, %d collections, %d failures, max heap in use %.1f MiB",
		scrapes.Load(), dur, exp.Collections(), failures.Load(), float64(maxHeap.Load())/(1<<20))
	if failures.Load() != 0 {
		t.Errorf("%d scrapes failed", failures.Load())
	}
	if scrapes.Load() == 0 || exp.Collections() >= scrapes.Load() {
		t.Errorf("collections %d for %d scrapes: concurrent scrapes should share collections", exp.Collections(), scrapes.Load())
	}
	if maxHeap.Load() > 1<<30 {
		t.Errorf("heap in use reached %.0f MiB", float64(maxHeap.Load())/(1<<20))
	}
}
