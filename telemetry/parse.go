package telemetry

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/optel-dev/optel/exporters/otlp"
	"github.com/optel-dev/optel/exporters/prometheus"
)

// The parse functions below are shared by flags, environment variables and
// options, so a value is judged the same way wherever it comes from. Each
// returns a *ConfigError naming src.

func parseExporters(src, s string, reg *ExporterRegistry) ([]string, error) {
	names := append(reg.Names(), ExporterNone)
	slices.Sort(names)
	accepted := strings.Join(names, ", ")
	var out []string
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		name := strings.ToLower(strings.TrimSpace(part))
		if name == "" {
			return nil, &ConfigError{Source: src, Value: s, Reason: "empty exporter name in list", Accepted: accepted}
		}
		if name != ExporterNone && !reg.Has(name) {
			return nil, &ConfigError{Source: src, Value: s, Reason: "unknown exporter " + strconv.Quote(name), Accepted: accepted}
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

func parseProtocol(src, s string) (otlp.Protocol, error) {
	switch p := otlp.Protocol(strings.ToLower(strings.TrimSpace(s))); p {
	case otlp.GRPC, otlp.HTTPProtobuf:
		return p, nil
	}
	return "", &ConfigError{Source: src, Value: s, Reason: "unknown OTLP protocol", Accepted: "grpc, http/protobuf"}
}

func parseEndpoint(src, s string) (string, error) {
	if _, err := otlp.ParseEndpoint(s); err != nil {
		return "", &ConfigError{Source: src, Value: s, Reason: err.Error(), Accepted: "host:port, http://host:port[/path] or https://host:port[/path]"}
	}
	return strings.TrimSpace(s), nil
}

// parseKeyValues parses the W3C-baggage-like "k1=v1,k2=v2" syntax used by
// OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES; values are
// percent-decoded.
func parseKeyValues(src, s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, &ConfigError{Source: src, Value: s, Reason: "entry " + strconv.Quote(pair) + " is not key=value", Accepted: "comma-separated key=value pairs, values percent-encoded"}
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, &ConfigError{Source: src, Value: s, Reason: "value of " + strconv.Quote(k) + " is not valid percent-encoding", Accepted: "comma-separated key=value pairs, values percent-encoded"}
		}
		out[k] = dv
	}
	return out, nil
}

// parseDuration accepts a positive Go duration ("10s", "500ms"); zero and
// negative values are rejected.
func parseDuration(src, s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, &ConfigError{Source: src, Value: s, Reason: "not a duration", Accepted: "a positive Go duration such as 10s or 500ms"}
	}
	return checkPositive(src, s, d, "a positive Go duration such as 10s or 500ms")
}

// parseMillis accepts the OTel environment form: an integer number of
// milliseconds.
func parseMillis(src, s string) (time.Duration, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, &ConfigError{Source: src, Value: s, Reason: "not an integer number of milliseconds", Accepted: "a positive integer (milliseconds), e.g. 60000"}
	}
	return checkPositive(src, s, time.Duration(n)*time.Millisecond, "a positive integer (milliseconds), e.g. 60000")
}

func checkPositive(src, s string, d time.Duration, accepted string) (time.Duration, error) {
	if d <= 0 {
		return 0, &ConfigError{Source: src, Value: s, Reason: "must be greater than zero", Accepted: accepted}
	}
	return d, nil
}

func parseBool(src, s string) (bool, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return false, &ConfigError{Source: src, Value: s, Reason: "not a boolean", Accepted: "true, false"}
	}
	return b, nil
}

func parseCompression(src, s string) (otlp.Compression, error) {
	switch c := otlp.Compression(strings.ToLower(strings.TrimSpace(s))); c {
	case otlp.Gzip, otlp.NoCompression:
		return c, nil
	}
	return "", &ConfigError{Source: src, Value: s, Reason: "unknown compression", Accepted: "gzip, none"}
}

func parseTemporality(src, s string) (otlp.Temporality, error) {
	t, err := otlp.ParseTemporality(s)
	if err != nil {
		return "", &ConfigError{Source: src, Value: s, Reason: "unknown temporality", Accepted: "cumulative, delta, lowmemory"}
	}
	return t, nil
}

func parseLimit(src, s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, &ConfigError{Source: src, Value: s, Reason: "not a non-negative integer", Accepted: "0 (no limit) or a positive integer"}
	}
	return n, nil
}

func parseResourceAttributes(src, s string) ([]attribute.KeyValue, error) {
	m, err := parseKeyValues(src, s)
	if err != nil {
		return nil, err
	}
	kvs := make([]attribute.KeyValue, 0, len(m))
	for k, v := range m {
		kvs = append(kvs, attribute.String(k, v))
	}
	return kvs, nil
}

func parseEncoder(src, s string) (prometheus.Encoder, error) {
	e, err := prometheus.ParseEncoder(s)
	if err != nil {
		return "", &ConfigError{Source: src, Value: s, Reason: "unknown Prometheus encoder", Accepted: "optel, stock"}
	}
	return e, nil
}

func parseExemplarFilter(src, s string) (ExemplarFilter, error) {
	switch f := ExemplarFilter(strings.ToLower(strings.TrimSpace(s))); f {
	case ExemplarsOff, ExemplarsTraceBased, ExemplarsOn:
		return f, nil
	}
	return "", &ConfigError{Source: src, Value: s, Reason: "unknown exemplar filter", Accepted: "always_off, trace_based, always_on"}
}
