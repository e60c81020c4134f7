package otlp

import (
	"fmt"
	"strings"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Temporality is the OTLP temporality preference, as
// OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE defines it.
type Temporality string

// Temporality preferences.
const (
	// Cumulative (the default) sends running totals: a failed export loses
	// nothing, since the next successful one carries the totals.
	Cumulative Temporality = "cumulative"
	// Delta sends counters, observable counters and histograms as changes
	// since the last export (up-down counters stay cumulative): a failed
	// export loses its points.
	Delta Temporality = "delta"
	// LowMemory sends synchronous counters and histograms as deltas and
	// everything else cumulative.
	LowMemory Temporality = "lowmemory"
)

// ParseTemporality accepts cumulative, delta or lowmemory, in any case.
func ParseTemporality(s string) (Temporality, error) {
	switch t := Temporality(strings.ToLower(strings.TrimSpace(s))); t {
	case Cumulative, Delta, LowMemory:
		return t, nil
	}
	return "", fmt.Errorf("unknown temporality %q (accepted: cumulative, delta, lowmemory)", s)
}

// Selector is the SDK temporality selector for t, per the OTel
// specification's table for each preference.
func (t Temporality) Selector() sdkmetric.TemporalitySelector {
	switch t {
	case Delta:
		return func(k sdkmetric.InstrumentKind) metricdata.Temporality {
			switch k {
			case sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindHistogram, sdkmetric.InstrumentKindObservableCounter:
				return metricdata.DeltaTemporality
			}
			return metricdata.CumulativeTemporality
		}
	case LowMemory:
		return func(k sdkmetric.InstrumentKind) metricdata.Temporality {
			switch k {
			case sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindHistogram:
				return metricdata.DeltaTemporality
			}
			return metricdata.CumulativeTemporality
		}
	}
	return sdkmetric.DefaultTemporalitySelector
}

// WithTemporality sets the temporality preference. Default Cumulative. It
// is always passed to the OTel exporter explicitly, so the exporter never
// picks one up from the environment behind the caller's back.
func WithTemporality(t Temporality) Option {
	return optionFunc(func(c *config) { c.temporality = t })
}

// DeltaPoints counts the data points in rm that have delta temporality and
// carry a change (a non-zero sum, a histogram with observations): what a
// failed export of rm loses for good. Zero-change points lose nothing.
func DeltaPoints(rm *metricdata.ResourceMetrics) int {
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				n += changed(d.Temporality, d.DataPoints, func(p metricdata.DataPoint[int64]) bool { return p.Value != 0 })
			case metricdata.Sum[float64]:
				n += changed(d.Temporality, d.DataPoints, func(p metricdata.DataPoint[float64]) bool { return p.Value != 0 })
			case metricdata.Histogram[int64]:
				n += changed(d.Temporality, d.DataPoints, func(p metricdata.HistogramDataPoint[int64]) bool { return p.Count != 0 })
			case metricdata.Histogram[float64]:
				n += changed(d.Temporality, d.DataPoints, func(p metricdata.HistogramDataPoint[float64]) bool { return p.Count != 0 })
			case metricdata.ExponentialHistogram[int64]:
				n += changed(d.Temporality, d.DataPoints, func(p metricdata.ExponentialHistogramDataPoint[int64]) bool { return p.Count != 0 })
			case metricdata.ExponentialHistogram[float64]:
				n += changed(d.Temporality, d.DataPoints, func(p metricdata.ExponentialHistogramDataPoint[float64]) bool { return p.Count != 0 })
			}
		}
	}
	return n
}

// changed counts the points of a delta series that carry a change.
func changed[P any](t metricdata.Temporality, pts []P, isChanged func(P) bool) int {
	if t != metricdata.DeltaTemporality {
		return 0
	}
	n := 0
	for _, p := range pts {
		if isChanged(p) {
			n++
		}
	}
	return n
}

// DroppedError is returned by an export whose requests failed in part or
// whole: DeltaPoints counts the changed delta points of the failed requests
// only, which are lost for good.
type DroppedError struct {
	Err         error
	DeltaPoints int
}

func (e *DroppedError) Error() string { return e.Err.Error() }

func (e *DroppedError) Unwrap() error { return e.Err }
