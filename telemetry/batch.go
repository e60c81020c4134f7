package telemetry

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Reasons a span or log record is dropped, the reason attribute of
// optel.telemetry.spans.dropped and optel.telemetry.logs.dropped.
const (
	DropQueueFull    = "queue_full"
	DropExportFailed = "export_failed"
	DropShutdown     = "shutdown"
)

// BatchSettings bound a batch processor: the queue between the code that
// ends spans (or writes logs) and the exporter, the largest export, how
// long an item may wait for a batch, and the timeout of one export. The
// OTEL_BSP_* (spans) and OTEL_BLRP_* (logs) variables set them.
type BatchSettings struct {
	MaxQueueSize  int
	MaxBatchSize  int
	ScheduleDelay time.Duration
	ExportTimeout time.Duration
}

// batcher is a bounded queue in front of an exporter. enqueue never blocks:
// when the queue is full the item is dropped and counted, so a handler
// never waits for a collector. One goroutine exports batches of at most
// MaxBatchSize, every ScheduleDelay or when a batch is full; a failed export
// drops its batch, counted (spans are not retried beyond what the exporter
// itself retries within ExportTimeout).
type batcher[T any] struct {
	s       BatchSettings
	queue   chan T
	export  func(ctx context.Context, batch []T) error
	stopExp func(ctx context.Context) error
	report  func(error)
	ok      func()
	dropped func(reason string, n int)

	flush    chan chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	mu       sync.RWMutex // held for reading by enqueue, for writing to close
	closed   bool

	// base bounds every export; shutdown cancels it when its deadline
	// passes, and abandon makes the loop count what is left as dropped
	// (once) instead of exporting it.
	base       context.Context
	cancelBase context.CancelFunc
	abandon    atomic.Bool
}

func newBatcher[T any](s BatchSettings, export func(context.Context, []T) error, shutdown func(context.Context) error, report func(error), ok func(), dropped func(string, int)) *batcher[T] {
	b := &batcher[T]{
		s: s, queue: make(chan T, max(s.MaxQueueSize, 1)), export: export, stopExp: shutdown,
		report: report, ok: ok, dropped: dropped,
		flush: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
	}
	b.base, b.cancelBase = context.WithCancel(context.Background())
	go b.run()
	return b
}

func (b *batcher[T]) enqueue(x T) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		b.dropped(DropShutdown, 1)
		return
	}
	select {
	case b.queue <- x:
	default:
		b.dropped(DropQueueFull, 1)
	}
}

func (b *batcher[T]) run() {
	defer close(b.done)
	batchSize := max(b.s.MaxBatchSize, 1)
	batch := make([]T, 0, batchSize)
	timer := time.NewTimer(b.s.ScheduleDelay)
	defer timer.Stop()
	send := func() {
		if len(batch) == 0 {
			return
		}
		if b.abandon.Load() {
			b.dropped(DropShutdown, len(batch))
			clear(batch)
			batch = batch[:0]
			return
		}
		ctx, cancel := context.WithTimeout(b.base, b.s.ExportTimeout)
		err := b.export(ctx, batch)
		cancel()
		if err != nil {
			b.dropped(DropExportFailed, len(batch))
			b.report(err)
		} else {
			b.ok()
		}
		clear(batch)
		batch = batch[:0]
	}
	drain := func() {
		for {
			select {
			case x := <-b.queue:
				batch = append(batch, x)
				if len(batch) == batchSize {
					send()
				}
			default:
				send()
				return
			}
		}
	}
	for {
		select {
		case x := <-b.queue:
			batch = append(batch, x)
			if len(batch) == batchSize {
				send()
			}
		case <-timer.C:
			send()
			timer.Reset(b.s.ScheduleDelay)
		case ack := <-b.flush:
			drain()
			close(ack)
		case <-b.stop:
			drain()
			return
		}
	}
}

// forceFlush exports what is queued and waits for it, within ctx.
func (b *batcher[T]) forceFlush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case b.flush <- ack:
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shutdown stops accepting items, exports what is queued and shuts the
// exporter down, within ctx. When ctx ends first, the export in flight is
// cancelled (its batch counts as export_failed) and what is still queued is
// counted as dropped at shutdown: every item is counted once, exported or
// dropped, and nothing is exported after the exporter's Shutdown.
func (b *batcher[T]) shutdown(ctx context.Context) error {
	var err error
	b.stopOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		close(b.stop)
		select {
		case <-b.done:
		case <-ctx.Done():
			err = ctx.Err()
			b.abandon.Store(true)
			b.cancelBase()
			<-b.done
		}
		b.cancelBase()
		if e := b.stopExp(ctx); e != nil {
			err = errors.Join(err, e)
		}
	})
	return err
}

// spanBatcher is a sdktrace.SpanProcessor over a batcher; only sampled
// spans are queued.
type spanBatcher struct {
	b *batcher[sdktrace.ReadOnlySpan]
}

var _ sdktrace.SpanProcessor = spanBatcher{}

func (p spanBatcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (p spanBatcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanContext().IsSampled() {
		p.b.enqueue(s)
	}
}
func (p spanBatcher) Shutdown(ctx context.Context) error   { return p.b.shutdown(ctx) }
func (p spanBatcher) ForceFlush(ctx context.Context) error { return p.b.forceFlush(ctx) }

// logBatcher is a sdklog.Processor over a batcher. A record is cloned
// before it is queued: the SDK reuses it after OnEmit returns.
type logBatcher struct{ b *batcher[sdklog.Record] }

var _ sdklog.Processor = logBatcher{}

func (p logBatcher) OnEmit(_ context.Context, r *sdklog.Record) error {
	p.b.enqueue(r.Clone())
	return nil
}
func (p logBatcher) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p logBatcher) Shutdown(ctx context.Context) error                     { return p.b.shutdown(ctx) }
func (p logBatcher) ForceFlush(ctx context.Context) error                   { return p.b.forceFlush(ctx) }
