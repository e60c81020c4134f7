package telemetrytest_test

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/goleak"

	"github.com/optel-dev/optel/telemetry/telemetrytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder captures assertion failures so the test can check them.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) { r.errs = append(r.errs, format) }
func (r *recorder) Helper()                           {}

func TestAssertions(t *testing.T) {
	tp, r := telemetrytest.NewProvider(t)
	m := tp.Meter("x")
	c, _ := m.Int64Counter("c")
	h, _ := m.Float64Histogram("h", metric.WithUnit("s"))
	g, _ := m.Int64Gauge("g")
	ctx := context.Background()
	c.Add(ctx, 2, metric.WithAttributes(attribute.String("k", "a"), attribute.Int("n", 1)))
	c.Add(ctx, 5, metric.WithAttributes(attribute.String("k", "b")))
	h.Record(ctx, 0.1)
	h.Record(ctx, 0.2)
	g.Record(ctx, 42)

	for _, tc := range []struct {
		name   string
		check  func(tb testing.TB)
		failed bool
	}{
		{"sum all", func(tb testing.TB) { r.Sum(tb, "c", 7) }, false},
		{"sum by inclusion", func(tb testing.TB) { r.Sum(tb, "c", 2, attribute.String("k", "a")) }, false},
		{"sum wrong", func(tb testing.TB) { r.Sum(tb, "c", 3) }, true},
		{"missing metric", func(tb testing.TB) { r.Sum(tb, "nope", 0) }, true},
		{"histogram count", func(tb testing.TB) { r.HistogramCount(tb, "h", 2) }, false},
		{"gauge", func(tb testing.TB) { r.Sum(tb, "g", 42) }, false},
		{"absent ok", func(tb testing.TB) { r.Absent(tb, "c", attribute.String("k", "z")) }, false},
		{"absent fails", func(tb testing.TB) { r.Absent(tb, "c", attribute.String("k", "b")) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			tc.check(rec)
			if (len(rec.errs) > 0) != tc.failed {
				t.Errorf("failed = %v (%s), want %v", len(rec.errs) > 0, strings.Join(rec.errs, "; "), tc.failed)
			}
		})
	}
}
