package otlp

import (
	"context"
	"errors"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// DefaultMaxPointsPerExport bounds one OTLP request. A request of 10k data
// points is at most a few MiB of protobuf even with 14-bucket histograms,
// under the Collector's default 4 MiB gRPC message limit and the HTTP
// exporter's 64 MiB body limit. Without a bound, an operator with 100k
// series sends requests a default Collector refuses, every time.
const DefaultMaxPointsPerExport = 10_000

// WithMaxPointsPerExport splits an export into requests of at most n data
// points (n <= 0 means never split). Default DefaultMaxPointsPerExport.
func WithMaxPointsPerExport(n int) Option {
	return optionFunc(func(c *config) { c.maxPoints = n; c.maxPointsSet = true })
}

// splitExporter sends a large collection as several requests, each a valid
// ResourceMetrics with the same resource and the metrics' scopes, names,
// units and temporality. A failed request does not stop the others; with
// cumulative temporality the next export carries what a failed one lost.
type splitExporter struct {
	sdkmetric.Exporter
	max int
}

func (e *splitExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	if e.max <= 0 || countPoints(rm) <= e.max {
		if err := e.Exporter.Export(ctx, rm); err != nil {
			return &DroppedError{Err: err, DeltaPoints: DeltaPoints(rm)}
		}
		return nil
	}
	var errs []error
	lost := 0
	chunk := &metricdata.ResourceMetrics{Resource: rm.Resource}
	n, requests := 0, 0
	flush := func() {
		if n == 0 {
			return
		}
		requests++
		if err := e.Exporter.Export(ctx, chunk); err != nil {
			errs = append(errs, err)
			lost += DeltaPoints(chunk)
		}
		chunk = &metricdata.ResourceMetrics{Resource: rm.Resource}
		n = 0
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			total := numPoints(m.Data)
			for i := 0; i < total; {
				j := min(total, i+e.max-n)
				piece := m
				piece.Data = slicePoints(m.Data, i, j)
				if k := len(chunk.ScopeMetrics); k == 0 || chunk.ScopeMetrics[k-1].Scope != sm.Scope {
					chunk.ScopeMetrics = append(chunk.ScopeMetrics, metricdata.ScopeMetrics{Scope: sm.Scope})
				}
				last := &chunk.ScopeMetrics[len(chunk.ScopeMetrics)-1]
				last.Metrics = append(last.Metrics, piece)
				n += j - i
				i = j
				if n >= e.max {
					flush()
				}
			}
		}
	}
	flush()
	if len(errs) > 0 {
		return &DroppedError{Err: fmt.Errorf("otlp: %d of %d requests failed: %w", len(errs), requests, errors.Join(errs...)), DeltaPoints: lost}
	}
	return nil
}

func countPoints(rm *metricdata.ResourceMetrics) int {
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			n += numPoints(m.Data)
		}
	}
	return n
}

func numPoints(a metricdata.Aggregation) int {
	switch v := a.(type) {
	case metricdata.Sum[int64]:
		return len(v.DataPoints)
	case metricdata.Sum[float64]:
		return len(v.DataPoints)
	case metricdata.Gauge[int64]:
		return len(v.DataPoints)
	case metricdata.Gauge[float64]:
		return len(v.DataPoints)
	case metricdata.Histogram[int64]:
		return len(v.DataPoints)
	case metricdata.Histogram[float64]:
		return len(v.DataPoints)
	case metricdata.ExponentialHistogram[int64]:
		return len(v.DataPoints)
	case metricdata.ExponentialHistogram[float64]:
		return len(v.DataPoints)
	case metricdata.Summary:
		return len(v.DataPoints)
	}
	return 0
}

// slicePoints returns the aggregation with data points [i, j) only.
func slicePoints(a metricdata.Aggregation, i, j int) metricdata.Aggregation {
	switch v := a.(type) {
	case metricdata.Sum[int64]:
		v.DataPoints = v.DataPoints[i:j]
		return v
	case metricdata.Sum[float64]:
		v.DataPoints = v.DataPoints[i:j]
		return v
	case metricdata.Gauge[int64]:
		v.DataPoints = v.DataPoints[i:j]
		return v
	case metricdata.Gauge[float64]:
		v.DataPoints = v.DataPoints[i:j]
		return v
	case metricdata.Histogram[int64]:
		v.DataPoints = v.DataPoints[i:j]
		return v
	case metricdata.Histogram[float64]:
		v.DataPoints = v.DataPoints[i:j]
		return v
	case metricdata.ExponentialHistogram[int64]:
		v.DataPoints = v.DataPoints[i:j]
		return v
	case metricdata.ExponentialHistogram[float64]:
		v.DataPoints = v.DataPoints[i:j]
		return v
	case metricdata.Summary:
		v.DataPoints = v.DataPoints[i:j]
		return v
	}
	return a
}
