package jsonexp_test

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/optel-dev/optel/exporters/jsonexp"
)

// FuzzAppendJSON renders metrics with arbitrary names, units, attribute
// keys and values (any bytes, NaN, infinities), and an exemplar with
// arbitrary id bytes, and requires valid JSON that round-trips the strings
// as encoding/json would and renders the ids as hex.
func FuzzAppendJSON(f *testing.F) {
	f.Add("requests", "s", "route", "/a", 1.5, int64(3))
	f.Add("\xff\x00\"<", "\u2028", "k\n", "v\\", math.NaN(), int64(-1))
	f.Add("", "", "", "", math.Inf(-1), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, name, unit, key, val string, x float64, n int64) {
		attrs := attribute.NewSet(attribute.String(key, val), attribute.Float64(key+"f", x), attribute.StringSlice(key+"s", []string{val, name}))
		rm := &metricdata.ResourceMetrics{
			Resource: resource.NewSchemaless(attribute.String(key, val)),
			ScopeMetrics: []metricdata.ScopeMetrics{{
				Scope: instrumentation.Scope{Name: name, Version: unit},
				Metrics: []metricdata.Metrics{
					{Name: name, Unit: unit, Description: val, Data: metricdata.Sum[int64]{IsMonotonic: true, Temporality: metricdata.CumulativeTemporality,
						DataPoints: []metricdata.DataPoint[int64]{{Attributes: attrs, Time: time.Unix(0, n%1e18), Value: n}}}},
					{Name: name, Data: metricdata.Gauge[float64]{DataPoints: []metricdata.DataPoint[float64]{{Attributes: attrs, Value: x}}}},
					{Name: name, Data: metricdata.Histogram[float64]{DataPoints: []metricdata.HistogramDataPoint[float64]{{
						Attributes: attrs, Count: 2, Sum: x, Bounds: []float64{x, 1}, BucketCounts: []uint64{1, 0, 1}, Min: metricdata.NewExtrema(x),
						Exemplars: []metricdata.Exemplar[float64]{{Value: x, Time: time.Unix(0, n%1e18), TraceID: []byte(val), SpanID: []byte(key),
							FilteredAttributes: []attribute.KeyValue{attribute.String(key, val), attribute.Int64(name, n)}}},
					}}}},
				},
			}},
		}
		out := jsonexp.AppendJSON(nil, rm)
		var back struct {
			Scopes []struct {
				Name    string
				Metrics []struct {
					Name, Unit string
					Points     []struct {
						Exemplars []struct {
							TraceID string `json:"trace_id"`
							SpanID  string `json:"span_id"`
						}
					}
				}
			}
		}
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("invalid JSON: %v\n%s", err, out)
		}
		want := func(s string) string { b, _ := json.Marshal(s); var r string; _ = json.Unmarshal(b, &r); return r }
		if back.Scopes[0].Name != want(name) || back.Scopes[0].Metrics[0].Unit != want(unit) {
			t.Fatalf("strings did not round-trip: %q/%q vs %q/%q", back.Scopes[0].Name, back.Scopes[0].Metrics[0].Unit, name, unit)
		}
		ex := back.Scopes[0].Metrics[2].Points[0].Exemplars
		if len(ex) != 1 || ex[0].TraceID != hex.EncodeToString([]byte(val)) || ex[0].SpanID != hex.EncodeToString([]byte(key)) {
			t.Fatalf("exemplar ids did not render as hex of %q/%q: %+v", val, key, ex)
		}
	})
}
