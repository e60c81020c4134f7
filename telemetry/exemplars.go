package telemetry

import (
	"context"
	"sort"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/trace"
)

// optel's exemplar reservoirs keep, per series, the most recent sampled
// measurement (per bucket, for an explicit-bucket histogram), and cost
// nothing to collect while they hold none. The SDK's defaults pick
// exemplars at random and re-seed their random sequence for every series
// (and every bucket) at every collection, held exemplars or not: with the
// trace_based filter on and no span anywhere, a 4000-series scrape took
// 4.5x as long (BenchmarkScrapeExemplarFilter). Most series of an operator
// are never recorded in a span; the handler durations that are keep the
// run that was last in each bucket, which is the one a reader follows.

// lastReservoir is an exemplar.Reservoir. The SDK serializes Offer and
// Collect on one reservoir (it is not marked concurrent-safe).
type lastReservoir struct {
	bounds []float64 // explicit-bucket boundaries; nil: one slot
	slots  []exemplarSlot
	held   int
}

type exemplarSlot struct {
	set     bool
	t       time.Time
	v       exemplar.Value
	attrs   []attribute.KeyValue
	traceID trace.TraceID
	spanID  trace.SpanID
	sampled bool
}

func newLastReservoir(bounds []float64) *lastReservoir {
	return &lastReservoir{bounds: bounds, slots: make([]exemplarSlot, len(bounds)+1)}
}

func (r *lastReservoir) Offer(ctx context.Context, t time.Time, v exemplar.Value, attrs []attribute.KeyValue) {
	i := 0
	if r.bounds != nil {
		f := v.Float64()
		if v.Type() == exemplar.Int64ValueType {
			f = float64(v.Int64())
		}
		i = sort.SearchFloat64s(r.bounds, f) // le is inclusive
	}
	s := &r.slots[i]
	if !s.set {
		s.set = true
		r.held++
	}
	s.t, s.v, s.attrs = t, v, attrs
	sc := trace.SpanContextFromContext(ctx)
	s.sampled = sc.IsValid() && sc.IsSampled()
	s.traceID, s.spanID = sc.TraceID(), sc.SpanID()
}

func (r *lastReservoir) Collect(dest *[]exemplar.Exemplar) {
	if r.held == 0 {
		*dest = (*dest)[:0]
		return
	}
	out := (*dest)[:0]
	for i := range r.slots {
		s := &r.slots[i]
		if !s.set {
			continue
		}
		// Fresh id slices: the collected data may still be read (an
		// export in flight) when the next measurement replaces the slot.
		e := exemplar.Exemplar{FilteredAttributes: s.attrs, Time: s.t, Value: s.v}
		if s.sampled {
			e.TraceID = append([]byte(nil), s.traceID[:]...)
			e.SpanID = append([]byte(nil), s.spanID[:]...)
		}
		out = append(out, e)
	}
	*dest = out
}

// reservoirSelector gives explicit-bucket histograms a slot per bucket and
// everything else one slot.
func reservoirSelector(agg sdkmetric.Aggregation) exemplar.ReservoirProvider {
	if h, ok := agg.(sdkmetric.AggregationExplicitBucketHistogram); ok && len(h.Boundaries) > 0 {
		bounds := append([]float64(nil), h.Boundaries...)
		return func(attribute.Set) exemplar.Reservoir { return newLastReservoir(bounds) }
	}
	return func(attribute.Set) exemplar.Reservoir { return newLastReservoir(nil) }
}

// exemplarViews returns the user's views, each giving optel's reservoirs to
// the streams it makes unless it chose its own, and one more view for the
// instruments none of them matches. Matching stays the SDK's: an
// instrument two user views match still gets both streams.
func exemplarViews(user []sdkmetric.View) []sdkmetric.View {
	out := make([]sdkmetric.View, 0, len(user)+1)
	for _, v := range user {
		out = append(out, func(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
			s, ok := v(i)
			if ok && s.ExemplarReservoirProviderSelector == nil {
				s.ExemplarReservoirProviderSelector = reservoirSelector
			}
			return s, ok
		})
	}
	return append(out, func(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
		for _, v := range user {
			if _, ok := v(i); ok {
				return sdkmetric.Stream{}, false
			}
		}
		return sdkmetric.Stream{Name: i.Name, Description: i.Description, Unit: i.Unit, ExemplarReservoirProviderSelector: reservoirSelector}, true
	})
}
