package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/optel-dev/optel/internal/observ"
	"github.com/optel-dev/optel/internal/testpeers"
)

var binary string

func TestMain(m *testing.M) {
	bin, cleanup, err := testpeers.BuildBinary("standalone")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// demo is a running standalone process.
type demo struct {
	addr   string
	cmd    *exec.Cmd
	stdout *testpeers.SyncBuffer
	stderr *testpeers.SyncBuffer
	done   chan error
}

func startDemo(t *testing.T, env []string, args ...string) *demo {
	t.Helper()
	addr := testpeers.FreeAddr(t)
	d := &demo{addr: addr, stdout: &testpeers.SyncBuffer{}, stderr: &testpeers.SyncBuffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(binary, append([]string{"--metrics-bind-address=" + addr, "--demo-tick=50ms"}, args...)...)
	d.cmd.Env = append(cleanEnv(), env...)
	d.cmd.Stdout, d.cmd.Stderr = d.stdout, d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() { d.stop(t) })
	testpeers.Eventually(t, 20*time.Second, func() string {
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("demo exited early: %v\n%s", err, d.stderr)
		default:
		}
		if !strings.Contains(d.stdout.String(), "exporters:") {
			return "demo not started yet"
		}
		return ""
	})
	return d
}

// stop sends SIGTERM and expects a clean exit 0.
func (d *demo) stop(t *testing.T) {
	if d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("demo did not exit cleanly on SIGTERM: %v\n%s", err, d.stderr)
		}
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		t.Error("demo ignored SIGTERM")
	}
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	return env
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestRealPrometheusScrapesStandalone(t *testing.T) {
	d := startDemo(t, nil)
	p := testpeers.StartPrometheus(t, d.addr)
	p.WaitTargetsUp(t)
	for _, q := range []string{
		`demo_requests_total{route="/a"}`,
		`demo_latency_seconds_bucket{le="0.25"}`,
		`demo_latency_seconds_count`,
		`demo_backlog`,    // sync gauge refreshed by an OnCollect hook
		`demo_goroutines`, // async gauge
		`demo_legacy_events_total`,
		`optel_telemetry_export_failures_total{exporter="prometheus"}`,
		`target_info{service_name="optel-standalone"}`,
	} {
		p.WaitQuery(t, q)
	}
	// Scrape ourselves too (after a probe run, so probe metrics exist) and lint.
	if code, _, _ := get(t, "http://"+d.addr+"/healthz"); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	p.WaitQuery(t, `optel_probe_status{probe="demo",kind="liveness"} == 1`)
	_, text, _ := get(t, "http://"+d.addr+"/metrics")
	if out, ok := testpeers.Promtool(t, []byte(text)); !ok {
		t.Fatalf("promtool check metrics failed:\n%s", out)
	}
	// Every telemetry and probe instrument optel documents shows up under its
	// documented name (the operator's are checked by examples/widgets).
	for _, s := range observ.Catalog {
		if !strings.HasPrefix(s.Name, "optel.telemetry.") && !strings.HasPrefix(s.Name, "optel.probe.") {
			continue
		}
		// Log exporters are off here (the default); examples/widgets'
		// TestAllSignalsReachRealCollector turns them on and checks these.
		if strings.HasPrefix(s.Name, "optel.telemetry.logs.") {
			continue
		}
		if !strings.Contains(text, "# TYPE "+s.PrometheusName()+" ") {
			t.Errorf("documented metric %s (%s) missing from the scrape", s.PrometheusName(), s.Name)
		}
	}
}

func TestOpenMetricsNegotiationAndGzip(t *testing.T) {
	d := startDemo(t, nil)
	req, _ := http.NewRequest("GET", "http://"+d.addr+"/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
	req.Header.Set("Accept-Encoding", "gzip")
	tr := &http.Transport{DisableCompression: true}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tr.CloseIdleConnections()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("Content-Type = %q, want OpenMetrics", ct)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
		t.Errorf("Content-Encoding = %q, want gzip", ce)
	}
}

func TestJSONAndHealthEndpoints(t *testing.T) {
	d := startDemo(t, nil)
	testpeers.Eventually(t, 10*time.Second, func() string {
		_, body, _ := get(t, "http://"+d.addr+"/metrics.json")
		if !strings.Contains(body, `"demo.requests"`) {
			return "no demo.requests yet"
		}
		return ""
	})
	code, body, h := get(t, "http://"+d.addr+"/metrics.json")
	if code != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("/metrics.json = %d %s", code, h.Get("Content-Type"))
	}
	var snap struct {
		Resource map[string]any `json:"resource"`
		Scopes   []struct {
			Name    string `json:"name"`
			Metrics []struct {
				Name, Unit, Kind string
				Points           []map[string]any `json:"points"`
			} `json:"metrics"`
		} `json:"scopes"`
	}
	if err := json.Unmarshal([]byte(body), &snap); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	kinds := map[string]string{}
	for _, s := range snap.Scopes {
		for _, m := range s.Metrics {
			kinds[m.Name] = m.Kind
		}
	}
	for name, kind := range map[string]string{"demo.requests": "sum", "demo.latency": "histogram", "demo.backlog": "gauge", "demo_legacy_events_total": "sum"} {
		if kinds[name] != kind {
			t.Errorf("%s kind = %q, want %q (all: %v)", name, kinds[name], kind, kinds)
		}
	}
	if snap.Resource["service.name"] != "optel-standalone" {
		t.Errorf("resource = %v", snap.Resource)
	}

	code, body, _ = get(t, "http://"+d.addr+"/healthz")
	var rep struct {
		Status string                    `json:"status"`
		Checks map[string]map[string]any `json:"checks"`
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil || code != 200 || rep.Status != "ok" {
		t.Fatalf("/healthz = %d %s (%v)", code, body, err)
	}
	if c := rep.Checks["demo"]; c["status"] != "ok" || c["value"] == nil || c["duration_seconds"] == nil || c["age_seconds"] == nil {
		t.Errorf("demo check = %v", c)
	}
	_, body, _ = get(t, "http://"+d.addr+"/healthz?format=kopf")
	var flat map[string]map[string]any
	if err := json.Unmarshal([]byte(body), &flat); err != nil || flat["demo"]["ticks"] == nil {
		t.Errorf("kopf body = %s (%v)", body, err)
	}
	if code, _, _ := get(t, "http://"+d.addr+"/readyz"); code != 200 {
		t.Errorf("/readyz with no readiness probes = %d, want 200", code)
	}
}

func TestAllExportersAtOnceAndEnvSelection(t *testing.T) {
	col := testpeers.StartCollector(t)

	t.Run("flag runs prometheus, otlp and json together", func(t *testing.T) {
		d := startDemo(t, nil, "--telemetry-exporters=prometheus,otlp,json", "--otlp-endpoint="+col.GRPCEndpoint, "--telemetry-export-interval=200ms")
		if !strings.Contains(d.stdout.String(), "exporters: [prometheus otlp json]") {
			t.Fatalf("stdout: %s", d.stdout)
		}
		waitSinkHas(t, col, "demo.requests", "demo.latency", "demo.backlog", "demo_legacy_events_total")
		if code, _, _ := get(t, "http://"+d.addr+"/metrics"); code != 200 {
			t.Errorf("/metrics = %d", code)
		}
		if code, _, _ := get(t, "http://"+d.addr+"/metrics.json"); code != 200 {
			t.Errorf("/metrics.json = %d", code)
		}
	})

	t.Run("OTEL_METRICS_EXPORTER=otlp alone over http", func(t *testing.T) {
		d := startDemo(t, []string{
			"OTEL_METRICS_EXPORTER=otlp",
			"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
			"OTEL_EXPORTER_OTLP_ENDPOINT=" + col.HTTPEndpoint,
			"OTEL_METRIC_EXPORT_INTERVAL=200",
			"OTEL_SERVICE_NAME=env-named",
		})
		if !strings.Contains(d.stdout.String(), "exporters: [otlp]") {
			t.Fatalf("stdout: %s", d.stdout)
		}
		testpeers.Eventually(t, 20*time.Second, func() string {
			if col.Sink.Resource()["service.name"] != "env-named" {
				return "no export from the env-configured demo yet"
			}
			return ""
		})
		if code, _, _ := get(t, "http://"+d.addr+"/metrics"); code != 404 {
			t.Errorf("/metrics = %d with only otlp selected, want 404", code)
		}
	})

	t.Run("flag beats env", func(t *testing.T) {
		d := startDemo(t, []string{"OTEL_METRICS_EXPORTER=otlp"}, "--telemetry-exporters=prometheus")
		if !strings.Contains(d.stdout.String(), "exporters: [prometheus]") {
			t.Fatalf("stdout: %s", d.stdout)
		}
	})
}

func waitSinkHas(t *testing.T, col *testpeers.Collector, names ...string) {
	t.Helper()
	testpeers.Eventually(t, 20*time.Second, func() string {
		have := map[string]bool{}
		for _, n := range col.Sink.Names() {
			have[n] = true
		}
		for _, n := range names {
			if !have[n] {
				return fmt.Sprintf("collector has not forwarded %s (has %v)", n, col.Sink.Names())
			}
		}
		return ""
	})
}

// TestBadInputExitsTwo runs the binary with each bad input and checks the
// exit status and that stderr names the culprit and what is accepted.
func TestBadInputExitsTwo(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"unknown exporter", nil, []string{"--telemetry-exporters=prometheus,graphite"}, []string{"--telemetry-exporters", "graphite", "accepted: console, json, none, otlp, prometheus"}},
		{"malformed endpoint", nil, []string{"--otlp-endpoint=http//collector"}, []string{"--otlp-endpoint", "accepted"}},
		{"bad duration", nil, []string{"--telemetry-export-interval=fast"}, []string{"--telemetry-export-interval", "accepted"}},
		{"negative interval", nil, []string{"--telemetry-export-interval=-10s"}, []string{"--telemetry-export-interval", "greater than zero"}},
		{"bad header syntax", nil, []string{"--otlp-headers=api-key"}, []string{"--otlp-headers", "key=value"}},
		{"bad protocol", nil, []string{"--otlp-protocol=thrift"}, []string{"--otlp-protocol", "grpc, http/protobuf"}},
		{"env exporter", []string{"OTEL_METRICS_EXPORTER=statsd"}, nil, []string{"OTEL_METRICS_EXPORTER", "statsd", "accepted"}},
		{"env negative interval", []string{"OTEL_METRIC_EXPORT_INTERVAL=-1"}, nil, []string{"OTEL_METRIC_EXPORT_INTERVAL", "accepted"}},
		{"env endpoint", []string{"OTEL_EXPORTER_OTLP_ENDPOINT=collector"}, nil, []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "accepted"}},
		{"env headers", []string{"OTEL_EXPORTER_OTLP_HEADERS=a"}, nil, []string{"OTEL_EXPORTER_OTLP_HEADERS", "key=value"}},
		{"env temporality", []string{"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=weekly"}, nil, []string{"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "cumulative, delta, lowmemory"}},
		{"bad temporality flag", nil, []string{"--otlp-temporality=weekly"}, []string{"--otlp-temporality", "cumulative, delta, lowmemory"}},
		{"unknown trace exporter", nil, []string{"--traces-exporters=zipkin"}, []string{"--traces-exporters", "zipkin", "accepted: console, json, none, otlp"}},
		{"metrics-only exporter for traces", []string{"OTEL_TRACES_EXPORTER=prometheus"}, nil, []string{"OTEL_TRACES_EXPORTER", `"prometheus" does not export traces`, "accepted"}},
		{"env logs exporter", []string{"OTEL_LOGS_EXPORTER=json"}, nil, []string{"OTEL_LOGS_EXPORTER", `"json" does not export logs`, "accepted: console, none, otlp"}},
		{"env sampler", []string{"OTEL_TRACES_SAMPLER=sometimes"}, nil, []string{"OTEL_TRACES_SAMPLER", "sometimes", "parentbased_always_on"}},
		{"env sampler ratio", []string{"OTEL_TRACES_SAMPLER=traceidratio", "OTEL_TRACES_SAMPLER_ARG=half"}, nil, []string{"OTEL_TRACES_SAMPLER_ARG", "from 0 to 1"}},
		{"env traces endpoint", []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=collector"}, nil, []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "accepted"}},
		{"bind address", nil, []string{"--metrics-bind-address=nowhere"}, []string{"--metrics-bind-address", "accepted"}},
		{"unknown flag", nil, []string{"--metrics-bind-adress=:1"}, []string{"unknown flag"}},
		// TLS without authentication would serve /metrics to anyone: refused.
		{"secure without authorizer", nil, []string{"--metrics-secure", "--metrics-bind-address=127.0.0.1:0"}, []string{"--metrics-secure needs an authorizer", "MetricsFilter", "NewKubeAuth"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A regression that starts serving instead of exiting fails
			// after 30 s instead of hanging the suite.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, tc.args...)
			cmd.Env = append(cleanEnv(), tc.env...)
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 {
				t.Fatalf("exit = %v, want status 2\n%s", err, out)
			}
			first := firstLine(string(out))
			for _, w := range tc.want {
				if !strings.Contains(first, w) {
					t.Errorf("first line %q should contain %q", first, w)
				}
			}
		})
	}
}

func firstLine(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	if sc.Scan() {
		return sc.Text()
	}
	return ""
}
