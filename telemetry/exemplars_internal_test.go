package telemetry

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"
)

func spanCtx(b byte, sampled bool) context.Context {
	f := trace.TraceFlags(0)
	if sampled {
		f = trace.FlagsSampled
	}
	return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{b}, SpanID: trace.SpanID{b}, TraceFlags: f}))
}

func TestLastReservoir(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	type offer struct {
		ctx context.Context
		v   float64
	}
	cases := []struct {
		name   string
		bounds []float64
		offers []offer
		want   []float64 // values collected, in slot order
		ids    []byte    // first trace id byte of each, 0 for none
	}{
		{name: "empty", bounds: []float64{1, 2}},
		{name: "one slot keeps the last", offers: []offer{{spanCtx(1, true), 5}, {spanCtx(2, true), 7}}, want: []float64{7}, ids: []byte{2}},
		{name: "buckets, le inclusive", bounds: []float64{1, 2}, offers: []offer{{spanCtx(1, true), 1}, {spanCtx(2, true), 1.5}, {spanCtx(3, true), 9}}, want: []float64{1, 1.5, 9}, ids: []byte{1, 2, 3}},
		{name: "last per bucket", bounds: []float64{1, 2}, offers: []offer{{spanCtx(1, true), 0.5}, {spanCtx(2, true), 0.7}}, want: []float64{0.7}, ids: []byte{2}},
		{name: "unsampled span has no ids", offers: []offer{{spanCtx(4, false), 3}}, want: []float64{3}, ids: []byte{0}},
		{name: "no span has no ids", offers: []offer{{context.Background(), 3}}, want: []float64{3}, ids: []byte{0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newLastReservoir(tc.bounds)
			if tc.bounds == nil {
				r = newLastReservoir(nil)
			}
			for i, o := range tc.offers {
				r.Offer(o.ctx, t0.Add(time.Duration(i)), exemplar.NewValue(o.v), []attribute.KeyValue{attribute.Int("i", i)})
			}
			for round := range 2 { // held exemplars persist, and reusing dest gives the same
				dest := make([]exemplar.Exemplar, 0, 1)
				r.Collect(&dest)
				if len(dest) != len(tc.want) {
					t.Fatalf("round %d: %d exemplars, want %d", round, len(dest), len(tc.want))
				}
				for i, e := range dest {
					if e.Value.Float64() != tc.want[i] {
						t.Errorf("exemplar %d value %v, want %v", i, e.Value.Float64(), tc.want[i])
					}
					switch {
					case tc.ids[i] == 0 && (len(e.TraceID) != 0 || len(e.SpanID) != 0):
						t.Errorf("exemplar %d has ids %x/%x, want none", i, e.TraceID, e.SpanID)
					case tc.ids[i] != 0 && (len(e.TraceID) != 16 || e.TraceID[0] != tc.ids[i] || len(e.SpanID) != 8):
						t.Errorf("exemplar %d ids %x/%x, want trace %d", i, e.TraceID, e.SpanID, tc.ids[i])
					}
				}
			}
		})
	}
}

// TestExemplarViewsKeepUserViews: with exemplars on, a user's view still
// renames its instrument (and gets exemplars), and other instruments get
// exemplars too, with no stream duplicated.
func TestExemplarViewsKeepUserViews(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	rename := sdkmetric.NewView(sdkmetric.Instrument{Name: "a"}, sdkmetric.Stream{Name: "renamed"})
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithExemplarFilter(exemplar.AlwaysOnFilter), sdkmetric.WithView(exemplarViews([]sdkmetric.View{rename})...))
	defer mp.Shutdown(context.Background())
	m := mp.Meter("t")
	a, _ := m.Int64Counter("a")
	b, _ := m.Float64Histogram("b")
	ctx := spanCtx(9, true)
	a.Add(ctx, 1)
	b.Record(ctx, 0.3)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			switch d := mt.Data.(type) {
			case metricdata.Sum[int64]:
				got[mt.Name] += len(d.DataPoints[0].Exemplars)
			case metricdata.Histogram[float64]:
				got[mt.Name] += len(d.DataPoints[0].Exemplars)
			}
		}
	}
	if len(got) != 2 || got["renamed"] != 1 || got["b"] != 1 {
		t.Errorf("streams and exemplar counts %v, want renamed:1 b:1", got)
	}
}
