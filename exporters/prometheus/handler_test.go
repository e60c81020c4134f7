package prometheus_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/klauspost/compress/zstd"

	"github.com/optel-dev/optel/exporters/prometheus"
)

func newOptel(t *testing.T, opts ...prometheus.Option) (*prometheus.Exporter, metric.Meter) {
	t.Helper()
	exp, err := prometheus.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return exp, mp.Meter("t")
}

// prometheusAccept is the Accept header the testbed's real Prometheus
// (2.42, Debian) sent on its scrapes, captured from its requests; its
// Accept-Encoding was "gzip".
const prometheusAccept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

func TestHandlerNegotiation(t *testing.T) {
	exp, m := newOptel(t, prometheus.WithoutTargetInfo())
	c, _ := m.Int64Counter("hits", metric.WithDescription("Hits."))
	c.Add(context.Background(), 2, metric.WithAttributes(attribute.String("k", "v")))

	for _, tc := range []struct {
		name, accept, encoding string
		wantType, wantLine     string
		wantEncoding           string
		eof                    bool
	}{
		{name: "no accept", wantType: "text/plain; version=0.0.4", wantLine: `hits_total{k="v"} 2`},
		{name: "openmetrics", accept: "application/openmetrics-text;version=1.0.0,text/plain;q=0.5", wantType: "application/openmetrics-text; version=1.0.0", wantLine: `hits_total{k="v"} 2.0`, eof: true},
		{name: "openmetrics 0.0.1", accept: "application/openmetrics-text;version=0.0.1", wantType: "application/openmetrics-text; version=0.0.1", wantLine: `hits_total{k="v"} 2.0`, eof: true},
		{name: "protobuf falls back to text", accept: "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", wantType: "text/plain", wantLine: `hits_total{k="v"} 2`},
		{name: "gzip", encoding: "gzip, deflate", wantType: "text/plain", wantLine: `hits_total{k="v"} 2`, wantEncoding: "gzip"},
		{name: "gzip as Prometheus asks", accept: prometheusAccept, encoding: "gzip", wantType: "application/openmetrics-text; version=1.0.0", wantLine: `hits_total{k="v"} 2.0`, wantEncoding: "gzip", eof: true},
		{name: "gzip refused", encoding: "gzip;q=0, identity", wantType: "text/plain", wantLine: `hits_total{k="v"} 2`},
		{name: "zstd", encoding: "zstd", wantType: "text/plain", wantLine: `hits_total{k="v"} 2`, wantEncoding: "zstd"},
		{name: "zstd preferred on a tie", encoding: "gzip, zstd", wantType: "text/plain", wantLine: `hits_total{k="v"} 2`, wantEncoding: "zstd"},
		{name: "gzip weighted higher", encoding: "zstd;q=0.5, gzip", wantType: "text/plain", wantLine: `hits_total{k="v"} 2`, wantEncoding: "gzip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/metrics", nil)
			req.Header.Set("Accept", tc.accept)
			req.Header.Set("Accept-Encoding", tc.encoding)
			rec := httptest.NewRecorder()
			exp.Handler().ServeHTTP(rec, req)
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.wantType) {
				t.Errorf("Content-Type %q, want prefix %q", ct, tc.wantType)
			}
			body := rec.Body.Bytes()
			if got := rec.Header().Get("Content-Encoding"); got != tc.wantEncoding {
				t.Fatalf("Content-Encoding %q, want %q", got, tc.wantEncoding)
			}
			if n, _ := strconv.Atoi(rec.Header().Get("Content-Length")); n != len(body) {
				t.Errorf("Content-Length %d, body %d bytes", n, len(body))
			}
			switch tc.wantEncoding {
			case "gzip":
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			case "zstd":
				zr, err := zstd.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				defer zr.Close()
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if !strings.Contains(string(body), "\n"+tc.wantLine+"\n") {
				t.Errorf("missing %q in\n%s", tc.wantLine, body)
			}
			if got := strings.HasSuffix(string(body), "# EOF\n"); got != tc.eof {
				t.Errorf("# EOF present = %v, want %v", got, tc.eof)
			}
		})
	}
}

// TestHandlerConcurrentFormats: many scrapes of both formats at once each
// get a complete exposition of their own format (buffers are shared within
// a format and never handed back to the pool while still being written).
func TestHandlerConcurrentFormats(t *testing.T) {
	exp, m := newOptel(t, prometheus.WithMaxRequestsInFlight(0)) // 200 at once, all served
	h, _ := m.Float64Histogram("lat", metric.WithUnit("s"), metric.WithDescription("Latency."))
	for i := range 300 {
		h.Record(context.Background(), float64(i)/100, metric.WithAttributes(attribute.Int("id", i)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := range 200 {
		wg.Go(func() {
			om := i%2 == 0
			req := httptest.NewRequest("GET", "/metrics", nil)
			if om {
				req.Header.Set("Accept", acceptOM)
			}
			req.Header.Set("Accept-Encoding", []string{"", "gzip"}[i%3%2])
			rec := httptest.NewRecorder()
			exp.Handler().ServeHTTP(rec, req)
			body := rec.Body.Bytes()
			if rec.Header().Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err == nil {
					body, err = io.ReadAll(zr)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			s := string(body)
			if n := strings.Count(s, "lat_seconds_count{"); n != 300 {
				errs <- errors.New("incomplete exposition")
			}
			if strings.HasSuffix(s, "# EOF\n") != om {
				errs <- errors.New("wrong format")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if exp.Collections() == 0 {
		t.Error("no collections counted")
	}
}

func TestHandlerReportsConflicts(t *testing.T) {
	var mu sync.Mutex
	var reported []string
	exp, err := prometheus.New(prometheus.WithErrorHandler(func(err error) {
		mu.Lock()
		reported = append(reported, err.Error())
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()))
	defer mp.Shutdown(context.Background())
	ctx := context.Background()
	a, _ := mp.Meter("a").Int64Counter("jobs", metric.WithDescription("Jobs."))
	a.Add(ctx, 1)
	b, _ := mp.Meter("b").Int64Gauge("jobs_total", metric.WithDescription("Not a counter."))
	b.Record(ctx, 5)
	body := string(scrape(t, exp.Handler(), acceptText))
	if !strings.Contains(body, "jobs_total 1\n") || strings.Contains(body, "jobs_total 5") {
		t.Errorf("want the counter kept and the gauge dropped:\n%s", body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) == 0 || !strings.Contains(strings.Join(reported, "\n"), "type conflict") {
		t.Errorf("conflict not reported: %q", reported)
	}
}

// TestHandlerMaxInFlight: with the only slot held by a scrape stuck in a
// slow client_golang gatherer, the next scrape gets 503 at once.
func TestHandlerMaxInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	slow := prom.GathererFunc(func() ([]*dto.MetricFamily, error) {
		close(entered)
		<-release
		return nil, nil
	})
	exp, _ := newOptel(t, prometheus.WithMaxRequestsInFlight(1), prometheus.WithGatherer(slow))
	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		exp.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		done <- rec.Code
	}()
	<-entered
	rec := httptest.NewRecorder()
	exp.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Errorf("second scrape: code %d (Retry-After %q), want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	close(release)
	if code := <-done; code != 200 {
		t.Errorf("first scrape: code %d, want 200", code)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []prometheus.Option
		want string
	}{
		{"encoder", []prometheus.Option{prometheus.WithEncoder("fast")}, "accepted: optel, stock"},
		{"manual option with stock", []prometheus.Option{prometheus.WithEncoder(prometheus.EncoderStock), prometheus.WithManualReaderOption(sdkmetric.WithProducer(nil))}, "WithReaderOption"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := prometheus.New(tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestHandlerSurvivesPanickingCallback: a user's observable callback that
// panics during one scrape (the SDK does not recover it) must not wedge
// later scrapes of that format.
func TestHandlerSurvivesPanickingCallback(t *testing.T) {
	exp, m := newOptel(t)
	var panics atomic.Int32
	panics.Store(1)
	_, err := m.Int64ObservableGauge("flaky", metric.WithDescription("Panics once."), metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
		if panics.Add(-1) >= 0 {
			panic("callback bug")
		}
		o.Observe(7)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() { _ = recover() }() // net/http would recover it
		exp.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/metrics", nil))
	}()
	done := make(chan string, 1)
	go func() {
		rec := httptest.NewRecorder()
		exp.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		done <- rec.Body.String()
	}()
	select {
	case body := <-done:
		if !strings.Contains(body, "flaky 7") {
			t.Errorf("the scrape after the panic lacks the gauge:\n%s", body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the scrape after a panicking callback never returned: the render flight was left open")
	}
}

// heldWriter is a ResponseWriter whose Write blocks until release closes:
// a scrape that has not finished reading its exposition.
type heldWriter struct {
	*httptest.ResponseRecorder
	wrote, release chan struct{}
}

func (w heldWriter) Write(b []byte) (int, error) {
	close(w.wrote)
	<-w.release
	return w.ResponseRecorder.Write(b)
}

// TestHandlerSnapshotBound: scrapes that arrive one after another, each
// still writing its own exposition, hold one each. Once WithMaxSnapshots are
// held, a scrape shares the newest held exposition of its format and
// encoding (no new render); with none of them held it gets 503 with
// Retry-After, and is served again as soon as one finishes. Panicking
// renders hold nothing.
func TestHandlerSnapshotBound(t *testing.T) {
	exp, m := newOptel(t, prometheus.WithMaxSnapshots(2))
	c, _ := m.Int64Counter("c", metric.WithDescription("d"))
	c.Add(context.Background(), 1)
	h := exp.Handler()
	const text, om = "text/plain", "application/openmetrics-text;version=1.0.0"
	type held struct{ release, done chan struct{} }
	var scrapes []held
	for range 2 { // two text scrapes, one after the other: two renders
		s := held{release: make(chan struct{}), done: make(chan struct{})}
		scrapes = append(scrapes, s)
		w := heldWriter{ResponseRecorder: httptest.NewRecorder(), wrote: make(chan struct{}), release: s.release}
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Accept", text)
		go func() { defer close(s.done); h.ServeHTTP(w, req) }()
		<-w.wrote
	}
	scrape := func(accept string) (int, string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Accept", accept)
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Header().Get("Retry-After")
	}
	if renders := exp.Collections(); renders != 2 {
		t.Fatalf("%d renders for two staggered scrapes, want 2", renders)
	}
	if got, _ := scrape(text); got != http.StatusOK || exp.Collections() != 2 {
		t.Errorf("text scrape while two expositions are held: %d after %d renders, want 200 from the newest held one (2 renders)", got, exp.Collections())
	}
	if got, retry := scrape(om); got != http.StatusServiceUnavailable || retry == "" {
		t.Errorf("OpenMetrics scrape with none of its format held: %d (Retry-After %q), want 503 with Retry-After", got, retry)
	}
	// Held expositions are encoded: an uncompressed one cannot serve gzip.
	gz := httptest.NewRequest("GET", "/metrics", nil)
	gz.Header.Set("Accept", text)
	gz.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, gz)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("gzip text scrape with only uncompressed text held: %d, want 503 with Retry-After", rec.Code)
	}
	close(scrapes[0].release)
	<-scrapes[0].done
	if got, _ := scrape(om); got != http.StatusOK || exp.Collections() != 3 {
		t.Errorf("after one scrape finished: %d after %d renders, want 200 from a new render (3)", got, exp.Collections())
	}
	close(scrapes[1].release)
	<-scrapes[1].done

	var boom atomic.Bool
	boom.Store(true)
	if _, err := m.Int64ObservableGauge("g", metric.WithDescription("d"), metric.WithInt64Callback(func(context.Context, metric.Int64Observer) error {
		if boom.Load() {
			panic("callback bug")
		}
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		func() {
			defer func() { _ = recover() }()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/metrics", nil))
		}()
	}
	boom.Store(false)
	if got, _ := scrape(text); got != http.StatusOK {
		t.Errorf("after three panicking renders: %d, want 200 (nothing held)", got)
	}
}

// TestHandlerPanicFailsWaitingScrapes: scrapes that waited on a render that
// panicked answer 500, not an empty 200 (which would make Prometheus mark
// every series stale); the next scrape is served.
func TestHandlerPanicFailsWaitingScrapes(t *testing.T) {
	exp, m := newOptel(t)
	entered, release := make(chan struct{}, 4), make(chan struct{})
	var boom atomic.Bool
	boom.Store(true)
	if _, err := m.Int64ObservableGauge("g", metric.WithDescription("d"), metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
		if boom.Load() {
			entered <- struct{}{}
			<-release
			panic("callback bug")
		}
		o.Observe(1)
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	h := exp.Handler()
	type result struct {
		code int
		body string
	}
	serve := func() result {
		rec := httptest.NewRecorder()
		func() {
			defer func() { _ = recover() }() // net/http would recover it
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		}()
		return result{rec.Code, rec.Body.String()}
	}
	first := make(chan result, 1)
	go func() { first <- serve() }()
	<-entered
	waiters := make(chan result, 2)
	for range 2 {
		go func() { waiters <- serve() }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for prometheus.RendersWaitingForTest(exp) < 3 { // the two join the running render
		if time.Now().After(deadline) {
			t.Fatalf("the waiting scrapes never joined the render: %d references", prometheus.RendersWaitingForTest(exp))
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	<-first
	for range 2 {
		if r := <-waiters; r.code != http.StatusInternalServerError {
			t.Errorf("a scrape that waited on a panicking render: %d with %d bytes, want 500", r.code, len(r.body))
		}
	}
	boom.Store(false)
	if r := serve(); r.code != 200 || !strings.Contains(r.body, "g 1") {
		t.Errorf("the next scrape: %d %q", r.code, r.body)
	}
}
