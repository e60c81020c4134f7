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
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/optel-dev/optel/internal/observ"
	"github.com/optel-dev/optel/telemetry"
)

// controller watches one resource, keeps its cache, and dispatches its
// handlers. It depends on its engine only, never on the Operator.
type controller struct {
	e        *engine
	res      Resource
	name     string
	handlers map[Cause][]*handlerSpec
	// gvk and namespaced come from discovery at start (resolve).
	gvk        schema.GroupVersionKind
	namespaced bool
	// mappers turn an event of this resource into keys of other
	// controllers (Owns, Watches); they run on the informer's goroutine.
	mappers []func(obj *unstructured.Unstructured)
	// mapped: other resources' events enqueue this one's keys.
	mapped bool

	resourceAttrs telemetry.Attributes
	eventAttrs    map[string]telemetry.Attributes
	restartAttrs  map[string]telemetry.Attributes
	recorders     map[Cause]map[string]*recorder

	store     objectStore
	informers map[string]cache.SharedIndexInformer // by namespace ("" = all)
	// lastActivity (watch events, bookmarks, re-watches) and lastGet (a
	// worker took an item) feed the liveness probes; unix nanoseconds.
	lastActivity, lastGet atomic.Int64
	queue                 workqueue.TypedRateLimitingInterface[string]
	timed                 *timedQueue // under queue: when each key was added
	stopInf               context.CancelFunc

	locks   keyLocks
	events  eventWorkers // event handlers, off the watch's delivery goroutine
	objects objectCounts // opt-in per-object counts

	mu      sync.Mutex
	state   map[string]*objState
	runners map[string]map[string]*runner // key -> handler id -> runner
}

// objectStore is where process reads objects: the informers' caches, or a
// plain cache.Store in unit tests.
type objectStore interface {
	GetByKey(key string) (any, bool, error)
}

// objState is the in-memory progress for one object.
type objState struct {
	// uid is the object's; a new object under the same name (deleted and
	// re-created before a worker saw the deletion) starts from scratch.
	uid     string
	resumed bool
	// handled is the state this process last handled to completion for the
	// object. It is written before optel's annotation PATCH and is at least
	// as fresh as the annotation, so a cache copy that lags the PATCH (or a
	// PATCH that failed) never makes a handler run again for a handled
	// state, nor run create for an object that was handled.
	handled  string
	progress map[Cause]*progress
	// seenEssence and changedAt feed timers' idle option.
	seenEssence string
	changedAt   time.Time
	// reconcileRetries counts failed runs of each reconcile handler since
	// its last success.
	reconcileRetries map[string]int
}

// progress tracks handlers of one cause for one state of the object.
type progress struct {
	essence string
	done    map[string]bool
	retries map[string]int
}

func newController(e *engine, r Resource) *controller {
	name := ResourceName(r)
	c := &controller{
		e: e, res: r, name: name,
		handlers:      map[Cause][]*handlerSpec{},
		resourceAttrs: telemetry.NewAttributes(observ.AttrResource.String(name)),
		eventAttrs:    map[string]telemetry.Attributes{},
		restartAttrs:  map[string]telemetry.Attributes{},
		recorders:     map[Cause]map[string]*recorder{},
		informers:     map[string]cache.SharedIndexInformer{},
		state:         map[string]*objState{},
		runners:       map[string]map[string]*runner{},
	}
	c.store = informerStore{c}
	for _, r := range []string{restartGone, restartError, restartClosed} {
		c.restartAttrs[r] = telemetry.NewAttributes(observ.AttrResource.String(name), observ.AttrReason.String(r))
	}
	for _, t := range []string{"added", "modified", "deleted"} {
		c.eventAttrs[t] = telemetry.NewAttributes(observ.AttrResource.String(name), observ.AttrEventType.String(t))
	}
	return c
}

func (c *controller) finalizer() string { return c.e.cfg.annotationPrefix + "/finalizer" }
func (c *controller) lastHandledKey() string {
	return c.e.cfg.annotationPrefix + "/last-handled-configuration"
}

// needsFinalizer: deletion must wait for delete handlers and daemons.
func (c *controller) needsFinalizer() bool {
	return len(c.handlers[CauseDelete]) > 0 || len(c.handlers[CauseDaemon]) > 0
}

// detectsChanges: create, update (and field) and resume handlers need the
// last-handled annotation to tell a new object from a changed or resumed
// one. A resource without them is never annotated.
func (c *controller) detectsChanges() bool {
	return len(c.handlers[CauseCreate]) > 0 || len(c.handlers[CauseUpdate]) > 0 || len(c.handlers[CauseResume]) > 0
}

// needsQueue: a resource that is only watched (a child, a cache) has no
// queue and no workers.
func (c *controller) needsQueue() bool {
	for _, hs := range c.handlers {
		if len(hs) > 0 {
			return true
		}
	}
	return false
}

func (c *controller) needsEssence() bool {
	if c.detectsChanges() {
		return true
	}
	for _, h := range c.handlers[CauseTimer] {
		if h.idle > 0 {
			return true
		}
	}
	return false
}

func (c *controller) recorder(cause Cause, id string) *recorder {
	return c.recorders[cause][id]
}

// prepare creates the recorders and the queue; it runs for every controller
// before any informer starts, so mappers always find their target's queue.
func (c *controller) prepare() {
	for cause, hs := range c.handlers {
		c.recorders[cause] = map[string]*recorder{}
		for _, h := range hs {
			c.recorders[cause][h.id] = newRecorder(c.e.inst, c.name, h.id, cause)
		}
	}
	if len(c.handlers[CauseEvent]) > 0 {
		c.events.prepare(c.e.cfg.workers)
	}
	if !c.needsQueue() {
		return
	}
	mp := queueMetrics{inst: c.e.inst, attrs: c.resourceAttrs}
	c.timed = &timedQueue{TypedInterface: workqueue.NewTypedWithConfig(workqueue.TypedQueueConfig[string]{Name: c.name, MetricsProvider: mp}), added: map[string]time.Time{}}
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: c.name, MetricsProvider: mp,
			DelayingQueue: workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[string]{Name: c.name, MetricsProvider: mp, Queue: c.timed})},
	)
	// objectCount runs at collection time, concurrently with start.
	c.mu.Lock()
	c.queue = queue
	c.mu.Unlock()
}

// start begins watching.
func (c *controller) start() error {
	namespaces := c.e.cfg.namespaces
	if len(namespaces) == 0 || !c.namespaced {
		namespaces = []string{""}
	}
	now := time.Now().UnixNano()
	c.lastActivity.Store(now)
	c.lastGet.Store(now)
	infCtx, cancel := context.WithCancel(context.Background())
	c.stopInf = cancel
	for _, ns := range namespaces {
		inf := cache.NewSharedIndexInformer(c.countingListWatch(ns), &unstructured.Unstructured{}, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
		if err := inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			c.e.log.Warn("watch failed; re-listing and re-watching", "resource", c.name, "error", err)
		}); err != nil {
			cancel()
			return fmt.Errorf("watch %s: %w", c.name, err)
		}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.onEvent("added", obj, nil) },
			UpdateFunc: func(old, obj any) { c.onEvent("modified", obj, old) },
			DeleteFunc: func(obj any) { c.onEvent("deleted", obj, nil) },
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
	for _, inf := range c.informerList() {
		if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			return false
		}
	}
	return true
}

func (c *controller) informerList() []cache.SharedIndexInformer {
	c.mu.Lock()
	defer c.mu.Unlock()
	infs := make([]cache.SharedIndexInformer, 0, len(c.informers))
	for _, inf := range c.informers {
		infs = append(infs, inf)
	}
	return infs
}

func (c *controller) objectCount() (int, bool) {
	infs := c.informerList()
	if len(infs) == 0 {
		return 0, false
	}
	n := 0
	for _, inf := range infs {
		n += len(inf.GetStore().ListKeys())
	}
	return n, true
}

// onEvent counts the watch event, hands event handlers their job, enqueues
// the key, and lets mappers enqueue related owners: for an update, those of
// the old state too, so an owner a child left (or a relabelled object no
// longer maps to) is woken as well.
func (c *controller) onEvent(typ string, obj, old any) {
	c.e.inst.WatchEvents.Add(context.Background(), 1, c.eventAttrs[typ].Add()...)
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
	prev, _ := old.(*unstructured.Unstructured)
	// An update that only wrote optel's last-handled annotation (the echo
	// of optel's own write) changes nothing a handler sees: not queued.
	if !(typ == "modified" && prev != nil && c.detectsChanges() && onlyAnnotationChanged(prev, u, c.lastHandledKey())) {
		c.enqueue(key) // first: a full event shard must not hold up the queue
	}
	if hs := c.handlers[CauseEvent]; len(hs) > 0 {
		wire := map[string]string{"added": "ADDED", "modified": "MODIFIED", "deleted": "DELETED"}[typ]
		for _, h := range hs {
			if h.matches(u) {
				ev := c.event(CauseEvent, u)
				ev.typ = wire
				c.events.submit(key, eventJob{h: h, ev: ev})
			}
		}
	}
	if len(c.mappers) == 0 {
		return
	}
	for _, m := range c.mappers {
		c.runMapper(m, u)
		if prev != nil {
			c.runMapper(m, prev)
		}
	}
}

// runMapper calls a mapper, recovering a panic in a user's mapping function
// so it cannot kill the watch (client-go re-panics in its handlers).
func (c *controller) runMapper(m func(*unstructured.Unstructured), u *unstructured.Unstructured) {
	defer func() {
		if r := recover(); r != nil {
			c.e.log.Error("mapping function panicked; event not mapped", "resource", c.name, "namespace", u.GetNamespace(), "name", u.GetName(), "panic", r)
		}
	}()
	m(u)
}

// enqueue adds key to the work queue, if this resource has one.
func (c *controller) enqueue(key string) {
	if c.queue != nil {
		c.queue.Add(key)
	}
}

func (c *controller) stopIntake() {
	if c.stopInf != nil {
		c.stopInf()
	}
	if c.queue != nil {
		c.queue.ShutDown()
	}
	c.events.stop()
}

func (c *controller) runWorkers(wg *sync.WaitGroup) {
	c.events.run(wg, c)
	if c.queue == nil {
		return
	}
	for range c.e.cfg.workers {
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
	waited := c.timed.waited(key)
	defer c.queue.Done(key)
	work, _, _ := c.e.contexts()
	if !c.locks.lock(work, key) {
		return true
	}
	defer c.locks.unlock(key)
	c.e.inst.WorkersActive.Add(context.Background(), 1, c.resourceAttrs.Add()...)
	defer c.e.inst.WorkersActive.Add(context.Background(), -1, c.resourceAttrs.Add()...)
	delay, err := c.process(withQueueWait(work, waited), key)
	switch {
	case err != nil:
		c.e.log.Error("processing failed; retrying", "resource", c.name, "key", key, "error", err)
		c.queue.AddRateLimited(key)
	case delay > 0:
		c.queue.AddAfter(key, delay)
	default:
		c.queue.Forget(key)
	}
	return true
}

// informerStore reads from whichever informer holds the key's namespace.
type informerStore struct{ c *controller }

func (s informerStore) GetByKey(key string) (any, bool, error) {
	ns, _, _ := cache.SplitMetaNamespaceKey(key)
	s.c.mu.Lock()
	inf := s.c.informers[""]
	if inf == nil {
		inf = s.c.informers[ns]
	}
	s.c.mu.Unlock()
	if inf == nil {
		return nil, false, nil
	}
	return inf.GetStore().GetByKey(key)
}

func (c *controller) get(key string) *unstructured.Unstructured {
	obj, exists, err := c.store.GetByKey(key)
	if err != nil || !exists {
		return nil
	}
	u, _ := obj.(*unstructured.Unstructured)
	return u
}

func (c *controller) stateFor(key string, uid string) *objState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state[key]
	if st == nil || st.uid != uid {
		st = &objState{uid: uid, progress: map[Cause]*progress{}, reconcileRetries: map[string]int{}}
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

// process handles one key under its lock and returns a retry delay (0 when
// done) or an error for rate-limited retry (API failures outside handlers).
//
// Order for a live object: add the finalizer if delete handlers or daemons
// need one; start missing timers and daemons; run change-detecting
// handlers (create, or update then resume, each with the diff since the
// last handled state) and record the handled state in the annotation; then
// run reconcile handlers. A resource without change-detecting handlers is
// never annotated, and one without delete handlers or daemons never gets a
// finalizer.
func (c *controller) process(ctx context.Context, key string) (time.Duration, error) {
	obj := c.get(key)
	if obj == nil {
		c.stopRunners(key)
		c.forget(key)
		return 0, nil
	}
	// obj is the cache's until a handler is about to run: most passes
	// run none, and copying the object costs. own makes the copy handlers
	// get, once.
	copied := false
	own := func() {
		if !copied {
			obj, copied = obj.DeepCopy(), true
		}
	}
	ns, name := obj.GetNamespace(), obj.GetName()

	if obj.GetDeletionTimestamp() != nil {
		own()
		c.stopRunners(key)
		// optel's finalizer is removed even when no delete handler needs it
		// any more (a new version dropped the last one), so objects never
		// stay stuck in Terminating.
		if !slices.Contains(obj.GetFinalizers(), c.finalizer()) {
			return 0, nil
		}
		st := c.stateFor(key, string(obj.GetUID()))
		if delay, ok := c.runCause(ctx, st, CauseDelete, "deleting", obj, nil, nil); !ok {
			return delay, nil
		}
		if err := c.e.writer.setFinalizer(ctx, c.res, ns, name, c.finalizer(), false); err != nil {
			return 0, fmt.Errorf("remove finalizer: %w", err)
		}
		c.forget(key)
		return 0, nil
	}
	if c.needsFinalizer() && !slices.Contains(obj.GetFinalizers(), c.finalizer()) {
		if err := c.e.writer.setFinalizer(ctx, c.res, ns, name, c.finalizer(), true); err != nil {
			return 0, fmt.Errorf("add finalizer: %w", err)
		}
		return 0, nil // the update event brings the object back
	}

	st := c.stateFor(key, string(obj.GetUID()))
	var wait time.Duration
	later := func(d time.Duration) {
		if d > 0 && (wait == 0 || d < wait) {
			wait = d
		}
	}
	var ess string
	var essMap map[string]any
	if c.needsEssence() {
		essMap = essence(obj, c.e.cfg.annotationPrefix)
		var err error
		if ess, err = encodeEssence(essMap); err != nil {
			return 0, err
		}
		c.mu.Lock()
		if st.seenEssence != ess {
			st.seenEssence, st.changedAt = ess, time.Now()
		}
		c.mu.Unlock()
	}
	c.ensureRunners(key, obj)

	if c.detectsChanges() {
		pending := false
		step := func(cause Cause, old *unstructured.Unstructured, d Diff) bool {
			own()
			delay, ok := c.runCause(ctx, st, cause, ess, obj, old, d)
			if !ok {
				pending = true
				later(max(delay, time.Millisecond))
			}
			return ok
		}
		annotated, hasAnnotation := obj.GetAnnotations()[c.lastHandledKey()]
		last, hasLast := annotated, hasAnnotation
		c.mu.Lock()
		if st.handled != "" {
			last, hasLast = st.handled, true
		}
		c.mu.Unlock()
		switch {
		case !hasLast:
			step(CauseCreate, nil, nil)
		default:
			// After a restart, a change made while the operator was down
			// reaches update handlers first, with its diff; resume
			// handlers then see the same diff.
			var old *unstructured.Unstructured
			var d Diff
			if last != ess {
				prev, err := decodeEssence(last)
				if err != nil {
					c.e.log.Warn("ignoring unreadable last-handled annotation", "key", key, "error", err)
					prev = map[string]any{}
				}
				// The diff goes to handlers: take its new values from their
				// copy, not from the cache.
				own()
				essMap = essence(obj, c.e.cfg.annotationPrefix)
				old, d = &unstructured.Unstructured{Object: prev}, diff(nil, prev, essMap)
				step(CauseUpdate, old, d)
			}
			c.mu.Lock()
			resumed := st.resumed
			c.mu.Unlock()
			// Resume handlers run once the update handlers are done.
			if !resumed && !pending && step(CauseResume, old, d) {
				c.mu.Lock()
				st.resumed = true
				c.mu.Unlock()
			}
		}
		if !pending {
			c.mu.Lock()
			st.handled, st.resumed = ess, true
			c.mu.Unlock()
			if !hasAnnotation || annotated != ess {
				if err := c.e.writer.annotate(ctx, c.res, ns, name, map[string]*string{c.lastHandledKey(): &ess}); err != nil {
					return 0, fmt.Errorf("record handled state: %w", err)
				}
			}
		}
	}
	if len(c.handlers[CauseReconcile]) > 0 {
		own()
		later(c.runReconcile(ctx, st, obj))
	}
	return wait, nil
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
		hd := d
		if h.field != "" {
			// Field handlers run on create when the field is set, and on
			// update when it changed; they see only its part of the diff.
			if !fieldApplies(h.field, cause, obj, d) {
				pr.done[h.id] = true
				continue
			}
			hd = d.Under(h.field)
		}
		ev := c.event(cause, obj)
		ev.old, ev.diff, ev.retry = old, hd, pr.retries[h.id]
		err := c.invoke(ctx, h, ev)
		switch classify(err) {
		case outcomeSuccess, outcomePermanent:
			pr.done[h.id] = true
			continue
		}
		all = false
		delay := retryDelay(c.e, err, pr.retries[h.id])
		pr.retries[h.id]++
		if wait == 0 || delay < wait {
			wait = delay
		}
	}
	return wait, all
}

// runReconcile runs the level-based handlers: every time the object, or one
// of the objects mapped to it (Owns, Watches), changed, and when a handler
// asked to be called again. It returns when to run again (0: not needed).
func (c *controller) runReconcile(ctx context.Context, st *objState, obj *unstructured.Unstructured) time.Duration {
	var wait time.Duration
	for _, h := range c.handlers[CauseReconcile] {
		if !h.matches(obj) {
			continue
		}
		c.mu.Lock()
		retries := st.reconcileRetries[h.id]
		c.mu.Unlock()
		ev := c.event(CauseReconcile, obj)
		ev.retry = retries
		err := c.invoke(ctx, h, ev)
		next := ev.requeueAfter
		switch classify(err) {
		case outcomeSuccess, outcomePermanent:
			retries = 0
		default:
			next = retryDelay(c.e, err, retries)
			retries++
		}
		c.mu.Lock()
		st.reconcileRetries[h.id] = retries
		c.mu.Unlock()
		if next > 0 && (wait == 0 || next < wait) {
			wait = next
		}
	}
	return wait
}

// retryDelay is a TemporaryError's delay, else exponential backoff.
func retryDelay(e *engine, err error, retries int) time.Duration {
	var te *TemporaryError
	if errors.As(err, &te) {
		return max(te.Delay, time.Millisecond)
	}
	return e.backoff(retries)
}

func (c *controller) event(cause Cause, obj *unstructured.Unstructured) *rawEvent {
	return &rawEvent{
		c:      c,
		cause:  cause,
		obj:    obj,
		logger: newLazyLogger(c.e.log, "resource", c.name, "namespace", obj.GetNamespace(), "name", obj.GetName()),
	}
}

// invoke runs one handler under its timeout with panic recovery, records
// the outcome, and posts a Kubernetes Event on failure and on recovery. A
// run cut at the timeout keeps going in its goroutine, with a cancelled
// context; its result is ignored.
func (c *controller) invoke(ctx context.Context, h *handlerSpec, ev *rawEvent) error {
	timeout := h.timeout
	if timeout == 0 {
		timeout = c.e.cfg.handlerTimeout
	}
	ctx, span := c.startRun(ctx, ev.cause, h.id, ev.obj, ev.retry, queueWaitAttr(queueWaitFrom(ctx))...)
	ev.logger = runLogger(ev.logger.With("handler", h.id, "cause", string(ev.cause)), span)
	hctx, cancel := context.WithTimeout(withHandlerValues(ctx, c.e.meter, ev.logger, ev.obj), timeout)
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
	// Recorded in the span's context, so the duration and the count carry
	// the run's trace as an exemplar.
	if rec := c.recorder(ev.cause, h.id); rec != nil {
		rec.record(ctx, oc, time.Since(start), ev.retry > 0)
	}
	if c.e.cfg.perObjectMetrics && ev.obj != nil {
		if key, kerr := cache.MetaNamespaceKeyFunc(ev.obj); kerr == nil {
			c.countObject(ev.obj.GetNamespace(), ev.obj.GetName(), key, h.id, ev.cause, oc)
		}
	}
	if err != nil {
		lvl := slog.LevelWarn
		if oc == outcomePanic {
			lvl = slog.LevelError
		}
		ev.logger.Log(ctx, lvl, "handler failed", "outcome", string(oc), "retry", ev.retry, "error", err)
	}
	endRun(span, oc, err)
	c.postHandlerEvent(h, ev, oc, err)
	return err
}

func safeHandler(ctx context.Context, fn rawHandler, ev *rawEvent) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{v: r}
		}
	}()
	return fn(ctx, ev)
}
