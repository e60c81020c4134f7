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

// DeltaPoints counts the data points in rm that have delta temporality:
// what a failed export of rm loses for good.
func DeltaPoints(rm *metricdata.ResourceMetrics) int {
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if d.Temporality == metricdata.DeltaTemporality {
					n += len(d.DataPoints)
				}
			case metricdata.Sum[float64]:
				if d.Temporality == metricdata.DeltaTemporality {
					n += len(d.DataPoints)
				}
			case metricdata.Histogram[int64]:
				if d.Temporality == metricdata.DeltaTemporality {
					n += len(d.DataPoints)
				}
			case metricdata.Histogram[float64]:
				if d.Temporality == metricdata.DeltaTemporality {
					n += len(d.DataPoints)
				}
			case metricdata.ExponentialHistogram[int64]:
				if d.Temporality == metricdata.DeltaTemporality {
					n += len(d.DataPoints)
				}
			case metricdata.ExponentialHistogram[float64]:
				if d.Temporality == metricdata.DeltaTemporality {
					n += len(d.DataPoints)
				}
			}
		}
	}
	return n
}
