package otlp_test

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"

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

// Config is the exporter's own settings: a flag beats code, code beats the
// environment. The telemetry package does this for you (telemetry.Flags).
func ExampleConfig() {
	cfg := otlp.NewConfig()
	fs := pflag.NewFlagSet("op", pflag.ContinueOnError)
	cfg.BindFlags(fs)
	_ = fs.Parse([]string{"--otlp-protocol=http/protobuf"})
	cfg.Timeout.Set(2 * time.Second)
	env := func(name string) (string, bool) {
		return map[string]string{otlp.EnvEndpoint: "http://collector:4318", otlp.EnvProtocol: "grpc"}[name], name == otlp.EnvEndpoint || name == otlp.EnvProtocol
	}
	if err := cfg.Resolve(env); err != nil {
		panic(err)
	}
	for _, line := range []string{
		string(cfg.Protocol.Value()) + " from " + cfg.Protocol.Source(),
		cfg.Endpoint.Value() + " from " + cfg.Endpoint.Source(),
		cfg.Timeout.Value().String() + " from " + cfg.Timeout.Source(),
	} {
		fmt.Println(line)
	}
	// Output:
	// http/protobuf from --otlp-protocol
	// http://collector:4318 from OTEL_EXPORTER_OTLP_ENDPOINT
	// 2s from otlp.Config.Timeout
}
