package probes_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/optel-dev/optel/probes"
)

// FuzzProbeReport registers a probe whose value is built from the fuzz input
// (nested maps and slices, NaN and infinities, non-UTF-8 strings, a cycle)
// and checks both report bodies are valid JSON with the right status code.
func FuzzProbeReport(f *testing.F) {
	f.Add("demo", "value", 1.5, uint8(0))
	f.Add("bad\xffid", "\xff\xfe", math.NaN(), uint8(1))
	f.Add("x", strings.Repeat("k", 300), math.Inf(1), uint8(2))
	f.Add("cyc", "", 0.0, uint8(3))
	f.Fuzz(func(t *testing.T, id, s string, x float64, shape uint8) {
		var v any
		switch shape % 5 {
		case 0:
			v = map[string]any{s: x, "list": []any{s, x, nil, true}}
		case 1:
			v = s
		case 2:
			m := map[string]any{}
			for i := range 100 {
				m[s+string(rune('a'+i%26))+strings.Repeat("x", i)] = i
			}
			v = m
		case 3:
			type node struct{ Next *node }
			n := &node{}
			n.Next = n
			v = n
		case 4:
			v = []float64{x, -x}
		}
		r, err := probes.NewRegistry()
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Register(id, probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) { return v, nil })); err != nil {
			return // invalid ids are rejected with a clear error; that is the contract
		}
		for _, q := range []string{"", "?format=kopf"} {
			rec := httptest.NewRecorder()
			r.Handler(probes.Liveness).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz"+q, nil))
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("invalid JSON for %#v: %s", v, rec.Body)
			}
			_, marshalErr := json.Marshal(v)
			if want := map[bool]int{true: 200, false: 503}[marshalErr == nil]; rec.Code != want {
				t.Fatalf("status %d, want %d (value encodable: %v)", rec.Code, want, marshalErr == nil)
			}
		}
	})
}
