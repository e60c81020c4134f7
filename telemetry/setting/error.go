package setting

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched by every *Error with errors.Is; telemetry re-exports
// it as telemetry.ErrInvalidConfig, so a main can exit with status 2 (the
// pflag convention) on any configuration error.
var ErrInvalid = errors.New("invalid telemetry configuration")

// Error names the setting that was wrong, where it came from, and what is
// accepted. It matches ErrInvalid with errors.Is.
type Error struct {
	// Source is the flag, environment variable or option that carried the
	// value, e.g. "--otlp-protocol" or "OTEL_EXPORTER_OTLP_PROTOCOL".
	Source string
	// Value is the rejected input.
	Value string
	// Reason says what is wrong with it.
	Reason string
	// Accepted says what would have been accepted.
	Accepted string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid value %q for %s: %s", e.Value, e.Source, e.Reason)
	if e.Accepted != "" {
		b.WriteString(" (accepted: ")
		b.WriteString(e.Accepted)
		b.WriteString(")")
	}
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }
