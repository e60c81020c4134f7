package telemetry_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/optel-dev/optel/telemetry"
	"github.com/optel-dev/optel/telemetry/telemetrytest"
)

// TestExemplarFilter: exemplars are off by default, and the filter option
// (or OTEL_METRICS_EXEMPLAR_FILTER) turns them on.
func TestExemplarFilter(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []telemetry.Option
		env  string
		want bool
	}{
		{name: "default off", want: false},
		{name: "option on", opts: []telemetry.Option{telemetry.WithExemplarFilter(telemetry.ExemplarsOn)}, want: true},
		{name: "env on", env: "always_on", want: true},
		{name: "env trace_based without a span", env: "trace_based", want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]telemetry.Option{telemetry.WithEnvironment(func(k string) (string, bool) {
				return tc.env, k == telemetry.EnvExemplarFilter && tc.env != ""
			})}, tc.opts...)
			p, r := telemetrytest.NewProvider(t, opts...)
			c, _ := p.Meter("x").Int64Counter("hits")
			c.Add(context.Background(), 1)
			rm := r.Snapshot(t)
			got := false
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if s, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "hits" {
						got = len(s.DataPoints) == 1 && len(s.DataPoints[0].Exemplars) > 0
					}
				}
			}
			if got != tc.want {
				t.Errorf("exemplars present = %v, want %v", got, tc.want)
			}
		})
	}
}
