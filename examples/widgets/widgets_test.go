package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/optel-dev/optel/controlplane"
	"github.com/optel-dev/optel/internal/observ"
	"github.com/optel-dev/optel/internal/testpeers"
)

var binary string

func TestMain(m *testing.M) {
	bin, cleanup, err := testpeers.BuildBinary("widgets")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// startWidgets runs the demo binary and stops it with SIGTERM at cleanup,
// expecting exit status 0.
func startWidgets(t *testing.T, env []string, args ...string) (addr string, out *testpeers.SyncBuffer) {
	t.Helper()
	addr = testpeers.FreeAddr(t)
	out = &testpeers.SyncBuffer{}
	cmd := exec.Command(binary, append([]string{"--metrics-bind-address=" + addr, "--timer-interval=200ms"}, args...)...)
	cmd.Env = append(withoutKubeconfig(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("widgets did not exit cleanly: %v\n%s", err, out)
			}
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("widgets ignored SIGTERM\n%s", out)
		}
	})
	return addr, out
}

func withoutKubeconfig() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBECONFIG=") && !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	return env
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestRealPrometheusScrapesWidgetsOperator runs the demo against a real API
// server from KUBECONFIG and checks, through a real Prometheus, that every
// kind of handler ran and is visible.
func TestRealPrometheusScrapesWidgetsOperator(t *testing.T) {
	cp := controlplane.StartForTest(t, controlplane.Options{})
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := cp.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	addr, out := startWidgets(t, []string{"KUBECONFIG=" + kc}, "--demo-create", "--demo-widgets=3")
	prom := testpeers.StartPrometheus(t, addr)
	prom.WaitTargetsUp(t)
	for _, q := range []string{
		`optel_handler_invocations_total{resource="widgets.example.com",handler="provision",cause="create",outcome="success"} == 3`,
		`optel_handler_invocations_total{handler="provision",outcome="panic"} == 0`,
		`widgets_created_total == 3`,
		`widgets_connections == 3`,
		`optel_daemons_running{daemon="widgets.example.com/connection"} == 3`,
		`optel_daemons_running{daemon="reporter"} == 1`,
		`optel_objects{resource="widgets.example.com"} == 3`,
		`optel_timer_lateness_seconds_count{handler="check"} > 3`,
		`optel_leader == 1`,
		`optel_watch_events_total{type="added"} >= 3`,
		`optel_queue_wait_seconds_count > 0`,
		`optel_api_requests_total{verb="PATCH",code="200"} > 0`,
		`optel_probe_status{probe="optel-informers"} == 1 or vector(1)`,
	} {
		prom.WaitQuery(t, q)
	}
	text := scrape(t, addr)
	if o, ok := testpeers.Promtool(t, []byte(text)); !ok {
		t.Errorf("promtool check metrics:\n%s", o)
	}
	// The operator's documented names are what a scrape shows. Retries and
	// restarts have no data in a healthy demo, and per-object counts are
	// opt-in (operator.TestPerObjectMetrics checks that name).
	noData := map[string]bool{observ.HandlerRetries: true, observ.WatchRestarts: true, observ.DaemonRestarts: true, observ.ObjectHandlerInvocations: true}
	for _, s := range observ.Catalog {
		if strings.HasPrefix(s.Name, "optel.telemetry.") || strings.HasPrefix(s.Name, "optel.probe.") || noData[s.Name] {
			continue
		}
		if !strings.Contains(text, "# TYPE "+s.PrometheusName()+" ") {
			t.Errorf("documented metric %s (%s) missing from the scrape", s.PrometheusName(), s.Name)
		}
	}

	// Delete one widget: the finalizer runs the delete handler, the daemon
	// stops, and the object is really gone.
	ri := dynamic.NewForConfigOrDie(cp.Config()).Resource(widgets).Namespace("default")
	if err := ri.Delete(context.Background(), "widget-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	prom.WaitQuery(t, `widgets_deleted_total == 1`)
	prom.WaitQuery(t, `widgets_connections == 2`)
	testpeers.Eventually(t, 30*time.Second, func() string {
		if _, err := ri.Get(context.Background(), "widget-1", metav1.GetOptions{}); err == nil {
			return "widget-1 still exists"
		}
		return ""
	})
	if !strings.Contains(out.String(), "metrics:      http://"+addr+"/metrics") {
		t.Errorf("the demo did not print its URLs:\n%s", out)
	}
}

// TestDemoWithEmbeddedControlPlane is what `make demo` runs: no KUBECONFIG,
// so the binary starts its own control plane and shows live metrics.
func TestDemoWithEmbeddedControlPlane(t *testing.T) {
	if _, err := os.Stat(filepath.Join(testpeers.BinDir(t), "kube-apiserver")); err != nil {
		testpeers.Need(t, filepath.Join(testpeers.BinDir(t), "kube-apiserver"), "run `make tools`")
	}
	addr, out := startWidgets(t, []string{"OPTEL_BIN_DIR=" + testpeers.BinDir(t)})
	testpeers.Eventually(t, 60*time.Second, func() string {
		text := scrape(t, addr)
		if !strings.Contains(text, "widgets_created_total 3") {
			return "no live operator metrics yet:\n" + out.String()
		}
		return ""
	})
	if !strings.Contains(out.String(), "starting the embedded control plane") {
		t.Errorf("did not use the embedded control plane:\n%s", out)
	}
}

// TestControllerRuntimeNamingProfile: with --metrics-naming=controller-runtime
// the same recorded data is rendered under controller-runtime's names, and
// queries written for controller-runtime dashboards return data from a real
// Prometheus.
func TestControllerRuntimeNamingProfile(t *testing.T) {
	cp := controlplane.StartForTest(t, controlplane.Options{})
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := cp.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	addr, _ := startWidgets(t, []string{"KUBECONFIG=" + kc}, "--demo-create", "--demo-widgets=3", "--metrics-naming=controller-runtime")
	prom := testpeers.StartPrometheus(t, addr)
	prom.WaitTargetsUp(t)
	for _, q := range []string{
		// Typical controller-runtime dashboard and alert expressions.
		`sum(rate(controller_runtime_reconcile_total{result="success"}[1m])) by (controller)`,
		`histogram_quantile(0.99, sum(rate(controller_runtime_reconcile_time_seconds_bucket[1m])) by (le, controller))`,
		`sum(rate(controller_runtime_reconcile_errors_total[5m])) by (controller) / sum(rate(controller_runtime_reconcile_total[5m])) by (controller)`,
		`controller_runtime_reconcile_total{controller="widgets.example.com",result="success"} >= 3`,
		`controller_runtime_reconcile_total{controller="widgets.example.com",result="error"} == 0`,
		`workqueue_depth{name="widgets.example.com"}`,
		`controller_runtime_active_workers{controller="widgets.example.com"} >= 0`,
		`workqueue_adds_total{name="widgets.example.com"} > 0`,
		`histogram_quantile(0.99, sum(rate(workqueue_queue_duration_seconds_bucket[1m])) by (le, name))`,
		`rest_client_requests_total{method="PATCH",code="200"} > 0`,
		`leader_election_master_status == 1`,
	} {
		prom.WaitQuery(t, q)
	}
	text := scrape(t, addr)
	if o, ok := testpeers.Promtool(t, []byte(text)); !ok {
		t.Errorf("promtool check metrics:\n%s", o)
	}
	for _, gone := range []string{"optel_handler_invocations_total", "optel_queue_depth", "optel_leader "} {
		if strings.Contains(text, gone) {
			t.Errorf("%s still rendered under the controller-runtime profile", gone)
		}
	}
	if !strings.Contains(text, "widgets_created_total 3") {
		t.Error("the operator's own metrics must be unaffected by the profile")
	}
}
