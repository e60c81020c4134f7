package jsonexp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

type config struct {
	ro           []sdkmetric.ManualReaderOption
	reader       *sdkmetric.ManualReader
	maxInFlight  int
	set          bool
	maxSnapshots int
	snapshotsSet bool
}

// DefaultMaxSnapshots bounds the encoded snapshots held at once by readers
// that have not finished reading them. Readers that arrive together share
// one; readers that arrive one after another each hold their own (about
// 14 MiB at 100k series), which without this bound would be up to
// DefaultMaxRequestsInFlight of them.
const DefaultMaxSnapshots = 4

// WithMaxSnapshots bounds the distinct snapshots held at once; a request
// that would need another one shares the newest held snapshot instead (at
// most as old as the longest read still holding it). 0 means no bound.
// Default DefaultMaxSnapshots.
func WithMaxSnapshots(n int) Option {
	return optionFunc(func(c *config) { c.maxSnapshots, c.snapshotsSet = max(n, 0), true })
}

// DefaultMaxRequestsInFlight bounds concurrent /metrics.json requests.
const DefaultMaxRequestsInFlight = 64

// WithMaxRequestsInFlight bounds concurrent requests; the excess gets 503
// with Retry-After at once. 0 means no bound. Default
// DefaultMaxRequestsInFlight.
func WithMaxRequestsInFlight(n int) Option {
	return optionFunc(func(c *config) { c.maxInFlight, c.set = max(n, 0), true })
}

// Option configures New.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithProducer adds an external metric source (e.g. the client_golang bridge)
// to every snapshot. It is ignored with WithManualReader (give the producer
// to that reader).
func WithProducer(p sdkmetric.Producer) Option {
	return optionFunc(func(c *config) { c.ro = append(c.ro, sdkmetric.WithProducer(p)) })
}

// WithManualReader collects from r, a reader shared with other pull
// exporters, instead of a reader of its own. Every reader makes the SDK
// keep and update its own aggregation of every series, so sharing one
// between pull exporters halves recording and memory costs. Reader then
// returns r; register it with the MeterProvider once.
func WithManualReader(r *sdkmetric.ManualReader) Option {
	return optionFunc(func(c *config) { c.reader = r })
}

// Exporter is a pull exporter that renders a JSON snapshot on demand.
//
// Concurrent requests share one collection and one encoding (single
// flight): however many readers arrive at once, at most one collection
// runs, and the readers hold the same encoded bytes while they read them
// slowly. At most WithMaxRequestsInFlight requests are served at once, and
// at most WithMaxSnapshots distinct snapshots are held by readers at once
// (readers that arrive one after another cannot share one).
type Exporter struct {
	reader *sdkmetric.ManualReader
	sem    chan struct{}

	// One generation per collection, reference-counted by its readers, so
	// the number still held is known. (golang.org/x/sync/singleflight
	// shares a result but cannot tell when its last reader is done.)
	mu           sync.Mutex
	flight       *generation   // the collection running now, if any
	done         []*generation // completed collections a reader still holds, oldest first
	held         int           // generations not yet released by every reader
	maxSnapshots int

	// The collection target, which the SDK refills in place (its slices are
	// reused across collections); only the flight's goroutine uses it.
	rms      sync.Pool
	lastSize atomic.Int64
}

// New returns an exporter; register Reader with the MeterProvider.
func New(opts ...Option) *Exporter {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	if !c.set {
		c.maxInFlight = DefaultMaxRequestsInFlight
	}
	if !c.snapshotsSet {
		c.maxSnapshots = DefaultMaxSnapshots
	}
	e := &Exporter{reader: c.reader, maxSnapshots: c.maxSnapshots}
	if e.reader == nil {
		e.reader = sdkmetric.NewManualReader(c.ro...)
	}
	if c.maxInFlight > 0 {
		e.sem = make(chan struct{}, c.maxInFlight)
	}
	return e
}

// Reader is the reader to register with the MeterProvider.
func (e *Exporter) Reader() sdkmetric.Reader { return e.reader }

// Snapshot collects the current values of every instrument. It runs
// collect-time callbacks, like a scrape does.
func (e *Exporter) Snapshot(ctx context.Context) (*metricdata.ResourceMetrics, error) {
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(ctx, &rm); err != nil {
		return nil, fmt.Errorf("collect json snapshot: %w", err)
	}
	return &rm, nil
}

// Handler serves the snapshot as application/json. A collection error is a
// 500 with the error text; after shutdown it is 503; beyond the in-flight
// bound it is 503 with Retry-After.
func (e *Exporter) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.sem != nil {
			select {
			case e.sem <- struct{}{}:
				defer func() { <-e.sem }()
			default:
				w.Header().Set("Retry-After", "1")
				http.Error(w, "too many concurrent /metrics.json requests; retry later", http.StatusServiceUnavailable)
				return
			}
		}
		g, err := e.acquire(r.Context())
		if g != nil {
			defer e.release(g) // whatever the outcome: every reference is dropped
		}
		if errors.Is(err, errTooManySnapshots) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many /metrics.json snapshots held by readers; retry later", http.StatusServiceUnavailable)
			return
		}
		if err != nil {
			code := http.StatusInternalServerError
			if errorsIsShutdown(err) {
				code = http.StatusServiceUnavailable
			}
			http.Error(w, err.Error(), code)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(g.buf)
	})
}

// generation is one collection's encoded snapshot and its readers.
type generation struct {
	done chan struct{}
	buf  []byte
	err  error
	refs int // guarded by Exporter.mu
}

var (
	errTooManySnapshots = errors.New("too many snapshots held")
	// errCollectPanicked is what requests that waited on a collection that
	// panicked get; the panic value itself goes only to net/http's log.
	errCollectPanicked = errors.New("collect json snapshot: the collection panicked; see the operator's log")
)

// acquire returns the running collection's generation, or starts one if
// fewer than maxSnapshots are held, with one reference for the caller.
func (e *Exporter) acquire(ctx context.Context) (*generation, error) {
	e.mu.Lock()
	if g := e.flight; g != nil {
		g.refs++
		e.mu.Unlock()
		<-g.done
		return g, g.err // the caller releases g, also on error
	}
	if e.maxSnapshots > 0 && e.held >= e.maxSnapshots {
		// Every snapshot allowed is held by readers still reading: share
		// the newest completed one instead of collecting another. It is at
		// most as old as the longest of those reads.
		if n := len(e.done); n > 0 {
			g := e.done[n-1]
			g.refs++
			e.mu.Unlock()
			return g, nil
		}
		e.mu.Unlock()
		return nil, errTooManySnapshots
	}
	g := &generation{done: make(chan struct{}), refs: 1}
	e.flight = g
	e.held++
	e.mu.Unlock()
	// Clear the flight even if collecting panics (an observable callback
	// can), or every later request would wait for it forever; and drop the
	// caller's reference then, or the generation would count as held for
	// ever. Waiters get the error; the panic goes on to net/http.
	defer func() {
		p := recover()
		e.mu.Lock()
		e.flight = nil
		if p != nil {
			g.err = errCollectPanicked
			if g.refs--; g.refs == 0 {
				e.held--
			}
		}
		e.mu.Unlock()
		close(g.done)
		if p != nil {
			panic(p)
		}
	}()
	rm, _ := e.rms.Get().(*metricdata.ResourceMetrics)
	if rm == nil {
		rm = new(metricdata.ResourceMetrics)
	}
	defer e.rms.Put(rm)
	// The collection outlives a caller that gives up: others share it.
	if err := e.reader.Collect(context.WithoutCancel(ctx), rm); err != nil {
		g.err = fmt.Errorf("collect json snapshot: %w", err)
		return g, g.err // the caller releases g, also on error
	}
	// A fresh buffer per generation: its readers keep it while they read.
	g.buf = AppendJSON(make([]byte, 0, max(e.lastSize.Load(), 64<<10)), rm)
	e.lastSize.Store(int64(len(g.buf)))
	e.mu.Lock()
	e.done = append(e.done, g)
	e.mu.Unlock()
	return g, nil
}

// release drops the caller's reference; the last one frees the generation.
func (e *Exporter) release(g *generation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if g.refs--; g.refs == 0 {
		e.held--
		g.buf = nil
		e.done = slices.DeleteFunc(e.done, func(d *generation) bool { return d == g })
	}
}

// Routes mounts Handler at /metrics.json.
func (e *Exporter) Routes() map[string]http.Handler {
	return map[string]http.Handler{"/metrics.json": e.Handler()}
}

func errorsIsShutdown(err error) bool { return errors.Is(err, sdkmetric.ErrReaderShutdown) }
