package telemetrytest_test

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/optel-dev/optel/telemetry/telemetrytest"
)

func Example() {
	t := &testing.T{} // in a real test, the *testing.T you are given
	tp, r := telemetrytest.NewProvider(t)
	c, _ := tp.Meter("widgets").Int64Counter("widgets.created")
	c.Add(context.Background(), 2, metric.WithAttributes(attribute.String("color", "red")))
	c.Add(context.Background(), 1, metric.WithAttributes(attribute.String("color", "blue")))

	r.Sum(t, "widgets.created", 3)                                   // all series
	r.Sum(t, "widgets.created", 2, attribute.String("color", "red")) // one series
	v, _ := r.Value(t, "widgets.created", attribute.String("color", "blue"))
	fmt.Println(v, t.Failed())
	// Output: 1 false
}
