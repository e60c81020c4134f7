package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/optel-dev/optel/controlplane"
	"github.com/optel-dev/optel/internal/testpeers"
)

type ruleFile struct {
	Spec struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert string `json:"alert"`
				Expr  string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

type dashboard struct {
	Panels []struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		Targets     []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// TestMonitoringKit checks the deploy kit against the real tools: promtool
// accepts the alert rules; against a real Prometheus scraping the running
// demo, every alert and dashboard expression evaluates, no alert fires for a
// healthy operator, and the dashboard panels that should show data do; the
// Collector example config is valid for a real Collector.
func TestMonitoringKit(t *testing.T) {
	dir := filepath.Join("deploy", "monitoring")
	raw, err := os.ReadFile(filepath.Join(dir, "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule ruleFile
	if err := yaml.Unmarshal(raw, &rule); err != nil {
		t.Fatal(err)
	}
	groups, err := yaml.Marshal(map[string]any{"groups": rule.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	rulesPath := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(rulesPath, groups, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, ok := testpeers.PromtoolRules(t, rulesPath); !ok {
		t.Fatalf("promtool check rules:\n%s", out)
	}
	var dash dashboard
	b, err := os.ReadFile(filepath.Join(dir, "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}

	cp := controlplane.StartForTest(t, controlplane.Options{})
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := cp.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	addr, _ := startWidgets(t, []string{"KUBECONFIG=" + kc}, "--demo-create", "--demo-widgets=3")
	prom := testpeers.StartPrometheusJob(t, "widgets-operator", nil, addr)
	prom.WaitTargetsUp(t)
	prom.WaitQuery(t, `optel_handler_invocations_total{outcome="success"} >= 3`)
	for _, path := range []string{"/healthz", "/readyz"} { // as the kubelet would
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	prom.WaitQuery(t, `optel_probe_status`)
	// Let rates have at least two samples.
	prom.WaitQuery(t, `count_over_time(optel_objects[1m]) > 5`)

	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			if got := prom.Query(t, r.Expr); len(got) != 0 { // Query fails the test if the expression does not evaluate
				t.Errorf("alert %s would fire on a healthy operator: %v", r.Alert, got)
			}
		}
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			got := prom.Query(t, tg.Expr)
			if strings.HasPrefix(p.Description, "Returns data") && len(got) == 0 {
				t.Errorf("dashboard panel %q returned no data: %s", p.Title, tg.Expr)
			}
		}
	}

	bin := filepath.Join(testpeers.BinDir(t), "otelcol")
	testpeers.Need(t, bin, "run `make tools`")
	if out, err := exec.Command(bin, "validate", "--config=file:"+filepath.Join(dir, "otel-collector.yaml")).CombinedOutput(); err != nil {
		t.Errorf("otel-collector.yaml is not a valid Collector config: %v\n%s", err, out)
	}
}
