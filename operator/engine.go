package operator

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/optel-dev/optel/internal/observ"
)

// engine is what every controller depends on, and nothing more: a logger,
// the instruments, the meter handed to handlers, the clients that read and
// write objects, the event poster, the settings, and the lifecycle contexts
// of one leadership term. The Operator builds one; unit tests build their
// own with fakes (see controller_internal_test.go), without an API server.
type engine struct {
	log   *slog.Logger
	inst  *observ.Operator
	meter metric.Meter
	dyn   dynamic.Interface // typed helpers and Event's status writes; may be nil in unit tests
	// watches opens watches (internal/watchstream); it has no client-side rate
	// limit, as client-go's watches have none. When nil (unit tests), the
	// dynamic client watches.
	watches rest.Interface
	writer  objectWriter // optel's own writes: annotations and finalizers
	events  eventPoster
	// tracer starts handler spans; tracing is false when the provider
	// is a no-op, so runs then skip building span attributes.
	tracer  trace.Tracer
	tracing bool

	cfg engineConfig

	// Set by begin for each leadership term. workCtx bounds running
	// handlers and is cancelled only after the graceful-shutdown deadline;
	// runCtx bounds timers and daemons.
	mu      sync.Mutex
	workCtx context.Context
	runCtx  context.Context
	runners *sync.WaitGroup
}

// engineConfig is the part of Options the engine reads.
type engineConfig struct {
	workers          int
	handlerTimeout   time.Duration
	backoffBase      time.Duration
	backoffMax       time.Duration
	annotationPrefix string
	namespaces       []string
	perObjectMetrics bool
	handlerEvents    bool
}

func (e *engine) begin(work, run context.Context, runners *sync.WaitGroup) {
	e.mu.Lock()
	e.workCtx, e.runCtx, e.runners = work, run, runners
	e.mu.Unlock()
}

func (e *engine) contexts() (work, run context.Context, runners *sync.WaitGroup) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.workCtx, e.runCtx, e.runners
}

func (e *engine) backoff(retries int) time.Duration {
	d := e.cfg.backoffBase
	for range retries {
		d *= 2
		if d >= e.cfg.backoffMax {
			return e.cfg.backoffMax
		}
	}
	return d
}

// keyLocks gives per-object exclusion beyond the work queue's: a worker
// processing a key, a timer tick and a daemon start for that key all hold
// its lock, so no two of them run at once for one object. Locks are
// channels so a waiter can give up when its context ends.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{}
	refs int
}

// lock waits for key's lock; it returns false if ctx ended first.
func (k *keyLocks) lock(ctx context.Context, key string) bool {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
		if ctx.Err() != nil { // both were ready: a cancelled waiter must not run
			<-l.ch
			k.release(key, l)
			return false
		}
		return true
	case <-ctx.Done():
		k.release(key, l)
		return false
	}
}

func (k *keyLocks) unlock(key string) {
	k.mu.Lock()
	l := k.m[key]
	k.mu.Unlock()
	<-l.ch
	k.release(key, l)
}

func (k *keyLocks) release(key string, l *keyLock) {
	k.mu.Lock()
	l.refs--
	if l.refs == 0 {
		delete(k.m, key)
	}
	k.mu.Unlock()
}
