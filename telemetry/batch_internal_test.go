package telemetry

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type fakeExport struct {
	mu      sync.Mutex
	got     []int
	fail    bool
	block   chan struct{}
	stopped bool
}

func (f *fakeExport) export(ctx context.Context, b []int) error {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("collector down")
	}
	f.got = append(f.got, b...)
	return nil
}

func (f *fakeExport) shutdown(context.Context) error { f.stopped = true; return nil }

func TestBatcher(t *testing.T) {
	s := BatchSettings{MaxQueueSize: 4, MaxBatchSize: 2, ScheduleDelay: time.Hour, ExportTimeout: 50 * time.Millisecond}
	type counts struct{ full, failed, shut, errs, oks int }
	run := func(t *testing.T, f *fakeExport, items int, flush bool) counts {
		var mu sync.Mutex
		var c counts
		b := newBatcher(s, f.export, f.shutdown,
			func(error) { mu.Lock(); c.errs++; mu.Unlock() },
			func() { mu.Lock(); c.oks++; mu.Unlock() },
			func(reason string, n int) {
				mu.Lock()
				defer mu.Unlock()
				switch reason {
				case DropQueueFull:
					c.full += n
				case DropExportFailed:
					c.failed += n
				case DropShutdown:
					c.shut += n
				}
			})
		for i := range items {
			b.enqueue(i)
		}
		if flush {
			if err := b.forceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.enqueue(99) // after shutdown: dropped, counted
		if !f.stopped {
			t.Error("exporter not shut down")
		}
		mu.Lock()
		defer mu.Unlock()
		return c
	}
	t.Run("shutdown exports what is queued", func(t *testing.T) {
		f := &fakeExport{}
		c := run(t, f, 3, false)
		if len(f.got) != 3 || c.full != 0 || c.failed != 0 || c.shut != 1 {
			t.Errorf("exported %v, counts %+v; want 3 exported and only the late item dropped", f.got, c)
		}
	})
	t.Run("flush exports and waits", func(t *testing.T) {
		f := &fakeExport{}
		c := run(t, f, 2, true)
		if len(f.got) != 2 || c.oks == 0 {
			t.Errorf("exported %v, counts %+v", f.got, c)
		}
	})
	t.Run("failed exports drop their batch, counted", func(t *testing.T) {
		f := &fakeExport{fail: true}
		c := run(t, f, 3, false)
		if len(f.got) != 0 || c.failed != 3 || c.errs == 0 {
			t.Errorf("exported %v, counts %+v; want 3 dropped as export_failed", f.got, c)
		}
	})
	t.Run("a full queue drops without blocking, counted", func(t *testing.T) {
		f := &fakeExport{block: make(chan struct{})}
		done := make(chan counts)
		go func() { done <- run(t, f, 50, false) }()
		time.Sleep(20 * time.Millisecond)
		close(f.block)
		c := <-done
		if c.full == 0 || len(f.got)+c.full+c.failed != 50 {
			t.Errorf("exported %d, counts %+v; every one of 50 items must be exported or counted", len(f.got), c)
		}
	})
}

// TestBatcherShutdownDeadlineCountsOnce: a shutdown whose deadline passes
// while a slow exporter works counts every item exactly once (exported,
// export_failed or shutdown) and exports nothing after the exporter's
// Shutdown.
func TestBatcherShutdownDeadlineCountsOnce(t *testing.T) {
	var mu sync.Mutex
	exported, afterStop := 0, 0
	stopped := false
	counts := map[string]int{}
	export := func(ctx context.Context, b []int) error {
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			afterStop += len(b)
		}
		exported += len(b)
		return nil
	}
	stop := func(context.Context) error { mu.Lock(); stopped = true; mu.Unlock(); return nil }
	b := newBatcher(BatchSettings{MaxQueueSize: 100, MaxBatchSize: 10, ScheduleDelay: time.Hour, ExportTimeout: 10 * time.Second}, export, stop,
		func(error) {}, func() {}, func(r string, n int) { mu.Lock(); counts[r] += n; mu.Unlock() })
	for i := range 100 {
		b.enqueue(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := b.shutdown(ctx); err == nil {
		t.Error("shutdown past its deadline returned no error")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("shutdown took %v, its deadline was 150ms", d)
	}
	mu.Lock()
	defer mu.Unlock()
	total := exported + counts[DropExportFailed] + counts[DropShutdown] + counts[DropQueueFull]
	if total != 100 || afterStop != 0 {
		t.Errorf("exported %d, dropped %v: %d counted for 100 items; %d exported after Shutdown", exported, counts, total, afterStop)
	}
}
