package prometheus

import (
	"slices"
	"sort"
	"strings"

	prom "github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// FamilyTransform rewrites metric families at render time, after the
// exporter has named them and before it writes them: for example to render
// a framework's own metrics under the names another framework's dashboards
// expect. Both encoders apply it the same way, so their output stays
// identical. The exporter knows no metric names of its own; the names come
// with the transform.
//
// Families the transform does not claim are rendered as they are and cost
// nothing. The optel encoder renders the claimed families through the text
// format into client_golang families before it hands them over, so a
// transform suits small families (a series per resource and outcome), not
// high-cardinality ones. Transform is called with the exporter's render
// lock held and must not keep mfs.
type FamilyTransform interface {
	// Claims reports whether Transform wants the family with this
	// Prometheus name (as rendered: optel_queue_depth, not optel.queue.depth).
	Claims(name string) bool
	// Transform returns the families to render in place of the claimed
	// ones. The exporter sorts the result with the other families.
	Transform(mfs []*dto.MetricFamily) []*dto.MetricFamily
}

// WithFamilyTransform applies t to every rendering (see FamilyTransform).
// Default: none. A nil t is ignored.
func WithFamilyTransform(t FamilyTransform) Option {
	return optionFunc(func(c *config) { c.transform = t })
}

// FamilyMapping renders one family, or a filtered part of it, under another
// name. Series that keep the same labels after the mapping are summed:
// counter and gauge values, histogram counts, sums and buckets.
type FamilyMapping struct {
	// From is the Prometheus name of the family as rendered, e.g.
	// "optel_queue_depth".
	From string
	// To and Help are the new family's name and HELP text.
	To, Help string
	// Labels keeps these labels, renamed (old name to new name); the others
	// are dropped. Nil drops every label.
	Labels map[string]string
	// Values maps the values of a label, by its old name; a value not in
	// the map is kept as it is.
	Values map[string]map[string]string
	// Only keeps the series whose label (by its old name) has one of the
	// listed values, for every label listed. Nil keeps every series.
	Only map[string][]string
}

// FamilyMappings is a table-driven FamilyTransform. Several rows may map
// the same From family (one family fans out into several); a family no row
// names is not claimed.
type FamilyMappings []FamilyMapping

var _ FamilyTransform = FamilyMappings(nil)

// Claims reports whether a row maps name.
func (t FamilyMappings) Claims(name string) bool {
	return slices.ContainsFunc(t, func(m FamilyMapping) bool { return m.From == name })
}

// Transform applies every row to the family it names, in table order.
func (t FamilyMappings) Transform(mfs []*dto.MetricFamily) []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(mfs)+4)
	for _, mf := range mfs {
		for i := range t {
			if t[i].From == mf.GetName() {
				out = append(out, t[i].apply(mf))
			}
		}
	}
	return out
}

// transformGatherer applies a FamilyTransform at gather time (the stock
// encoder); families it does not claim pass through unchanged.
type transformGatherer struct {
	g prom.Gatherer
	t FamilyTransform
}

func (g transformGatherer) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := g.g.Gather()
	return applyTransform(g.t, mfs), err
}

// applyTransform replaces the families t claims with what it makes of them,
// passes the others through, and sorts the result by name.
func applyTransform(t FamilyTransform, mfs []*dto.MetricFamily) []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(mfs)+4)
	var claimed []*dto.MetricFamily
	for _, mf := range mfs {
		if t.Claims(mf.GetName()) {
			claimed = append(claimed, mf)
			continue
		}
		out = append(out, mf)
	}
	if len(claimed) > 0 {
		out = append(out, t.Transform(claimed)...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

func (m *FamilyMapping) keep(metric *dto.Metric) bool {
	for label, values := range m.Only {
		found := false
		for _, l := range metric.GetLabel() {
			if l.GetName() == label && slices.Contains(values, l.GetValue()) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// apply renames mf, keeps and renames the labels in m.Labels (dropping the
// rest), and sums series that collapse onto the same label set.
func (m *FamilyMapping) apply(mf *dto.MetricFamily) *dto.MetricFamily {
	out := &dto.MetricFamily{Name: proto.String(m.To), Help: proto.String(m.Help), Type: mf.Type}
	index := map[string]*dto.Metric{}
	var order []string
	for _, metric := range mf.GetMetric() {
		if !m.keep(metric) {
			continue
		}
		var labels []*dto.LabelPair
		for _, l := range metric.GetLabel() {
			to, ok := m.Labels[l.GetName()]
			if !ok {
				continue
			}
			v := l.GetValue()
			if mapped, ok := m.Values[l.GetName()][v]; ok {
				v = mapped
			}
			labels = append(labels, &dto.LabelPair{Name: proto.String(to), Value: proto.String(v)})
		}
		sort.Slice(labels, func(i, j int) bool { return labels[i].GetName() < labels[j].GetName() })
		var key strings.Builder
		for _, l := range labels {
			key.WriteString(l.GetName() + "=" + l.GetValue() + "\xff")
		}
		k := key.String()
		acc, ok := index[k]
		if !ok {
			acc = &dto.Metric{Label: labels}
			index[k] = acc
			order = append(order, k)
		}
		add(acc, metric)
	}
	for _, k := range order {
		out.Metric = append(out.Metric, index[k])
	}
	return out
}

func add(acc, m *dto.Metric) {
	switch {
	case m.Counter != nil:
		if acc.Counter == nil {
			acc.Counter = &dto.Counter{Value: proto.Float64(0)}
		}
		acc.Counter.Value = proto.Float64(acc.Counter.GetValue() + m.Counter.GetValue())
	case m.Gauge != nil:
		if acc.Gauge == nil {
			acc.Gauge = &dto.Gauge{Value: proto.Float64(0)}
		}
		acc.Gauge.Value = proto.Float64(acc.Gauge.GetValue() + m.Gauge.GetValue())
	case m.Histogram != nil:
		if acc.Histogram == nil {
			h := &dto.Histogram{SampleCount: proto.Uint64(0), SampleSum: proto.Float64(0)}
			for _, b := range m.Histogram.GetBucket() {
				h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: proto.Float64(b.GetUpperBound()), CumulativeCount: proto.Uint64(0)})
			}
			acc.Histogram = h
		}
		h := acc.Histogram
		h.SampleCount = proto.Uint64(h.GetSampleCount() + m.Histogram.GetSampleCount())
		h.SampleSum = proto.Float64(h.GetSampleSum() + m.Histogram.GetSampleSum())
		for i, b := range m.Histogram.GetBucket() {
			if i < len(h.Bucket) && h.Bucket[i].GetUpperBound() == b.GetUpperBound() {
				h.Bucket[i].CumulativeCount = proto.Uint64(h.Bucket[i].GetCumulativeCount() + b.GetCumulativeCount())
			}
		}
	}
}
