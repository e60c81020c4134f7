package prometheus

import (
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// The collected data is not kept between scrapes: at 1M series it is most
// of the 283 MB a scrape allocates (docs/benchmarks.md), and a ManualReader
// fills the ResourceMetrics it is given in place, so keeping one keeps all
// of that alive. Instead, release
// notes the shape of what a collection held (per metric its aggregation,
// number of points and, for histograms, buckets: a few words per metric)
// and drops it, and prepare gives the next collection storage of that
// shape: one slice of points per aggregation type, with every metric's
// points cut from it, and one slice of bucket counts (and, if the last
// collection had exemplars, of exemplars) for every histogram point, which
// the SDK fills in place instead of allocating per point. A
// scrape therefore allocates the collected data anew, in a few large
// allocations plus one per metric (the SDK stores each metric's data in an
// interface), and frees it when done.
//
// The SDK returns scopes in map order, so a metric may land in a slot
// shaped for another one; the SDK then allocates that metric's points
// itself, which costs allocations, not correctness. Exponential histograms
// get their points but not their buckets. The SDK allocates the exemplars
// of counters and gauges anew on every collection whatever it is given.

// aggKind is a metricdata aggregation type.
type aggKind uint8

const (
	kindNone aggKind = iota
	kindSumInt
	kindSumFloat
	kindGaugeInt
	kindGaugeFloat
	kindHistInt
	kindHistFloat
	kindExpInt
	kindExpFloat
	numKinds
)

// metricShape is what one metric of a collection held.
type metricShape struct {
	kind      aggKind
	points    int
	buckets   int // explicit histograms: bucket counts per point
	exemplars int // explicit histograms: room for exemplars per point
}

type scopeShape []metricShape

// release notes the shape of the collection and lets go of it, and of
// every reference the rendering kept into it.
func (r *renderer) release() {
	r.shape = r.shape[:0]
	for i := range r.rm.ScopeMetrics {
		sm := &r.rm.ScopeMetrics[i]
		ss := scopeShape(nil)
		if i < cap(r.shape) {
			ss = r.shape[:i+1][i][:0]
		}
		for j := range sm.Metrics {
			ss = append(ss, shapeOf(sm.Metrics[j].Data))
		}
		r.shape = append(r.shape, ss)
	}
	r.rm = metricdata.ResourceMetrics{}
	fs := r.families[:cap(r.families)]
	for i := range fs {
		clear(fs[i].members[:cap(fs[i].members)])
		fs[i].foreign = nil
	}
	clear(r.seenEntries[:cap(r.seenEntries)])
}

func shapeOf(data metricdata.Aggregation) metricShape {
	switch v := data.(type) {
	case metricdata.Sum[int64]:
		return metricShape{kind: kindSumInt, points: len(v.DataPoints)}
	case metricdata.Sum[float64]:
		return metricShape{kind: kindSumFloat, points: len(v.DataPoints)}
	case metricdata.Gauge[int64]:
		return metricShape{kind: kindGaugeInt, points: len(v.DataPoints)}
	case metricdata.Gauge[float64]:
		return metricShape{kind: kindGaugeFloat, points: len(v.DataPoints)}
	case metricdata.Histogram[int64]:
		b, e := histRoom(v.DataPoints)
		return metricShape{kind: kindHistInt, points: len(v.DataPoints), buckets: b, exemplars: e}
	case metricdata.Histogram[float64]:
		b, e := histRoom(v.DataPoints)
		return metricShape{kind: kindHistFloat, points: len(v.DataPoints), buckets: b, exemplars: e}
	case metricdata.ExponentialHistogram[int64]:
		return metricShape{kind: kindExpInt, points: len(v.DataPoints)}
	case metricdata.ExponentialHistogram[float64]:
		return metricShape{kind: kindExpFloat, points: len(v.DataPoints)}
	}
	return metricShape{}
}

// histRoom returns the bucket counts per point, and the capacity the SDK
// gave the first point's exemplars (its reservoir's size; 0 without
// exemplars).
func histRoom[N int64 | float64](dps []metricdata.HistogramDataPoint[N]) (buckets, exemplars int) {
	if len(dps) == 0 {
		return 0, 0
	}
	return len(dps[0].BucketCounts), cap(dps[0].Exemplars)
}

// room is the capacity given to a metric of n points: series only grow
// between collections (the SDK forgets none), so a little more than last
// time saves the SDK from allocating every point again.
func room(n int) int { return n + n/8 + 1 }

// prepare gives r.rm storage of the last collection's shape.
func (r *renderer) prepare() {
	if len(r.shape) == 0 || r.rm.ScopeMetrics != nil {
		return
	}
	var points, exemplars [numKinds]int
	metrics, buckets := 0, 0
	for _, ss := range r.shape {
		metrics += len(ss)
		for _, m := range ss {
			points[m.kind] += room(m.points)
			buckets += room(m.points) * m.buckets
			exemplars[m.kind] += room(m.points) * m.exemplars
		}
	}
	var a arenas
	a.sumInt = make([]metricdata.DataPoint[int64], points[kindSumInt]+points[kindGaugeInt])
	a.sumFloat = make([]metricdata.DataPoint[float64], points[kindSumFloat]+points[kindGaugeFloat])
	a.histInt = make([]metricdata.HistogramDataPoint[int64], points[kindHistInt])
	a.histFloat = make([]metricdata.HistogramDataPoint[float64], points[kindHistFloat])
	a.counts = make([]uint64, buckets)
	if n := exemplars[kindHistInt]; n > 0 {
		a.exInt = make([]metricdata.Exemplar[int64], n)
	}
	if n := exemplars[kindHistFloat]; n > 0 {
		a.exFloat = make([]metricdata.Exemplar[float64], n)
	}
	sms := make([]metricdata.ScopeMetrics, len(r.shape))
	ms := make([]metricdata.Metrics, metrics)
	for i, ss := range r.shape {
		sms[i].Metrics = ms[:len(ss):len(ss)]
		for j, m := range ss {
			ms[j].Data = a.storage(m)
		}
		ms = ms[len(ss):]
	}
	r.rm.ScopeMetrics = sms
}

// arenas hold the points of a collection, cut into one slice per metric.
type arenas struct {
	sumInt    []metricdata.DataPoint[int64]
	sumFloat  []metricdata.DataPoint[float64]
	histInt   []metricdata.HistogramDataPoint[int64]
	histFloat []metricdata.HistogramDataPoint[float64]
	counts    []uint64
	exInt     []metricdata.Exemplar[int64]
	exFloat   []metricdata.Exemplar[float64]
}

// cut returns the first n elements of *s as a slice of length 0 and
// capacity n, so that appending to it cannot reach the next metric's.
func cut[T any](s *[]T, n int) []T {
	p := (*s)[:0:n]
	*s = (*s)[n:]
	return p
}

func (a *arenas) storage(m metricShape) metricdata.Aggregation {
	n := room(m.points)
	switch m.kind {
	case kindSumInt:
		return metricdata.Sum[int64]{DataPoints: cut(&a.sumInt, n)}
	case kindSumFloat:
		return metricdata.Sum[float64]{DataPoints: cut(&a.sumFloat, n)}
	case kindGaugeInt:
		return metricdata.Gauge[int64]{DataPoints: cut(&a.sumInt, n)}
	case kindGaugeFloat:
		return metricdata.Gauge[float64]{DataPoints: cut(&a.sumFloat, n)}
	case kindHistInt:
		return metricdata.Histogram[int64]{DataPoints: histStorage(cut(&a.histInt, n), &a.counts, m.buckets, &a.exInt, m.exemplars)}
	case kindHistFloat:
		return metricdata.Histogram[float64]{DataPoints: histStorage(cut(&a.histFloat, n), &a.counts, m.buckets, &a.exFloat, m.exemplars)}
	case kindExpInt:
		return metricdata.ExponentialHistogram[int64]{DataPoints: make([]metricdata.ExponentialHistogramDataPoint[int64], 0, n)}
	case kindExpFloat:
		return metricdata.ExponentialHistogram[float64]{DataPoints: make([]metricdata.ExponentialHistogramDataPoint[float64], 0, n)}
	}
	return nil
}

// histStorage gives each point of dps (length 0, all of its capacity
// prepared) bucket counts of capacity k cut from counts and, if e > 0,
// exemplars of capacity e cut from exs.
func histStorage[N int64 | float64](dps []metricdata.HistogramDataPoint[N], counts *[]uint64, k int, exs *[]metricdata.Exemplar[N], e int) []metricdata.HistogramDataPoint[N] {
	all := dps[:cap(dps)]
	for i := range all {
		all[i].BucketCounts = cut(counts, k)
		if e > 0 {
			all[i].Exemplars = cut(exs, e)
		}
	}
	return dps
}
