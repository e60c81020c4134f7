package operator

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/optel-dev/optel/internal/observ"
	"github.com/optel-dev/optel/telemetry"
)

// DefaultCancellationTimeout is how long a daemon may take to return after
// cancellation before it is abandoned.
const DefaultCancellationTimeout = 10 * time.Second

// runner is one running timer or daemon goroutine.
type runner struct {
	cancel  context.CancelFunc
	done    chan struct{}
	timeout time.Duration
	id      string
}

// stop cancels the runner and waits up to its cancellation timeout.
func (r *runner) stop() bool {
	r.cancel()
	select {
	case <-r.done:
		return true
	case <-time.After(r.timeout):
		return false
	}
}

// ensureRunners starts the timers and daemons an object should have.
func (c *controller) ensureRunners(key string, obj *unstructured.Unstructured) {
	specs := append(append([]*handlerSpec{}, c.handlers[CauseTimer]...), c.handlers[CauseDaemon]...)
	if len(specs) == 0 {
		return
	}
	_, runCtx, runners := c.e.contexts()
	c.mu.Lock()
	defer c.mu.Unlock()
	if runCtx == nil || runCtx.Err() != nil {
		return
	}
	rs := c.runners[key]
	if rs == nil {
		rs = map[string]*runner{}
		c.runners[key] = rs
	}
	for _, h := range specs {
		if _, running := rs[h.id]; running || !h.matches(obj) {
			continue
		}
		ctx, cancel := context.WithCancel(runCtx)
		r := &runner{cancel: cancel, done: make(chan struct{}), timeout: h.cancellationTimeout, id: h.id}
		if r.timeout == 0 {
			r.timeout = DefaultCancellationTimeout
		}
		rs[h.id] = r
		runners.Add(1)
		snapshot := obj.DeepCopy()
		go func() {
			defer runners.Done()
			defer close(r.done)
			if h.cause == CauseTimer {
				c.runTimer(ctx, key, h)
			} else {
				c.runDaemon(ctx, h, snapshot)
			}
		}()
	}
}

// stopRunners stops an object's timers and daemons, waiting for each up to
// its cancellation timeout; a daemon that does not return in time is
// abandoned and logged.
func (c *controller) stopRunners(key string) {
	c.mu.Lock()
	rs := c.runners[key]
	delete(c.runners, key)
	c.mu.Unlock()
	for _, r := range rs {
		if !r.stop() {
			c.e.log.Warn("daemon did not stop within its cancellation timeout; abandoned", "resource", c.name, "key", key, "daemon", r.id, "timeout", r.timeout)
		}
	}
}

func (c *controller) stopAllRunners() {
	c.mu.Lock()
	keys := make([]string, 0, len(c.runners))
	for k := range c.runners {
		keys = append(keys, k)
	}
	c.mu.Unlock()
	for _, k := range keys {
		c.stopRunners(k)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// runTimer fires h every interval while the object exists, recording how
// late each tick was. With idle set, it skips ticks until the object has
// been unchanged for that long.
func (c *controller) runTimer(ctx context.Context, key string, h *handlerSpec) {
	first := h.initialDelay
	if first == 0 {
		first = h.interval
	}
	next := time.Now().Add(first)
	rec := c.recorder(CauseTimer, h.id)
	for {
		if !sleepCtx(ctx, time.Until(next)) {
			return
		}
		due := next
		next = next.Add(h.interval)
		if !c.tick(ctx, key, h, due, rec) {
			return
		}
		if now := time.Now(); next.Before(now) {
			next = now.Add(h.interval) // fell behind: do not burst
		}
	}
}

// tick runs one timer tick under the object's lock, so it never overlaps
// the object's other handlers. It reports false when the object is gone or
// ctx ended while waiting for the lock.
func (c *controller) tick(ctx context.Context, key string, h *handlerSpec, due time.Time, rec *recorder) bool {
	if !c.locks.lock(ctx, key) {
		return false
	}
	defer c.locks.unlock(key)
	// Lateness includes waiting for the object's lock.
	c.e.inst.TimerLateness.Record(ctx, max(time.Since(due), 0).Seconds(), rec.base.Record()...)
	obj := c.get(key)
	if obj == nil {
		return false
	}
	if h.idle > 0 {
		c.mu.Lock()
		st := c.state[key]
		quiet := st == nil || time.Since(st.changedAt) >= h.idle
		c.mu.Unlock()
		if !quiet {
			return true
		}
	}
	_ = c.invoke(ctx, h, c.event(CauseTimer, obj.DeepCopy()))
	return true
}

// runDaemon runs h until it returns nil or ctx ends, restarting it with
// backoff after an error or panic.
func (c *controller) runDaemon(ctx context.Context, h *handlerSpec, obj *unstructured.Unstructured) {
	if !sleepCtx(ctx, h.initialDelay) {
		return
	}
	attrs := telemetry.NewAttributes(observ.AttrDaemon.String(c.name + "/" + h.id))
	c.e.superviseDaemon(ctx, attrs, c.recorder(CauseDaemon, h.id), func(ctx context.Context, attempt int) error {
		ev := c.event(CauseDaemon, obj)
		ev.retry = attempt
		// A short span marks each start and restart (a span kept open for
		// the daemon's life would be exported only when it ends); the
		// daemon's own spans and API calls are its children.
		ctx, span := c.startRun(ctx, CauseDaemon, h.id, obj, attempt, AttrSpanAttempt.Int(attempt))
		span.End()
		ev.logger = runLogger(ev.logger.With("daemon", h.id), span)
		return safeHandler(withHandlerValues(ctx, c.e.meter, ev.logger, obj), h.fn, ev)
	}, warnLogger(c.e.log, "daemon", h.id))
}

func warnLogger(l *slog.Logger, kind, id string) func(msg string, args ...any) {
	l = l.With(kind, id)
	return func(msg string, args ...any) { l.Warn(msg, args...) }
}

// superviseDaemon is shared by per-object daemons and Background activities:
// it keeps optel.daemons.running, restarts after errors with backoff
// (honouring TemporaryError delays), and counts restarts.
func (o *engine) superviseDaemon(ctx context.Context, attrs telemetry.Attributes, rec *recorder, run func(ctx context.Context, attempt int) error, warn func(string, ...any)) {
	o.inst.DaemonsRunning.Add(context.WithoutCancel(ctx), 1, attrs.Add()...)
	defer o.inst.DaemonsRunning.Add(context.WithoutCancel(ctx), -1, attrs.Add()...)
	for attempt := 0; ; attempt++ {
		start := time.Now()
		err := run(ctx, attempt)
		if ctx.Err() != nil {
			rec.record(ctx, outcomeSuccess, time.Since(start), attempt > 0)
			return
		}
		rec.record(ctx, classify(err), time.Since(start), attempt > 0)
		if err == nil {
			return
		}
		var pe *PermanentError
		if errors.As(err, &pe) {
			warn("daemon failed permanently; not restarting", "error", err)
			return
		}
		delay := o.backoff(attempt)
		var te *TemporaryError
		if errors.As(err, &te) {
			delay = te.Delay
		}
		warn("daemon returned an error; restarting", "error", err, "in", delay)
		o.inst.DaemonRestarts.Add(context.WithoutCancel(ctx), 1, attrs.Add()...)
		if !sleepCtx(ctx, delay) {
			return
		}
	}
}

// startBackground runs an operator-level Background activity.
func (o *Operator) startBackground(a activity) {
	attrs := telemetry.NewAttributes(observ.AttrDaemon.String(a.id))
	rec := o.activityRecorder(a.id)
	_, runCtx, _ := o.eng.contexts()
	o.runners.Add(1)
	go func() {
		defer o.runners.Done()
		o.eng.superviseDaemon(runCtx, attrs, rec, func(ctx context.Context, attempt int) error {
			// A short span marks each start and restart; the activity's
			// own spans and API calls are its children.
			ctx, span := o.eng.startActivity(ctx, a.id, attempt)
			span.End()
			return safeActivity(withHandlerValues(ctx, o.eng.meter, runLogger(o.log.With("background", a.id), span), nil), a.fn)
		}, warnLogger(o.log, "background", a.id))
	}()
}
