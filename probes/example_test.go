package probes_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/optel-dev/optel/probes"
)

func Example() {
	reg, _ := probes.NewRegistry()
	_ = reg.Register("db", probes.Liveness, probes.ProbeFunc(func(ctx context.Context) (any, error) {
		return map[string]int{"open_conns": 4}, nil
	}))

	rec := httptest.NewRecorder()
	reg.Handler(probes.Liveness).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz?format=kopf", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output: 200 {"db":{"open_conns":4}}
}
