package jsonexp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/singleflight"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

type config struct {
	ro          []sdkmetric.ManualReaderOption
	reader      *sdkmetric.ManualReader
	maxInFlight int
	set         bool
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
// slowly. At most WithMaxRequestsInFlight requests are served at once.
type Exporter struct {
	reader  *sdkmetric.ManualReader
	flights singleflight.Group
	sem     chan struct{}
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
	e := &Exporter{reader: c.reader}
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
		v, err, _ := e.flights.Do("snapshot", func() (any, error) {
			rm, _ := e.rms.Get().(*metricdata.ResourceMetrics)
			if rm == nil {
				rm = new(metricdata.ResourceMetrics)
			}
			defer e.rms.Put(rm)
			// The collection outlives a caller that gives up: others share it.
			if err := e.reader.Collect(context.WithoutCancel(r.Context()), rm); err != nil {
				return nil, fmt.Errorf("collect json snapshot: %w", err)
			}
			// A fresh buffer per flight: its readers keep it while they read.
			buf := AppendJSON(make([]byte, 0, max(e.lastSize.Load(), 64<<10)), rm)
			e.lastSize.Store(int64(len(buf)))
			return buf, nil
		})
		if err != nil {
			code := http.StatusInternalServerError
			if errorsIsShutdown(err) {
				code = http.StatusServiceUnavailable
			}
			http.Error(w, err.Error(), code)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(v.([]byte))
	})
}

// Routes mounts Handler at /metrics.json.
func (e *Exporter) Routes() map[string]http.Handler {
	return map[string]http.Handler{"/metrics.json": e.Handler()}
}

func errorsIsShutdown(err error) bool { return errors.Is(err, sdkmetric.ErrReaderShutdown) }
