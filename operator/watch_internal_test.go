package operator

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"

	"github.com/optel-dev/optel/internal/observ"
	"github.com/optel-dev/optel/internal/watchstream"
)

// TestWatchRestartReasons: each way a watch can end is counted under its
// reason, whether the 410 comes as the answer to opening the watch or as an
// ERROR event on an open one.
func TestWatchRestartReasons(t *testing.T) {
	gone := apierrors.NewResourceExpired("too old resource version: 5 (9)")
	tests := []struct {
		name    string
		openErr error
		event   *watch.Event
		want    string
	}{
		{name: "410 on open", openErr: gone, want: restartGone},
		{name: "410 as an ERROR event", event: &watch.Event{Type: watch.Error, Object: &gone.ErrStatus}, want: restartGone},
		{name: "other error on open", openErr: apierrors.NewForbidden(schema.GroupResource{Resource: "gizmos"}, "", nil), want: restartError},
		{name: "other ERROR event", event: &watch.Event{Type: watch.Error, Object: &apierrors.NewInternalError(io.ErrUnexpectedEOF).ErrStatus}, want: restartError},
		{name: "stream closed early", want: restartClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reader := sdkmetric.NewManualReader()
			inst, err := observ.NewOperator(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test"))
			if err != nil {
				t.Fatal(err)
			}
			dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{{Group: gizmos.Group, Version: gizmos.Version, Resource: gizmos.Resource}: "GizmoList"})
			fw := watch.NewFake()
			dyn.PrependWatchReactor("gizmos", func(clienttesting.Action) (bool, watch.Interface, error) {
				if tt.openErr != nil {
					return true, nil, tt.openErr
				}
				return true, fw, nil
			})
			e := &engine{log: slog.New(slog.NewTextHandler(io.Discard, nil)), inst: &inst, dyn: dyn}
			c := newController(e, gizmos)
			timeout := int64(300)
			w, err := c.countingListWatch("ns").WatchWithContext(context.Background(), metav1.ListOptions{TimeoutSeconds: &timeout})
			if tt.openErr != nil {
				if err == nil {
					t.Fatal("watch opened, want the error")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				go func() {
					if tt.event != nil {
						fw.Action(tt.event.Type, tt.event.Object)
					}
					fw.Stop()
				}()
				for range w.ResultChan() {
				}
				w.Stop()
			}
			got := restartsByReason(t, reader)
			if len(got) != 1 || got[tt.want] != 1 {
				t.Errorf("optel.watch.restarts by reason = %v, want exactly {%s: 1}", got, tt.want)
			}
		})
	}
}

func restartsByReason(t *testing.T, r *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		var rm metricdata.ResourceMetrics
		if err := r.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name != "optel.watch.restarts" {
					continue
				}
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					v, _ := dp.Attributes.Value(observ.AttrReason)
					got[v.AsString()] += dp.Value
				}
			}
		}
		if len(got) > 0 || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var widgetsRes = Resource{Group: "example.optel.dev", Version: "v1", Resource: "widgets"}

func watchEvent(typ string, obj map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"type": typ, "object": obj})
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// TestWatchStreamRestartReasons: through internal/watchstream (the path a running
// operator takes), restarts are counted by the same reasons as through the
// dynamic client, from a real HTTP server's answers; a watch its reader
// stops is not a restart.
func TestWatchStreamRestartReasons(t *testing.T) {
	added := watchEvent("ADDED", map[string]any{"apiVersion": "example.optel.dev/v1", "kind": "Widget", "metadata": map[string]any{"name": "a", "namespace": "ns"}})
	tests := []struct {
		name   string
		status int
		body   []byte
		stop   bool // the reader stops the watch after the first event
		want   map[string]int64
	}{
		{name: "410 on open", status: http.StatusGone, body: []byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Expired","code":410,"message":"too old"}`), want: map[string]int64{restartGone: 1}},
		{name: "403 on open", status: http.StatusForbidden, body: []byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403}`), want: map[string]int64{restartError: 1}},
		{name: "410 as an ERROR event", status: 200, body: slices.Concat(added, watchEvent("ERROR", map[string]any{"kind": "Status", "apiVersion": "v1", "code": 410, "reason": "Expired"})), want: map[string]int64{restartGone: 1}},
		{name: "other ERROR event", status: 200, body: watchEvent("ERROR", map[string]any{"kind": "Status", "apiVersion": "v1", "code": 500}), want: map[string]int64{restartError: 1}},
		{name: "undecodable event", status: 200, body: slices.Concat(added, []byte("not json\n")), want: map[string]int64{restartError: 1}},
		{name: "stream closed early", status: 200, body: added, want: map[string]int64{restartClosed: 1}},
		{name: "stopped by its reader", status: 200, body: added, stop: true, want: map[string]int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write(tt.body)
				if tt.stop {
					w.(http.Flusher).Flush()
					select { // hold the stream open until the reader stops
					case <-r.Context().Done():
					case <-release:
					}
				}
			}))
			defer srv.Close()
			defer close(release)
			reader := sdkmetric.NewManualReader()
			inst, err := observ.NewOperator(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test"))
			if err != nil {
				t.Fatal(err)
			}
			cfg := &rest.Config{Host: srv.URL, ContentConfig: rest.ContentConfig{NegotiatedSerializer: scheme.Codecs.WithoutConversion()}}
			watches, err := rest.UnversionedRESTClientFor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			dyn, err := dynamic.NewForConfig(&rest.Config{Host: srv.URL}) // lists; not used here
			if err != nil {
				t.Fatal(err)
			}
			e := &engine{log: slog.New(slog.NewTextHandler(io.Discard, nil)), inst: &inst, dyn: dyn, watches: watches}
			c := newController(e, widgetsRes)
			timeout := int64(300)
			w, err := c.countingListWatch("ns").WatchWithContext(context.Background(), metav1.ListOptions{TimeoutSeconds: &timeout})
			if err == nil {
				if _, ok := w.(*watchstream.Stream); !ok {
					t.Fatalf("watch is a %T, want a *watchstream.Stream", w)
				}
				for range w.ResultChan() {
					if tt.stop {
						w.Stop()
					}
				}
				w.Stop()
			} else if tt.status == 200 {
				t.Fatal(err)
			}
			got := restartsByReason(t, reader)
			if tt.stop {
				time.Sleep(100 * time.Millisecond) // a wrong count would have been made by now
				got = restartsByReason(t, reader)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("optel.watch.restarts by reason = %v, want %v", got, tt.want)
			}
		})
	}
}
