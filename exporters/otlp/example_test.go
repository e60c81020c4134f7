package otlp_test

import (
	"context"
	"fmt"

	"github.com/optel-dev/optel/exporters/otlp"
)

func ExampleParseEndpoint() {
	for _, s := range []string{"collector:4317", "https://otel.example.com/custom/v1/metrics", "collector"} {
		ep, err := otlp.ParseEndpoint(s)
		fmt.Printf("%q %+v %v\n", s, ep, err)
	}
	// Output:
	// "collector:4317" {Host:collector:4317 Path: Scheme:} <nil>
	// "https://otel.example.com/custom/v1/metrics" {Host:otel.example.com:443 Path:/custom/v1/metrics Scheme:https} <nil>
	// "collector" {Host: Path: Scheme:} missing port, or not host:port
}

// New never dials: a collector that is down fails exports, not start-up.
func ExampleNew() {
	exp, err := otlp.New(context.Background(), otlp.WithProtocol(otlp.HTTPProtobuf), otlp.WithEndpoint("http://127.0.0.1:1"))
	fmt.Println(err)
	_ = exp.Shutdown(context.Background())
	// Output: <nil>
}
