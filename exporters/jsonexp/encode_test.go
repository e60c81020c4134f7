package jsonexp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/optel-dev/optel/exporters/jsonexp"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

var (
	t0      = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	t1      = t0.Add(90 * time.Second)
	traceID = [16]byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	spanID  = [8]byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
)

func fixture() *metricdata.ResourceMetrics {
	attrs := attribute.NewSet(attribute.String("route", "/a"), attribute.Int("code", 200))
	return &metricdata.ResourceMetrics{
		Resource: resource.NewSchemaless(attribute.String("service.name", "svc")),
		ScopeMetrics: []metricdata.ScopeMetrics{{
			Scope: instrumentation.Scope{Name: "demo", Version: "1.0"},
			Metrics: []metricdata.Metrics{
				{Name: "requests", Description: "Requests.", Data: metricdata.Sum[int64]{
					Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
					DataPoints: []metricdata.DataPoint[int64]{{Attributes: attrs, StartTime: t0, Time: t1, Value: 42, Exemplars: []metricdata.Exemplar[int64]{{
						Value: 7, Time: t0.Add(time.Second), TraceID: traceID[:], SpanID: spanID[:],
						FilteredAttributes: []attribute.KeyValue{attribute.String("user", "<u>")},
					}}}},
				}},
				{Name: "temperature", Unit: "Cel", Data: metricdata.Gauge[float64]{
					DataPoints: []metricdata.DataPoint[float64]{{Time: t1, Value: 21.5, Exemplars: []metricdata.Exemplar[float64]{{Value: 21.5, Time: t1, SpanID: spanID[:]}}}, {Attributes: attribute.NewSet(attribute.Bool("nan", true)), Time: t1, Value: math.NaN()}},
				}},
				{Name: "latency", Unit: "s", Data: metricdata.Histogram[float64]{
					Temporality: metricdata.CumulativeTemporality,
					DataPoints: []metricdata.HistogramDataPoint[float64]{{
						Attributes: attrs, StartTime: t0, Time: t1, Count: 3, Sum: 0.7,
						Bounds: []float64{0.1, 0.5}, BucketCounts: []uint64{1, 1, 1},
						Min: metricdata.NewExtrema(0.05), Max: metricdata.NewExtrema(0.6),
						Exemplars: []metricdata.Exemplar[float64]{
							{Value: 0.6, Time: t1, TraceID: traceID[:], SpanID: spanID[:]},
							{Value: 0.05, Time: t0}, // recorded outside a span: no ids
						},
					}},
				}},
				{Name: "inflight", Data: metricdata.Sum[float64]{Temporality: metricdata.DeltaTemporality, DataPoints: []metricdata.DataPoint[float64]{{Time: t1, Value: math.Inf(-1)}}}},
				{Name: "odd\xffname \"quoted\" <tag>\n", Data: metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Time: t1, Attributes: attribute.NewSet(attribute.StringSlice("tags", []string{"a", "b"}), attribute.Float64("f", 1e21)), Value: -1}}}},
			},
		}},
	}
}

// TestGolden pins the documented shape (docs/exporters.md shows the same).
func TestGolden(t *testing.T) {
	got := jsonexp.AppendJSON(nil, fixture())
	if !json.Valid(got) {
		t.Fatalf("invalid JSON:\n%s", got)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "snapshot.golden.json")
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("snapshot differs from %s:\n%s", path, pretty.Bytes())
	}
}

func TestStringsAreEscapedLikeEncodingJSON(t *testing.T) {
	for _, s := range []string{"plain", "quote\"back\\slash", "ctl\x00\x1f\t\r\n", "<html>&amp;", "bad\xff\xfeutf8", "emoji 🎉", "sep\u2028\u2029", ""} {
		rm := &metricdata.ResourceMetrics{Resource: resource.NewSchemaless(attribute.String("k", s))}
		var back struct{ Resource map[string]string }
		if err := json.Unmarshal(jsonexp.AppendJSON(nil, rm), &back); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want, _ := json.Marshal(s)
		var wantS string
		_ = json.Unmarshal(want, &wantS)
		if back.Resource["k"] != wantS {
			t.Errorf("%q round-tripped to %q, want %q", s, back.Resource["k"], wantS)
		}
	}
}

func TestSnapshotAfterShutdown(t *testing.T) {
	e := jsonexp.New()
	if err := e.Reader().Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Snapshot(context.Background()); err == nil {
		t.Error("snapshot after shutdown succeeded")
	}
}

// TestExemplarsFromTheSDK: a histogram recorded inside a sampled span
// carries that span's trace and span ids into /metrics.json, in hex, on the
// point whose bucket holds the value; a recording outside any span adds no
// exemplar with ids.
func TestExemplarsFromTheSDK(t *testing.T) {
	ctx := context.Background()
	exp := jsonexp.New()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()), sdkmetric.WithExemplarFilter(exemplar.TraceBasedFilter))
	defer mp.Shutdown(ctx)
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(ctx)
	h, _ := mp.Meter("t").Float64Histogram("optel.handler.duration", metric.WithExplicitBucketBoundaries(0.1, 1))
	c, _ := mp.Meter("t").Int64Counter("optel.handler.invocations")

	sctx, span := tp.Tracer("t").Start(ctx, "create widgets.example.com")
	h.Record(sctx, 0.5)
	c.Add(sctx, 1)
	span.End()
	h.Record(ctx, 0.05) // no span: the trace-based filter offers no exemplar

	rm, err := exp.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Scopes []struct {
			Metrics []struct {
				Name   string
				Points []struct {
					Buckets   []struct{ Count uint64 }
					Exemplars []struct {
						Value         float64
						Time          time.Time
						TraceID       string         `json:"trace_id"`
						SpanID        string         `json:"span_id"`
						FilteredAttrs map[string]any `json:"filtered_attributes"`
					}
				}
			}
		}
	}
	if err := json.Unmarshal(jsonexp.AppendJSON(nil, rm), &got); err != nil {
		t.Fatal(err)
	}
	sc := span.SpanContext()
	seen := 0
	for _, m := range got.Scopes[0].Metrics {
		ex := m.Points[0].Exemplars
		if len(ex) != 1 {
			t.Fatalf("%s: %d exemplars, want 1 (the one inside the span): %+v", m.Name, len(ex), ex)
		}
		if ex[0].TraceID != sc.TraceID().String() || ex[0].SpanID != sc.SpanID().String() {
			t.Errorf("%s exemplar ids = %s/%s, want %s/%s", m.Name, ex[0].TraceID, ex[0].SpanID, sc.TraceID(), sc.SpanID())
		}
		if ex[0].Time.IsZero() || ex[0].FilteredAttrs == nil {
			t.Errorf("%s exemplar lacks time or filtered_attributes: %+v", m.Name, ex[0])
		}
		if m.Name == "optel.handler.duration" && ex[0].Value != 0.5 {
			t.Errorf("histogram exemplar value = %v, want 0.5", ex[0].Value)
		}
		seen++
	}
	if seen != 2 {
		t.Errorf("saw %d metrics, want the histogram and the counter", seen)
	}
}
