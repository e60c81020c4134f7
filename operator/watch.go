package operator

import (
	"context"
	"net/http"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/optel-dev/optel/internal/watchstream"
)

// countingListWatch lists through the dynamic client, watches through
// internal/watchstream (which decodes each event once; through the dynamic client
// when the engine has no REST client for watches, in unit tests), and
// counts watch restarts: a watch that could not be established, one that ended
// before its requested timeout (the connection dropped, the API server
// restarted), or one that delivered an ERROR event (410 Gone). client-go
// retries most of these internally without telling anyone; counting at the
// source makes them visible as optel.watch.restarts.
func (c *controller) countingListWatch(ns string) *cache.ListWatch {
	ri := resourceClient(c.e.dyn, c.res, ns)
	restart := func(reason string) {
		c.e.inst.WatchRestarts.Add(context.Background(), 1, c.restartAttrs[reason].Add()...)
	}
	active := func() { c.lastActivity.Store(time.Now().UnixNano()) }
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return ri.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			obs := &watchObserver{start: time.Now(), restart: restart, active: active}
			if opts.TimeoutSeconds != nil {
				obs.timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
			}
			var w watch.Interface
			var err error
			if c.e.watches != nil {
				w, err = watchstream.Open(ctx, c.e.watches, collectionPath(c.res, ns), opts, obs)
			} else {
				w, err = ri.Watch(ctx, opts)
			}
			if err != nil {
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					restart(restartGone)
				} else {
					restart(restartError)
				}
				return nil, err
			}
			active()
			if _, ok := w.(*watchstream.Stream); ok {
				return w, nil // it reports to obs itself, without a goroutine in between
			}
			return newWatchMonitor(w, obs), nil
		},
	}
}

// watchMonitor forwards a watch's events and reports an abnormal end.
type watchMonitor struct {
	inner watch.Interface
	out   chan watch.Event
	stop  chan struct{}
	once  sync.Once
}

// Reasons a watch restarted: the "reason" attribute of optel.watch.restarts.
const (
	restartGone   = "gone"   // 410: the resourceVersion was compacted away; re-list
	restartError  = "error"  // the watch could not be opened, or sent another ERROR event
	restartClosed = "closed" // the stream ended before its timeout (connection lost)
)

// watchObserver watches one watch's events for activity and its end for
// a restart: an ERROR event (410 Gone, or another), or a stream that ended
// before its requested timeout.
type watchObserver struct {
	start   time.Time
	timeout time.Duration
	restart func(reason string)
	active  func()
	errored bool
}

// Saw notes an event.
func (o *watchObserver) Saw(ev watch.Event) {
	o.active()
	if ev.Type != watch.Error || o.errored {
		return
	}
	o.errored = true
	reason := restartError
	if st, ok := ev.Object.(*metav1.Status); ok && st.Code == http.StatusGone {
		reason = restartGone
	} else if u, ok := ev.Object.(*unstructured.Unstructured); ok {
		if code, _, _ := unstructured.NestedInt64(u.Object, "code"); code == http.StatusGone {
			reason = restartGone
		}
	}
	o.restart(reason)
}

// Ended notes that the stream ended by itself (not by Stop).
func (o *watchObserver) Ended() {
	// A watch that reached its own timeout ended normally.
	early := o.timeout == 0 || time.Since(o.start) < o.timeout-time.Second
	if early && !o.errored {
		o.restart(restartClosed)
	}
}

// newWatchMonitor forwards w's events through obs, for a watch that is not
// a watchstream.Stream (which reports to its observer itself).
func newWatchMonitor(w watch.Interface, obs *watchObserver) *watchMonitor {
	m := &watchMonitor{inner: w, out: make(chan watch.Event), stop: make(chan struct{})}
	go func() {
		defer close(m.out)
		for {
			select {
			case <-m.stop:
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					obs.Ended()
					return
				}
				obs.Saw(ev)
				select {
				case m.out <- ev:
				case <-m.stop:
					return
				}
			}
		}
	}()
	return m
}

func (m *watchMonitor) Stop() {
	m.once.Do(func() {
		close(m.stop)
		m.inner.Stop()
	})
}

func (m *watchMonitor) ResultChan() <-chan watch.Event { return m.out }
