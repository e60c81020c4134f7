package otlp

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

type keeper struct {
	sdkmetric.Exporter
	reqs []metricdata.ResourceMetrics
	fail map[int]bool // request index -> fail
}

func (k *keeper) Export(_ context.Context, rm *metricdata.ResourceMetrics) error {
	k.reqs = append(k.reqs, *rm)
	if k.fail[len(k.reqs)-1] {
		return errors.New("refused")
	}
	return nil
}

func sum(name string, n int) metricdata.Metrics {
	pts := make([]metricdata.DataPoint[int64], n)
	for i := range pts {
		pts[i] = metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.Int("i", i)), Value: int64(i)}
	}
	return metricdata.Metrics{Name: name, Unit: "1", Data: metricdata.Sum[int64]{DataPoints: pts, IsMonotonic: true, Temporality: metricdata.CumulativeTemporality}}
}

func hist(name string, n int) metricdata.Metrics {
	pts := make([]metricdata.HistogramDataPoint[float64], n)
	for i := range pts {
		pts[i] = metricdata.HistogramDataPoint[float64]{Attributes: attribute.NewSet(attribute.Int("i", i)), Count: uint64(i)}
	}
	return metricdata.Metrics{Name: name, Data: metricdata.Histogram[float64]{DataPoints: pts, Temporality: metricdata.CumulativeTemporality}}
}

// flatten lists "scope/metric/i" for every point, in order.
func flatten(rms ...metricdata.ResourceMetrics) []string {
	var out []string
	for _, rm := range rms {
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				for i := range numPoints(m.Data) {
					var v any
					switch d := m.Data.(type) {
					case metricdata.Sum[int64]:
						v = d.DataPoints[i].Value
					case metricdata.Histogram[float64]:
						v = d.DataPoints[i].Count
					}
					out = append(out, fmt.Sprintf("%s/%s/%v", sm.Scope.Name, m.Name, v))
				}
			}
		}
	}
	return out
}

func TestSplitExporter(t *testing.T) {
	rm := metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{
		{Scope: instrumentation.Scope{Name: "a"}, Metrics: []metricdata.Metrics{sum("s", 10), hist("h", 5)}},
		{Scope: instrumentation.Scope{Name: "b"}, Metrics: []metricdata.Metrics{sum("s", 3), sum("empty", 0)}},
	}}
	for _, tc := range []struct {
		max, wantReqs int
	}{
		{max: 0, wantReqs: 1},
		{max: 18, wantReqs: 1},
		{max: 7, wantReqs: 3},
		{max: 1, wantReqs: 18},
	} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			k := &keeper{}
			e := &splitExporter{Exporter: k, max: tc.max}
			if err := e.Export(context.Background(), &rm); err != nil {
				t.Fatal(err)
			}
			if len(k.reqs) != tc.wantReqs {
				t.Errorf("%d requests, want %d", len(k.reqs), tc.wantReqs)
			}
			for i, r := range k.reqs {
				if n := countPoints(&r); tc.max > 0 && n > tc.max {
					t.Errorf("request %d has %d points, max %d", i, n, tc.max)
				}
			}
			got, want := flatten(k.reqs...), flatten(rm)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("points differ:\ngot  %v\nwant %v", got, want)
			}
		})
	}
	t.Run("a failed request does not stop the others", func(t *testing.T) {
		k := &keeper{fail: map[int]bool{0: true}}
		err := (&splitExporter{Exporter: k, max: 7}).Export(context.Background(), &rm)
		if err == nil || len(k.reqs) != 3 {
			t.Errorf("err = %v after %d requests; want an error and all 3 requests", err, len(k.reqs))
		}
	})
}

// TestSplitCountsOnlyFailedChunksDeltaPoints: with delta temporality, a
// split export whose second request fails reports exactly the changed delta
// points of that request as lost; zero-change points are not counted.
func TestSplitCountsOnlyFailedChunksDeltaPoints(t *testing.T) {
	pts := make([]metricdata.DataPoint[int64], 25)
	for i := range pts {
		pts[i] = metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.Int("i", i)), Value: int64(i % 2)} // 12 changed
	}
	rm := &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{
		Scope:   instrumentation.Scope{Name: "s"},
		Metrics: []metricdata.Metrics{{Name: "d", Data: metricdata.Sum[int64]{DataPoints: pts, IsMonotonic: true, Temporality: metricdata.DeltaTemporality}}},
	}}}
	k := &keeper{fail: map[int]bool{1: true}}
	err := (&splitExporter{Exporter: k, max: 10}).Export(context.Background(), rm)
	var de *DroppedError
	if !errors.As(err, &de) {
		t.Fatalf("error %v is not a DroppedError", err)
	}
	// Requests: points 0-9, 10-19 (failed), 20-24. Points 10..19 with an odd
	// index changed: 11, 13, 15, 17, 19.
	if de.DeltaPoints != 5 {
		t.Errorf("lost delta points %d, want 5 (only the failed request's changed points)", de.DeltaPoints)
	}
	if got := DeltaPoints(rm); got != 12 {
		t.Errorf("DeltaPoints of the whole collection %d, want 12 changed points", got)
	}
}
