package telemetry

import (
	"context"
	"fmt"
	"slices"
)

// CollectFunc runs at collection time, before values are read: the place to
// refresh gauges from state that is expensive to track continuously (what
// kopf users asked for as @kopf.on.prometheus). It may record on synchronous instruments
// (Gauge.Record, which is idempotent) and observe nothing else; for
// asynchronous instruments use Meter().RegisterCallback, which the SDK runs at
// the same moment.
//
// It runs once per collection of each reader: a Prometheus scrape, a JSON
// request, an OTLP push. Do not Add to counters from it: with several
// exporters the addition would happen once per exporter. It must be safe for
// concurrent use and should return quickly; it receives the collection's
// context.
type CollectFunc func(ctx context.Context) error

type hook struct {
	id   int
	name string
	fn   CollectFunc
}

// OnCollect registers fn under name (used in error messages) and returns a
// function that unregisters it. Errors and panics from fn are counted in
// optel.telemetry.callback.failures and passed to the error handler; they
// never fail the collection.
func (p *Provider) OnCollect(name string, fn CollectFunc) (unregister func()) {
	p.hooksMu.Lock()
	defer p.hooksMu.Unlock()
	p.nextID++
	h := &hook{id: p.nextID, name: name, fn: fn}
	p.hooks = append(p.hooks, h)
	return func() {
		p.hooksMu.Lock()
		defer p.hooksMu.Unlock()
		p.hooks = slices.DeleteFunc(p.hooks, func(x *hook) bool { return x.id == h.id })
	}
}

func (p *Provider) runHooks(ctx context.Context) {
	p.hooksMu.RLock()
	hooks := slices.Clone(p.hooks)
	p.hooksMu.RUnlock()
	for _, h := range hooks {
		if err := safeCall(ctx, h.fn); err != nil {
			p.callbackFailures.Add(1)
			p.handler.Handle(fmt.Errorf("collect callback %q: %w", h.name, err))
		}
	}
}

func safeCall(ctx context.Context, fn CollectFunc) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn(ctx)
}
