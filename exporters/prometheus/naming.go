package prometheus

import (
	"fmt"
	"sort"
	"strings"

	prom "github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// Naming selects the names optel's own metrics are rendered under.
type Naming string

// Naming profiles.
const (
	// NamingOTel renders OTel-style names (optel_handler_invocations_total).
	NamingOTel Naming = "otel"
	// NamingControllerRuntime renders the same data under controller-runtime's
	// Prometheus names and labels, so dashboards and alerts written for
	// controller-runtime operators keep working. See docs/metrics.md for the
	// mapping.
	NamingControllerRuntime Naming = "controller-runtime"
)

// ParseNaming validates a profile name.
func ParseNaming(s string) (Naming, error) {
	switch n := Naming(strings.TrimSpace(s)); n {
	case NamingOTel, NamingControllerRuntime:
		return n, nil
	}
	return "", fmt.Errorf("unknown metrics naming %q (accepted: otel, controller-runtime)", s)
}

// WithNaming selects the naming profile. Default NamingOTel.
func WithNaming(n Naming) Option { return optionFunc(func(c *config) { c.naming = n }) }

// crResult maps optel outcomes to controller-runtime's result label. Every
// failure is "error" there; permanent errors and panics are also counted in
// their own controller-runtime families.
var crResult = map[string]string{
	"success":         "success",
	"temporary_error": "error",
	"permanent_error": "error",
	"panic":           "error",
	"timeout":         "error",
}

// crGatherer translates optel's families to controller-runtime's at gather
// time. Families it does not know pass through unchanged.
type crGatherer struct{ g prom.Gatherer }

func (c crGatherer) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := c.g.Gather()
	return translateCR(mfs), err
}

// crFamilies are the families the controller-runtime profile translates.
var crFamilies = map[string]struct{}{
	"optel_handler_invocations_total": {},
	"optel_handler_duration_seconds":  {},
	"optel_queue_depth":               {},
	"optel_queue_adds_total":          {},
	"optel_workers_active":            {},
	"optel_queue_wait_seconds":        {},
	"optel_handler_retries_total":     {},
	"optel_api_requests_total":        {},
	"optel_leader":                    {},
}

// translateCR maps optel's families to controller-runtime's, passes the
// others through, and sorts the result by name.
func translateCR(mfs []*dto.MetricFamily) []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(mfs)+4)
	for _, mf := range mfs {
		switch mf.GetName() {
		case "optel_handler_invocations_total":
			out = append(out,
				regroup(mf, "controller_runtime_reconcile_total", "Total number of reconciliations per controller.", relabel("resource", "controller", "outcome", "result").mapValues("outcome", crResult), nil),
				regroup(mf, "controller_runtime_reconcile_errors_total", "Total number of reconciliation errors per controller.", relabel("resource", "controller"), outcomeIn("temporary_error", "permanent_error", "panic", "timeout")),
				regroup(mf, "controller_runtime_terminal_reconcile_errors_total", "Total number of terminal reconciliation errors per controller.", relabel("resource", "controller"), outcomeIn("permanent_error")),
				regroup(mf, "controller_runtime_reconcile_panics_total", "Total number of reconciliation panics per controller.", relabel("resource", "controller"), outcomeIn("panic")),
			)
		case "optel_handler_duration_seconds":
			out = append(out, regroup(mf, "controller_runtime_reconcile_time_seconds", "Length of time per reconciliation per controller.", relabel("resource", "controller"), nil))
		case "optel_queue_depth":
			out = append(out, regroup(mf, "workqueue_depth", "Current depth of workqueue.", relabel("resource", "name"), nil))
		case "optel_workers_active":
			out = append(out, regroup(mf, "controller_runtime_active_workers", "Number of currently used workers per controller.", relabel("resource", "controller"), nil))
		case "optel_queue_adds_total":
			out = append(out, regroup(mf, "workqueue_adds_total", "Total number of adds handled by workqueue.", relabel("resource", "name"), nil))
		case "optel_queue_wait_seconds":
			out = append(out, regroup(mf, "workqueue_queue_duration_seconds", "How long in seconds an item stays in workqueue before being requested.", relabel("resource", "name"), nil))
		case "optel_handler_retries_total":
			out = append(out, regroup(mf, "workqueue_retries_total", "Total number of retries handled by workqueue.", relabel("resource", "name"), nil))
		case "optel_api_requests_total":
			out = append(out, regroup(mf, "rest_client_requests_total", "Number of HTTP requests, partitioned by status code, method, and host.", relabel("code", "code", "verb", "method"), nil))
		case "optel_leader":
			out = append(out, regroup(mf, "leader_election_master_status", "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.", relabel(), nil))
		default:
			out = append(out, mf)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

// labelMap keeps the listed labels (renamed), optionally mapping values.
type labelMap struct {
	rename map[string]string            // from -> to
	values map[string]map[string]string // from -> value -> mapped value
}

// relabel keeps the labels named in pairs (from, to, from, to, ...).
func relabel(pairs ...string) labelMap {
	lm := labelMap{rename: map[string]string{}, values: map[string]map[string]string{}}
	for i := 0; i+1 < len(pairs); i += 2 {
		lm.rename[pairs[i]] = pairs[i+1]
	}
	return lm
}

// mapValues maps the values of label from (before renaming).
func (lm labelMap) mapValues(from string, m map[string]string) labelMap {
	lm.values[from] = m
	return lm
}

func outcomeIn(outcomes ...string) func(*dto.Metric) bool {
	return func(m *dto.Metric) bool {
		for _, l := range m.GetLabel() {
			if l.GetName() == "outcome" {
				for _, o := range outcomes {
					if l.GetValue() == o {
						return true
					}
				}
			}
		}
		return false
	}
}

// regroup renames a family, keeps and renames the labels in lm (dropping
// the rest), and sums series that collapse onto the same label set: counter
// values, gauge values, histogram counts, sums and buckets.
func regroup(mf *dto.MetricFamily, name, help string, lm labelMap, keep func(*dto.Metric) bool) *dto.MetricFamily {
	out := &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: mf.Type}
	index := map[string]*dto.Metric{}
	var order []string
	for _, m := range mf.GetMetric() {
		if keep != nil && !keep(m) {
			continue
		}
		var labels []*dto.LabelPair
		for _, l := range m.GetLabel() {
			to, ok := lm.rename[l.GetName()]
			if !ok {
				continue
			}
			v := l.GetValue()
			if vm, ok := lm.values[l.GetName()]; ok {
				if mapped, ok := vm[v]; ok {
					v = mapped
				}
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
		add(acc, m)
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
