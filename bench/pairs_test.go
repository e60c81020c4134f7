package bench

import (
	"slices"
	"testing"
	"time"
)

// pairs is the number of rotated pairs a paired benchmark measures.
const pairs = 15

// pairedResult is one paired comparison: per pair, the time per operation
// of the system under test (a) and of its anchor (b), measured back to back.
type pairedResult struct {
	a, b   []float64 // ns/op per pair
	orders []string  // "ab" or "ba", what ran first
}

// measurePairs times op a and op b, iters operations each, pairs times,
// alternating which runs first, after one warm-up round of each. Both run
// in the same process, on the same data, counted at the same point.
func measurePairs(n int, iters int, a, b func()) pairedResult {
	timeIt := func(f func()) float64 {
		start := time.Now()
		for range iters {
			f()
		}
		return float64(time.Since(start).Nanoseconds()) / float64(iters)
	}
	timeIt(a)
	timeIt(b)
	var r pairedResult
	for i := range n {
		var ta, tb float64
		if i%2 == 0 {
			ta, tb = timeIt(a), timeIt(b)
			r.orders = append(r.orders, "ab")
		} else {
			tb, ta = timeIt(b), timeIt(a)
			r.orders = append(r.orders, "ba")
		}
		r.a, r.b = append(r.a, ta), append(r.b, tb)
	}
	return r
}

// ratios are the paired ratios a/b, one per pair.
func (r pairedResult) ratios() []float64 {
	out := make([]float64, len(r.a))
	for i := range r.a {
		out[i] = r.a[i] / r.b[i]
	}
	return out
}

func median(v []float64) float64 {
	c := slices.Clone(v)
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// report writes the pair's figures as custom metrics of b, which
// cmd/benchtable reads: medians of each side, and the paired ratio's
// median, minimum and maximum over the pairs.
func (r pairedResult) report(b *testing.B, allocsA, allocsB float64) {
	rs := r.ratios()
	b.ReportMetric(median(r.a), "a-ns/op")
	b.ReportMetric(median(r.b), "b-ns/op")
	b.ReportMetric(median(rs), "ratio-median")
	b.ReportMetric(slices.Min(rs), "ratio-min")
	b.ReportMetric(slices.Max(rs), "ratio-max")
	b.ReportMetric(float64(len(rs)), "pairs")
	b.ReportMetric(allocsA, "a-allocs/op")
	b.ReportMetric(allocsB, "b-allocs/op")
}

// TestPairsRotate: a paired measurement alternates which side runs first,
// and measures each side once per pair.
func TestPairsRotate(t *testing.T) {
	var seq []string
	r := measurePairs(4, 1, func() { seq = append(seq, "a") }, func() { seq = append(seq, "b") })
	want := []string{"a", "b", "a", "b", "b", "a", "a", "b", "b", "a"} // warm-up, then ab ba ab ba
	if !slices.Equal(seq, want) {
		t.Errorf("sequence %v, want %v", seq, want)
	}
	if !slices.Equal(r.orders, []string{"ab", "ba", "ab", "ba"}) || len(r.a) != 4 || len(r.b) != 4 {
		t.Errorf("orders %v, %d and %d samples", r.orders, len(r.a), len(r.b))
	}
}
