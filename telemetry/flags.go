package telemetry

import (
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/optel-dev/optel/telemetry/setting"
)

// Flag names bound by Flags.BindFlags.
const (
	FlagExporters        = "telemetry-exporters"
	FlagExportInterval   = "telemetry-export-interval"
	FlagCardinalityLimit = "telemetry-cardinality-limit"
	FlagMaxInFlight      = "metrics-max-requests-in-flight"
	FlagMetricsNaming    = "metrics-naming"
	FlagExemplarFilter   = "telemetry-exemplar-filter"
	FlagTracesExporters  = "traces-exporters"
	FlagLogsExporters    = "logs-exporters"
)

// Flags are the telemetry command-line flags: telemetry's own, and those of
// every exporter registered in Registry when BindFlags runs (each
// ExporterConfig binds its own, e.g. --otlp-endpoint, and a third-party
// exporter's appear in --help the same way). A flag that is given wins over
// options and its OTEL_* variable; a flag left at its default does not, so
// the environment still applies. Values are validated as they are parsed,
// so a bad one makes pflag report the flag by name (and exit 2 with
// pflag.ExitOnError).
//
// Options hands New the exporter configs BindFlags bound; use a Flags for
// one New.
//
//	var tf telemetry.Flags
//	tf.BindFlags(pflag.CommandLine)
//	pflag.Parse()
//	tp, err := telemetry.New(ctx, tf.Options()...)
type Flags struct {
	// Registry validates exporter names and says whose flags to bind; nil
	// means DefaultExporterRegistry. Set it, and register third-party
	// exporters in it, before BindFlags.
	Registry *ExporterRegistry

	configs map[string]ExporterConfig

	exporters   flagValue[string]
	interval    flagValue[time.Duration]
	cardinality flagValue[int]
	maxInFlight flagValue[int]
	naming      flagValue[Naming]
	exemplars   flagValue[ExemplarFilter]
	traces      flagValue[string]
	logs        flagValue[string]
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
	f.naming.bind(fs, FlagMetricsNaming, string(NamingOTel), "string", parseNaming,
		"Names for optel's own metrics in Prometheus output: otel (optel_handler_invocations_total, ...) or controller-runtime (controller_runtime_reconcile_total, workqueue_depth, ...).")
	f.exemplars.bind(fs, FlagExemplarFilter, "", "string", parseExemplarFilter,
		"Which measurements may become exemplars: always_off, trace_based or always_on. Default trace_based when traces are exported, always_off when they are off. Overrides "+EnvExemplarFilter+".")
	signalList := func(signal Signal) func(src, s string) (string, error) {
		return func(src, s string) (string, error) {
			if _, err := parseSignalExporters(src, s, reg, signal); err != nil {
				return "", err
			}
			return s, nil
		}
	}
	f.traces.bind(fs, FlagTracesExporters, DefaultTracesExporters, "string", signalList(SignalTraces),
		"Comma-separated trace exporters: otlp, json (the in-memory view at /traces.json), console, none, or a registered third-party name. Overrides "+EnvTracesExporter+".")
	f.logs.bind(fs, FlagLogsExporters, DefaultLogsExporters, "string", signalList(SignalLogs),
		"Comma-separated log exporters besides stderr: otlp, console, none, or a registered third-party name. Overrides "+EnvLogsExporter+".")
	f.configs = map[string]ExporterConfig{}
	for _, name := range reg.Names() {
		if cf, ok := reg.configFactory(name); ok {
			ec := cf.NewExporterConfig()
			ec.BindFlags(fs)
			f.configs[name] = ec
		}
	}
}

// Options returns one Option per telemetry flag that was given on the
// command line, and one that hands New the exporter configs BindFlags
// bound (their flags were parsed into them).
func (f *Flags) Options() []Option {
	var opts []Option
	if f.exporters.given {
		opts = append(opts, optionFunc(func(c *config) { c.exportersRaw, c.exporters.src = f.exporters.val, f.exporters.src() }))
	}
	if f.traces.given {
		opts = append(opts, optionFunc(func(c *config) { c.tracesRaw, c.traces.src = f.traces.val, f.traces.src() }))
	}
	if f.logs.given {
		opts = append(opts, optionFunc(func(c *config) { c.logsRaw, c.logs.src = f.logs.val, f.logs.src() }))
	}
	opts = appendGiven(opts, &f.interval, func(c *config) *sourced[time.Duration] { return &c.interval })
	opts = appendGiven(opts, &f.cardinality, func(c *config) *sourced[int] { return &c.cardinality })
	opts = appendGiven(opts, &f.maxInFlight, func(c *config) *sourced[int] { return &c.maxInFlight })
	opts = appendGiven(opts, &f.naming, func(c *config) *sourced[Naming] { return &c.naming })
	opts = appendGiven(opts, &f.exemplars, func(c *config) *sourced[ExemplarFilter] { return &c.exemplars })
	if len(f.configs) > 0 {
		opts = append(opts, optionFunc(func(c *config) { c.bound = f.configs }))
	}
	return opts
}

func appendGiven[T any](opts []Option, v *flagValue[T], field func(*config) *sourced[T]) []Option {
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
type EnvVar = setting.EnvVar

// Environment lists the variables New itself reads, for documentation;
// ExporterRegistry.Environment adds the exporters' own. A test keeps
// docs/configuration.md in step with them.
var Environment = []EnvVar{
	{Name: EnvMetricsExporter, Default: DefaultExporters, Description: "Comma-separated exporters (the spec allows a list; so does optel). --" + FlagExporters + " wins."},
	{Name: EnvMetricExportInterval, Default: "60000", Description: "Push interval in milliseconds."},
	{Name: EnvExemplarFilter, Default: string(ExemplarsOff), Description: "always_off, trace_based or always_on. Default trace_based when spans are exported, as in the SDK, and always_off when traces are off (--traces-exporters=none). --" + FlagExemplarFilter + " wins."},
	{Name: EnvTracesExporter, Default: DefaultTracesExporters, Description: "Comma-separated trace exporters: otlp, json, console, none (optel defaults to json, the in-memory view, unlike the specification's otlp). --" + FlagTracesExporters + " wins."},
	{Name: EnvTracesSampler, Default: DefaultSampler, Description: acceptedSamplers + "."},
	{Name: EnvTracesSamplerArg, Default: "1", Description: "The ratio of the traceidratio samplers, from 0 to 1."},
	{Name: EnvBSPQueueSize, Default: "2048", Description: "Spans queued per trace exporter; the excess is dropped and counted (optel.telemetry.spans.dropped, reason queue_full)."},
	{Name: EnvBSPMaxExportBatch, Default: "512", Description: "Largest span export."},
	{Name: EnvBSPScheduleDelay, Default: "5000", Description: "Longest wait, in milliseconds, before queued spans are exported."},
	{Name: EnvBSPExportTimeout, Default: "30000", Description: "Timeout of one span export, in milliseconds."},
	{Name: EnvLogsExporter, Default: DefaultLogsExporters, Description: "Comma-separated log exporters besides stderr: otlp, console, none. --" + FlagLogsExporters + " wins."},
	{Name: EnvBLRPQueueSize, Default: "2048", Description: "Log records queued per log exporter; the excess is dropped and counted (optel.telemetry.logs.dropped)."},
	{Name: EnvBLRPMaxExportBatch, Default: "512", Description: "Largest log export."},
	{Name: EnvBLRPScheduleDelay, Default: "1000", Description: "Longest wait, in milliseconds, before queued records are exported."},
	{Name: EnvBLRPExportTimeout, Default: "30000", Description: "Timeout of one log export, in milliseconds."},
	{Name: EnvServiceName, Default: "program name", Description: "service.name resource attribute; wins over OTEL_RESOURCE_ATTRIBUTES and WithServiceName."},
	{Name: EnvResourceAttributes, Default: "", Description: "Extra resource attributes, key=value pairs, comma-separated."},
	{Name: EnvPodName, Default: "", Description: "Downward API: sets k8s.pod.name."},
	{Name: EnvPodNamespace, Default: "", Description: "Downward API: sets k8s.namespace.name."},
}
