package statusz_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/optel-dev/optel/probes"
	"github.com/optel-dev/optel/statusz"
)

func serve(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func mux(routes map[string]http.Handler) *http.ServeMux {
	m := http.NewServeMux()
	for p, h := range routes {
		m.Handle(p, h)
	}
	return m
}

func TestPage(t *testing.T) {
	m := mux(statusz.Routes(nil, statusz.WithTitle(`<b>"x"</b>`), statusz.WithMetricsJSONPath("/custom.json")))
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/", 200},
		{"GET", "/statusz", 200},
		{"HEAD", "/statusz", 200},
		{"POST", "/statusz", 405},
		{"GET", "/other", 404}, // / is exact, not a catch-all
	} {
		rec := serve(t, m, tc.method, tc.path)
		if rec.Code != tc.code {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.code)
		}
	}
	rec := serve(t, m, "GET", "/")
	body := rec.Body.String()
	if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("no restrictive CSP: %q", rec.Header().Get("Content-Security-Policy"))
	}
	if strings.Contains(body, `<b>"x"</b>`) || !strings.Contains(body, "&lt;b&gt;&#34;x&#34;&lt;/b&gt;") {
		t.Error("title is not HTML-escaped")
	}
	if !strings.Contains(body, `const METRICS = "/custom.json"`) {
		t.Error("metrics path not set in the page")
	}
	for _, external := range []string{`src="http`, `href="http`, "@import", "url(http", "//cdn"} {
		if strings.Contains(body, external) {
			t.Errorf("page loads an external asset (%s)", external)
		}
	}
	if strings.Contains(body, "{{") {
		t.Error("unfilled template placeholder")
	}
}

func TestProbesJSON(t *testing.T) {
	reg, err := probes.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	_ = reg.Register("db", probes.Readiness, probes.ProbeFunc(func(context.Context) (any, error) { return nil, errors.New("down") }))
	_ = reg.Register("loop", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) { return map[string]int{"n": 3}, nil }))
	rec := serve(t, mux(statusz.Routes(reg)), "GET", statusz.ProbesPath)
	if rec.Code != 200 {
		t.Fatalf("code %d (the page shows failures; only /readyz answers 503)", rec.Code)
	}
	var got map[string]struct {
		Status string
		Checks map[string]struct {
			Status string
			Value  json.RawMessage
			Error  string
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	if got["liveness"].Checks["loop"].Status != "ok" || string(got["liveness"].Checks["loop"].Value) != `{"n":3}` {
		t.Errorf("liveness: %+v", got["liveness"])
	}
	if got["readiness"].Status != "failed" || got["readiness"].Checks["db"].Error != "down" {
		t.Errorf("readiness: %+v", got["readiness"])
	}
}

// TestTracesPanelOption: the page reads /traces.json unless
// WithTracesJSONPath says otherwise, the path is escaped as a script
// string, and Routes serves no trace data itself (the json traces
// exporter's view does).
func TestTracesPanelOption(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []statusz.Option
		want string
	}{
		{"default", nil, `const METRICS = "/metrics.json", PROBES = "/statusz/probes.json", TRACES = "/traces.json",`},
		{"custom", []statusz.Option{statusz.WithTracesJSONPath("/debug/traces.json")}, `TRACES = "/debug/traces.json",`},
		{"empty means the default", []statusz.Option{statusz.WithTracesJSONPath("")}, `TRACES = "/traces.json",`},
		{"escaped", []statusz.Option{statusz.WithTracesJSONPath(`/t"</script><b>.json`)}, `TRACES = "/t\"\u003c/script\u003e\u003cb\u003e.json",`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			routes := statusz.Routes(nil, tc.opts...)
			var paths []string
			for p := range routes {
				paths = append(paths, p)
			}
			sort.Strings(paths)
			if strings.Join(paths, " ") != "/statusz /statusz/probes.json /{$}" {
				t.Errorf("routes = %v", paths)
			}
			body := serve(t, mux(routes), "GET", "/statusz").Body.String()
			if !strings.Contains(body, tc.want) {
				t.Errorf("page lacks %s", tc.want)
			}
			for _, id := range []string{`id="traces-section"`, `id="waterfall"`, `id="exemplars"`, `id="runs-recent"`, `id="runs-slowest"`, `id="runs-failed"`, "<th>Traces</th>"} {
				if !strings.Contains(body, id) {
					t.Errorf("page lacks the traces panel's %s", id)
				}
			}
		})
	}
}
