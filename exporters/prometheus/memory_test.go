package prometheus_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/optel-dev/optel/exporters/prometheus"
)

// scrapeEncoded scrapes with an Accept-Encoding and returns the decoded
// body and the encoded size.
func scrapeEncoded(t *testing.T, exp *prometheus.Exporter, accept, encoding string) ([]byte, int) {
	t.Helper()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", accept)
	req.Header.Set("Accept-Encoding", encoding)
	rec := httptest.NewRecorder()
	exp.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	body, n := rec.Body.Bytes(), rec.Body.Len()
	var zr io.Reader
	switch got := rec.Header().Get("Content-Encoding"); got {
	case "":
		return body, n
	case "gzip":
		r, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		zr = r
	case "zstd":
		r, err := zstd.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		zr = r
	default:
		t.Fatalf("Content-Encoding %q", got)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out, n
}

// unlimited is newOptel without the SDK's cardinality limit.
func unlimited(t *testing.T) (*prometheus.Exporter, metric.Meter) {
	t.Helper()
	exp, err := prometheus.New(prometheus.WithoutTargetInfo())
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()), sdkmetric.WithCardinalityLimit(0))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return exp, mp.Meter("t")
}

// TestStreamedScrapesMatch: an exposition of many chunks comes out the
// same whether it is rendered whole (uncompressed) or streamed through
// gzip or zstd, in both formats.
func TestStreamedScrapesMatch(t *testing.T) {
	exp, m := unlimited(t)
	ctx := context.Background()
	c, _ := m.Int64Counter("requests", metric.WithDescription("r"))
	h, _ := m.Float64Histogram("latency", metric.WithUnit("s"), metric.WithDescription("l"))
	for i := range 3000 {
		o := metric.WithAttributes(attribute.String("name", fmt.Sprint("object-", i)), attribute.String("namespace", "default"))
		c.Add(ctx, int64(i), o)
		h.Record(ctx, float64(i%100)/10, o)
	}
	for _, accept := range []string{acceptText, acceptOM} {
		plain, n := scrapeEncoded(t, exp, accept, "")
		if n < 8*(128<<10) {
			t.Fatalf("%s: body of %d bytes, want one of many chunks", accept, n)
		}
		for _, enc := range []string{"gzip", "zstd"} {
			got, _ := scrapeEncoded(t, exp, accept, enc)
			if !slices.Equal(familyBlocks(got), familyBlocks(plain)) { // series order is the SDK's map order
				t.Errorf("%s with %s: the decoded body differs from the uncompressed one (%d and %d bytes)", accept, enc, len(got), len(plain))
			}
		}
	}
}

// TestStreamedFamilyRenderedAgain: a family that turns out to hold series
// that render alike only after part of it has been streamed is rendered
// again from the start, so the streamed body is the uncompressed one:
// every duplicate dropped, counted once per rendering, the invalid byte
// repaired. The data come from a producer, so the point that reveals it
// is the last of the family, far beyond the first chunk.
func TestStreamedFamilyRenderedAgain(t *testing.T) {
	const n = 20_000
	dps := make([]metricdata.DataPoint[int64], 0, n+2)
	for i := range n {
		dps = append(dps, metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.String("k", fmt.Sprint("series-", i))), Value: int64(i)})
	}
	// Last: the string "3" and the int 3, which render alike (the int
	// sorts first, so it is kept), and an invalid byte.
	dps = append(dps,
		metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.String("k", "3")), Value: 1},
		metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.Int("k", 3)), Value: 2},
		metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.String("k", "x\xff")), Value: 3})
	var errs []error
	exp, err := prometheus.New(prometheus.WithoutTargetInfo(), prometheus.WithErrorHandler(func(err error) { errs = append(errs, err) }),
		prometheus.WithManualReaderOption(sdkmetric.WithProducer(producer{{Metrics: []metricdata.Metrics{
			counter("jobs", dps...),
			{Name: "temp", Description: "d", Data: metricdata.Gauge[float64]{DataPoints: []metricdata.DataPoint[float64]{{Value: 1}}}},
		}}})))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()))
	defer mp.Shutdown(context.Background())

	plain, _ := scrapeEncoded(t, exp, acceptOM, "")
	want := prometheus.Repairs{Sanitized: 1, DuplicateSeries: 1}
	if got := exp.Repairs(); got != want {
		t.Fatalf("uncompressed rendering repaired %+v, want %+v", got, want)
	}
	for i, enc := range []string{"gzip", "gzip", "zstd"} { // the second gzip scrape scans the family first
		got, _ := scrapeEncoded(t, exp, acceptOM, enc)
		if !bytes.Equal(got, plain) {
			t.Errorf("scrape %d (%s) differs from the uncompressed body", i+1, enc)
		}
		want.Sanitized++
		want.DuplicateSeries++
		if got := exp.Repairs(); got != want {
			t.Errorf("after scrape %d (%s): repairs %+v, want %+v (once per rendering)", i+1, enc, got, want)
		}
	}
	body := string(plain)
	if strings.Count(body, `jobs_total{k="3"}`) != 1 || !strings.Contains(body, `jobs_total{k="3"} 2.0`+"\n") ||
		!strings.Contains(body, "jobs_total{k=\"x\uFFFD\"} 3.0\n") || !strings.Contains(body, "\ntemp 1.0\n") {
		t.Errorf("want the int 3 kept, the string dropped, the invalid byte repaired and the next family written:\n%s", body[len(body)-400:])
	}
	if len(errs) != 4 {
		t.Errorf("%d errors reported for 4 renderings, want one each: %v", len(errs), errs)
	}
}

func settledHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC() // empties what sync.Pools moved to their victim caches
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestScrapeKeepsLittle: what the exporter keeps between scrapes does not
// grow with the exposition. 30k series make a 20 MiB text body and a
// collection of about 6 MiB, which the encoder used to keep; after scrapes
// in every format and encoding, ending with an uncompressed one, the live
// heap is within 12 MiB of what it
// was before the first (free buffers of at most 8 MiB each, and caches).
func TestScrapeKeepsLittle(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the process's heap; skipped with -short (make test runs it alone, without -short)")
	}
	exp, m := unlimited(t)
	ctx := context.Background()
	c, _ := m.Int64Counter("requests", metric.WithDescription("r"))
	h, _ := m.Float64Histogram("latency", metric.WithUnit("s"), metric.WithDescription("l"))
	for i := range 15_000 {
		o := metric.WithAttributes(attribute.String("name", fmt.Sprint("object-", i)), attribute.String("namespace", "default"))
		c.Add(ctx, int64(i), o)
		h.Record(ctx, float64(i%100)/10, o)
	}
	before := settledHeap()
	size := 0
	// Compressed scrapes leave small buffers on the free list; the
	// uncompressed scrape after them takes one and grows it far beyond
	// what may be kept, so the free list must not keep it (it did, through
	// the slot of its backing array, until 2026-12-01: 75 MiB at 100k
	// series).
	for _, accept := range []string{acceptText, acceptOM} {
		for _, enc := range []string{"", "gzip", "zstd", ""} {
			_, n := scrapeEncoded(t, exp, accept, enc)
			size = max(size, n)
		}
	}
	after := settledHeap()
	runtime.KeepAlive(exp) // or the GC frees the handler and all it keeps
	kept := int64(after) - int64(before)
	t.Logf("largest body %.1f MiB; kept between scrapes %.1f MiB", float64(size)/(1<<20), float64(kept)/(1<<20))
	if size < 18<<20 {
		t.Fatalf("largest body %d bytes: the test needs one far above what may be kept", size)
	}
	if kept > 12<<20 {
		t.Errorf("kept %.1f MiB between scrapes, want at most 12", float64(kept)/(1<<20))
	}
}
