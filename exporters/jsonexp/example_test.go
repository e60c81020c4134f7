package jsonexp_test

import (
	"context"
	"fmt"
	"strings"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/optel-dev/optel/exporters/jsonexp"
)

func Example() {
	exp := jsonexp.New()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()))
	defer mp.Shutdown(context.Background())
	c, _ := mp.Meter("x").Int64Counter("widgets.created")
	c.Add(context.Background(), 2)

	rm, _ := exp.Snapshot(context.Background())
	out := string(jsonexp.AppendJSON(nil, rm))
	i := strings.Index(out, `{"name":"widgets.created"`)
	fmt.Println(out[i : i+strings.Index(out[i:], `,"points"`)])
	// Output: {"name":"widgets.created","unit":"","description":"","kind":"sum","temporality":"cumulative","monotonic":true
}
