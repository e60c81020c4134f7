package operator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/optel-dev/optel/operator"
	"github.com/optel-dev/optel/probes"
)

func (e *env) health(kind probes.Kind) (int, map[string]map[string]any) {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.op.Probes().Handler(kind).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	var body struct {
		Checks map[string]map[string]any `json:"checks"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		e.t.Fatalf("probe body: %v\n%s", err, rec.Body)
	}
	return rec.Code, body.Checks
}

func noCacheProbes(t *testing.T) *probes.Registry {
	r, err := probes.NewRegistry(probes.WithCacheTTL(0))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestLivenessQueueStall: one worker stuck in a handler while work waits
// makes /healthz fail naming the queue; it recovers when work flows again.
func TestLivenessQueueStall(t *testing.T) {
	e := newEnv(t, operator.Options{Workers: 1, QueueStallThreshold: 300 * time.Millisecond, Probes: noCacheProbes(t)})
	release := make(chan struct{})
	var n counts
	must(t, e.op.OnCreate(gadgets, "slow", func(ctx context.Context, ev *operator.Event) error {
		if n.inc("slow") == 1 {
			<-release
		}
		return nil
	}))
	e.start()
	eventually(t, func() string {
		if code, checks := e.health(probes.Readiness); code != 200 {
			return "not ready: " + checks["optel-informers"]["error"].(string)
		}
		return ""
	})
	e.create("first", nil)
	eventually(t, func() string {
		if n.get("slow") != 1 {
			return "first not started"
		}
		return ""
	})
	e.create("second", nil)
	eventually(t, func() string {
		code, checks := e.health(probes.Liveness)
		errText, _ := checks["optel-queue"]["error"].(string)
		if code != 503 || !strings.Contains(errText, "no worker took one") {
			return "liveness did not report the stalled queue"
		}
		return ""
	})
	close(release)
	eventually(t, func() string {
		if code, checks := e.health(probes.Liveness); code != 200 {
			return "liveness did not recover: " + checks["optel-queue"]["error"].(string)
		}
		return ""
	})
}

// TestLivenessWatchSilence: with objects cached and a tiny threshold, a quiet
// watch fails liveness; activity on the watch brings it back.
func TestLivenessWatchSilence(t *testing.T) {
	e := newEnv(t, operator.Options{WatchSilenceThreshold: 500 * time.Millisecond, Probes: noCacheProbes(t)})
	must(t, e.op.OnCreate(gadgets, "noop", func(context.Context, *operator.Event) error { return nil }))
	e.start()
	e.create("quiet", nil)
	eventually(t, func() string {
		code, checks := e.health(probes.Liveness)
		errText, _ := checks["optel-watch"]["error"].(string)
		if code != 503 || !strings.Contains(errText, "silent for") {
			return "liveness did not report the silent watch"
		}
		return ""
	})
	e.setSpec("quiet", "v", "poke")
	eventually(t, func() string {
		if code, checks := e.health(probes.Liveness); code != 200 {
			return fmt.Sprintf("liveness did not recover after a watch event: %v", checks)
		}
		return ""
	})
}

// TestPerObjectMetrics: opt-in series carry the object and disappear when it
// is deleted.
func TestPerObjectMetrics(t *testing.T) {
	e := newEnv(t, operator.Options{PerObjectMetrics: true})
	must(t, e.op.OnCreate(gadgets, "create", func(context.Context, *operator.Event) error { return nil }))
	must(t, e.op.OnDelete(gadgets, "delete", func(context.Context, *operator.Event) error { return nil }))
	e.start()
	e.create("tracked", nil)
	series := `optel_object_handler_invocations_total{cause="create",handler="create",name="tracked",namespace="` + e.ns + `",outcome="success",resource="gadgets.test.optel.dev"} 1`
	eventually(t, func() string {
		if !strings.Contains(e.scrape(), series) {
			return "per-object series missing"
		}
		return ""
	})
	e.delete("tracked")
	eventually(t, func() string {
		if strings.Contains(e.scrape(), `name="tracked"`) {
			return "per-object series still exported after the object was deleted"
		}
		return ""
	})
}
