package telemetry_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/optel-dev/optel/exporters/console"
	"github.com/optel-dev/optel/telemetry"
)

// FuzzConfig feeds arbitrary flag and environment values through the whole
// configuration path. Whatever the input, New either succeeds or returns an
// error wrapping ErrInvalidConfig that names its source; it never panics.
// Seeds live in testdata/fuzz/FuzzConfig.
func FuzzConfig(f *testing.F) {
	for _, s := range [][6]string{
		{"prometheus,otlp,json", "grpc", "collector:4317", "a=b,c=d%20e", "10s", "team=infra"},
		{"none", "http/protobuf", "https://c.example.com/v1/metrics", "", "500ms", ""},
		{",,", "thrift", "ftp://x", "novalue", "-1s", "k"},
		{"PROMETHEUS", "GRPC", "[::1]:4317", "a=%zz", "1h", "a=%"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}
	f.Fuzz(func(t *testing.T, exporters, protocol, endpoint, headers, interval, resAttrs string) {
		env := map[string]string{
			"OTEL_METRICS_EXPORTER":       exporters,
			"OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
			"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
			"OTEL_EXPORTER_OTLP_HEADERS":  headers,
			"OTEL_RESOURCE_ATTRIBUTES":    resAttrs,
		}
		var tf telemetry.Flags
		fs := pflag.NewFlagSet("fuzz", pflag.ContinueOnError)
		fs.SetOutput(discard{})
		tf.BindFlags(fs)
		if err := fs.Parse([]string{"--telemetry-export-interval=" + interval}); err != nil {
			if !strings.Contains(err.Error(), "--telemetry-export-interval") {
				t.Fatalf("flag error does not name the flag: %v", err)
			}
			return
		}
		opts := append([]telemetry.Option{
			telemetry.WithEnvironment(func(k string) (string, bool) { v, ok := env[k]; return v, ok }),
			telemetry.WithExporterConfig(telemetry.ExporterConsole, func(c *console.Config) { c.Writer = discard{} }),
			telemetry.WithErrorHandler(telemetry.ErrorHandlerFunc(func(error) {})),
		}, tf.Options()...)
		tp, err := telemetry.New(context.Background(), opts...)
		if err != nil {
			if !errors.Is(err, telemetry.ErrInvalidConfig) && !strings.Contains(err.Error(), "exporter") {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // do not wait for an unreachable collector
		_ = tp.Shutdown(ctx)
	})
}
