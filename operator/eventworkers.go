package operator

import (
	"hash/fnv"
	"sync"
)

// eventQueueSize bounds each event worker's backlog. When one is full, the
// watch's delivery goroutine waits for room: back-pressure, not loss.
const eventQueueSize = 1024

// eventWorkers runs event handlers (OnEvent) off the watch's delivery
// goroutine, so a slow one never delays the cache, the work queue, or
// other resources' handlers. Events are sharded by object key over
// Options.Workers goroutines: one object's events keep their order, and a
// slow handler holds up only the objects that share its shard.
type eventWorkers struct {
	shards []chan eventJob
	done   chan struct{}
	once   sync.Once
}

type eventJob struct {
	h  *handlerSpec
	ev *rawEvent
}

func (w *eventWorkers) prepare(n int) {
	w.shards = make([]chan eventJob, max(n, 1))
	for i := range w.shards {
		w.shards[i] = make(chan eventJob, eventQueueSize)
	}
	w.done = make(chan struct{})
}

// submit queues a job for key's shard; it waits while the shard is full,
// and drops the job once the operator is stopping.
func (w *eventWorkers) submit(key string, j eventJob) {
	if w.shards == nil {
		return
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	select {
	case w.shards[int(h.Sum32()%uint32(len(w.shards)))] <- j:
	case <-w.done:
	}
}

func (w *eventWorkers) run(wg *sync.WaitGroup, c *controller) {
	for _, ch := range w.shards {
		wg.Go(func() {
			for {
				select {
				case <-w.done:
					return
				case j := <-ch:
					work, _, _ := c.e.contexts()
					_ = c.invoke(work, j.h, j.ev)
				}
			}
		})
	}
}

// stop ends the workers after the handlers running now; queued events are
// dropped, as events that arrive after intake stopped are.
func (w *eventWorkers) stop() {
	if w.done != nil {
		w.once.Do(func() { close(w.done) })
	}
}
