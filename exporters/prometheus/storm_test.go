package prometheus_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/optel-dev/optel/exporters/prometheus"
	"github.com/optel-dev/optel/internal/testpeers"
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

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	res := testpeers.Storm(50, dur, func(int) error {
		resp, err := client.Get(srv.URL)
		if err != nil {
			return err
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n == 0 {
			return fmt.Errorf("status %d, %d bytes", resp.StatusCode, n)
		}
		return nil
	}, func() { c.Add(context.Background(), 1, metric.WithAttributes(attribute.Int("id", 1))) })

	t.Logf("storm: %d scrapes in %s by 50 scrapers, %d collections, %d failures, max heap in use %.1f MiB",
		res.Scrapes, dur, exp.Collections(), res.Failures, float64(res.MaxHeapInUse)/(1<<20))
	if res.Failures != 0 {
		t.Errorf("%d scrapes failed; first errors: %q", res.Failures, res.FirstErrors)
	}
	if res.Scrapes == 0 || exp.Collections() >= res.Scrapes {
		t.Errorf("collections %d for %d scrapes: concurrent scrapes should share collections", exp.Collections(), res.Scrapes)
	}
	if res.MaxHeapInUse > 1<<30 {
		t.Errorf("heap in use reached %.0f MiB", float64(res.MaxHeapInUse)/(1<<20))
	}
}
