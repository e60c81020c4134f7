package otlp

import (
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/optel-dev/optel/telemetry/setting"
)

// Flags bound by Config.BindFlags.
const (
	FlagEndpoint    = "otlp-endpoint"
	FlagProtocol    = "otlp-protocol"
	FlagInsecure    = "otlp-insecure"
	FlagHeaders     = "otlp-headers"
	FlagTimeout     = "otlp-timeout"
	FlagCompression = "otlp-compression"
	FlagTemporality = "otlp-temporality"
)

// Environment variables read by Config.Resolve; a given flag wins over
// them, and each metrics-specific one wins over its generic one.
const (
	EnvEndpoint         = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvMetricsEndpoint  = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
	EnvProtocol         = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvMetricsProtocol  = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
	EnvHeaders          = "OTEL_EXPORTER_OTLP_HEADERS"
	EnvMetricsHeaders   = "OTEL_EXPORTER_OTLP_METRICS_HEADERS"
	EnvTimeout          = "OTEL_EXPORTER_OTLP_TIMEOUT"
	EnvMetricsTimeout   = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"
	EnvInsecure         = "OTEL_EXPORTER_OTLP_INSECURE"
	EnvMetricsInsecure  = "OTEL_EXPORTER_OTLP_METRICS_INSECURE"
	EnvCompression      = "OTEL_EXPORTER_OTLP_COMPRESSION"
	EnvTemporality      = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"
	DefaultProtocol     = GRPC
	DefaultTimeout      = defaultTimeout
	defaultCompression  = NoCompression
	defaultTemporality  = Cumulative
	acceptedEndpoint    = "host:port, http://host:port[/path] or https://host:port[/path]"
	acceptedTemporality = "cumulative, delta, lowmemory"
)

// Config is the otlp exporter's own settings, as flags, the OTel
// environment and code give them: each field is a setting.Var, so a flag
// given on the command line wins over Set in code, which wins over the
// environment, which wins over the default. Build it with NewConfig; the
// telemetry package binds its flags (telemetry.Flags), resolves it against
// the environment it was given, and builds the exporter from Options.
//
// To set a value in code: cfg.Endpoint.Set("collector:4317").
type Config struct {
	Protocol    setting.Var[Protocol]
	Endpoint    setting.Var[string]
	Headers     setting.Var[map[string]string]
	Timeout     setting.Var[time.Duration]
	Insecure    setting.Var[bool]
	Compression setting.Var[Compression]
	Temporality setting.Var[Temporality]

	// Traces and Logs are the per-signal overrides (SignalConfig says
	// their precedence); the fields above are the metrics settings and the
	// shared defaults.
	Traces, Logs SignalConfig
}

// NewConfig returns the settings with their flags, variables and defaults.
func NewConfig() *Config {
	return &Config{
		Protocol: setting.Var[Protocol]{
			Flag: FlagProtocol, FlagType: "string", FlagDefault: string(DefaultProtocol), Option: "otlp.Config.Protocol",
			Usage: "OTLP protocol: grpc or http/protobuf. Overrides " + EnvProtocol + ".",
			Env:   []string{EnvMetricsProtocol, EnvProtocol}, Default: DefaultProtocol,
			Parse: parseProtocol, Check: checkWith(parseProtocol),
		},
		Endpoint: setting.Var[string]{
			Flag: FlagEndpoint, FlagType: "string", Option: "otlp.Config.Endpoint",
			Usage: "OTLP collector endpoint, host:port or http(s)://host:port[/path]. Default http://localhost:4317 (grpc) or http://localhost:4318 (http/protobuf), plaintext. Overrides " + EnvEndpoint + ".",
			Env:   []string{EnvMetricsEndpoint, EnvEndpoint},
			Parse: parseEndpoint,
			Check: func(src, e string) error {
				if src == "default" {
					return nil
				}
				_, err := parseEndpoint(src, e)
				return err
			},
		},
		Headers: setting.Var[map[string]string]{
			Flag: FlagHeaders, FlagType: "string", Option: "otlp.Config.Headers",
			Usage: "Headers for every OTLP export, key=value pairs separated by commas, values percent-encoded. Overrides " + EnvHeaders + ".",
			Env:   []string{EnvMetricsHeaders, EnvHeaders},
			Parse: setting.ParseKeyValues,
		},
		Timeout: setting.Var[time.Duration]{
			Flag: FlagTimeout, FlagType: "duration", FlagDefault: DefaultTimeout.String(), Option: "otlp.Config.Timeout",
			Usage: "Timeout of one OTLP export, retries included. Overrides " + EnvTimeout + ".",
			Env:   []string{EnvMetricsTimeout, EnvTimeout}, Default: DefaultTimeout,
			Parse: setting.ParseDuration, ParseEnv: setting.ParseMillis, Check: setting.Positive,
		},
		Insecure: setting.Var[bool]{
			Flag: FlagInsecure, FlagType: "bool", FlagDefault: "false", NoOptDefault: "true", Option: "otlp.Config.Insecure",
			Usage: "Send OTLP without TLS to a host:port endpoint (an http:// URL implies it). Overrides " + EnvInsecure + ".",
			Env:   []string{EnvMetricsInsecure, EnvInsecure},
			Parse: setting.ParseBool,
		},
		Compression: setting.Var[Compression]{
			Flag: FlagCompression, FlagType: "string", FlagDefault: string(defaultCompression), Option: "otlp.Config.Compression",
			Usage: "OTLP payload compression: gzip or none. Overrides " + EnvCompression + ".",
			Env:   []string{EnvCompression}, Default: defaultCompression,
			Parse: parseCompression, Check: checkWith(parseCompression),
		},
		Temporality: setting.Var[Temporality]{
			Flag: FlagTemporality, FlagType: "string", FlagDefault: string(defaultTemporality), Option: "otlp.Config.Temporality",
			Usage: "OTLP temporality: cumulative (a failed export loses nothing), delta or lowmemory (a failed export loses its delta points, counted in optel.telemetry.export.dropped_points). Overrides " + EnvTemporality + ".",
			Env:   []string{EnvTemporality}, Default: defaultTemporality,
			Parse: parseTemporality, Check: checkWith(parseTemporality),
		},
		Traces: newSignalConfig("Traces", EnvTracesProtocol, EnvTracesEndpoint, EnvTracesHeaders, EnvTracesTimeout, EnvTracesInsecure, EnvTracesCompression),
		Logs:   newSignalConfig("Logs", EnvLogsProtocol, EnvLogsEndpoint, EnvLogsHeaders, EnvLogsTimeout, EnvLogsInsecure, EnvLogsCompression),
	}
}

func (c *Config) vars() []interface {
	BindFlag(*pflag.FlagSet)
	Resolve(setting.Lookup) error
} {
	return []interface {
		BindFlag(*pflag.FlagSet)
		Resolve(setting.Lookup) error
	}{&c.Endpoint, &c.Protocol, &c.Insecure, &c.Headers, &c.Timeout, &c.Compression, &c.Temporality}
}

// BindFlags registers the --otlp-* flags on fs.
func (c *Config) BindFlags(fs *pflag.FlagSet) {
	for _, v := range c.vars() {
		v.BindFlag(fs)
	}
}

// Resolve settles every setting from the flags, code, lookup (the
// environment; blank values count as unset) and the defaults. An error is a
// *setting.Error naming the flag, variable or field at fault and what is
// accepted.
func (c *Config) Resolve(lookup func(string) (string, bool)) error {
	for _, v := range c.vars() {
		if err := v.Resolve(lookup); err != nil {
			return err
		}
	}
	if err := c.Traces.resolve(lookup); err != nil {
		return err
	}
	return c.Logs.resolve(lookup)
}

// Options returns the New options the resolved settings stand for. An
// endpoint from the generic OTEL_EXPORTER_OTLP_ENDPOINT gets the signal
// path appended for http/protobuf, as the OTel specification says.
func (c *Config) Options() []Option {
	opts := []Option{
		WithProtocol(c.Protocol.Value()),
		WithHeaders(c.Headers.Value()),
		WithTimeout(c.Timeout.Value()),
		WithInsecure(c.Insecure.Value()),
		WithCompression(c.Compression.Value()),
		WithTemporality(c.Temporality.Value()),
	}
	if e := c.Endpoint.Value(); e != "" {
		opts = append(opts, WithEndpoint(e))
	}
	if c.Endpoint.Source() == EnvEndpoint {
		opts = append(opts, WithSignalPathAppended())
	}
	return opts
}

// Environment documents the variables Resolve reads, for
// docs/configuration.md.
func (c *Config) Environment() []setting.EnvVar {
	env := []setting.EnvVar{
		{Name: EnvEndpoint, Default: "http://localhost:4317 (grpc), http://localhost:4318 (http/protobuf)", Description: "Collector endpoint for every signal. For http/protobuf, /v1/metrics, /v1/traces or /v1/logs is appended to its path."},
		{Name: EnvMetricsEndpoint, Description: "Metrics-only endpoint, used as is; wins over " + EnvEndpoint + "."},
		{Name: EnvProtocol, Default: string(DefaultProtocol), Description: "grpc or http/protobuf (optel defaults to grpc, unlike contrib autoexport)."},
		{Name: EnvMetricsProtocol, Description: "Metrics-only protocol; wins over " + EnvProtocol + "."},
		{Name: EnvHeaders, Description: "key=value pairs, comma-separated, values percent-encoded."},
		{Name: EnvMetricsHeaders, Description: "Metrics-only headers; win over " + EnvHeaders + "."},
		{Name: EnvTimeout, Default: "10000", Description: "Export timeout in milliseconds."},
		{Name: EnvMetricsTimeout, Description: "Metrics-only timeout; wins over " + EnvTimeout + "."},
		{Name: EnvInsecure, Default: "false", Description: "Plaintext for a host:port endpoint."},
		{Name: EnvMetricsInsecure, Description: "Metrics-only; wins over " + EnvInsecure + "."},
		{Name: EnvCompression, Default: "none", Description: "gzip or none."},
		{Name: EnvTemporality, Default: "cumulative", Description: "cumulative, delta or lowmemory; with delta or lowmemory a failed export loses its delta points (counted in optel.telemetry.export.dropped_points). --" + FlagTemporality + " wins."},
	}
	env = append(env, signalEnvironment("Traces", EnvTracesEndpoint, EnvTracesProtocol, EnvTracesHeaders, EnvTracesTimeout, EnvTracesInsecure, EnvTracesCompression)...)
	return append(env, signalEnvironment("Logs", EnvLogsEndpoint, EnvLogsProtocol, EnvLogsHeaders, EnvLogsTimeout, EnvLogsInsecure, EnvLogsCompression)...)
}

func checkWith[T ~string](parse func(src, s string) (T, error)) func(src string, v T) error {
	return func(src string, v T) error {
		_, err := parse(src, string(v))
		return err
	}
}

var (
	parseProtocol    = setting.OneOf("unknown OTLP protocol", true, GRPC, HTTPProtobuf)
	parseCompression = setting.OneOf("unknown compression", true, Gzip, NoCompression)
)

func parseEndpoint(src, s string) (string, error) {
	if _, err := ParseEndpoint(s); err != nil {
		return "", &setting.Error{Source: src, Value: s, Reason: err.Error(), Accepted: acceptedEndpoint}
	}
	return strings.TrimSpace(s), nil
}

func parseTemporality(src, s string) (Temporality, error) {
	t, err := ParseTemporality(s)
	if err != nil {
		return "", &setting.Error{Source: src, Value: s, Reason: "unknown temporality", Accepted: acceptedTemporality}
	}
	return t, nil
}
