// Package observ holds every instrument that optel itself emits: the names,
// units, descriptions and attribute keys, in one place. docs/metrics.md is
// checked against Catalog by a test, so a new instrument must be added here
// and to the docs together.
//
// Nothing here is global: each constructor takes the metric.Meter it records
// through, which comes from the MeterProvider the user injected.
package observ

import (
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of every instrument optel emits.
const ScopeName = "github.com/optel-dev/optel"

// Instrument names. Prometheus renders them with underscores and unit and
// type suffixes, e.g. optel.probe.duration -> optel_probe_duration_seconds.
const (
	ExportFailures   = "optel.telemetry.export.failures"
	CallbackFailures = "optel.telemetry.callback.failures"
	ProbeStatus      = "optel.probe.status"
	ProbeDuration    = "optel.probe.duration"
)

// Attribute keys used by optel's own instruments.
const (
	AttrExporter  = attribute.Key("exporter")
	AttrProbe     = attribute.Key("probe")
	AttrProbeKind = attribute.Key("kind")
)

// Spec describes one instrument for documentation and tests.
type Spec struct {
	Name        string
	Kind        string // counter, gauge, histogram, updowncounter
	Unit        string
	Description string
	Attributes  []attribute.Key
}

// Catalog lists every instrument optel emits, in documentation order.
var Catalog = []Spec{
	{ExportFailures, "counter", "{failure}", "Metric exports that failed, by exporter. Failures never block recording; the next export carries cumulative values.", []attribute.Key{AttrExporter}},
	{CallbackFailures, "counter", "{failure}", "Collect-time callbacks that returned an error or panicked.", nil},
	{ProbeStatus, "gauge", "", "Result of the last run of a probe: 1 passed, 0 failed.", []attribute.Key{AttrProbe, AttrProbeKind}},
	{ProbeDuration, "histogram", "s", "Time a probe took to run, including a timeout.", []attribute.Key{AttrProbe, AttrProbeKind}},
}

// PrometheusName is the name the pinned Prometheus translation
// (UnderscoreEscapingWithSuffixes) gives the instrument, for the units optel
// uses. A real-scrape test in examples/standalone checks it.
func (s Spec) PrometheusName() string {
	n := strings.ReplaceAll(s.Name, ".", "_")
	if s.Unit == "s" {
		n += "_seconds"
	}
	if s.Kind == "counter" {
		n += "_total"
	}
	return n
}

func spec(name string) Spec {
	for _, s := range Catalog {
		if s.Name == name {
			return s
		}
	}
	panic("observ: instrument " + name + " missing from Catalog") // programming error, caught by tests
}

// DurationBuckets are the explicit histogram boundaries, in seconds, used for
// every seconds histogram optel creates (the OTel semantic-conventions HTTP
// duration set). The SDK default buckets suit milliseconds.
var DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Telemetry are the instruments of the telemetry package itself.
type Telemetry struct {
	ExportFailures   metric.Int64ObservableCounter
	CallbackFailures metric.Int64ObservableCounter
}

// NewTelemetry creates the telemetry package's instruments on m. They are
// observable: values live in atomics owned by the caller and are read at
// collection time, so nothing here can block an export path.
func NewTelemetry(m metric.Meter) (Telemetry, error) {
	var t Telemetry
	var err error
	s := spec(ExportFailures)
	if t.ExportFailures, err = m.Int64ObservableCounter(s.Name, metric.WithUnit(s.Unit), metric.WithDescription(s.Description)); err != nil {
		return t, err
	}
	s = spec(CallbackFailures)
	t.CallbackFailures, err = m.Int64ObservableCounter(s.Name, metric.WithUnit(s.Unit), metric.WithDescription(s.Description))
	return t, err
}

// Probes are the instruments of the probes package.
type Probes struct {
	Status   metric.Int64Gauge
	Duration metric.Float64Histogram
}

// NewProbes creates the probe instruments on m.
func NewProbes(m metric.Meter) (Probes, error) {
	var p Probes
	var err error
	s := spec(ProbeStatus)
	if p.Status, err = m.Int64Gauge(s.Name, metric.WithUnit(s.Unit), metric.WithDescription(s.Description)); err != nil {
		return p, err
	}
	s = spec(ProbeDuration)
	p.Duration, err = m.Float64Histogram(s.Name, metric.WithUnit(s.Unit), metric.WithDescription(s.Description),
		metric.WithExplicitBucketBoundaries(DurationBuckets...))
	return p, err
}
