package operator

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/optel-dev/optel/internal/observ"
)

// objectCounts backs the opt-in optel.object.handler.invocations. It is an
// observable counter fed from this map, so when an object is deleted and
// its entry removed, its series stop being reported: the SDK exports only
// the attribute sets an asynchronous callback observed.
type objectCounts struct {
	mu   sync.Mutex
	keys map[string]map[objectSeries]*objectCount
}

type objectSeries struct {
	handler string
	cause   Cause
	outcome outcome
}

type objectCount struct {
	n    int64
	opts []metric.ObserveOption
}

func (c *controller) countObject(ns, name, key, handler string, cause Cause, oc outcome) {
	store := &c.objects
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.keys == nil {
		store.keys = map[string]map[objectSeries]*objectCount{}
	}
	m := store.keys[key]
	if m == nil {
		m = map[objectSeries]*objectCount{}
		store.keys[key] = m
	}
	s := objectSeries{handler, cause, oc}
	cnt := m[s]
	if cnt == nil {
		cnt = &objectCount{opts: []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(
			observ.AttrResource.String(c.name), observ.AttrNamespace.String(ns), observ.AttrName.String(name),
			observ.AttrHandler.String(handler), observ.AttrCause.String(string(cause)), observ.AttrOutcome.String(string(oc)),
		))}}
		m[s] = cnt
	}
	cnt.n++
}

func (c *controller) forgetObjectCounts(key string) {
	c.objects.mu.Lock()
	delete(c.objects.keys, key)
	c.objects.mu.Unlock()
}

func (c *controller) observeObjects(o metric.Observer, inst metric.Int64ObservableCounter) {
	c.objects.mu.Lock()
	defer c.objects.mu.Unlock()
	for _, m := range c.objects.keys {
		for _, cnt := range m {
			o.ObserveInt64(inst, cnt.n, cnt.opts...)
		}
	}
}
