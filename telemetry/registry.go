package telemetry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/optel-dev/optel/exporters/otlp"
	"github.com/optel-dev/optel/exporters/prometheus"
)

// Exporter is what an exporter factory builds: a reader that the
// MeterProvider collects into. A pull exporter usually also implements
// RouteProvider to serve its data on the metrics listener.
type Exporter interface {
	Reader() sdkmetric.Reader
}

// RouteProvider is an optional capability of an Exporter: HTTP handlers,
// keyed by path, to mount on the metrics listener (e.g. "/metrics").
type RouteProvider interface {
	Routes() map[string]http.Handler
}

// RepairReporter is an optional capability of an Exporter that repairs what
// it renders rather than let a scrape fail, as the Prometheus exporter does
// with invalid UTF-8 and duplicate series. New observes its counts as
// optel.telemetry.exposition.sanitized and optel.telemetry.exposition.dropped
// under the exporter's name.
type RepairReporter interface {
	Repairs() prometheus.Repairs
}

var _ RepairReporter = (*prometheus.Exporter)(nil)

// ExporterFactory builds an exporter from the resolved settings.
type ExporterFactory interface {
	NewExporter(ctx context.Context, s ExporterSettings) (Exporter, error)
}

// ExporterFactoryFunc adapts a function to ExporterFactory.
type ExporterFactoryFunc func(ctx context.Context, s ExporterSettings) (Exporter, error)

// NewExporter calls f.
func (f ExporterFactoryFunc) NewExporter(ctx context.Context, s ExporterSettings) (Exporter, error) {
	return f(ctx, s)
}

var _ ExporterFactory = ExporterFactoryFunc(nil)

// ExporterSettings is everything a factory may need. It is built once per
// exporter by New.
type ExporterSettings struct {
	// Name is the name the exporter was selected by.
	Name string
	// OTLP holds the resolved OTLP settings (used by the otlp exporter; third
	// parties may reuse them).
	OTLP OTLPSettings
	// ExportInterval is the push interval for periodic exporters.
	ExportInterval time.Duration
	// Producers are extra metric sources (the client_golang bridge) that every
	// reader except Prometheus must include.
	Producers []sdkmetric.Producer
	// Gatherer is the user's client_golang registry, or nil. The Prometheus
	// exporter serves it directly.
	Gatherer prom.Gatherer
	// Naming is the Prometheus naming profile for optel's own metrics.
	Naming Naming
	// PrometheusEncoder is the Prometheus exporter's encoder.
	PrometheusEncoder prometheus.Encoder
	// PullReader is one manual reader, with the Producers, that the
	// built-in pull exporters (prometheus with the optel encoder, json)
	// share, so the SDK aggregates each series once for both. New registers
	// it once however many exporters return it from Reader.
	PullReader *sdkmetric.ManualReader
	// Console is where the console exporter writes.
	Console io.Writer
	// ReportError counts an export failure under this exporter's name and
	// hands it to the error handler. An error wrapping
	// prometheus.ErrRepaired is handed on but not counted as a failure: the
	// scrape succeeded, and RepairReporter counts the repairs. It never
	// blocks.
	ReportError func(error)
	// MaxRequestsInFlight bounds concurrent requests to a pull exporter's
	// endpoint (0: no bound).
	MaxRequestsInFlight int
	// ReportSuccess records that an export succeeded, so a failure earlier
	// in a shutdown (an export the shutdown cancelled) is not reported as
	// the final one.
	ReportSuccess func()
	// ReportDropped counts data points that a failed export lost for good
	// (delta temporality), under this exporter's name.
	ReportDropped func(points int)
}

// OTLPSettings are the resolved OTLP options.
type OTLPSettings struct {
	Protocol otlp.Protocol
	// Endpoint is empty for the protocol's default.
	Endpoint string
	// AppendSignalPath is set when Endpoint came from the generic
	// OTEL_EXPORTER_OTLP_ENDPOINT, which gets /v1/metrics appended for HTTP.
	AppendSignalPath bool
	Headers          map[string]string
	Timeout          time.Duration
	Insecure         bool
	Compression      otlp.Compression
	Temporality      otlp.Temporality
}

// PeriodicReader wraps a push exporter in a periodic reader with the
// configured interval and producers, counting failed exports under s.Name.
// Third-party push exporters should use it so failures are visible in
// optel.telemetry.export.failures.
func (s ExporterSettings) PeriodicReader(exp sdkmetric.Exporter) sdkmetric.Reader {
	opts := []sdkmetric.PeriodicReaderOption{sdkmetric.WithInterval(s.ExportInterval)}
	if s.OTLP.Timeout > 0 {
		opts = append(opts, sdkmetric.WithTimeout(s.OTLP.Timeout))
	}
	for _, p := range s.Producers {
		opts = append(opts, sdkmetric.WithProducer(p))
	}
	return sdkmetric.NewPeriodicReader(&countingExporter{Exporter: exp, report: s.ReportError, ok: s.ReportSuccess, dropped: s.ReportDropped}, opts...)
}

// countingExporter reports failed exports and then swallows them: the reader
// has nothing to do with the error. With cumulative temporality the next
// export carries everything; the delta points of a failed export are lost,
// and counted.
type countingExporter struct {
	sdkmetric.Exporter
	report  func(error)
	ok      func()
	dropped func(points int)
}

func (c *countingExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := c.Exporter.Export(ctx, rm)
	if err == nil && c.ok != nil {
		c.ok()
	}
	if err != nil {
		if c.report != nil {
			c.report(err)
		}
		if c.dropped != nil {
			// A split OTLP export says which of its requests failed; any
			// other exporter loses the whole collection's delta points.
			n, ok := droppedPoints(err)
			if !ok {
				n = otlp.DeltaPoints(rm)
			}
			if n > 0 {
				c.dropped(n)
			}
		}
	}
	return nil
}

// droppedPoints sums the DeltaPoints of every *otlp.DroppedError in err's
// tree (errors.As would find only the first of several joined ones); ok is
// false when there is none.
func droppedPoints(err error) (n int, ok bool) {
	switch e := err.(type) {
	case nil:
		return 0, false
	case *otlp.DroppedError:
		return e.DeltaPoints, true
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			if m, found := droppedPoints(inner); found {
				n, ok = n+m, true
			}
		}
		return n, ok
	case interface{ Unwrap() error }:
		return droppedPoints(e.Unwrap())
	}
	return 0, false
}

// ExporterRegistry maps exporter names to factories. It holds constructors
// only, never telemetry state, so a process-wide default is safe.
type ExporterRegistry struct {
	mu        sync.RWMutex
	factories map[string]ExporterFactory
}

// NewExporterRegistry returns a registry holding the built-in exporters:
// prometheus, otlp, json and console.
func NewExporterRegistry() *ExporterRegistry {
	r := &ExporterRegistry{factories: map[string]ExporterFactory{}}
	for name, f := range builtinExporters() {
		r.factories[name] = f
	}
	return r
}

// DefaultExporterRegistry is used by New unless WithExporterRegistry is given.
// A third-party package adds an exporter with
//
//	func init() { telemetry.DefaultExporterRegistry.Register("kafka", factory) }
//
// and --telemetry-exporters=kafka then works without touching optel.
var DefaultExporterRegistry = NewExporterRegistry()

// Register adds a factory under name. Names are lower case; registering an
// existing name or "none" is an error.
func (r *ExporterRegistry) Register(name string, f ExporterFactory) error {
	if name == "" || name == ExporterNone || name != strings.ToLower(name) {
		return fmt.Errorf("register exporter %q: name must be non-empty, lower case and not %q", name, ExporterNone)
	}
	if f == nil {
		return fmt.Errorf("register exporter %q: nil factory", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.factories[name]; ok {
		return fmt.Errorf("register exporter %q: already registered", name)
	}
	r.factories[name] = f
	return nil
}

// Has reports whether name is registered.
func (r *ExporterRegistry) Has(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.factories[name]
	return ok
}

// Names returns the registered names, sorted.
func (r *ExporterRegistry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.factories))
	for n := range r.factories {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (r *ExporterRegistry) get(name string) (ExporterFactory, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.factories[name]
	return f, ok
}
