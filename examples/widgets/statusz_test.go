package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/optel-dev/optel/controlplane"
	"github.com/optel-dev/optel/internal/testpeers"
)

var (
	pollsRe   = regexp.MustCompile(`data-polls="(\d+)"`)
	runsRe    = regexp.MustCompile(`<tr data-handler="provision">.*?data-runs="(\d+)"`)
	updatedRe = regexp.MustCompile(`id="updated">([^<]*)<`)
	chartRe   = regexp.MustCompile(`id="chart-rate"[^>]*data-points="(\d+)"|data-points="(\d+)"[^>]*id="chart-rate"`)
)

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// TestStatusPageInChromium: the status page of the running demo, loaded in
// headless Chromium, shows the demo's handlers, probes, daemons and timers
// from live data, keeps polling (its chart grows), and shows new handler
// runs after more widgets are created. It also refreshes the screenshot in
// docs/ when OPTEL_UPDATE_SCREENSHOT=1.
func TestStatusPageInChromium(t *testing.T) {
	cp := controlplane.StartForTest(t, controlplane.Options{})
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := cp.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	addr, out := startWidgets(t, []string{"KUBECONFIG=" + kc}, "--demo-create", "--demo-widgets=2")
	testpeers.Eventually(t, 60*time.Second, func() string {
		if !strings.Contains(scrape(t, addr), "widgets_created_total 2") {
			return "demo not running yet:\n" + out.String()
		}
		return ""
	})
	url := "http://" + addr + "/"

	dom := testpeers.ChromiumDOM(t, url, 7*time.Second)
	for _, want := range []string{
		`<tr data-handler="provision">`,     // create handler
		`<tr data-probe="optel-informers">`, // a readiness probe
		`<tr data-probe="optel-watch">`,     // a liveness probe
		`<tr data-daemon="widgets.example.com/connection">`,
		`<tr data-daemon="reporter">`,
		`<tr data-timer="check">`,
		"This replica is the leader.",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("status page lacks %s", want)
		}
	}
	if m := updatedRe.FindStringSubmatch(dom); m == nil || !strings.HasPrefix(m[1], "live · updated") {
		t.Errorf("status line = %q, want live data", m)
	}
	m := pollsRe.FindStringSubmatch(dom)
	if m == nil || atoi(m[1]) < 2 {
		t.Errorf("page polled %v times in 7s of virtual time, want at least 2 (live updates)", m)
	}
	if c := chartRe.FindStringSubmatch(dom); c == nil || atoi(c[1]+c[2]) < 2 {
		t.Errorf("rate chart has %v points, want at least 2", c)
	}
	r := runsRe.FindStringSubmatch(dom)
	if r == nil || atoi(r[1]) != 2 {
		t.Fatalf("provision runs = %v, want 2 (one per demo widget)\n%s", r, dom)
	}

	// More widgets: the page shows the new runs.
	ri := dynamic.NewForConfigOrDie(cp.Config()).Resource(widgets).Namespace("default")
	for _, name := range []string{"extra-1", "extra-2"} {
		if _, err := ri.Create(context.Background(), &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "example.com/v1", "kind": "Widget",
			"metadata": map[string]any{"name": name}, "spec": map[string]any{"size": int64(1)},
		}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	testpeers.Eventually(t, 60*time.Second, func() string {
		dom := testpeers.ChromiumDOM(t, url, 3*time.Second)
		if r := runsRe.FindStringSubmatch(dom); r == nil || atoi(r[1]) != 4 {
			return "status page does not show 4 provision runs yet: " + strings.Join(r, " ")
		}
		return ""
	})

	// The traces panel: a provision run from /traces.json, opened by its
	// trace id, shows its span waterfall with the handler's status PATCH.
	var list struct {
		Handlers []struct {
			Resource, Handler string
			Recent            []struct {
				TraceID string `json:"trace_id"`
				Spans   []struct{ Name string }
			}
		}
	}
	resp, err := http.Get("http://" + addr + "/traces.json?resource=widgets.example.com&handler=provision")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if err != nil || len(list.Handlers) != 1 || len(list.Handlers[0].Recent) == 0 {
		t.Fatalf("/traces.json has no provision runs (%v): %+v", err, list)
	}
	run := list.Handlers[0].Recent[0]
	var names []string
	for _, sp := range run.Spans {
		names = append(names, sp.Name)
	}
	if len(names) < 2 || names[0] != "create widgets.example.com" || !slices.Contains(names, "PATCH widgets/status") {
		t.Errorf("provision run spans = %v, want the handler span and its PATCH widgets/status child", names)
	}
	traceURL := url + "#resource=widgets.example.com&handler=provision&trace_id=" + run.TraceID
	tdom := testpeers.ChromiumDOM(t, traceURL, 5*time.Second)
	for _, want := range []string{`data-traces="on"`, `data-run="` + run.TraceID + `"`, "PATCH widgets/status", `class="wf-row"`} {
		if !strings.Contains(tdom, want) {
			t.Errorf("traces panel lacks %s", want)
		}
	}
	if strings.Contains(tdom, "</p>null<") {
		t.Error(`the waterfall renders a missing links line as the text "null"`)
	}
	if n := strings.Count(tdom, `class="wf-row"`); n < 2 {
		t.Errorf("waterfall has %d rows, want the handler span and its child", n)
	}
	tpng := filepath.Join(t.TempDir(), "statusz-traces.png")
	testpeers.ChromiumScreenshot(t, traceURL, tpng, 1280, 2200, 6*time.Second)
	if st, err := os.Stat(tpng); err != nil || st.Size() < 20_000 {
		t.Fatalf("traces screenshot missing or blank (%v, %v)", err, st)
	}
	if os.Getenv("OPTEL_UPDATE_SCREENSHOT") == "1" {
		b, _ := os.ReadFile(tpng)
		if err := os.WriteFile(filepath.Join(testpeers.RepoRoot(t), "docs", "statusz-traces.png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	png := filepath.Join(t.TempDir(), "statusz.png")
	testpeers.ChromiumScreenshot(t, url, png, 1280, 900, 9*time.Second)
	st, err := os.Stat(png)
	if err != nil || st.Size() < 20_000 {
		t.Fatalf("screenshot missing or blank (%v, %v bytes)", err, st)
	}
	if os.Getenv("OPTEL_UPDATE_SCREENSHOT") == "1" {
		b, _ := os.ReadFile(png)
		if err := os.WriteFile(filepath.Join(testpeers.RepoRoot(t), "docs", "statusz.png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
