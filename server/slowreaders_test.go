package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
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
// series, from 25 addresses, each reading 4 KiB every 50 ms for 3 s,
// through server.New. They
// share collections (single flight), the excess over the in-flight bound
// gets 503 at once, and the heap stays within slowReaderHeapBound. It runs
// alone in `make test` (its own step), as the scrape storm does.
func TestSlowJSONReaders(t *testing.T) {
	if testing.Short() {
		t.Skip("runs alone in make test's slow step (-run TestSlowJSONReaders), not in the -short race pass")
	}
	url := slowJSONServer(t)
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
	for i := range 200 {
		wg.Go(func() {
			// 25 client addresses, 8 readers each: the per-client bound
			// (8) admits them all, the endpoint's bound (64) does not.
			client := clientFrom(net.IPv4(127, 0, 1, byte(10+i%25)))
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

// slowJSONServer serves /metrics.json over 100k series through server.New
// and returns its URL.
func slowJSONServer(t *testing.T) string { return slowServer(t, "json", "/metrics.json") }

// slowServer serves exporter's routes over 100k series through server.New
// and returns the URL of path.
func slowServer(t *testing.T, exporter, path string) string {
	t.Helper()
	ctx := context.Background()
	tp, err := telemetry.New(ctx, telemetry.WithExporters(exporter), telemetry.WithCardinalityLimit(0),
		telemetry.WithEnvironment(func(string) (string, bool) { return "", false }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(ctx) })
	c, _ := tp.Meter("slow").Int64Counter("slow.series", metric.WithDescription("series"))
	for i := range 100_000 {
		c.Add(ctx, 1, metric.WithAttributes(attribute.Int("i", i)))
	}
	srv, err := server.New(server.Options{BindAddress: "127.0.0.1:0", HealthProbeBindAddress: "0"}, tp.Routes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, srv)
	return "http://" + srv.MetricsAddr() + path
}

// clientFrom is an HTTP client whose connections come from ip.
func clientFrom(ip net.IP) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// TestOneClientCannotHoldEverySlot: 70 slow readers from one address hold
// at most 8 requests (the rest get 429 at once), so a scraper from another
// address still gets 200 while they read.
func TestOneClientCannotHoldEverySlot(t *testing.T) {
	if testing.Short() {
		t.Skip("runs alone in make test's slow step, not in the -short race pass")
	}
	url := slowJSONServer(t)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	hold := make(chan struct{})
	const held = 70 // more than the endpoint's 64: without a per-client bound they would take every slot
	for range held {
		wg.Go(func() {
			client := clientFrom(net.IPv4(127, 0, 0, 2))
			defer client.CloseIdleConnections()
			resp, err := client.Get(url)
			code := 0
			if err == nil {
				code = resp.StatusCode
				if code == 200 {
					buf := make([]byte, 1024)
					_, _ = resp.Body.Read(buf)
					<-hold // keep the response unread, holding the slot
				}
				resp.Body.Close()
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	time.Sleep(2 * time.Second)
	client := clientFrom(net.IPv4(127, 0, 0, 1))
	defer client.CloseIdleConnections()
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	close(hold)
	wg.Wait()
	t.Logf("%d held readers from one address: %v; a scraper from another address: %d in %s", held, codes, resp.StatusCode, took.Round(time.Millisecond))
	if resp.StatusCode != 200 {
		t.Errorf("the other address got %d while one address held its slots", resp.StatusCode)
	}
	if codes[200] != server.DefaultMaxRequestsPerClient || codes[http.StatusTooManyRequests] != held-server.DefaultMaxRequestsPerClient {
		t.Errorf("one address: %v, want %d served and the rest 429", codes, server.DefaultMaxRequestsPerClient)
	}
}

// TestStaggeredSlowJSONReaders: readers that arrive one after another, each
// after the previous one's collection finished, cannot share a collection:
// each holds its own encoded snapshot while it reads slowly. 64 of them (the
// in-flight bound) are all served and stay within slowReaderHeapBound:
// once jsonexp.DefaultMaxSnapshots are held, later readers share the newest
// held snapshot instead of collecting another.
func TestStaggeredSlowJSONReaders(t *testing.T) {
	if testing.Short() {
		t.Skip("runs alone in make test's slow step, not in the -short race pass")
	}
	staggeredReaders(t, slowServer(t, "json", "/metrics.json"), nil)
}

// TestStaggeredSlowScrapes: the same for /metrics, with Prometheus's Accept
// header but without gzip, as an attacker would ask: a gzipped exposition
// at 100k series fits in the socket buffers, so its scrape finishes at once
// however slowly the client reads (all 64 were served with gzip, peak heap
// +57 MiB). At 100k series the plain text body (about 3.5 MiB) fits there
// too; the snapshot bound itself is prometheus/TestHandlerSnapshotBound.
func TestStaggeredSlowScrapes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs alone in make test's slow step, not in the -short race pass")
	}
	hdr := http.Header{
		"Accept": {"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"}, // what the testbed's Prometheus 2.42 sends
	}
	staggeredReaders(t, slowServer(t, "prometheus", "/metrics"), hdr)
}

// staggeredReaders runs 64 readers of url one after another, each holding
// its response unread until all have started, and checks that all were
// served within the heap bound.
func staggeredReaders(t *testing.T, url string, hdr http.Header) {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if m.HeapInuse > peak.Load() {
			peak.Store(m.HeapInuse)
		}
	}
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				sample()
			}
		}
	}()
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	release := make(chan struct{})
	const readers = 64
	for i := range readers {
		// The next reader starts only once this one has its headers, which
		// the handler sends after its collection and encoding: no sharing.
		started := make(chan struct{})
		wg.Go(func() {
			client := clientFrom(net.IPv4(127, 0, 2, byte(10+i%25)))
			client.Transport.(*http.Transport).DisableCompression = true // keep the body as sent
			defer client.CloseIdleConnections()
			req, _ := http.NewRequest("GET", url, nil)
			for k, v := range hdr {
				req.Header[k] = v
			}
			resp, err := client.Do(req)
			close(started)
			code := 0
			if err == nil {
				code = resp.StatusCode
				buf := make([]byte, 4<<10)
				_, _ = resp.Body.Read(buf)
				<-release // hold the rest of the snapshot unread
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
		<-started
	}
	sample()
	close(release)
	wg.Wait()
	close(stop)
	<-sampled
	t.Logf("%d staggered slow readers of %s at 100k series: status counts %v; heap in use %.0f MiB before, peak %.0f MiB (+%.0f MiB); bound %d MiB",
		readers, url[strings.LastIndex(url, "/"):], codes, float64(base)/(1<<20), float64(peak.Load())/(1<<20), float64(int64(peak.Load())-int64(base))/(1<<20), slowReaderHeapBound>>20)
	if codes[200] != readers {
		t.Errorf("status counts %v, want all %d served", codes, readers)
	}
	if peak.Load() > slowReaderHeapBound {
		t.Errorf("peak heap in use %.0f MiB exceeds the documented %d MiB", float64(peak.Load())/(1<<20), slowReaderHeapBound>>20)
	}
}
