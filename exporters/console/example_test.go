package console_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/optel-dev/optel/exporters/console"
)

// The exporter writes each export as JSON to the configured writer.
func ExampleNew() {
	var out bytes.Buffer
	exp, err := console.New(console.WithWriter(&out))
	if err != nil {
		panic(err)
	}
	reader := sdkmetric.NewPeriodicReader(exp)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c, _ := mp.Meter("example").Int64Counter("jobs")
	c.Add(context.Background(), 3)
	_ = mp.Shutdown(context.Background()) // flushes
	fmt.Println(strings.Contains(out.String(), `"Name":"jobs"`))
	// Output: true
}
