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
)

// countingListWatch lists and watches through the dynamic client and counts
// watch restarts: a watch that could not be established, one that ended
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
			w, err := ri.Watch(ctx, opts)
			if err != nil {
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					restart(restartGone)
				} else {
					restart(restartError)
				}
				return nil, err
			}
			var timeout time.Duration
			if opts.TimeoutSeconds != nil {
				timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
			}
			active()
			return newWatchMonitor(w, timeout, restart, active), nil
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

func newWatchMonitor(w watch.Interface, timeout time.Duration, restart func(reason string), active func()) *watchMonitor {
	m := &watchMonitor{inner: w, out: make(chan watch.Event), stop: make(chan struct{})}
	start := time.Now()
	go func() {
		defer close(m.out)
		errored := false
		for {
			select {
			case <-m.stop:
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					// A watch that reached its own timeout ended normally.
					early := timeout == 0 || time.Since(start) < timeout-time.Second
					if early && !errored {
						restart(restartClosed)
					}
					return
				}
				active()
				if ev.Type == watch.Error && !errored {
					errored = true
					reason := restartError
					if st, ok := ev.Object.(*metav1.Status); ok && st.Code == http.StatusGone {
						reason = restartGone
					} else if u, ok := ev.Object.(*unstructured.Unstructured); ok {
						if code, _, _ := unstructured.NestedInt64(u.Object, "code"); code == http.StatusGone {
							reason = restartGone
						}
					}
					restart(reason)
				}
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
