package setting

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The parse functions share one signature, func(src, s string) (T, error),
// so they fit Var.Parse; each returns an *Error naming src.

// ParseKeyValues parses the W3C-baggage-like "k1=v1,k2=v2" syntax of
// OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES; values are
// percent-decoded.
func ParseKeyValues(src, s string) (map[string]string, error) {
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
			return nil, &Error{Source: src, Value: s, Reason: "entry " + strconv.Quote(pair) + " is not key=value", Accepted: "comma-separated key=value pairs, values percent-encoded"}
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, &Error{Source: src, Value: s, Reason: "value of " + strconv.Quote(k) + " is not valid percent-encoding", Accepted: "comma-separated key=value pairs, values percent-encoded"}
		}
		out[k] = dv
	}
	return out, nil
}

// ParseDuration accepts a positive Go duration ("10s", "500ms"); zero and
// negative values are rejected.
func ParseDuration(src, s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, &Error{Source: src, Value: s, Reason: "not a duration", Accepted: "a positive Go duration such as 10s or 500ms"}
	}
	return checkPositive(src, s, d, "a positive Go duration such as 10s or 500ms")
}

// ParseMillis accepts the OTel environment form of a duration: a positive
// integer number of milliseconds.
func ParseMillis(src, s string) (time.Duration, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, &Error{Source: src, Value: s, Reason: "not an integer number of milliseconds", Accepted: "a positive integer (milliseconds), e.g. 60000"}
	}
	return checkPositive(src, s, time.Duration(n)*time.Millisecond, "a positive integer (milliseconds), e.g. 60000")
}

// Positive is a Var.Check for durations set in code: zero and negative
// ones are rejected.
func Positive(src string, d time.Duration) error {
	if d <= 0 {
		return &Error{Source: src, Value: d.String(), Reason: "must be greater than zero", Accepted: "a positive duration"}
	}
	return nil
}

func checkPositive(src, s string, d time.Duration, accepted string) (time.Duration, error) {
	if d <= 0 {
		return 0, &Error{Source: src, Value: s, Reason: "must be greater than zero", Accepted: accepted}
	}
	return d, nil
}

// ParseBool accepts what strconv.ParseBool does.
func ParseBool(src, s string) (bool, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return false, &Error{Source: src, Value: s, Reason: "not a boolean", Accepted: "true, false"}
	}
	return b, nil
}

// ParseLimit accepts 0 (no limit) or a positive integer.
func ParseLimit(src, s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, &Error{Source: src, Value: s, Reason: "not a non-negative integer", Accepted: "0 (no limit) or a positive integer"}
	}
	return n, nil
}

// OneOf returns a parse function accepting the listed values, matched after
// trimming space and, with fold, case-insensitively; reason says what kind
// of value was not recognised, e.g. "unknown compression".
func OneOf[T ~string](reason string, fold bool, values ...T) func(src, s string) (T, error) {
	accepted := make([]string, len(values))
	for i, v := range values {
		accepted[i] = string(v)
	}
	return func(src, s string) (T, error) {
		in := strings.TrimSpace(s)
		if fold {
			in = strings.ToLower(in)
		}
		for _, v := range values {
			if string(v) == in {
				return v, nil
			}
		}
		return "", &Error{Source: src, Value: s, Reason: reason, Accepted: strings.Join(accepted, ", ")}
	}
}
