package operator_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/optel-dev/optel/operator"
)

// TestAPIServerRestartLosesNoChange crashes and restarts the real API server
// while the operator runs: watches re-list and re-watch, and every object and every
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

	// A crash (SIGKILL) drops the watch at once; the reflector keeps
	// retrying the re-watch from its last resource version. (A graceful stop
	// may first close the watch and accept one more that ends within a
	// second, which makes client-go re-list instead of re-watching.)
	cp.CrashAPIServer()
	time.Sleep(time.Second) // the reflector starts retrying
	// While the API server is down, etcd's history is compacted past the
	// operator's resource version, as a production compaction would: the
	// re-watch must meet 410 Gone and the informer must re-list.
	if _, err := cp.CompactStorage(context.Background()); err != nil {
		t.Fatal(err)
	}
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
	// etcd was compacted past the operator's resource version while the API
	// server was down: the re-watch gets 410 Gone and the informer re-lists.
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

// TestLeaderHandoverNeverOverlaps runs two real replicas under load and
// forces a leader change two ways: the leader is stopped (graceful: it
// must keep the Lease until its handlers finished), or its Lease is
// stolen (it must cancel running handlers at once, before the other
// replica can acquire it). Every handler run records its start and end per
// object; no two runs for one object may overlap, across replicas.
func TestLeaderHandoverNeverOverlaps(t *testing.T) {
	for _, tc := range []struct {
		force string
		work  time.Duration // longer than the Lease when stolen, so a leader that kept running would overlap
	}{{"leader stopped", time.Second}, {"lease stolen", 3 * time.Second}, {"leader partitioned", 3 * time.Second}} {
		force := tc.force
		t.Run(force, func(t *testing.T) {
			id := "handover-" + strings.ReplaceAll(force, " ", "-")
			opts := func() operator.Options {
				return operator.Options{
					LeaderElect: true, LeaderElectionID: id, Workers: 4,
					LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond,
					GracefulShutdownTimeout: 20 * time.Second,
				}
			}
			var a *env
			var proxy *blackholeProxy
			if force == "leader partitioned" {
				// a reaches the API server only through a proxy that the
				// test turns into a black hole: requests hang, as in a
				// network partition, instead of failing fast.
				proxy = startBlackholeProxy(t, strings.TrimPrefix(cp.URL(), "https://"))
				cfg := cp.Config()
				cfg.Host = "https://" + proxy.addr
				a = newEnvWithConfig(t, opts(), cfg)
			} else {
				a = newEnv(t, opts())
			}
			b := &env{t: t, ns: a.ns, dc: a.dc}
			b.build(opts())
			type span struct {
				replica, obj string
				start, end   time.Time
			}
			var mu sync.Mutex
			var spans []span
			runs := map[string]int{}
			bgStart, bgEnd := map[string]time.Time{}, map[string]time.Time{}
			stubbornEnd := map[string]time.Time{}
			const stubbornFor = 6 * time.Second
			loses := force != "leader stopped"
			for name, e := range map[string]*env{"a": a, "b": b} {
				must(t, e.op.OnCreate(gadgets, "slow", func(ctx context.Context, ev *operator.Event) error {
					if ev.Object.GetName() == "stubborn" {
						// A handler that ignores its context: the one way
						// to overlap (documented), excluded from the
						// overlap check. It shows that a lost Lease stops
						// the background loop without waiting for it.
						time.Sleep(stubbornFor)
						mu.Lock()
						stubbornEnd[name] = time.Now()
						mu.Unlock()
						return nil
					}
					s := span{replica: name, obj: ev.Object.GetName(), start: time.Now()}
					select { // a handler that honours its context
					case <-time.After(tc.work):
					case <-ctx.Done():
					}
					s.end = time.Now()
					mu.Lock()
					spans = append(spans, s)
					if ctx.Err() == nil {
						runs[s.obj]++
					}
					mu.Unlock()
					return ctx.Err()
				}))
				// An operator-level background loop: its life on one
				// replica must not overlap its life on the other.
				must(t, e.op.Background("loop", func(ctx context.Context) error {
					mu.Lock()
					bgStart[name] = time.Now()
					mu.Unlock()
					<-ctx.Done()
					mu.Lock()
					bgEnd[name] = time.Now()
					mu.Unlock()
					return nil
				}))
			}
			a.start()
			eventually(t, func() string {
				if !a.op.IsLeader() {
					return "a never became leader"
				}
				return ""
			})
			b.start()
			if loses {
				a.create("stubborn", nil)
			}
			const n = 16
			for i := range n {
				a.create(fmt.Sprintf("g%d", i), nil)
			}
			eventually(t, func() string {
				mu.Lock()
				defer mu.Unlock()
				if len(runs) < 2 {
					return "the leader has not handled anything yet"
				}
				return ""
			})
			switch force {
			case "leader stopped":
				a.stop()
			case "leader partitioned":
				proxy.cut()
			case "lease stolen":
				cs := kubernetes.NewForConfigOrDie(cp.Config()).CoordinationV1().Leases("default")
				err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
					l, err := cs.Get(context.Background(), id, metav1.GetOptions{})
					if err != nil {
						return err
					}
					intruder := "intruder"
					now := metav1.NewMicroTime(time.Now())
					l.Spec.HolderIdentity, l.Spec.RenewTime, l.Spec.AcquireTime = &intruder, &now, &now
					_, err = cs.Update(context.Background(), l, metav1.UpdateOptions{})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, func() string {
				if !b.op.IsLeader() {
					return "b did not take over"
				}
				return ""
			})
			eventuallyWithin(t, 60*time.Second, func() string {
				mu.Lock()
				defer mu.Unlock()
				if len(runs) < n {
					return fmt.Sprintf("%d of %d objects handled to completion: %v", len(runs), n, runs)
				}
				return ""
			})
			if force != "leader stopped" {
				if err := <-a.done; !errors.Is(err, operator.ErrLeadershipLost) {
					t.Errorf("the replica whose Lease was stolen returned %v, want ErrLeadershipLost", err)
				}
				a.cancel()
				a.cancel, a.done = nil, nil
			}
			eventually(t, func() string {
				mu.Lock()
				defer mu.Unlock()
				if _, ok := bgStart["b"]; !ok {
					return "the new leader's background loop has not started"
				}
				return ""
			})
			// After a lost Lease, the old leader's background loop ended
			// while its stubborn handler was still running: it was
			// cancelled at the loss, not after the handlers drained.
			if loses {
				eventuallyWithin(t, 2*stubbornFor, func() string {
					mu.Lock()
					defer mu.Unlock()
					if _, ok := stubbornEnd["a"]; !ok {
						return "the old leader's stubborn handler has not returned"
					}
					return ""
				})
				mu.Lock()
				aBg, aStub := bgEnd["a"], stubbornEnd["a"]
				mu.Unlock()
				if aBg.IsZero() || !aBg.Before(aStub) {
					t.Errorf("background loop on the old leader ended at %s, not before its stubborn handler returned at %s", aBg.Format("05.000"), aStub.Format("05.000"))
				} else {
					t.Logf("background loop on the old leader ended %s before its stubborn handler returned", aStub.Sub(aBg).Round(time.Millisecond))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for i := range spans {
				for j := i + 1; j < len(spans); j++ {
					x, y := spans[i], spans[j]
					if x.obj == y.obj && x.start.Before(y.end) && y.start.Before(x.end) {
						t.Errorf("%s: replica %s [%s, %s] overlaps replica %s [%s, %s]", x.obj,
							x.replica, x.start.Format("05.000"), x.end.Format("05.000"), y.replica, y.start.Format("05.000"), y.end.Format("05.000"))
					}
				}
			}
			// The old leader's background loop ended before the new
			// leader's began.
			if aEnd, ok := bgEnd["a"]; !ok {
				t.Errorf("the old leader's background loop was never cancelled")
			} else if bStart, ok := bgStart["b"]; !ok {
				t.Errorf("the new leader's background loop never started")
			} else if !aEnd.Before(bStart) {
				t.Errorf("background loop: replica a ended at %s, after replica b started at %s", aEnd.Format("05.000"), bStart.Format("05.000"))
			} else {
				t.Logf("background loop: replica a ended %s before replica b started", bStart.Sub(aEnd).Round(time.Millisecond))
			}
			dups := 0
			for _, c := range runs {
				dups += c - 1
			}
			t.Logf("%s: %d runs (%d cut short by the handover), %d objects completed, %d completed twice", force, len(spans), len(spans)-sumRuns(runs), len(runs), dups)
			if force == "leader stopped" && dups != 0 {
				t.Errorf("a graceful handover ran %d handlers twice to completion: %v", dups, runs)
			}
		})
	}
}

func sumRuns(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestAPIServerRestartMidBurstOfPatches restarts the real API server while
// a writer keeps patching 10 objects (30 rounds of spec.v) and the
// operator handles each change: every object's last value is handled (lost
// nothing) and no value of any object is handled twice (duplicated
// nothing), although the operator's own annotation PATCHes fail while the
// API server is down.
func TestAPIServerRestartMidBurstOfPatches(t *testing.T) {
	e := newEnv(t, operator.Options{})
	var n counts
	must(t, e.op.OnCreate(gadgets, "create", func(context.Context, *operator.Event) error { return nil }))
	must(t, e.op.OnUpdate(gadgets, "update", func(_ context.Context, ev *operator.Event) error {
		v, _, _ := unstructuredString(ev.Object.Object, "spec", "v")
		n.inc(ev.Object.GetName() + "=" + v)
		return nil
	}))
	e.start()
	const objects, rounds = 10, 30
	for i := range objects {
		e.create(fmt.Sprintf("b%d", i), map[string]any{"v": "0"})
	}
	ri := e.dc.Namespace(e.ns)
	writerDone := make(chan struct{})
	var restarted atomic.Bool
	go func() {
		defer close(writerDone)
		for v := 1; v <= rounds; v++ {
			for i := range objects {
				patch := []byte(fmt.Sprintf(`{"spec":{"v":"%d"}}`, v))
				for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
					if _, err := ri.Patch(context.Background(), fmt.Sprintf("b%d", i), types.MergePatchType, patch, metav1.PatchOptions{}); err == nil {
						break
					}
				}
			}
			time.Sleep(30 * time.Millisecond)
			if v == rounds/3 && restarted.CompareAndSwap(false, true) {
				go func() {
					cp.StopAPIServer()
					time.Sleep(time.Second)
					if err := cp.StartAPIServer(context.Background()); err != nil {
						t.Error(err)
					}
				}()
			}
		}
	}()
	<-writerDone
	last := fmt.Sprint(rounds)
	eventuallyWithin(t, 60*time.Second, func() string {
		for i := range objects {
			if n.get(fmt.Sprintf("b%d=%s", i, last)) != 1 {
				return "final values not all handled: " + n.String()
			}
		}
		return ""
	})
	time.Sleep(time.Second) // give a duplicate run the chance to show
	n.mu.Lock()
	defer n.mu.Unlock()
	handled := 0
	for k, c := range n.m {
		handled += c
		if c != 1 {
			t.Errorf("%s handled %d times, want at most once", k, c)
		}
	}
	t.Logf("%d objects x %d patches across an API server restart: %d distinct values handled (coalesced changes are handled once, at their latest value), every final value handled", objects, rounds, handled)
}

// TestWriteRacingTheAnnotationRunsOnce: each create handler changes its
// object's spec through the API just before it returns, so the change lands
// between the handler's success and optel's annotation PATCH, and the
// watch may deliver it before the annotation. On the real API server,
// every object is created once and updated once, with the diff.
func TestWriteRacingTheAnnotationRunsOnce(t *testing.T) {
	e := newEnv(t, operator.Options{Workers: 4})
	var n counts
	ri := e.dc.Namespace(e.ns)
	must(t, e.op.OnCreate(gadgets, "create", func(ctx context.Context, ev *operator.Event) error {
		n.inc("create/" + ev.Object.GetName())
		_, err := ri.Patch(ctx, ev.Object.GetName(), types.MergePatchType, []byte(`{"spec":{"v":"changed"}}`), metav1.PatchOptions{})
		return err
	}))
	must(t, e.op.OnUpdate(gadgets, "update", func(_ context.Context, ev *operator.Event) error {
		n.inc("update/" + ev.Object.GetName() + " " + fmt.Sprint(ev.Diff))
		return nil
	}))
	e.start()
	const objects = 20
	for i := range objects {
		e.create(fmt.Sprintf("r%d", i), map[string]any{"v": "0"})
	}
	eventually(t, func() string {
		for i := range objects {
			if n.get(fmt.Sprintf("update/r%d [change spec.v: 0 -> changed]", i)) != 1 {
				return "updates not all handled: " + n.String()
			}
		}
		return ""
	})
	time.Sleep(time.Second) // give a duplicate the chance to show
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, c := range n.m {
		if c != 1 {
			t.Errorf("%s ran %d times, want once", k, c)
		}
	}
	if len(n.m) != 2*objects {
		t.Errorf("%d distinct runs, want %d (one create and one update per object): %v", len(n.m), 2*objects, n.m)
	}
}

// blackholeProxy forwards TCP to target until cut; then every connection,
// old or new, is held open and never answered.
type blackholeProxy struct {
	addr   string
	ln     net.Listener
	mu     sync.Mutex
	up     []net.Conn // connections to the target
	held   []net.Conn // client connections, closed at the end of the test
	isCut  atomic.Bool
	target string
}

func startBlackholeProxy(t *testing.T, target string) *blackholeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &blackholeProxy{addr: ln.Addr().String(), ln: ln, target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.held = append(p.held, c)
			p.mu.Unlock()
			if p.isCut.Load() {
				continue // hold it, say nothing
			}
			d, err := net.Dial("tcp", target)
			if err != nil {
				continue
			}
			p.mu.Lock()
			p.up = append(p.up, d)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(d, c) }()
			go func() { _, _ = io.Copy(c, d) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range append(p.up, p.held...) {
			c.Close()
		}
	})
	return p
}

// cut drops the target side of every connection: clients keep theirs open
// and get no answer, ever.
func (p *blackholeProxy) cut() {
	p.isCut.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.up {
		d.Close()
	}
}
