package operator_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/optel-dev/optel/operator"
)

// TestAPIServerRestartLosesNoChange restarts the real API server while the
// operator runs: watches re-list and re-watch, and every object and every
// change is handled exactly once.
func TestAPIServerRestartLosesNoChange(t *testing.T) {
	e := newEnv(t, operator.Options{})
	var n counts
	must(t, e.op.OnCreate(gadgets, "create", func(_ context.Context, ev *operator.Event) error {
		n.inc("create/" + ev.Object.GetName())
		return nil
	}))
	must(t, e.op.OnUpdate(gadgets, "update", func(_ context.Context, ev *operator.Event) error {
		v, _, _ := unstructuredString(ev.Object.Object, "spec", "v")
		n.inc("update/" + ev.Object.GetName() + "=" + v)
		return nil
	}))
	e.start()
	for i := range 5 {
		e.create(fmt.Sprintf("before-%d", i), map[string]any{"v": "0"})
	}
	eventually(t, func() string {
		for i := range 5 {
			if n.get(fmt.Sprintf("create/before-%d", i)) != 1 {
				return "objects before the restart not handled: " + n.String()
			}
		}
		return ""
	})

	cp.StopAPIServer()
	time.Sleep(time.Second) // the watch breaks and the reflector starts retrying
	if err := cp.StartAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	ready := time.Now()
	for i := range 5 {
		e.create(fmt.Sprintf("after-%d", i), map[string]any{"v": "0"})
		e.setSpec(fmt.Sprintf("before-%d", i), "v", "1")
	}
	eventually(t, func() string {
		for i := range 5 {
			if n.get(fmt.Sprintf("create/after-%d", i)) != 1 || n.get(fmt.Sprintf("update/before-%d=1", i)) != 1 {
				return "changes after the restart not handled: " + n.String()
			}
		}
		return ""
	})
	recovered := time.Since(ready)
	time.Sleep(500 * time.Millisecond) // give a duplicate run the chance to show
	for i := range 5 {
		for _, k := range []string{"create/before-%d", "create/after-%d", "update/before-%d=1"} {
			if got := n.get(fmt.Sprintf(k, i)); got != 1 {
				t.Errorf("%s handled %d times, want exactly 1", fmt.Sprintf(k, i), got)
			}
		}
	}
	if got := e.counter("optel.watch.restarts", map[string]string{"resource": "gadgets.test.optel.dev"}); got < 1 {
		t.Errorf("optel.watch.restarts = %v, want >= 1 after the API server restart", got)
	}
	// The restarted API server's watch cache starts at etcd's current
	// revision, which its own start-up writes moved past the operator's: the
	// re-watch gets 410 Gone and the informer re-lists.
	if got := e.counter("optel.watch.restarts", map[string]string{"reason": "gone"}); got < 1 {
		t.Errorf("optel.watch.restarts{reason=gone} = %v, want >= 1: the re-watch should have met a 410", got)
	}
	t.Logf("recovery: all 10 changes after the restart handled %s after the API server was ready again", recovered.Round(time.Millisecond))
}

// TestLeaderElectionTwoReplicas: only the leader handles; when it stops,
// the standby takes over and handles what comes next.
func TestLeaderElectionTwoReplicas(t *testing.T) {
	opts := func() operator.Options {
		return operator.Options{
			LeaderElect: true, LeaderElectionID: "gadgets-le",
			LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond,
		}
	}
	a := newEnv(t, opts())
	b := &env{t: t, ns: a.ns, dc: a.dc}
	b.build(opts())
	var n counts
	for name, e := range map[string]*env{"a": a, "b": b} {
		must(t, e.op.OnCreate(gadgets, "create", func(_ context.Context, ev *operator.Event) error {
			n.inc(name + "/" + ev.Object.GetName())
			return nil
		}))
	}
	// Leader election lease lives in the test namespace.
	a.start()
	eventually(t, func() string {
		if !a.op.IsLeader() {
			return "a never became leader"
		}
		return ""
	})
	b.start()
	a.create("one", nil)
	eventually(t, func() string {
		if n.get("a/one") != 1 {
			return "leader did not handle: " + n.String()
		}
		return ""
	})
	if n.get("b/one") != 0 || b.op.IsLeader() {
		t.Fatalf("standby handled or leads: %v leader=%v", n.String(), b.op.IsLeader())
	}
	if got := b.counter("optel.leader", nil); got != 0 {
		t.Errorf("standby optel.leader = %v", got)
	}
	if got := a.counter("optel.leader", nil); got != 1 {
		t.Errorf("leader optel.leader = %v", got)
	}

	a.stop() // releases the lease
	eventually(t, func() string {
		if !b.op.IsLeader() {
			return "b did not take over"
		}
		return ""
	})
	a.create("two", nil)
	eventually(t, func() string {
		if n.get("b/two") != 1 {
			return "new leader did not handle: " + n.String()
		}
		return ""
	})
	if n.get("a/two") != 0 || n.get("b/one") != 0 {
		t.Errorf("handled twice: %v", n.String())
	}
}
