package telemetry

import (
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"

	"github.com/optel-dev/optel/telemetry/setting"
)

var (
	parseDuration = setting.ParseDuration
	parseMillis   = setting.ParseMillis
	parseLimit    = setting.ParseLimit
)

// The parse functions below (and those of package setting) are shared by
// flags, environment variables and options, so a value is judged the same way wherever it comes from. Each
// returns a *ConfigError naming src.

func parseExporters(src, s string, reg *ExporterRegistry) ([]string, error) {
	return parseSignalExporters(src, s, reg, SignalMetrics)
}

// parseSignalExporters parses a comma-separated list of the exporters
// registered for signal.
func parseSignalExporters(src, s string, reg *ExporterRegistry, signal Signal) ([]string, error) {
	names := append(reg.NamesFor(signal), ExporterNone)
	slices.Sort(names)
	accepted := strings.Join(names, ", ")
	var out []string
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		name := strings.ToLower(strings.TrimSpace(part))
		if name == "" {
			return nil, &ConfigError{Source: src, Value: s, Reason: "empty exporter name in list", Accepted: accepted}
		}
		if name != ExporterNone && !reg.Supports(name, signal) {
			reason := "unknown exporter " + strconv.Quote(name)
			if reg.Has(name) {
				reason = "exporter " + strconv.Quote(name) + " does not export " + string(signal)
			}
			return nil, &ConfigError{Source: src, Value: s, Reason: reason, Accepted: accepted}
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	if seen[ExporterNone] && len(out) > 1 {
		return nil, &ConfigError{Source: src, Value: s, Reason: `"none" cannot be combined with other exporters`, Accepted: accepted}
	}
	if seen[ExporterNone] {
		return []string{}, nil
	}
	return out, nil
}

func parseResourceAttributes(src, s string) ([]attribute.KeyValue, error) {
	m, err := setting.ParseKeyValues(src, s)
	if err != nil {
		return nil, err
	}
	kvs := make([]attribute.KeyValue, 0, len(m))
	for k, v := range m {
		kvs = append(kvs, attribute.String(k, v))
	}
	return kvs, nil
}

func parseExemplarFilter(src, s string) (ExemplarFilter, error) {
	switch f := ExemplarFilter(strings.ToLower(strings.TrimSpace(s))); f {
	case ExemplarsOff, ExemplarsTraceBased, ExemplarsOn:
		return f, nil
	}
	return "", &ConfigError{Source: src, Value: s, Reason: "unknown exemplar filter", Accepted: "always_off, trace_based, always_on"}
}
