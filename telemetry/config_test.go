package telemetry_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/optel-dev/optel/exporters/console"
	"github.com/optel-dev/optel/exporters/otlp"
	"github.com/optel-dev/optel/telemetry"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestExporterSelection(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		flags []string
		opts  []telemetry.Option
		want  string
	}{
		{name: "default", want: "prometheus,json"},
		{name: "env single", env: map[string]string{"OTEL_METRICS_EXPORTER": "otlp"}, want: "otlp"},
		{name: "env comma list", env: map[string]string{"OTEL_METRICS_EXPORTER": "otlp, prometheus,json"}, want: "otlp,prometheus,json"},
		{name: "env blank is unset", env: map[string]string{"OTEL_METRICS_EXPORTER": "  "}, want: "prometheus,json"},
		{name: "env none", env: map[string]string{"OTEL_METRICS_EXPORTER": "none"}, want: ""},
		{name: "flag beats env", env: map[string]string{"OTEL_METRICS_EXPORTER": "otlp"}, flags: []string{"--telemetry-exporters=prometheus"}, want: "prometheus"},
		{name: "flag at default does not beat env", env: map[string]string{"OTEL_METRICS_EXPORTER": "json"}, flags: []string{"--otlp-protocol=grpc"}, want: "json"},
		{name: "option beats env", env: map[string]string{"OTEL_METRICS_EXPORTER": "otlp"}, opts: []telemetry.Option{telemetry.WithExporters("json")}, want: "json"},
		{name: "duplicates folded", opts: []telemetry.Option{telemetry.WithExporters("json,JSON,json")}, want: "json"},
		{name: "all at once", flags: []string{"--telemetry-exporters=prometheus,otlp,json,console"}, want: "prometheus,otlp,json,console"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tf telemetry.Flags
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			tf.BindFlags(fs)
			if err := fs.Parse(tc.flags); err != nil {
				t.Fatal(err)
			}
			opts := append([]telemetry.Option{
				telemetry.WithEnvironment(envOf(tc.env)),
				telemetry.WithExporterConfig(telemetry.ExporterConsole, func(c *console.Config) { c.Writer = discard{} }),
				telemetry.WithExporterConfig(telemetry.ExporterOTLP, func(c *otlp.Config) { c.Timeout.Set(100 * time.Millisecond) }), // no collector here: keep the final flush short
				telemetry.WithErrorHandler(telemetry.ErrorHandlerFunc(func(error) {})),
			}, tc.opts...)
			tp, err := telemetry.New(context.Background(), append(opts, tf.Options()...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer tp.Shutdown(context.Background())
			if got := strings.Join(tp.Exporters(), ","); got != tc.want {
				t.Errorf("exporters = %q, want %q", got, tc.want)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestBadConfigNamesSource checks every rejected value names the flag or
// variable that carried it and what is accepted.
func TestBadConfigNamesSource(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		flags    []string
		wantSrc  string
		accepted string
	}{
		{name: "unknown exporter flag", flags: []string{"--telemetry-exporters=prometheus,kafka"}, wantSrc: "--telemetry-exporters", accepted: "console, json, none, otlp, prometheus"},
		{name: "empty exporter in list", flags: []string{"--telemetry-exporters=prometheus,,json"}, wantSrc: "--telemetry-exporters", accepted: "prometheus"},
		{name: "none combined", flags: []string{"--telemetry-exporters=none,json"}, wantSrc: "--telemetry-exporters", accepted: "none"},
		{name: "unknown exporter env", env: map[string]string{"OTEL_METRICS_EXPORTER": "zipkin"}, wantSrc: "OTEL_METRICS_EXPORTER", accepted: "otlp"},
		{name: "bad protocol flag", flags: []string{"--otlp-protocol=udp"}, wantSrc: "--otlp-protocol", accepted: "grpc, http/protobuf"},
		{name: "bad protocol env", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, wantSrc: "OTEL_EXPORTER_OTLP_PROTOCOL", accepted: "grpc, http/protobuf"},
		{name: "endpoint without port", flags: []string{"--otlp-endpoint=collector"}, wantSrc: "--otlp-endpoint", accepted: "host:port"},
		{name: "endpoint bad scheme", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://c:4317"}, wantSrc: "OTEL_EXPORTER_OTLP_ENDPOINT", accepted: "host:port"},
		{name: "endpoint bad port", flags: []string{"--otlp-endpoint=c:99999"}, wantSrc: "--otlp-endpoint", accepted: "host:port"},
		{name: "headers syntax", flags: []string{"--otlp-headers=authorization"}, wantSrc: "--otlp-headers", accepted: "key=value"},
		{name: "headers env encoding", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a=%zz"}, wantSrc: "OTEL_EXPORTER_OTLP_HEADERS", accepted: "key=value"},
		{name: "interval not duration", flags: []string{"--telemetry-export-interval=often"}, wantSrc: "--telemetry-export-interval", accepted: "duration"},
		{name: "interval negative", flags: []string{"--telemetry-export-interval=-5s"}, wantSrc: "--telemetry-export-interval", accepted: "positive"},
		{name: "interval env negative", env: map[string]string{"OTEL_METRIC_EXPORT_INTERVAL": "-100"}, wantSrc: "OTEL_METRIC_EXPORT_INTERVAL", accepted: "positive"},
		{name: "interval env not ms", env: map[string]string{"OTEL_METRIC_EXPORT_INTERVAL": "10s"}, wantSrc: "OTEL_METRIC_EXPORT_INTERVAL", accepted: "milliseconds"},
		{name: "timeout zero", flags: []string{"--otlp-timeout=0s"}, wantSrc: "--otlp-timeout", accepted: "positive"},
		{name: "timeout env", env: map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, wantSrc: "OTEL_EXPORTER_OTLP_TIMEOUT", accepted: "milliseconds"},
		{name: "insecure not bool", flags: []string{"--otlp-insecure=maybe"}, wantSrc: "--otlp-insecure", accepted: "true, false"},
		{name: "compression", env: map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, wantSrc: "OTEL_EXPORTER_OTLP_COMPRESSION", accepted: "gzip, none"},
		{name: "cardinality negative", flags: []string{"--telemetry-cardinality-limit=-1"}, wantSrc: "--telemetry-cardinality-limit", accepted: "0 (no limit)"},
		{name: "naming profile", flags: []string{"--metrics-naming=kubebuilder"}, wantSrc: "--metrics-naming", accepted: "otel, controller-runtime"},
		{name: "prometheus encoder", flags: []string{"--prometheus-encoder=fast"}, wantSrc: "--prometheus-encoder", accepted: "optel, stock"},
		{name: "exemplar filter env", env: map[string]string{"OTEL_METRICS_EXEMPLAR_FILTER": "sometimes"}, wantSrc: "OTEL_METRICS_EXEMPLAR_FILTER", accepted: "always_off, trace_based, always_on"},
		{name: "exemplar filter flag", flags: []string{"--telemetry-exemplar-filter=on"}, wantSrc: "--telemetry-exemplar-filter", accepted: "always_off"},
		{name: "resource attributes", env: map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "team"}, wantSrc: "OTEL_RESOURCE_ATTRIBUTES", accepted: "key=value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tf telemetry.Flags
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			fs.SetOutput(discard{})
			tf.BindFlags(fs)
			err := fs.Parse(tc.flags)
			if err == nil {
				var tp *telemetry.Provider
				tp, err = telemetry.New(context.Background(), append([]telemetry.Option{telemetry.WithEnvironment(envOf(tc.env))}, tf.Options()...)...)
				if err == nil {
					tp.Shutdown(context.Background())
					t.Fatal("accepted bad input")
				}
				if !errors.Is(err, telemetry.ErrInvalidConfig) {
					t.Errorf("error %v does not wrap ErrInvalidConfig", err)
				}
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.wantSrc) || !strings.Contains(msg, "accepted") || !strings.Contains(msg, tc.accepted) {
				t.Errorf("error %q should name %s and say what is accepted (%s)", msg, tc.wantSrc, tc.accepted)
			}
		})
	}
}

func TestResourceAttributes(t *testing.T) {
	tp, err := telemetry.New(context.Background(),
		telemetry.WithEnvironment(envOf(map[string]string{
			"OTEL_RESOURCE_ATTRIBUTES": "team=infra,service.name=from-attrs,note=a%20b",
			"OTEL_SERVICE_NAME":        "from-env",
			"POD_NAME":                 "op-7d9",
			"POD_NAMESPACE":            "ops",
		})),
		telemetry.WithServiceName("from-code"),
		telemetry.WithServiceVersion("1.2.3"),
		telemetry.WithExporters("json"))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown(context.Background())
	got := map[string]string{}
	for _, kv := range tp.Resource().Attributes() {
		got[string(kv.Key)] = kv.Value.Emit()
	}
	want := map[string]string{"service.name": "from-env", "service.version": "1.2.3", "k8s.pod.name": "op-7d9", "k8s.namespace.name": "ops", "team": "infra", "note": "a b"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("resource %s = %q, want %q", k, got[k], v)
		}
	}
}
