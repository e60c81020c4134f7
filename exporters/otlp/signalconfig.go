package otlp

import (
	"strings"
	"time"

	"github.com/optel-dev/optel/telemetry/setting"
)

// Per-signal variables for traces and logs, as the OTel specification
// names them. Each wins over its generic OTEL_EXPORTER_OTLP_* variable; a
// given --otlp-* flag wins over both, for every signal.
const (
	EnvTracesEndpoint    = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvTracesProtocol    = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvTracesHeaders     = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
	EnvTracesTimeout     = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
	EnvTracesInsecure    = "OTEL_EXPORTER_OTLP_TRACES_INSECURE"
	EnvTracesCompression = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"
	EnvLogsEndpoint      = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"
	EnvLogsProtocol      = "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"
	EnvLogsHeaders       = "OTEL_EXPORTER_OTLP_LOGS_HEADERS"
	EnvLogsTimeout       = "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT"
	EnvLogsInsecure      = "OTEL_EXPORTER_OTLP_LOGS_INSECURE"
	EnvLogsCompression   = "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION"
)

// SignalConfig holds the per-signal overrides of one signal (traces or
// logs). They have no flags of their own: the --otlp-* flags apply to every
// signal. Precedence for each setting: a given --otlp-* flag, then Set on
// this SignalConfig, then Set on the shared Config field, then the
// per-signal variable, then the generic one, then the default.
type SignalConfig struct {
	Protocol    setting.Var[Protocol]
	Endpoint    setting.Var[string]
	Headers     setting.Var[map[string]string]
	Timeout     setting.Var[time.Duration]
	Insecure    setting.Var[bool]
	Compression setting.Var[Compression]
}

func newSignalConfig(signal string, protocol, endpoint, headers, timeout, insecure, compression string) SignalConfig {
	opt := "otlp.Config." + signal + "."
	return SignalConfig{
		Protocol: setting.Var[Protocol]{Option: opt + "Protocol", Env: []string{protocol, EnvProtocol}, Default: DefaultProtocol,
			Parse: parseProtocol, Check: checkWith(parseProtocol)},
		Endpoint: setting.Var[string]{Option: opt + "Endpoint", Env: []string{endpoint, EnvEndpoint}, Parse: parseEndpoint,
			Check: func(src, e string) error {
				if src == "default" {
					return nil
				}
				_, err := parseEndpoint(src, e)
				return err
			}},
		Headers: setting.Var[map[string]string]{Option: opt + "Headers", Env: []string{headers, EnvHeaders}, Parse: setting.ParseKeyValues},
		Timeout: setting.Var[time.Duration]{Option: opt + "Timeout", Env: []string{timeout, EnvTimeout}, Default: DefaultTimeout,
			Parse: setting.ParseDuration, ParseEnv: setting.ParseMillis, Check: setting.Positive},
		Insecure:    setting.Var[bool]{Option: opt + "Insecure", Env: []string{insecure, EnvInsecure}, Parse: setting.ParseBool},
		Compression: setting.Var[Compression]{Option: opt + "Compression", Env: []string{compression, EnvCompression}, Default: defaultCompression, Parse: parseCompression, Check: checkWith(parseCompression)},
	}
}

func (s *SignalConfig) resolve(lookup setting.Lookup) error {
	for _, r := range []func(setting.Lookup) error{s.Protocol.Resolve, s.Endpoint.Resolve, s.Headers.Resolve, s.Timeout.Resolve, s.Insecure.Resolve, s.Compression.Resolve} {
		if err := r(lookup); err != nil {
			return err
		}
	}
	return nil
}

// pick applies the precedence SignalConfig documents to one setting.
func pick[T any](shared, sig *setting.Var[T]) (T, string) {
	switch {
	case strings.HasPrefix(shared.Source(), "--"):
		return shared.Value(), shared.Source()
	case sig.Source() == sig.Option:
		return sig.Value(), sig.Source()
	case shared.Source() == shared.Option:
		return shared.Value(), shared.Source()
	}
	return sig.Value(), sig.Source()
}

// TraceOptions returns the NewTraceExporter options the resolved settings
// stand for.
func (c *Config) TraceOptions() []Option { return c.signalOptions(&c.Traces) }

// LogOptions returns the NewLogExporter options the resolved settings
// stand for.
func (c *Config) LogOptions() []Option { return c.signalOptions(&c.Logs) }

func (c *Config) signalOptions(s *SignalConfig) []Option {
	protocol, _ := pick(&c.Protocol, &s.Protocol)
	headers, _ := pick(&c.Headers, &s.Headers)
	timeout, _ := pick(&c.Timeout, &s.Timeout)
	insecure, _ := pick(&c.Insecure, &s.Insecure)
	compression, _ := pick(&c.Compression, &s.Compression)
	opts := []Option{WithProtocol(protocol), WithHeaders(headers), WithTimeout(timeout), WithInsecure(insecure), WithCompression(compression)}
	endpoint, src := pick(&c.Endpoint, &s.Endpoint)
	if endpoint != "" {
		opts = append(opts, WithEndpoint(endpoint))
	}
	if src == EnvEndpoint {
		opts = append(opts, WithSignalPathAppended())
	}
	return opts
}

func signalEnvironment(signal string, endpoint, protocol, headers, timeout, insecure, compression string) []setting.EnvVar {
	return []setting.EnvVar{
		{Name: endpoint, Description: signal + "-only endpoint, used as is (a URL without a path gets /v1/" + strings.ToLower(signal) + "); wins over " + EnvEndpoint + "."},
		{Name: protocol, Description: signal + "-only protocol; wins over " + EnvProtocol + "."},
		{Name: headers, Description: signal + "-only headers; win over " + EnvHeaders + "."},
		{Name: timeout, Description: signal + "-only timeout in milliseconds; wins over " + EnvTimeout + "."},
		{Name: insecure, Description: signal + "-only; wins over " + EnvInsecure + "."},
		{Name: compression, Description: signal + "-only compression; wins over " + EnvCompression + "."},
	}
}
