package jsonexp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

type config struct {
	ro     []sdkmetric.ManualReaderOption
	reader *sdkmetric.ManualReader
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
type Exporter struct {
	reader *sdkmetric.ManualReader
	// Pools per request: the encode buffer, and the collection target, which
	// the SDK refills in place (its slices are reused across collections).
	bufs sync.Pool
	rms  sync.Pool
}

// New returns an exporter; register Reader with the MeterProvider.
func New(opts ...Option) *Exporter {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	if c.reader != nil {
		return &Exporter{reader: c.reader}
	}
	return &Exporter{reader: sdkmetric.NewManualReader(c.ro...)}
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
// 500 with the error text; after shutdown it is 503.
func (e *Exporter) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rm, _ := e.rms.Get().(*metricdata.ResourceMetrics)
		if rm == nil {
			rm = new(metricdata.ResourceMetrics)
		}
		defer e.rms.Put(rm)
		if err := e.reader.Collect(r.Context(), rm); err != nil {
			err = fmt.Errorf("collect json snapshot: %w", err)
			code := http.StatusInternalServerError
			if errorsIsShutdown(err) {
				code = http.StatusServiceUnavailable
			}
			http.Error(w, err.Error(), code)
			return
		}
		bp, _ := e.bufs.Get().(*[]byte)
		if bp == nil {
			b := make([]byte, 0, 64<<10)
			bp = &b
		}
		buf := AppendJSON((*bp)[:0], rm)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(buf)
		*bp = buf
		e.bufs.Put(bp)
	})
}

// Routes mounts Handler at /metrics.json.
func (e *Exporter) Routes() map[string]http.Handler {
	return map[string]http.Handler{"/metrics.json": e.Handler()}
}

func errorsIsShutdown(err error) bool { return errors.Is(err, sdkmetric.ErrReaderShutdown) }
