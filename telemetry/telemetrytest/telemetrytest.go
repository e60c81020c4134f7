package telemetrytest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/optel-dev/optel/telemetry"
)

// Reader is an in-memory SDK reader: every call collects afresh (running
// collect-time callbacks, like a scrape does).
type Reader struct {
	*sdkmetric.ManualReader
}

// NewReader returns a reader to pass to telemetry.WithReader or
// sdkmetric.WithReader.
func NewReader() *Reader { return &Reader{ManualReader: sdkmetric.NewManualReader()} }

// NewProvider returns a telemetry.Provider with no exporters and a Reader,
// shut down when t ends. Extra options are applied after the defaults.
func NewProvider(t testing.TB, opts ...telemetry.Option) (*telemetry.Provider, *Reader) {
	t.Helper()
	r := NewReader()
	tp, err := telemetry.New(context.Background(), append([]telemetry.Option{
		telemetry.WithExporters("none"),
		telemetry.WithReader(r),
		telemetry.WithEnvironment(func(string) (string, bool) { return "", false }),
	}, opts...)...)
	if err != nil {
		t.Fatalf("telemetrytest: %v", err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, r
}

// Snapshot collects and returns the current data; a collection error fails t.
func (r *Reader) Snapshot(t testing.TB) *metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.ManualReader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("telemetrytest: collect: %v", err)
	}
	return &rm
}

// Value returns, for the instrument name, the total over every point whose
// attributes include all of attrs: the value of sums and gauges, the count
// of histograms. ok is false when no point matched.
func (r *Reader) Value(t testing.TB, name string, attrs ...attribute.KeyValue) (v float64, ok bool) {
	t.Helper()
	for _, p := range points(r.Snapshot(t), name) {
		if p.matches(attrs) {
			v += p.value
			ok = true
		}
	}
	return v, ok
}

// Sum fails t unless the counter, up-down counter or gauge name, summed over
// the points matching attrs, equals want.
func (r *Reader) Sum(t testing.TB, name string, want float64, attrs ...attribute.KeyValue) {
	t.Helper()
	got, ok := r.Value(t, name, attrs...)
	if !ok || got != want {
		t.Errorf("%s%s = %v (found: %v), want %v\n%s", name, fmtAttrs(attrs), got, ok, want, r.describe(t, name))
	}
}

// HistogramCount fails t unless histogram name has want observations over
// the points matching attrs.
func (r *Reader) HistogramCount(t testing.TB, name string, want uint64, attrs ...attribute.KeyValue) {
	t.Helper()
	r.Sum(t, name, float64(want), attrs...)
}

// Absent fails t if any point of name matches attrs.
func (r *Reader) Absent(t testing.TB, name string, attrs ...attribute.KeyValue) {
	t.Helper()
	if _, ok := r.Value(t, name, attrs...); ok {
		t.Errorf("%s%s is present, want no such series\n%s", name, fmtAttrs(attrs), r.describe(t, name))
	}
}

type point struct {
	attrs attribute.Set
	value float64
}

func (p point) matches(want []attribute.KeyValue) bool {
	for _, kv := range want {
		v, ok := p.attrs.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

func points(rm *metricdata.ResourceMetrics, name string) []point {
	var out []point
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out = append(out, point{p.Attributes, float64(p.Value)})
				}
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					out = append(out, point{p.Attributes, p.Value})
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out = append(out, point{p.Attributes, float64(p.Value)})
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					out = append(out, point{p.Attributes, p.Value})
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					out = append(out, point{p.Attributes, float64(p.Count)})
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out = append(out, point{p.Attributes, float64(p.Count)})
				}
			case metricdata.ExponentialHistogram[float64]:
				for _, p := range d.DataPoints {
					out = append(out, point{p.Attributes, float64(p.Count)})
				}
			}
		}
	}
	return out
}

// describe lists the series of name, to make a failure readable.
func (r *Reader) describe(t testing.TB, name string) string {
	ps := points(r.Snapshot(t), name)
	if len(ps) == 0 {
		return "  (no series of " + name + ")"
	}
	lines := make([]string, 0, len(ps))
	for _, p := range ps {
		lines = append(lines, fmt.Sprintf("  %s%s = %v", name, fmtAttrs(p.attrs.ToSlice()), p.value))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func fmtAttrs(kvs []attribute.KeyValue) string {
	if len(kvs) == 0 {
		return ""
	}
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		parts[i] = string(kv.Key) + "=" + kv.Value.Emit()
	}
	return "{" + strings.Join(parts, ",") + "}"
}
