package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"

	"github.com/optel-dev/optel/exporters/jsonexp"
	"github.com/optel-dev/optel/exporters/otlp"
	"github.com/optel-dev/optel/exporters/prometheus"
)

var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

const (
	acceptText = "text/plain;version=0.0.4"
	acceptOM   = "application/openmetrics-text;version=1.0.0"
	// acceptPrometheus and encodingPrometheus are the headers the testbed's
	// real Prometheus (2.42) sent on its scrapes, captured from its
	// requests: it negotiates OpenMetrics and asks for gzip.
	acceptPrometheus   = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
	encodingPrometheus = "gzip"
)

// system is what a scrape benchmark renders with.
type system int

const (
	sysOptel        system = iota // optel's Prometheus encoder
	sysStock                      // the stock OTel Prometheus exporter
	sysClientGolang               // client_golang registry + promhttp
	sysJSON                       // optel's JSON exporter (its snapshot feeds OTLP too)
)

// dataset is n series (half counters, half histograms) recorded into one
// system only, so the process's live heap, which the GC has to mark, is
// that system's alone, as it would be in an operator. OTel systems are
// configured as optel configures the SDK: exemplars off (and, for the
// benchmark, no cardinality limit). buildDataset fills every system with
// identical data (TestDatasetsIdentical checks it).
type dataset struct {
	n, kind int
	mp      *sdkmetric.MeterProvider
	prom    *prometheus.Exporter
	json    *jsonexp.Exporter
	handler http.Handler
	base    uint64 // live heap after building, before any scrape (retainedMiB)
	// churn changes every value and adds 1 % new series (neither side
	// deletes any: the OTel SDK cannot forget a cumulative series, so
	// client_golang keeps its old ones too, and both do the same work).
	churn   func()
	churned bool // churn ran on it: the plain runs need a fresh one
}

var (
	dsMu sync.Mutex
	ds   *dataset
)

// getDataset builds (or reuses) the dataset of n series for a system. One
// is kept at a time: -count runs a benchmark's repetitions back to back, so
// they share it, and the next benchmark frees it.
func getDataset(b testing.TB, n int, sys system, churn bool) *dataset {
	b.Helper()
	dsMu.Lock()
	defer dsMu.Unlock()
	// A churned dataset is reused only by churn runs.
	if ds != nil && ds.n == n && ds.kind == int(sys) && (churn || !ds.churned) {
		ds.churned = ds.churned || churn
		return ds
	}
	if ds != nil {
		if ds.mp != nil {
			_ = ds.mp.Shutdown(context.Background())
		}
		ds = nil
	}
	runtime.GC()
	d, err := buildDataset(n, sys)
	if err != nil {
		b.Fatal(err)
	}
	d.base = settledHeap()
	d.churned = churn
	ds = d
	return d
}

// settledHeap is the live heap after two GCs: the second empties what
// sync.Pools moved to their victim caches in the first, so pooled buffers
// (client_golang's and optel's) do not count.
func settledHeap() uint64 {
	runtime.GC()
	runtime.GC()
	return liveHeap([]metrics.Sample{{Name: heapObjects}})
}

// retainedMiB is what a system keeps between scrapes beyond its recorded
// data: the live heap after the scrapes so far (settledHeap) above the
// live heap before the first one.
func retainedMiB(d *dataset) float64 {
	if after := settledHeap(); after > d.base {
		return float64(after-d.base) / (1 << 20)
	}
	return 0
}

func seriesLabels(i int) (controller, namespace, name string) {
	return "c" + strconv.Itoa(i%10), "ns" + strconv.Itoa(i%100), "obj-" + strconv.Itoa(i)
}

func buildDataset(n int, sys system) (*dataset, error) {
	ctx := context.Background()
	d := &dataset{n: n, kind: int(sys)}
	if sys == sysClientGolang {
		reg := prom.NewRegistry()
		pc := prom.NewCounterVec(prom.CounterOpts{Name: "requests_total", Help: "Requests."}, []string{"controller", "namespace", "name"})
		ph := prom.NewHistogramVec(prom.HistogramOpts{Name: "latency_seconds", Help: "Latency.", Buckets: buckets}, []string{"controller", "namespace", "name"})
		reg.MustRegister(pc, ph)
		for i := range n / 2 {
			ctrl, ns, name := seriesLabels(i)
			pc.WithLabelValues(ctrl, ns, name).Add(float64(i))
			ph.WithLabelValues(ctrl, ns, name).Observe(float64(i%100) / 10)
		}
		d.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
		counters := make([]prom.Counter, 0, n/2)
		hists := make([]prom.Observer, 0, n/2)
		for i := range n / 2 {
			ctrl, ns, name := seriesLabels(i)
			counters, hists = append(counters, pc.WithLabelValues(ctrl, ns, name)), append(hists, ph.WithLabelValues(ctrl, ns, name))
		}
		next := n / 2
		d.churn = func() {
			for i := range counters {
				counters[i].Add(1)
				hists[i].Observe(float64((i+next)%100) / 10)
			}
			for range n / 200 {
				ctrl, ns, name := seriesLabels(next)
				counters, hists = append(counters, pc.WithLabelValues(ctrl, ns, name)), append(hists, ph.WithLabelValues(ctrl, ns, name))
				hists[len(hists)-1].Observe(float64(next%100) / 10)
				next++
			}
		}
		return d, nil
	}
	var reader sdkmetric.Reader
	switch sys {
	case sysOptel, sysStock:
		enc := prometheus.EncoderOptel
		if sys == sysStock {
			enc = prometheus.EncoderStock
		}
		exp, err := prometheus.New(prometheus.WithoutTargetInfo(), prometheus.WithEncoder(enc))
		if err != nil {
			return nil, err
		}
		d.prom, d.handler, reader = exp, exp.Handler(), exp.Reader()
	case sysJSON:
		d.json = jsonexp.New()
		d.handler, reader = d.json.Handler(), d.json.Reader()
	}
	d.mp = sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(sdkresource.Empty()),
		sdkmetric.WithReader(reader),
		sdkmetric.WithCardinalityLimit(0),
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
	m := d.mp.Meter("bench")
	c, _ := m.Int64Counter("requests", metric.WithDescription("Requests."))
	h, _ := m.Float64Histogram("latency", metric.WithUnit("s"), metric.WithDescription("Latency."), metric.WithExplicitBucketBoundaries(buckets...))
	sets := make([]metric.MeasurementOption, 0, n/2)
	for i := range n / 2 {
		ctrl, ns, name := seriesLabels(i)
		set := metric.WithAttributeSet(attribute.NewSet(attribute.String("controller", ctrl), attribute.String("namespace", ns), attribute.String("name", name)))
		sets = append(sets, set)
		c.Add(ctx, int64(i), set)
		h.Record(ctx, float64(i%100)/10, set)
	}
	next := n / 2
	d.churn = func() {
		for i, set := range sets {
			c.Add(ctx, 1, set)
			h.Record(ctx, float64((i+next)%100)/10, set)
		}
		for range n / 200 {
			ctrl, ns, name := seriesLabels(next)
			set := metric.WithAttributeSet(attribute.NewSet(attribute.String("controller", ctrl), attribute.String("namespace", ns), attribute.String("name", name)))
			sets = append(sets, set)
			c.Add(ctx, 0, set)
			h.Record(ctx, float64(next%100)/10, set)
			next++
		}
	}
	return d, nil
}

// discard is a ResponseWriter that throws the body away (counting its
// bytes), so the benchmark measures collecting, encoding and compressing,
// not a network.
type discard struct {
	h http.Header
	n int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// heapPeak samples the heap during one scrape and reports the peak
// above the level measured (after a GC) before it started: the transient
// memory scraping needs on top of the recorded data and the buffers kept
// between scrapes (retained-MiB). It reads the bytes in heap objects, which
// counts what scraping allocated until the GC frees it, not only what is
// reachable.
type heapPeak struct {
	base uint64
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

const heapObjects = "/memory/classes/heap/objects:bytes"

func liveHeap(s []metrics.Sample) uint64 {
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startHeapPeak() *heapPeak {
	runtime.GC()
	s := []metrics.Sample{{Name: heapObjects}}
	p := &heapPeak{base: liveHeap(s), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		s := []metrics.Sample{{Name: heapObjects}}
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			if v := liveHeap(s); v > p.peak.Load() {
				p.peak.Store(v)
			}
			select {
			case <-p.stop:
				// One last reading: the scrape is over, and what it
				// allocated since the previous tick is still counted.
				if v := liveHeap(s); v > p.peak.Load() {
					p.peak.Store(v)
				}
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *heapPeak) report(b *testing.B) {
	close(p.stop)
	<-p.done
	extra := float64(0)
	if pk := p.peak.Load(); pk > p.base {
		extra = float64(pk - p.base)
	}
	b.ReportMetric(extra/(1<<20), "peak-heap-MiB")
}

// scrapeKind is how a benchmark scrapes.
type scrapeKind struct {
	name, accept, encoding string
	churn                  bool // change every value and add 1 % series before each scrape (untimed)
}

var (
	scrapeAsPrometheus = scrapeKind{name: "prometheus-gzip", accept: acceptPrometheus, encoding: encodingPrometheus}
	scrapeWithChurn    = scrapeKind{name: "prometheus-gzip-churn", accept: acceptPrometheus, encoding: encodingPrometheus, churn: true}
	scrapeText         = scrapeKind{name: "text", accept: acceptText}
	scrapeOpenMetrics  = scrapeKind{name: "openmetrics", accept: acceptOM}
)

// serveLoop scrapes d's handler as k says. Every system gets one warm-up
// scrape before the timer starts. With churn, the values change between
// scrapes while the timer is stopped.
func serveLoop(b *testing.B, d *dataset, k scrapeKind) {
	req, _ := http.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", k.accept)
	if k.encoding != "" {
		req.Header.Set("Accept-Encoding", k.encoding)
	}
	warm := &discard{h: http.Header{}}
	d.handler.ServeHTTP(warm, req)
	if k.encoding != "" && warm.h.Get("Content-Encoding") != k.encoding {
		b.Fatalf("asked for %s, got Content-Encoding %q", k.encoding, warm.h.Get("Content-Encoding"))
	}
	b.ReportAllocs()
	var bytes int
	b.ResetTimer()
	for b.Loop() {
		if k.churn {
			b.StopTimer()
			d.churn()
			b.StartTimer()
		}
		w := &discard{h: http.Header{}}
		d.handler.ServeHTTP(w, req)
		bytes = w.n
	}
	b.StopTimer()
	// The peak is measured on exactly one more scrape, untimed, after a
	// GC, on every system alike: over the timed loop, a faster system
	// would run more scrapes between two GCs and show more garbage.
	if k.churn {
		d.churn()
	}
	hp := startHeapPeak()
	d.handler.ServeHTTP(&discard{h: http.Header{}}, req)
	hp.report(b)
	b.ReportMetric(float64(bytes), "body-bytes")
	if !k.churn { // churn adds series: the recorded data grows
		b.ReportMetric(retainedMiB(d), "retained-MiB")
	}
}

func benchScrape(b *testing.B, n int, sys system) {
	series := fmt.Sprintf("series=%d", n)
	for _, k := range []scrapeKind{scrapeAsPrometheus, scrapeText, scrapeOpenMetrics} {
		b.Run(k.name+"/"+series, func(b *testing.B) { serveLoop(b, getDataset(b, n, sys, false), k) })
	}
}

// benchChurn scrapes as Prometheus does while the data changes between
// scrapes. Each round adds 1 % new series, so both sides must run the same
// number of rounds to do the same work: run it with -benchtime=20x (make
// bench does), never with a duration.
func benchChurn(b *testing.B, n int, sys system) {
	b.Run(scrapeWithChurn.name+"/"+fmt.Sprintf("series=%d", n), func(b *testing.B) {
		serveLoop(b, getDataset(b, n, sys, true), scrapeWithChurn)
	})
}

func BenchmarkScrapeChurnOptel4k(b *testing.B)          { benchChurn(b, 4_000, sysOptel) }
func BenchmarkScrapeChurnClientGolang4k(b *testing.B)   { benchChurn(b, 4_000, sysClientGolang) }
func BenchmarkScrapeChurnOptel100k(b *testing.B)        { benchChurn(b, 100_000, sysOptel) }
func BenchmarkScrapeChurnClientGolang100k(b *testing.B) { benchChurn(b, 100_000, sysClientGolang) }

func benchExport(b *testing.B, n int) {
	d := getDataset(b, n, sysJSON, false)
	series := fmt.Sprintf("series=%d", n)
	b.Run("json/"+series, func(b *testing.B) { serveLoop(b, d, scrapeKind{name: "json", accept: "application/json"}) })
	b.Run("otlp-http/"+series, func(b *testing.B) { benchOTLP(b, d) })
}

// benchOTLP: one OTLP/HTTP export of the collected data: protobuf encoding
// plus a POST to a loopback server that discards the body.
func benchOTLP(b *testing.B, d *dataset) {
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	exp, err := otlp.New(ctx, otlp.WithProtocol(otlp.HTTPProtobuf), otlp.WithEndpoint(srv.URL), otlp.WithTimeout(5*time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	defer exp.Shutdown(ctx)
	rm, err := d.json.Snapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := exp.Export(ctx, rm); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	hp := startHeapPeak() // on one more export, as serveLoop does
	if err := exp.Export(ctx, rm); err != nil {
		b.Fatal(err)
	}
	hp.report(b)
}

// One top-level benchmark per system and size, so that -count repeats
// share a dataset. The ratio table pairs them by format and size.
func BenchmarkScrapeOptel4k(b *testing.B)          { benchScrape(b, 4_000, sysOptel) }
func BenchmarkScrapeStock4k(b *testing.B)          { benchScrape(b, 4_000, sysStock) }
func BenchmarkScrapeClientGolang4k(b *testing.B)   { benchScrape(b, 4_000, sysClientGolang) }
func BenchmarkExport4k(b *testing.B)               { benchExport(b, 4_000) }
func BenchmarkScrapeOptel100k(b *testing.B)        { benchScrape(b, 100_000, sysOptel) }
func BenchmarkScrapeStock100k(b *testing.B)        { benchScrape(b, 100_000, sysStock) }
func BenchmarkScrapeClientGolang100k(b *testing.B) { benchScrape(b, 100_000, sysClientGolang) }
func BenchmarkExport100k(b *testing.B)             { benchExport(b, 100_000) }
func BenchmarkScrapeOptel1M(b *testing.B)          { benchScrape(b, 1_000_000, sysOptel) }
func BenchmarkScrapeStock1M(b *testing.B)          { benchScrape(b, 1_000_000, sysStock) }
func BenchmarkScrapeClientGolang1M(b *testing.B)   { benchScrape(b, 1_000_000, sysClientGolang) }
func BenchmarkExport1M(b *testing.B)               { benchExport(b, 1_000_000) }
