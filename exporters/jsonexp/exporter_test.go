package jsonexp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/optel-dev/optel/exporters/jsonexp"
)

// heldWriter is a ResponseWriter whose Write blocks until release closes:
// a reader that has not finished reading its snapshot.
type heldWriter struct {
	httptest.ResponseRecorder
	wrote   chan struct{}
	release chan struct{}
}

func newHeldWriter(release chan struct{}) *heldWriter {
	return &heldWriter{ResponseRecorder: *httptest.NewRecorder(), wrote: make(chan struct{}), release: release}
}

func (w *heldWriter) Write(b []byte) (int, error) {
	close(w.wrote)
	<-w.release
	return w.ResponseRecorder.Write(b)
}

// TestSnapshotBound: readers that arrive one after another each hold their
// own snapshot; once WithMaxSnapshots are held, a request that would need
// another shares the newest held one instead (no new collection), and
// collects anew as soon as one reader finishes. A panicking collection
// holds nothing.
func TestSnapshotBound(t *testing.T) {
	exp := jsonexp.New(jsonexp.WithMaxSnapshots(2))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	var collections atomic.Int32
	if _, err := mp.Meter("t").Int64ObservableGauge("collections", metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(int64(collections.Add(1)))
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	h := exp.Handler()
	get := func(w http.ResponseWriter) { h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics.json", nil)) }

	type held struct{ release, done chan struct{} }
	var readers []held
	for range 2 {
		r := held{release: make(chan struct{}), done: make(chan struct{})}
		readers = append(readers, r)
		w := newHeldWriter(r.release)
		go func() { defer close(r.done); get(w) }()
		<-w.wrote // its snapshot is encoded and held
	}
	serve := func() (int, string) {
		rec := httptest.NewRecorder()
		get(rec)
		return rec.Code, rec.Body.String()
	}
	code, body := serve()
	if code != http.StatusOK || collections.Load() != 2 {
		t.Fatalf("third reader while two snapshots are held: %d after %d collections, want 200 from the newest held snapshot (2 collections)", code, collections.Load())
	}
	if !strings.Contains(body, "collections") {
		t.Errorf("the shared snapshot lacks the gauge: %s", body)
	}
	close(readers[0].release)
	<-readers[0].done
	if code, _ := serve(); code != http.StatusOK || collections.Load() != 3 {
		t.Errorf("after one reader finished: %d after %d collections, want 200 from a new collection (3)", code, collections.Load())
	}
	close(readers[1].release)
	<-readers[1].done

	// Two collections that panic (an observable callback can) leave no
	// snapshot held: the next request is served.
	var panics sync.Mutex
	boom := true
	_, err := mp.Meter("t").Int64ObservableGauge("g", metric.WithInt64Callback(func(context.Context, metric.Int64Observer) error {
		panics.Lock()
		defer panics.Unlock()
		if boom {
			panic("callback bug")
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		func() {
			defer func() { _ = recover() }()
			get(httptest.NewRecorder())
		}()
	}
	panics.Lock()
	boom = false
	panics.Unlock()
	if got, _ := serve(); got != http.StatusOK {
		t.Errorf("after two panicking collections: %d, want 200 (nothing held)", got)
	}
}

// TestSnapshotBoundSurvivesFailures: failed collections hold nothing, for
// the request that ran them and for those that waited on them: a callback
// error, then a panic shared by waiting requests, and the endpoint still
// serves afterwards (it once answered 503 for good).
func TestSnapshotBoundSurvivesFailures(t *testing.T) {
	exp := jsonexp.New(jsonexp.WithMaxSnapshots(1))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	var mu sync.Mutex
	mode := "error"
	entered, release := make(chan struct{}, 8), make(chan struct{})
	if _, err := mp.Meter("t").Int64ObservableGauge("g", metric.WithInt64Callback(func(context.Context, metric.Int64Observer) error {
		mu.Lock()
		m := mode
		mu.Unlock()
		switch m {
		case "error":
			return errors.New("callback failed")
		case "panic":
			entered <- struct{}{}
			<-release
			panic("callback bug")
		}
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	h := exp.Handler()
	serve := func() int {
		rec := httptest.NewRecorder()
		func() {
			defer func() { _ = recover() }() // net/http would recover it
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics.json", nil))
		}()
		return rec.Code
	}
	for i := range 3 {
		if code := serve(); code == http.StatusServiceUnavailable {
			t.Fatalf("request %d after failing collections: 503, the snapshot bound is wedged", i)
		}
	}

	mu.Lock()
	mode = "panic"
	mu.Unlock()
	codes := make(chan int, 3)
	go func() { codes <- serve() }()
	<-entered // the first request's collection is running
	for range 2 {
		go func() { codes <- serve() }() // these wait on it
	}
	deadline := time.Now().Add(10 * time.Second)
	for jsonexp.FlightRefsForTest(exp) < 3 { // the two join the running collection
		if time.Now().After(deadline) {
			t.Fatalf("the waiting requests never joined the collection: %d references", jsonexp.FlightRefsForTest(exp))
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	failed := 0
	for range 3 {
		if <-codes == http.StatusInternalServerError {
			failed++
		}
	}
	if failed < 2 {
		t.Errorf("%d of the requests that waited on a panicking collection got 500, want 2", failed)
	}
	mu.Lock()
	mode = "ok"
	mu.Unlock()
	if code := serve(); code != http.StatusOK {
		t.Errorf("after a panic shared by waiting requests: %d, want 200", code)
	}
}
