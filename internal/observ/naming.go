package observ

import "github.com/optel-dev/optel/exporters/prometheus"

// crResult maps optel outcomes to controller-runtime's result label. Every
// failure is "error" there; permanent errors and panics are also counted in
// their own controller-runtime families.
var crResult = map[string]string{
	"success":         "success",
	"temporary_error": "error",
	"permanent_error": "error",
	"panic":           "error",
	"timeout":         "error",
}

var failed = []string{"temporary_error", "permanent_error", "panic", "timeout"}

// ControllerRuntimeNaming renders optel's own families under
// controller-runtime's Prometheus names and labels, so dashboards and alerts
// written for controller-runtime operators keep working
// (--metrics-naming=controller-runtime; docs/metrics.md has the table).
// Families it does not name pass through unchanged.
var ControllerRuntimeNaming = prometheus.FamilyMappings{
	{From: promName(HandlerInvocations), To: "controller_runtime_reconcile_total", Help: "Total number of reconciliations per controller.",
		Labels: map[string]string{string(AttrResource): "controller", string(AttrOutcome): "result"}, Values: map[string]map[string]string{string(AttrOutcome): crResult}},
	{From: promName(HandlerInvocations), To: "controller_runtime_reconcile_errors_total", Help: "Total number of reconciliation errors per controller.",
		Labels: map[string]string{string(AttrResource): "controller"}, Only: map[string][]string{string(AttrOutcome): failed}},
	{From: promName(HandlerInvocations), To: "controller_runtime_terminal_reconcile_errors_total", Help: "Total number of terminal reconciliation errors per controller.",
		Labels: map[string]string{string(AttrResource): "controller"}, Only: map[string][]string{string(AttrOutcome): {"permanent_error"}}},
	{From: promName(HandlerInvocations), To: "controller_runtime_reconcile_panics_total", Help: "Total number of reconciliation panics per controller.",
		Labels: map[string]string{string(AttrResource): "controller"}, Only: map[string][]string{string(AttrOutcome): {"panic"}}},
	{From: promName(HandlerDuration), To: "controller_runtime_reconcile_time_seconds", Help: "Length of time per reconciliation per controller.",
		Labels: map[string]string{string(AttrResource): "controller"}},
	{From: promName(QueueDepth), To: "workqueue_depth", Help: "Current depth of workqueue.",
		Labels: map[string]string{string(AttrResource): "name"}},
	{From: promName(WorkersActive), To: "controller_runtime_active_workers", Help: "Number of currently used workers per controller.",
		Labels: map[string]string{string(AttrResource): "controller"}},
	{From: promName(QueueAdds), To: "workqueue_adds_total", Help: "Total number of adds handled by workqueue.",
		Labels: map[string]string{string(AttrResource): "name"}},
	{From: promName(QueueWait), To: "workqueue_queue_duration_seconds", Help: "How long in seconds an item stays in workqueue before being requested.",
		Labels: map[string]string{string(AttrResource): "name"}},
	{From: promName(HandlerRetries), To: "workqueue_retries_total", Help: "Total number of retries handled by workqueue.",
		Labels: map[string]string{string(AttrResource): "name"}},
	{From: promName(APIRequests), To: "rest_client_requests_total", Help: "Number of HTTP requests, partitioned by status code, method, and host.",
		Labels: map[string]string{string(AttrCode): "code", string(AttrVerb): "method"}},
	{From: promName(Leader), To: "leader_election_master_status", Help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master."},
}

func promName(instrument string) string { return spec(instrument).PrometheusName() }
