package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/optel-dev/optel/controlplane"
	"github.com/optel-dev/optel/internal/testpeers"
)

// upstreamTrace is the trace of the traceparent a Widget is created with,
// as another operator (or kubectl with KEP-5915 support) would stamp it.
const (
	upstreamTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	upstreamSpan  = "00f067aa0ba902b7"
)

// TestAllSignalsReachRealCollector runs the widgets operator against a
// real API server with traces, logs and metrics pushed over OTLP to a real
// Collector, creates Widgets, and reads back what the Collector forwarded:
// for one Widget's creation, the handler span with its attributes, its
// child PATCH span, the log records with its trace id, and the metrics;
// for a Widget created with a traceparent annotation, a handler span in a
// new trace that links to it.
func TestAllSignalsReachRealCollector(t *testing.T) {
	cp := controlplane.StartForTest(t, controlplane.Options{})
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := cp.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	col := testpeers.StartCollector(t)
	addr, _ := startWidgets(t, []string{
		"KUBECONFIG=" + kc,
		"OTEL_TRACES_EXPORTER=otlp",
		"OTEL_LOGS_EXPORTER=otlp",
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + col.GRPCEndpoint,
		"OTEL_METRIC_EXPORT_INTERVAL=500",
		"OTEL_BSP_SCHEDULE_DELAY=200",
		"OTEL_BLRP_SCHEDULE_DELAY=200",
	}, "--demo-create", "--demo-widgets=0", "--telemetry-exporters=prometheus,otlp")

	ri := dynamic.NewForConfigOrDie(cp.Config()).Resource(widgets).Namespace("default")
	testpeers.Eventually(t, 60*time.Second, func() string {
		// The CRD is applied by the operator at start.
		_, err := ri.List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return "widgets not served yet: " + err.Error()
		}
		return ""
	})
	create := func(name string, annotations map[string]any) {
		meta := map[string]any{"name": name}
		if annotations != nil {
			meta["annotations"] = annotations
		}
		w := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta, "spec": map[string]any{"size": int64(2)}}}
		if _, err := ri.Create(context.Background(), w, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create("plain", nil)
	create("linked", map[string]any{"tracing.k8s.io/traceparent": "00-" + upstreamTrace + "-" + upstreamSpan + "-01"})

	var run testpeers.SinkSpan
	testpeers.Eventually(t, 60*time.Second, func() string {
		for _, s := range col.Sink.Spans() {
			if s.Name == "create widgets.example.com" && s.Attrs["optel.object.name"] == "plain" && s.Attrs["optel.outcome"] == "success" {
				run = s
				return ""
			}
		}
		return fmt.Sprintf("no successful create span for Widget plain among %d spans", len(col.Sink.Spans()))
	})
	for k, want := range map[string]string{
		"optel.resource": "widgets.example.com", "optel.handler": "provision", "optel.cause": "create",
		"k8s.namespace.name": "default", "optel.retry": "0", "optel.object.generation": "1",
	} {
		if run.Attrs[k] != want {
			t.Errorf("handler span %s = %q, want %q (attributes %v)", k, run.Attrs[k], want, run.Attrs)
		}
	}
	for _, k := range []string{"optel.object.uid", "optel.object.resource_version", "optel.queue.wait"} {
		if run.Attrs[k] == "" {
			t.Errorf("handler span lacks %s (attributes %v)", k, run.Attrs)
		}
	}
	if run.ParentSpanID != "" || run.Resource["service.name"] != "widgets-operator" {
		t.Errorf("handler span parent %q, service.name %q", run.ParentSpanID, run.Resource["service.name"])
	}

	// The handler's status PATCH is a child span with HTTP attributes.
	testpeers.Eventually(t, 30*time.Second, func() string {
		for _, s := range col.Sink.Spans() {
			if s.TraceID == run.TraceID && s.ParentSpanID == run.SpanID && s.Name == "PATCH widgets/status" {
				if s.Attrs["http.request.method"] != "PATCH" || s.Attrs["http.response.status_code"] != "200" || s.Kind != "SPAN_KIND_CLIENT" {
					return fmt.Sprintf("PATCH span attributes %v kind %s", s.Attrs, s.Kind)
				}
				return ""
			}
		}
		return "no child PATCH span of the handler span"
	})

	// optel's own annotation writes happen outside any run: no span.
	for _, s := range col.Sink.Spans() {
		if s.Name == "PATCH widgets" {
			t.Errorf("a span for a PATCH of the widget itself (optel's annotation write, outside any run): %+v", s)
			break
		}
	}

	// Log records written in the run carry its trace and span.
	testpeers.Eventually(t, 30*time.Second, func() string {
		for _, l := range col.Sink.Logs() {
			if l.Body == "provisioning widget" && l.TraceID == run.TraceID && l.SpanID == run.SpanID {
				return ""
			}
		}
		var bodies []string
		for _, l := range col.Sink.Logs() {
			bodies = append(bodies, l.Body+"@"+l.TraceID)
		}
		return fmt.Sprintf("no log record with the run's trace id %s; got %v", run.TraceID, bodies)
	})

	// The metrics, as before.
	testpeers.Eventually(t, 30*time.Second, func() string {
		v, ok := col.Sink.Value("optel.handler.invocations", map[string]string{"resource": "widgets.example.com", "handler": "provision", "cause": "create", "outcome": "success"})
		if !ok || v < 2 {
			return fmt.Sprintf("optel.handler.invocations{provision,create,success} = %v (present %v), want 2; names %v", v, ok, col.Sink.Names())
		}
		return ""
	})

	// The Widget created with a traceparent: a new trace, linked to it.
	testpeers.Eventually(t, 30*time.Second, func() string {
		for _, s := range col.Sink.Spans() {
			if s.Name != "create widgets.example.com" || s.Attrs["optel.object.name"] != "linked" {
				continue
			}
			if s.TraceID == upstreamTrace {
				return "the linked Widget's handler span is a child of the annotation's trace; it must start a new one"
			}
			for _, l := range s.Links {
				if l.TraceID == upstreamTrace && l.SpanID == upstreamSpan {
					return ""
				}
			}
			return fmt.Sprintf("the linked Widget's handler span has links %v, want one to %s", s.Links, upstreamTrace)
		}
		return "no create span for Widget linked"
	})
	// Daemon and Background starts are short spans of their own.
	testpeers.Eventually(t, 30*time.Second, func() string {
		var daemon, activity bool
		for _, s := range col.Sink.Spans() {
			daemon = daemon || (s.Name == "daemon widgets.example.com" && s.Attrs["optel.handler"] == "connection" && s.Attrs["optel.daemon.attempt"] == "0")
			activity = activity || (s.Name == "activity reporter" && s.Attrs["optel.handler"] == "reporter")
		}
		if !daemon || !activity {
			return fmt.Sprintf("daemon start span %v, reporter activity span %v", daemon, activity)
		}
		return ""
	})
	if strings.Contains(run.TraceID, "0000000000000000") {
		t.Errorf("implausible trace id %s", run.TraceID)
	}

	// Exemplars: an OpenMetrics scrape carries trace ids on the handler
	// duration buckets; Prometheus's OpenMetrics parser accepts the body;
	// a real Prometheus with exemplar storage returns a trace id that the
	// Collector also received as a span.
	body := scrapeOpenMetrics(t, addr)
	var exemplarTraces []string
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, "optel_handler_duration_seconds_bucket{") || !strings.Contains(line, `handler="provision"`) {
			continue
		}
		if m := traceIDRe.FindStringSubmatch(line); m != nil {
			exemplarTraces = append(exemplarTraces, m[1])
		}
	}
	if len(exemplarTraces) == 0 {
		t.Fatalf("no exemplar with a trace_id on optel_handler_duration_seconds_bucket{handler=\"provision\"} in the OpenMetrics scrape")
	}
	if out, ok := testpeers.PromtoolOpenMetrics(t, []byte(body)); !ok {
		t.Errorf("Prometheus's OpenMetrics parser (promtool tsdb create-blocks-from openmetrics) rejects the scrape:\n%s", out)
	}
	text := scrape(t, addr)
	for _, name := range []string{"optel_telemetry_logs_dropped_total", "optel_telemetry_logs_export_failures_total", "optel_telemetry_spans_dropped_total", "optel_telemetry_spans_export_failures_total"} {
		if !strings.Contains(text, "# TYPE "+name+" ") {
			t.Errorf("%s missing from the scrape with traces and logs exported", name)
		}
	}
	if out, ok := testpeers.Promtool(t, []byte(text)); !ok {
		t.Errorf("promtool check metrics rejects the text-format scrape:\n%s", out)
	}
	spanTraces := map[string]bool{}
	for _, s := range col.Sink.Spans() {
		spanTraces[s.TraceID] = true
	}
	if !slices.ContainsFunc(exemplarTraces, func(id string) bool { return spanTraces[id] }) {
		t.Errorf("exemplar trace ids %v: none is a trace the Collector received", exemplarTraces)
	}
	// OTLP carries them too: the Collector forwarded exemplars of
	// optel.handler.duration whose trace ids are spans it received.
	testpeers.Eventually(t, 30*time.Second, func() string {
		got := col.Sink.ExemplarTraces("optel.handler.duration")
		for _, id := range got {
			if spanTraces[id] {
				return ""
			}
		}
		return fmt.Sprintf("OTLP exemplar trace ids on optel.handler.duration %v: none of a span the Collector received", got)
	})
	prom := testpeers.StartPrometheusWithFeatures(t, []string{"exemplar-storage"}, addr)
	prom.WaitTargetsUp(t)
	from := time.Now().Add(-10 * time.Minute)
	testpeers.Eventually(t, 60*time.Second, func() string {
		got := prom.QueryExemplars(t, `optel_handler_duration_seconds_bucket{handler="provision"}`, from, time.Now().Add(time.Minute))
		var ids []string
		for _, series := range got {
			for _, e := range series.Exemplars {
				if spanTraces[e.Labels["trace_id"]] {
					return ""
				}
				ids = append(ids, e.Labels["trace_id"])
			}
		}
		return fmt.Sprintf("Prometheus returned exemplar trace ids %v, none of a span the Collector received", ids)
	})
}

var traceIDRe = regexp.MustCompile(`# \{[^}]*trace_id="([0-9a-f]{32})"`)

// scrapeOpenMetrics scrapes /metrics asking for OpenMetrics, as
// Prometheus does.
func scrapeOpenMetrics(t *testing.T, addr string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Fatalf("Content-Type %q, want OpenMetrics", ct)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
