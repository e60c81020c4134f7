package statusz_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
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
