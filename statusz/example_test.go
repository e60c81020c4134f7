package statusz_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"

	"github.com/optel-dev/optel/probes"
	"github.com/optel-dev/optel/statusz"
)

// The operator mounts these routes itself; this is how to add the page to
// your own server next to a json exporter's /metrics.json.
func ExampleRoutes() {
	reg, _ := probes.NewRegistry()
	_ = reg.Register("cache", probes.Readiness, probes.ProbeFunc(func(context.Context) (any, error) { return "warm", nil }))
	mux := http.NewServeMux()
	routes := statusz.Routes(reg, statusz.WithTitle("my-operator"))
	paths := make([]string, 0, len(routes))
	for p, h := range routes {
		mux.Handle(p, h)
		paths = append(paths, p)
	}
	sort.Strings(paths)
	fmt.Println(paths)

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	// Output:
	// [/statusz /statusz/probes.json /{$}]
	// 200 text/html; charset=utf-8
}
