package probes_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/optel-dev/optel/probes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newRegistry(t *testing.T, opts ...probes.Option) *probes.Registry {
	t.Helper()
	r, err := probes.NewRegistry(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func serve(t *testing.T, r *probes.Registry, kind probes.Kind, query string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler(kind).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz"+query, nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, rec.Body)
	}
	return rec.Code, body
}

func check(body map[string]any, id string) map[string]any {
	checks, _ := body["checks"].(map[string]any)
	c, _ := checks[id].(map[string]any)
	return c
}

func TestReportShapeAndStatus(t *testing.T) {
	r := newRegistry(t)
	must(t, r.Register("db", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) {
		return map[string]int{"conns": 3}, nil
	})))
	must(t, r.Register("cache", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) {
		return nil, errors.New("redis unreachable")
	})))
	must(t, r.Register("ready", probes.Readiness, probes.ProbeFunc(func(context.Context) (any, error) { return true, nil })))

	code, body := serve(t, r, probes.Liveness, "")
	if code != http.StatusServiceUnavailable || body["status"] != "failed" {
		t.Errorf("liveness = %d %v, want 503 failed", code, body["status"])
	}
	if c := check(body, "cache"); c["status"] != "failed" || c["error"] != "redis unreachable" {
		t.Errorf("cache check = %v", c)
	}
	if c := check(body, "db"); c["status"] != "ok" || c["value"].(map[string]any)["conns"] != 3.0 {
		t.Errorf("db check = %v", c)
	}
	code, body = serve(t, r, probes.Readiness, "")
	if code != 200 || body["status"] != "ok" || len(body["checks"].(map[string]any)) != 1 {
		t.Errorf("readiness = %d %v", code, body)
	}

	rec := httptest.NewRecorder()
	r.Handler(probes.Liveness).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if !strings.HasPrefix(rec.Body.String(), `{"status":"failed","checks":{"cache":`) {
		t.Errorf("status must come first and checks sorted by id: %s", rec.Body)
	}
}

func TestKopfFormat(t *testing.T) {
	r := newRegistry(t)
	must(t, r.Register("now", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) { return "2019-11-07T18:03:52+00:00", nil })))
	must(t, r.Register("random", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) { return 765846, nil })))
	rec := httptest.NewRecorder()
	r.Handler(probes.Liveness).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz?format=kopf", nil))
	if got, want := strings.TrimSpace(rec.Body.String()), `{"now":"2019-11-07T18:03:52+00:00","random":765846}`; got != want {
		t.Errorf("kopf body = %s, want %s", got, want)
	}
	empty := newRegistry(t)
	rec = httptest.NewRecorder()
	empty.Handler(probes.Liveness).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz?format=kopf", nil))
	if strings.TrimSpace(rec.Body.String()) != "{}" || rec.Code != 200 {
		t.Errorf("no probes: %d %s, want 200 {}", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	empty.Handler(probes.Liveness).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz?format=xml", nil))
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "accepted: json, kopf") {
		t.Errorf("unknown format: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	empty.Handler(probes.Liveness).ServeHTTP(rec, httptest.NewRequest("POST", "/healthz", nil))
	if rec.Code != 405 {
		t.Errorf("POST = %d, want 405", rec.Code)
	}
}

// TestHangingProbeFailsAtDeadline: the report comes back, 503, naming the
// hung probe, while the probe is still blocked.
func TestHangingProbeFailsAtDeadline(t *testing.T) {
	release := make(chan struct{})
	var runs atomic.Int32
	r := newRegistry(t, probes.WithTimeout(100*time.Millisecond), probes.WithCacheTTL(0))
	must(t, r.Register("stuck", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) {
		runs.Add(1)
		<-release // ignores its context on purpose
		return "late", nil
	})))
	must(t, r.Register("fine", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) { return 1, nil })))
	for range 3 {
		code, body := serve(t, r, probes.Liveness, "")
		if code != 503 {
			t.Fatalf("code = %d, want 503", code)
		}
		if c := check(body, "stuck"); c["status"] != "failed" || !strings.Contains(c["error"].(string), "timed out after 100ms") {
			t.Errorf("stuck = %v", c)
		}
		if c := check(body, "fine"); c["status"] != "ok" {
			t.Errorf("a healthy probe was dragged down: %v", c)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("hung probe was started %d times; hangs must not pile up", n)
	}
	close(release)
	// Once the hung run returns, the next request sees its real result.
	waitFor(t, func() bool {
		_, body := serve(t, r, probes.Liveness, "")
		return check(body, "stuck")["status"] == "ok"
	})
}

func TestPanicAndUnencodableValuesFailTheProbe(t *testing.T) {
	type node struct{ Next *node }
	cyc := &node{}
	cyc.Next = cyc
	for _, tc := range []struct {
		name string
		fn   probes.ProbeFunc
		want string
	}{
		{"panic", func(context.Context) (any, error) { panic("nil map") }, "panicked: nil map"},
		{"NaN", func(context.Context) (any, error) { return math.NaN(), nil }, "not JSON-encodable"},
		{"channel", func(context.Context) (any, error) { return make(chan int), nil }, "not JSON-encodable"},
		{"cycle", func(context.Context) (any, error) { return cyc, nil }, "not JSON-encodable"},
		{"empty error", func(context.Context) (any, error) { return nil, errors.New("") }, "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry(t)
			must(t, r.Register(tc.name, probes.Liveness, tc.fn))
			code, body := serve(t, r, probes.Liveness, "")
			if c := check(body, tc.name); code != 503 || !strings.Contains(c["error"].(string), tc.want) {
				t.Errorf("%d %v, want 503 with %q", code, c, tc.want)
			}
		})
	}
	r := newRegistry(t)
	must(t, r.Register("utf8", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) { return "bad\xffbyte", nil })))
	if code, body := serve(t, r, probes.Liveness, ""); code != 200 || check(body, "utf8")["value"] != "bad\ufffdbyte" {
		t.Errorf("invalid UTF-8 should be replaced, got %d %v", code, body)
	}
}

func TestConcurrentRequestsShareOneRun(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ttl      time.Duration
		wantRuns int32 // 0: only check that runs never overlap
	}{
		{"cached: one run serves all", probes.DefaultCacheTTL, 1},
		{"uncached: runs never overlap", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var runs, inFlight, maxInFlight atomic.Int32
			gate := make(chan struct{})
			r := newRegistry(t, probes.WithCacheTTL(tc.ttl))
			must(t, r.Register("slow", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) {
				runs.Add(1)
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for {
					m := maxInFlight.Load()
					if n <= m || maxInFlight.CompareAndSwap(m, n) {
						break
					}
				}
				<-gate
				return "ok", nil
			})))
			var wg sync.WaitGroup
			codes := make([]int, 20)
			for i := range codes {
				wg.Go(func() {
					rec := httptest.NewRecorder()
					r.Handler(probes.Liveness).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
					codes[i] = rec.Code
				})
			}
			waitFor(t, func() bool { return runs.Load() >= 1 })
			close(gate)
			wg.Wait()
			if tc.wantRuns != 0 && runs.Load() != tc.wantRuns {
				t.Errorf("probe ran %d times for 20 concurrent requests, want %d", runs.Load(), tc.wantRuns)
			}
			if m := maxInFlight.Load(); m != 1 {
				t.Errorf("%d runs of one probe overlapped, want never more than 1", m)
			}
			for i, c := range codes {
				if c != 200 {
					t.Errorf("request %d = %d", i, c)
				}
			}
		})
	}
}

func TestResultsAreCachedForTTL(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	var runs atomic.Int32
	r := newRegistry(t, probes.WithClock(clock))
	must(t, r.Register("p", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) { return runs.Add(1), nil })))
	serve(t, r, probes.Liveness, "")
	now.Add(int64(9 * time.Second))
	_, body := serve(t, r, probes.Liveness, "")
	if runs.Load() != 1 || check(body, "p")["age_seconds"] != 9.0 {
		t.Errorf("within TTL: runs=%d age=%v, want 1 run aged 9s", runs.Load(), check(body, "p")["age_seconds"])
	}
	now.Add(int64(2 * time.Second))
	serve(t, r, probes.Liveness, "")
	if runs.Load() != 2 {
		t.Errorf("after TTL: runs=%d, want 2", runs.Load())
	}
}

func TestRegisterRejectsBadInput(t *testing.T) {
	r := newRegistry(t)
	ok := probes.ProbeFunc(func(context.Context) (any, error) { return nil, nil })
	must(t, r.Register("a", probes.Liveness, ok))
	must(t, r.Register("a", probes.Readiness, ok)) // ids are per kind
	for _, tc := range []struct {
		id   string
		kind probes.Kind
		p    probes.Probe
		want error
	}{
		{"a", probes.Liveness, ok, probes.ErrDuplicateID},
		{"", probes.Liveness, ok, probes.ErrInvalidID},
		{"tab\there", probes.Liveness, ok, probes.ErrInvalidID},
		{strings.Repeat("x", 129), probes.Liveness, ok, probes.ErrInvalidID},
		{"bad\xff", probes.Liveness, ok, probes.ErrInvalidID},
		{"k", probes.Kind(9), ok, probes.ErrInvalidKind},
	} {
		if err := r.Register(tc.id, tc.kind, tc.p); !errors.Is(err, tc.want) {
			t.Errorf("Register(%q, %v) = %v, want %v", tc.id, tc.kind, err, tc.want)
		}
	}
	if err := r.Register("nil", probes.Liveness, nil); err == nil {
		t.Error("nil probe accepted")
	}
}

func TestProbeOutcomesAreMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	r := newRegistry(t, probes.WithMeterProvider(mp))
	must(t, r.Register("up", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) { return 1, nil })))
	must(t, r.Register("down", probes.Readiness, probes.ProbeFunc(func(context.Context) (any, error) { return nil, errors.New("no") })))
	r.Check(context.Background(), probes.Liveness)
	r.Check(context.Background(), probes.Readiness)
	var rm metricdata.ResourceMetrics
	must(t, reader.Collect(context.Background(), &rm))
	status := map[string]int64{}
	var durations uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					id, _ := p.Attributes.Value("probe")
					kind, _ := p.Attributes.Value("kind")
					status[id.AsString()+"/"+kind.AsString()] = p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					durations += p.Count
				}
			}
		}
	}
	if status["up/liveness"] != 1 || status["down/readiness"] != 0 || len(status) != 2 {
		t.Errorf("optel.probe.status = %v", status)
	}
	if durations != 2 {
		t.Errorf("optel.probe.duration count = %d, want 2", durations)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitFor polls a condition that the test itself makes true soon; the bound
// only keeps a broken build from hanging.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition never became true")
}
