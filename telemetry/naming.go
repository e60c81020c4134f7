package telemetry

import (
	"strings"

	"github.com/optel-dev/optel/exporters/prometheus"
	"github.com/optel-dev/optel/internal/observ"
)

// Naming selects the names the Prometheus exporter renders optel's own
// metrics under. The exporter knows no metric names: a profile other than
// NamingOTel is a prometheus.FamilyTransform that telemetry hands it.
type Naming string

// Naming profiles.
const (
	// NamingOTel renders OTel-style names (optel_handler_invocations_total).
	NamingOTel Naming = "otel"
	// NamingControllerRuntime renders the same data under controller-runtime's
	// Prometheus names and labels, so dashboards and alerts written for
	// controller-runtime operators keep working. See docs/metrics.md for the
	// mapping.
	NamingControllerRuntime Naming = "controller-runtime"
)

// transform returns the family transform of the profile; nil for NamingOTel.
func (n Naming) transform() prometheus.FamilyTransform {
	if n == NamingControllerRuntime {
		return observ.ControllerRuntimeNaming
	}
	return nil
}

func parseNaming(src, s string) (Naming, error) {
	switch n := Naming(strings.TrimSpace(s)); n {
	case NamingOTel, NamingControllerRuntime:
		return n, nil
	}
	return "", &ConfigError{Source: src, Value: s, Reason: "unknown metrics naming profile", Accepted: "otel, controller-runtime"}
}
