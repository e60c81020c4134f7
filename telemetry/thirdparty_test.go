package telemetry_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/optel-dev/optel/exporters/otlp"
	"github.com/optel-dev/optel/telemetry"
	"github.com/optel-dev/optel/telemetry/setting"
)

// kafkaConfig is a third-party exporter's own settings, defined outside
// optel: one flag with one environment variable.
type kafkaConfig struct {
	Topic setting.Var[string]
}

func newKafkaConfig() *kafkaConfig {
	return &kafkaConfig{Topic: setting.Var[string]{
		Flag: "kafka-topic", FlagType: "string", FlagDefault: "metrics", Option: "kafkaConfig.Topic",
		Usage:   "Kafka topic the exporter writes to. Overrides KAFKA_TOPIC.",
		Env:     []string{"KAFKA_TOPIC"},
		Default: "metrics",
		Parse: func(src, s string) (string, error) {
			if strings.ContainsAny(s, " /") {
				return "", &setting.Error{Source: src, Value: s, Reason: "not a topic name", Accepted: "letters, digits, dots, dashes"}
			}
			return s, nil
		},
	}}
}

func (c *kafkaConfig) BindFlags(fs *pflag.FlagSet) { c.Topic.BindFlag(fs) }
func (c *kafkaConfig) Resolve(lookup func(string) (string, bool)) error {
	return c.Topic.Resolve(lookup)
}
func (c *kafkaConfig) Environment() []telemetry.EnvVar {
	return []telemetry.EnvVar{{Name: "KAFKA_TOPIC", Default: "metrics", Description: "Kafka topic."}}
}

// registerKafka registers the exporter by name, as its package's init
// would with DefaultExporterRegistry; topics receives what its factory got.
func registerKafka(t *testing.T, topics *[]string) *telemetry.ExporterRegistry {
	t.Helper()
	reg := telemetry.NewExporterRegistry()
	err := reg.Register("kafka", telemetry.NewExporterFactory(newKafkaConfig, func(_ context.Context, s telemetry.ExporterSettings, c *kafkaConfig) (telemetry.Exporter, error) {
		*topics = append(*topics, c.Topic.Value()+" from "+c.Topic.Source())
		if s.Signal != telemetry.SignalMetrics || s.Resource == nil || s.ExportInterval <= 0 {
			t.Errorf("generic inputs missing: %+v", s)
		}
		return telemetry.ReaderExporter(sdkmetric.NewManualReader()), nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestThirdPartyExporterOwnsItsSettings: an exporter defined here, outside
// optel, registered by name, adds its own flag and variable. The flag shows
// in --help of a FlagSet bound through telemetry.Flags, the variable in the
// registry's Environment (what docs/configuration.md is generated from),
// and its factory receives the parsed value with the usual precedence:
// flag over code over environment over default. A bad value names the flag
// or variable and what is accepted.
func TestThirdPartyExporterOwnsItsSettings(t *testing.T) {
	var topics []string
	reg := registerKafka(t, &topics)

	tf := telemetry.Flags{Registry: reg}
	fs := pflag.NewFlagSet("op", pflag.ContinueOnError)
	tf.BindFlags(fs)
	var help bytes.Buffer
	fs.SetOutput(&help)
	if err := fs.Parse([]string{"--help"}); !errors.Is(err, pflag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	if !strings.Contains(help.String(), `--kafka-topic string`) || !strings.Contains(help.String(), `Kafka topic the exporter writes to. Overrides KAFKA_TOPIC. (default "metrics")`) {
		t.Errorf("--help lacks the third-party flag:\n%s", help.String())
	}
	var documented bool
	for _, e := range reg.Environment() {
		documented = documented || e.Name == "KAFKA_TOPIC"
	}
	if !documented {
		t.Error("KAFKA_TOPIC missing from the registry's Environment")
	}

	env := envOf(map[string]string{"KAFKA_TOPIC": "from-env"})
	for _, tc := range []struct {
		name  string
		flags []string
		opts  []telemetry.Option
		env   func(string) (string, bool)
		want  string
	}{
		{name: "default", env: noEnv, want: "metrics from default"},
		{name: "env", env: env, want: "from-env from KAFKA_TOPIC"},
		{name: "code beats env", env: env, opts: []telemetry.Option{telemetry.WithExporterConfig("kafka", func(c *kafkaConfig) { c.Topic.Set("from-code") })}, want: "from-code from kafkaConfig.Topic"},
		{name: "flag beats code and env", env: env, flags: []string{"--kafka-topic=ops.metrics"}, opts: []telemetry.Option{telemetry.WithExporterConfig("kafka", func(c *kafkaConfig) { c.Topic.Set("from-code") })}, want: "ops.metrics from --kafka-topic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topics = nil
			tf := telemetry.Flags{Registry: reg}
			fs := pflag.NewFlagSet("op", pflag.ContinueOnError)
			tf.BindFlags(fs)
			if err := fs.Parse(append([]string{"--telemetry-exporters=kafka"}, tc.flags...)); err != nil {
				t.Fatal(err)
			}
			opts := append([]telemetry.Option{telemetry.WithExporterRegistry(reg), telemetry.WithEnvironment(tc.env)}, tc.opts...)
			tp, err := telemetry.New(context.Background(), append(opts, tf.Options()...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer tp.Shutdown(context.Background())
			if len(topics) != 1 || topics[0] != tc.want {
				t.Errorf("factory got %q, want %q", topics, tc.want)
			}
		})
	}

	t.Run("bad flag", func(t *testing.T) {
		tf := telemetry.Flags{Registry: reg}
		fs := pflag.NewFlagSet("op", pflag.ContinueOnError)
		fs.SetOutput(discard{})
		tf.BindFlags(fs)
		err := fs.Parse([]string{"--kafka-topic=a b"})
		if err == nil || !strings.Contains(err.Error(), "--kafka-topic") || !strings.Contains(err.Error(), "accepted: letters") {
			t.Errorf("err = %v, want it to name --kafka-topic and what is accepted", err)
		}
	})
	t.Run("bad env", func(t *testing.T) {
		_, err := telemetry.New(context.Background(), telemetry.WithExporterRegistry(reg), telemetry.WithExporters("json"),
			telemetry.WithEnvironment(envOf(map[string]string{"KAFKA_TOPIC": "a/b"})))
		if !errors.Is(err, telemetry.ErrInvalidConfig) || !strings.Contains(err.Error(), "KAFKA_TOPIC") {
			t.Errorf("err = %v, want ErrInvalidConfig naming KAFKA_TOPIC", err)
		}
	})
	t.Run("wrong config type", func(t *testing.T) {
		_, err := telemetry.New(context.Background(), telemetry.WithExporterRegistry(reg), telemetry.WithEnvironment(noEnv),
			telemetry.WithExporterConfig("kafka", func(*otlp.Config) {}))
		if err == nil || !strings.Contains(err.Error(), "kafkaConfig") {
			t.Errorf("err = %v, want a type mismatch naming the config type", err)
		}
	})
}
