package telemetry

import (
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/optel-dev/optel/exporters/otlp"
	"github.com/optel-dev/optel/exporters/prometheus"
)

// Flag names bound by Flags.BindFlags.
const (
	FlagExporters        = "telemetry-exporters"
	FlagExportInterval   = "telemetry-export-interval"
	FlagCardinalityLimit = "telemetry-cardinality-limit"
	FlagMaxInFlight      = "metrics-max-requests-in-flight"
	FlagOTLPEndpoint     = "otlp-endpoint"
	FlagOTLPProtocol     = "otlp-protocol"
	FlagOTLPInsecure     = "otlp-insecure"
	FlagOTLPHeaders      = "otlp-headers"
	FlagOTLPTimeout      = "otlp-timeout"
	FlagOTLPCompression  = "otlp-compression"
	FlagOTLPTemporality  = "otlp-temporality"
	FlagMetricsNaming    = "metrics-naming"
	FlagPromEncoder      = "prometheus-encoder"
	FlagExemplarFilter   = "telemetry-exemplar-filter"
)

// Flags are the telemetry command-line flags. A flag that is given wins over
// its OTEL_* variable; a flag left at its default does not, so the
// environment still applies. Values are validated as they are parsed, so a
// bad one makes pflag report the flag by name (and exit 2 with
// pflag.ExitOnError).
//
//	var tf telemetry.Flags
//	tf.BindFlags(pflag.CommandLine)
//	pflag.Parse()
//	tp, err := telemetry.New(ctx, tf.Options()...)
type Flags struct {
	// Registry validates exporter names; nil means DefaultExporterRegistry.
	// Set it before BindFlags.
	Registry *ExporterRegistry

	exporters   flagValue[string]
	interval    flagValue[time.Duration]
	cardinality flagValue[int]
	maxInFlight flagValue[int]
	endpoint    flagValue[string]
	protocol    flagValue[otlp.Protocol]
	insecure    flagValue[bool]
	headers     flagValue[map[string]string]
	timeout     flagValue[time.Duration]
	compression flagValue[otlp.Compression]
	temporality flagValue[otlp.Temporality]
	naming      flagValue[Naming]
	encoder     flagValue[prometheus.Encoder]
	exemplars   flagValue[ExemplarFilter]
}

// BindFlags registers the flags on fs.
func (f *Flags) BindFlags(fs *pflag.FlagSet) {
	reg := f.Registry
	if reg == nil {
		reg = DefaultExporterRegistry
	}
	exporters := func(src, s string) (string, error) {
		if _, err := parseExporters(src, s, reg); err != nil {
			return "", err
		}
		return s, nil
	}
	f.exporters.bind(fs, FlagExporters, DefaultExporters, "string", exporters,
		"Comma-separated metric exporters: prometheus, otlp, json, console, none, or a registered third-party name. Overrides "+EnvMetricsExporter+".")
	f.interval.bind(fs, FlagExportInterval, DefaultExportInterval.String(), "duration", parseDuration,
		"How often push exporters (otlp, console) export. Overrides "+EnvMetricExportInterval+".")
	f.cardinality.bind(fs, FlagCardinalityLimit, strconv.Itoa(DefaultCardinalityLimit), "int", parseLimit,
		"Maximum attribute sets per instrument; the excess folds into one series with otel.metric.overflow=true. 0 means no limit.")
	f.maxInFlight.bind(fs, FlagMaxInFlight, strconv.Itoa(DefaultMaxRequestsInFlight), "int", parseLimit,
		"Maximum concurrent requests to each of /metrics and /metrics.json; the excess gets 503 at once. Concurrent requests to one endpoint share one collection. 0 means no limit.")
	f.endpoint.bind(fs, FlagOTLPEndpoint, "", "string", parseEndpoint,
		"OTLP collector endpoint, host:port or http(s)://host:port[/path]. Default http://localhost:4317 (grpc) or http://localhost:4318 (http/protobuf), plaintext. Overrides "+EnvOTLPEndpoint+".")
	f.protocol.bind(fs, FlagOTLPProtocol, string(DefaultOTLPProtocol), "string", parseProtocol,
		"OTLP protocol: grpc or http/protobuf. Overrides "+EnvOTLPProtocol+".")
	f.insecure.bind(fs, FlagOTLPInsecure, "false", "bool", parseBool,
		"Send OTLP without TLS to a host:port endpoint (an http:// URL implies it). Overrides "+EnvOTLPInsecure+".")
	fs.Lookup(FlagOTLPInsecure).NoOptDefVal = "true"
	f.headers.bind(fs, FlagOTLPHeaders, "", "string", parseKeyValues,
		"Headers for every OTLP export, key=value pairs separated by commas, values percent-encoded. Overrides "+EnvOTLPHeaders+".")
	f.timeout.bind(fs, FlagOTLPTimeout, DefaultOTLPTimeout.String(), "duration", parseDuration,
		"Timeout of one OTLP export, retries included. Overrides "+EnvOTLPTimeout+".")
	f.naming.bind(fs, FlagMetricsNaming, string(NamingOTel), "string", parseNaming,
		"Names for optel's own metrics in Prometheus output: otel (optel_handler_invocations_total, ...) or controller-runtime (controller_runtime_reconcile_total, workqueue_depth, ...).")
	f.encoder.bind(fs, FlagPromEncoder, string(prometheus.EncoderOptel), "string", parseEncoder,
		"Prometheus scrape encoder: optel (renders straight from the collected data, shares concurrent scrapes) or stock (the OTel Prometheus exporter; exemplars and native histograms over protobuf).")
	f.exemplars.bind(fs, FlagExemplarFilter, string(ExemplarsOff), "string", parseExemplarFilter,
		"Which measurements may become exemplars: always_off, trace_based or always_on. Overrides "+EnvExemplarFilter+".")
	f.compression.bind(fs, FlagOTLPCompression, string(otlp.NoCompression), "string", parseCompression,
		"OTLP payload compression: gzip or none. Overrides "+EnvOTLPCompression+".")
	f.temporality.bind(fs, FlagOTLPTemporality, string(otlp.Cumulative), "string", parseTemporality,
		"OTLP temporality: cumulative (a failed export loses nothing), delta or lowmemory (a failed export loses its delta points, counted in optel.telemetry.export.dropped_points). Overrides "+EnvOTLPTemporality+".")
}

// Options returns one Option per flag that was given on the command line.
func (f *Flags) Options() []Option {
	var opts []Option
	if f.exporters.given {
		opts = append(opts, optionFunc(func(c *config) { c.exportersRaw, c.exporters.src = f.exporters.val, f.exporters.src() }))
	}
	opts = appendGiven(opts, &f.interval, func(c *config) *setting[time.Duration] { return &c.interval })
	opts = appendGiven(opts, &f.cardinality, func(c *config) *setting[int] { return &c.cardinality })
	opts = appendGiven(opts, &f.maxInFlight, func(c *config) *setting[int] { return &c.maxInFlight })
	opts = appendGiven(opts, &f.endpoint, func(c *config) *setting[string] { return &c.endpoint })
	opts = appendGiven(opts, &f.protocol, func(c *config) *setting[otlp.Protocol] { return &c.protocol })
	opts = appendGiven(opts, &f.insecure, func(c *config) *setting[bool] { return &c.insecure })
	opts = appendGiven(opts, &f.headers, func(c *config) *setting[map[string]string] { return &c.headers })
	opts = appendGiven(opts, &f.timeout, func(c *config) *setting[time.Duration] { return &c.timeout })
	opts = appendGiven(opts, &f.compression, func(c *config) *setting[otlp.Compression] { return &c.compression })
	opts = appendGiven(opts, &f.temporality, func(c *config) *setting[otlp.Temporality] { return &c.temporality })
	opts = appendGiven(opts, &f.naming, func(c *config) *setting[Naming] { return &c.naming })
	opts = appendGiven(opts, &f.encoder, func(c *config) *setting[prometheus.Encoder] { return &c.encoder })
	opts = appendGiven(opts, &f.exemplars, func(c *config) *setting[ExemplarFilter] { return &c.exemplars })
	return opts
}

func appendGiven[T any](opts []Option, v *flagValue[T], field func(*config) *setting[T]) []Option {
	if !v.given {
		return opts
	}
	return append(opts, optionFunc(func(c *config) { field(c).set(v.val, v.src()) }))
}

// flagValue is a pflag.Value that validates with the same parse function as
// the matching environment variable.
type flagValue[T any] struct {
	name  string
	raw   string
	typ   string
	val   T
	given bool
	parse func(src, s string) (T, error)
}

func (v *flagValue[T]) bind(fs *pflag.FlagSet, name, def, typ string, parse func(src, s string) (T, error), usage string) {
	v.name, v.raw, v.typ, v.parse = name, def, typ, parse
	fs.Var(v, name, usage)
}

func (v *flagValue[T]) src() string    { return "--" + v.name }
func (v *flagValue[T]) String() string { return v.raw }
func (v *flagValue[T]) Type() string   { return v.typ }

func (v *flagValue[T]) Set(s string) error {
	x, err := v.parse(v.src(), s)
	if err != nil {
		return err
	}
	v.val, v.raw, v.given = x, s, true
	return nil
}

// EnvVar documents one environment variable New reads.
type EnvVar struct {
	Name, Default, Description string
}

// Environment lists every variable New reads, for documentation; a test
// keeps docs/configuration.md in step with it.
var Environment = []EnvVar{
	{EnvMetricsExporter, DefaultExporters, "Comma-separated exporters (the spec allows a list; so does optel). --" + FlagExporters + " wins."},
	{EnvOTLPEndpoint, "http://localhost:4317 (grpc), http://localhost:4318 (http/protobuf)", "Collector endpoint. For http/protobuf, /v1/metrics is appended to its path."},
	{EnvOTLPMetricsEndpoint, "", "Metrics-only endpoint, used as is; wins over " + EnvOTLPEndpoint + "."},
	{EnvOTLPProtocol, string(DefaultOTLPProtocol), "grpc or http/protobuf (optel defaults to grpc, unlike contrib autoexport)."},
	{EnvOTLPMetricsProtocol, "", "Metrics-only protocol; wins over " + EnvOTLPProtocol + "."},
	{EnvOTLPHeaders, "", "key=value pairs, comma-separated, values percent-encoded."},
	{EnvOTLPMetricsHeaders, "", "Metrics-only headers; win over " + EnvOTLPHeaders + "."},
	{EnvOTLPTimeout, "10000", "Export timeout in milliseconds."},
	{EnvOTLPMetricsTimeout, "", "Metrics-only timeout; wins over " + EnvOTLPTimeout + "."},
	{EnvOTLPInsecure, "false", "Plaintext for a host:port endpoint."},
	{EnvOTLPMetricsInsecure, "", "Metrics-only; wins over " + EnvOTLPInsecure + "."},
	{EnvOTLPCompression, "none", "gzip or none."},
	{EnvOTLPTemporality, "cumulative", "cumulative, delta or lowmemory; with delta or lowmemory a failed export loses its delta points (counted in optel.telemetry.export.dropped_points). --otlp-temporality wins."},
	{EnvMetricExportInterval, "60000", "Push interval in milliseconds."},
	{EnvExemplarFilter, string(ExemplarsOff), "always_off, trace_based or always_on (optel defaults to always_off, unlike the SDK). --" + FlagExemplarFilter + " wins."},
	{EnvServiceName, "program name", "service.name resource attribute; wins over OTEL_RESOURCE_ATTRIBUTES and WithServiceName."},
	{EnvResourceAttributes, "", "Extra resource attributes, key=value pairs, comma-separated."},
	{EnvPodName, "", "Downward API: sets k8s.pod.name."},
	{EnvPodNamespace, "", "Downward API: sets k8s.namespace.name."},
}
