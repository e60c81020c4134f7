package operator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/optel-dev/optel/internal/observ"
	"github.com/optel-dev/optel/telemetry"
)

// controller watches one resource and dispatches its handlers.
type controller struct {
	op       *Operator
	res      Resource
	name     string
	handlers map[Cause][]*handlerSpec

	resourceAttrs telemetry.Attributes
	eventAttrs    map[string]telemetry.Attributes
	restartAttrs  map[string]telemetry.Attributes
	recorders     map[Cause]map[string]*recorder

	informers map[string]cache.SharedIndexInformer // by namespace ("" = all)
	// lastActivity (watch events, bookmarks, re-watches) and lastGet (a
	// worker took an item) feed the liveness probes; unix nanoseconds.
	lastActivity, lastGet atomic.Int64
	queue                 workqueue.TypedRateLimitingInterface[string]
	stopInf               context.CancelFunc

	objects objectCounts // opt-in per-object counts

	mu      sync.Mutex
	state   map[string]*objState
	runners map[string]map[string]*runner // key -> handler id -> runner
}

// objState is the in-memory progress for one object.
type objState struct {
	resumed  bool
	progress map[Cause]*progress
	// seenEssence and changedAt feed timers' idle option.
	seenEssence string
	changedAt   time.Time
}

// progress tracks handlers of one cause for one state of the object.
type progress struct {
	essence string
	done    map[string]bool
	retries map[string]int
}

func newController(o *Operator, r Resource) *controller {
	name := ResourceName(r)
	c := &controller{
		op: o, res: r, name: name,
		handlers:      map[Cause][]*handlerSpec{},
		resourceAttrs: telemetry.NewAttributes(observ.AttrResource.String(name)),
		eventAttrs:    map[string]telemetry.Attributes{},
		restartAttrs:  map[string]telemetry.Attributes{},
		recorders:     map[Cause]map[string]*recorder{},
		informers:     map[string]cache.SharedIndexInformer{},
		state:         map[string]*objState{},
		runners:       map[string]map[string]*runner{},
	}
	for _, r := range []string{restartGone, restartError, restartClosed} {
		c.restartAttrs[r] = telemetry.NewAttributes(observ.AttrResource.String(name), observ.AttrReason.String(r))
	}
	for _, t := range []string{"added", "modified", "deleted"} {
		c.eventAttrs[t] = telemetry.NewAttributes(observ.AttrResource.String(name), observ.AttrEventType.String(t))
	}
	return c
}

func (c *controller) finalizer() string { return c.op.opts.AnnotationPrefix + "/finalizer" }
func (c *controller) lastHandledKey() string {
	return c.op.opts.AnnotationPrefix + "/last-handled-configuration"
}

// needsFinalizer: deletion must wait for delete handlers and daemons.
func (c *controller) needsFinalizer() bool {
	return len(c.handlers[CauseDelete]) > 0 || len(c.handlers[CauseDaemon]) > 0
}

func (c *controller) recorder(cause Cause, id string) *recorder {
	return c.recorders[cause][id]
}

// start creates informers and the queue and begins watching.
func (c *controller) start(ctx context.Context) error {
	for cause, hs := range c.handlers {
		c.recorders[cause] = map[string]*recorder{}
		for _, h := range hs {
			c.recorders[cause][h.id] = newRecorder(&c.op.inst, c.name, h.id, cause)
		}
	}
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: c.name, MetricsProvider: queueMetrics{inst: &c.op.inst, attrs: c.resourceAttrs}},
	)
	// objectCount runs at collection time, concurrently with start.
	c.mu.Lock()
	c.queue = queue
	c.mu.Unlock()
	namespaces := c.op.opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{""}
	}
	now := time.Now().UnixNano()
	c.lastActivity.Store(now)
	c.lastGet.Store(now)
	infCtx, cancel := context.WithCancel(context.Background())
	c.stopInf = cancel
	for _, ns := range namespaces {
		inf := cache.NewSharedIndexInformer(c.countingListWatch(ns), &unstructured.Unstructured{}, 0, cache.Indexers{})
		if err := inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			c.op.log.Warn("watch failed; re-listing and re-watching", "resource", c.name, "error", err)
		}); err != nil {
			cancel()
			return fmt.Errorf("watch %s: %w", c.name, err)
		}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.onEvent("added", obj) },
			UpdateFunc: func(_, obj any) { c.onEvent("modified", obj) },
			DeleteFunc: func(obj any) { c.onEvent("deleted", obj) },
		}); err != nil {
			cancel()
			return fmt.Errorf("watch %s: %w", c.name, err)
		}
		c.mu.Lock()
		c.informers[ns] = inf
		c.mu.Unlock()
		go inf.RunWithContext(infCtx)
	}
	return nil
}

func (c *controller) waitSynced(ctx context.Context) bool {
	for _, inf := range c.informers {
		if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			return false
		}
	}
	return true
}

func (c *controller) objectCount() (int, bool) {
	c.mu.Lock()
	if c.queue == nil {
		c.mu.Unlock()
		return 0, false
	}
	infs := make([]cache.SharedIndexInformer, 0, len(c.informers))
	for _, inf := range c.informers {
		infs = append(infs, inf)
	}
	c.mu.Unlock()
	n := 0
	for _, inf := range infs {
		n += len(inf.GetStore().ListKeys())
	}
	return n, true
}

// onEvent counts the watch event, runs event handlers, and enqueues the key.
func (c *controller) onEvent(typ string, obj any) {
	c.op.inst.WatchEvents.Add(context.Background(), 1, c.eventAttrs[typ].Add()...)
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(u)
	if err != nil {
		return
	}
	if hs := c.handlers[CauseEvent]; len(hs) > 0 {
		wire := map[string]string{"added": "ADDED", "modified": "MODIFIED", "deleted": "DELETED"}[typ]
		for _, h := range hs {
			if h.matches(u) {
				ev := c.event(CauseEvent, u)
				ev.Type = wire
				_ = c.invoke(c.op.workCtx, h, ev)
			}
		}
	}
	c.queue.Add(key)
}

func (c *controller) stopIntake() {
	if c.stopInf != nil {
		c.stopInf()
	}
	if c.queue != nil {
		c.queue.ShutDown()
	}
}

func (c *controller) runWorkers(wg *sync.WaitGroup) {
	for range c.op.opts.Workers {
		wg.Go(func() {
			for c.processNext() {
			}
		})
	}
}

func (c *controller) processNext() bool {
	key, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	c.lastGet.Store(time.Now().UnixNano())
	defer c.queue.Done(key)
	c.op.inst.WorkersActive.Add(context.Background(), 1, c.resourceAttrs.Add()...)
	defer c.op.inst.WorkersActive.Add(context.Background(), -1, c.resourceAttrs.Add()...)
	delay, err := c.process(c.op.workCtx, key)
	switch {
	case err != nil:
		c.op.log.Error("processing failed; retrying", "resource", c.name, "key", key, "error", err)
		c.queue.AddRateLimited(key)
	case delay > 0:
		c.queue.AddAfter(key, delay)
	default:
		c.queue.Forget(key)
	}
	return true
}

func (c *controller) get(key string) *unstructured.Unstructured {
	ns, _, _ := cache.SplitMetaNamespaceKey(key)
	inf := c.informers[""]
	if inf == nil {
		inf = c.informers[ns]
	}
	if inf == nil {
		return nil
	}
	obj, exists, err := inf.GetStore().GetByKey(key)
	if err != nil || !exists {
		return nil
	}
	return obj.(*unstructured.Unstructured)
}

func (c *controller) stateFor(key string) *objState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state[key]
	if st == nil {
		st = &objState{progress: map[Cause]*progress{}}
		c.state[key] = st
	}
	return st
}

func (c *controller) forget(key string) {
	c.mu.Lock()
	delete(c.state, key)
	c.mu.Unlock()
	c.forgetObjectCounts(key)
}

// process handles one key and returns a retry delay (0 when done) or an
// error for rate-limited retry (API failures outside handlers).
func (c *controller) process(ctx context.Context, key string) (time.Duration, error) {
	obj := c.get(key)
	if obj == nil {
		c.stopRunners(key)
		c.forget(key)
		return 0, nil
	}
	obj = obj.DeepCopy()
	p := c.patcherFor(obj)

	if obj.GetDeletionTimestamp() != nil {
		if !slices.Contains(obj.GetFinalizers(), c.finalizer()) {
			c.stopRunners(key)
			return 0, nil
		}
		c.stopRunners(key)
		st := c.stateFor(key)
		if delay, ok := c.runCause(ctx, st, CauseDelete, "deleting", obj, nil, nil); !ok {
			return delay, nil
		}
		if err := p.setFinalizer(ctx, c.finalizer(), false); err != nil {
			return 0, fmt.Errorf("remove finalizer: %w", err)
		}
		c.forget(key)
		return 0, nil
	}
	if c.needsFinalizer() && !slices.Contains(obj.GetFinalizers(), c.finalizer()) {
		if err := p.setFinalizer(ctx, c.finalizer(), true); err != nil {
			return 0, fmt.Errorf("add finalizer: %w", err)
		}
		return 0, nil // the update event brings the object back
	}

	st := c.stateFor(key)
	essMap := c.op.essence(obj)
	ess, err := encodeEssence(essMap)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	if st.seenEssence != ess {
		st.seenEssence, st.changedAt = ess, time.Now()
	}
	c.mu.Unlock()
	c.ensureRunners(key, obj)

	last, hasLast := obj.GetAnnotations()[c.lastHandledKey()]
	var wait time.Duration
	pending := false
	step := func(cause Cause, old *unstructured.Unstructured, d Diff) {
		if delay, ok := c.runCause(ctx, st, cause, ess, obj, old, d); !ok {
			pending = true
			if wait == 0 || (delay > 0 && delay < wait) {
				wait = delay
			}
		}
	}
	switch {
	case !hasLast:
		step(CauseCreate, nil, nil)
	default:
		if !st.resumed {
			step(CauseResume, nil, nil)
		}
		if last != ess {
			prev, err := decodeEssence(last)
			if err != nil {
				c.op.log.Warn("ignoring unreadable last-handled annotation", "key", key, "error", err)
				prev = map[string]any{}
			}
			step(CauseUpdate, &unstructured.Unstructured{Object: prev}, diff(nil, prev, essMap))
		}
	}
	if pending {
		return max(wait, time.Millisecond), nil
	}
	if !hasLast || last != ess {
		if err := p.annotate(ctx, map[string]*string{c.lastHandledKey(): &ess}); err != nil {
			return 0, fmt.Errorf("record handled state: %w", err)
		}
	}
	c.mu.Lock()
	st.resumed = true
	c.mu.Unlock()
	return 0, nil
}

// runCause runs the handlers of cause that are not done for this state of
// the object. It reports whether all are done, else the retry delay.
func (c *controller) runCause(ctx context.Context, st *objState, cause Cause, ess string, obj, old *unstructured.Unstructured, d Diff) (time.Duration, bool) {
	hs := c.handlers[cause]
	if len(hs) == 0 {
		return 0, true
	}
	c.mu.Lock()
	pr := st.progress[cause]
	if pr == nil || pr.essence != ess {
		pr = &progress{essence: ess, done: map[string]bool{}, retries: map[string]int{}}
		st.progress[cause] = pr
	}
	c.mu.Unlock()
	var wait time.Duration
	all := true
	for _, h := range hs {
		if pr.done[h.id] || !h.matches(obj) {
			continue
		}
		ev := c.event(cause, obj)
		ev.Old, ev.Diff, ev.Retry = old, d, pr.retries[h.id]
		err := c.invoke(ctx, h, ev)
		switch classify(err) {
		case outcomeSuccess, outcomePermanent:
			pr.done[h.id] = true
			continue
		}
		all = false
		delay := c.op.backoff(pr.retries[h.id])
		var te *TemporaryError
		if errors.As(err, &te) {
			delay = max(te.Delay, time.Millisecond)
		}
		pr.retries[h.id]++
		if wait == 0 || delay < wait {
			wait = delay
		}
	}
	return wait, all
}

func (o *Operator) backoff(retries int) time.Duration {
	d := o.opts.BackoffBase
	for range retries {
		d *= 2
		if d >= o.opts.BackoffMax {
			return o.opts.BackoffMax
		}
	}
	return d
}

func (c *controller) patcherFor(obj *unstructured.Unstructured) *patcher {
	ri := c.op.dyn.Resource(c.res)
	if ns := obj.GetNamespace(); ns != "" {
		return &patcher{ri: ri.Namespace(ns), name: obj.GetName()}
	}
	return &patcher{ri: ri, name: obj.GetName()}
}

func (c *controller) event(cause Cause, obj *unstructured.Unstructured) *Event {
	return &Event{
		Cause:    cause,
		Resource: c.res,
		Object:   obj,
		Logger:   c.op.log.With("resource", c.name, "namespace", obj.GetNamespace(), "name", obj.GetName()),
		patcher:  c.patcherFor(obj),
	}
}

// invoke runs one handler under its timeout with panic recovery and records
// the outcome. A run cut at the timeout keeps going in its goroutine, with a
// cancelled context; its result is ignored.
func (c *controller) invoke(ctx context.Context, h *handlerSpec, ev *Event) error {
	timeout := h.timeout
	if timeout == 0 {
		timeout = c.op.opts.HandlerTimeout
	}
	ev.Logger = ev.Logger.With("handler", h.id, "cause", string(ev.Cause))
	hctx, cancel := context.WithTimeout(withHandlerValues(ctx, c.op.meter, ev.Logger, ev.Object), timeout)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- safeHandler(hctx, h.fn, ev) }()
	var err error
	select {
	case err = <-done:
	case <-hctx.Done():
		if errors.Is(hctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w after %s", ErrHandlerTimeout, timeout)
		} else {
			err = fmt.Errorf("handler cancelled: %w", hctx.Err())
		}
	}
	oc := classify(err)
	if rec := c.recorder(ev.Cause, h.id); rec != nil {
		rec.record(ctx, oc, time.Since(start), ev.Retry > 0)
	}
	if c.op.opts.PerObjectMetrics && ev.Object != nil {
		if key, kerr := cache.MetaNamespaceKeyFunc(ev.Object); kerr == nil {
			c.countObject(ev.Object.GetNamespace(), ev.Object.GetName(), key, h.id, ev.Cause, oc)
		}
	}
	if err != nil {
		lvl := slog.LevelWarn
		if oc == outcomePanic {
			lvl = slog.LevelError
		}
		ev.Logger.Log(ctx, lvl, "handler failed", "outcome", string(oc), "retry", ev.Retry, "error", err)
	}
	return err
}

func safeHandler(ctx context.Context, fn Handler, ev *Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{v: r}
		}
	}()
	return fn(ctx, ev)
}
