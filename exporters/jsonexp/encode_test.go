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
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/optel-dev/optel/exporters/jsonexp"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

var (
	t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	t1 = t0.Add(90 * time.Second)
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
					DataPoints: []metricdata.DataPoint[int64]{{Attributes: attrs, StartTime: t0, Time: t1, Value: 42}},
				}},
				{Name: "temperature", Unit: "Cel", Data: metricdata.Gauge[float64]{
					DataPoints: []metricdata.DataPoint[float64]{{Time: t1, Value: 21.5}, {Attributes: attribute.NewSet(attribute.Bool("nan", true)), Time: t1, Value: math.NaN()}},
				}},
				{Name: "latency", Unit: "s", Data: metricdata.Histogram[float64]{
					Temporality: metricdata.CumulativeTemporality,
					DataPoints: []metricdata.HistogramDataPoint[float64]{{
						Attributes: attrs, StartTime: t0, Time: t1, Count: 3, Sum: 0.7,
						Bounds: []float64{0.1, 0.5}, BucketCounts: []uint64{1, 1, 1},
						Min: metricdata.NewExtrema(0.05), Max: metricdata.NewExtrema(0.6),
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
