package watchstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

var widgets = schema.GroupVersionResource{Group: "example.optel.dev", Version: "v1", Resource: "widgets"}

func event(typ string, obj any) []byte {
	b, err := json.Marshal(map[string]any{"type": typ, "object": obj})
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

func widget(name string, extra map[string]any) map[string]any {
	o := map[string]any{"apiVersion": "example.optel.dev/v1", "kind": "Widget",
		"metadata": map[string]any{"name": name, "namespace": "ns", "resourceVersion": "7", "generation": 3,
			"annotations": map[string]any{"a": "ü \u2028 \"q\""}, "labels": nil}}
	for k, v := range extra {
		o[k] = v
	}
	return o
}

// watchBodies are watch responses, well-formed and not, that both
// decoders must read alike.
func watchBodies() map[string][]byte {
	normal := slices2(
		event("ADDED", widget("a", map[string]any{"spec": map[string]any{"int": 1, "big": int64(1) << 53, "neg": -4, "float": 1.5, "exp": 1e300, "list": []any{1, "x", nil, true, map[string]any{}}}})),
		event("MODIFIED", widget("a", map[string]any{"status": map[string]any{"ok": false}})),
		event("BOOKMARK", map[string]any{"apiVersion": "example.optel.dev/v1", "kind": "Widget", "metadata": map[string]any{"resourceVersion": "9", "annotations": map[string]any{"k8s.io/initial-events-end": "true"}}}),
		event("DELETED", widget("a", nil)),
	)
	var pretty []byte
	for _, line := range bytes.SplitAfter(normal, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var v any
		_ = json.Unmarshal(line, &v)
		p, _ := json.MarshalIndent(v, "", "  ")
		pretty = append(append(pretty, p...), '\n')
	}
	gone := event("ERROR", map[string]any{"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": 410, "reason": "Expired", "message": "too old resource version: 1 (5)"})
	huge := event("ADDED", widget("huge", map[string]any{"spec": map[string]any{"blob": strings.Repeat("x", 200<<10)}}))
	return map[string][]byte{
		"events":               normal,
		"pretty-printed":       pretty,
		"two on one line":      append(bytes.TrimSuffix(event("ADDED", widget("a", nil)), []byte("\n")), event("ADDED", widget("b", nil))...),
		"blank lines":          slices2([]byte("\n\n"), event("ADDED", widget("a", nil)), []byte("  \n"), event("ADDED", widget("b", nil))),
		"no final newline":     bytes.TrimSuffix(normal, []byte("\n")),
		"truncated":            normal[:len(normal)-20],
		"410 gone":             slices2(event("ADDED", widget("a", nil)), gone),
		"larger than buffer":   slices2(huge, event("ADDED", widget("b", nil))),
		"garbage line":         slices2(event("ADDED", widget("a", nil)), []byte("not json\n"), event("ADDED", widget("b", nil))),
		"invalid type":         slices2(event("ADDED", widget("a", nil)), event("CHANGED", widget("b", nil))),
		"missing kind":         event("ADDED", map[string]any{"apiVersion": "v1", "metadata": map[string]any{"name": "x"}}),
		"missing apiVersion":   event("ADDED", map[string]any{"kind": "Widget", "metadata": map[string]any{"name": "x"}}),
		"object not a map":     []byte(`{"type":"ADDED","object":[1,2]}` + "\n"),
		"empty":                nil,
		"case of type differs": []byte(`{"Type":"ADDED","object":{"apiVersion":"v1","kind":"X"}}` + "\n"),
	}
}

// clients returns, for the server at url, the dynamic client (the anchor)
// and a REST client set up as the operator's client for watches.
func clients(tb testing.TB, url string) (*dynamic.DynamicClient, rest.Interface) {
	tb.Helper()
	cfg := &rest.Config{Host: url}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	rawCfg := rest.CopyConfig(cfg)
	rawCfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	rawCfg.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter()
	raw, err := rest.UnversionedRESTClientFor(rawCfg)
	if err != nil {
		tb.Fatal(err)
	}
	return dyn, raw
}

func slices2(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// recorded is what a watch delivered, in a form both decoders' results
// compare in: objects as maps, and ERROR events as their status code and
// reason (client-go decodes a v1 Status into *metav1.Status, Stream
// into an unstructured one; the reflector reads both with FromObject).
type recorded struct {
	Type   watch.EventType
	Object map[string]any
	Code   int32
	Reason metav1.StatusReason
}

func recordWatch(t *testing.T, w watch.Interface) []recorded {
	t.Helper()
	return recordWatchFunc(t, w, func(watch.Event) {})
}

// recordWatchFunc is recordWatch calling see with each event as it comes.
func recordWatchFunc(t *testing.T, w watch.Interface, see func(watch.Event)) []recorded {
	t.Helper()
	var out []recorded
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return out
			}
			see(ev)
			r := recorded{Type: ev.Type}
			if ev.Type == watch.Error {
				var se apierrors.APIStatus
				if errors.As(apierrors.FromObject(ev.Object), &se) {
					r.Code, r.Reason = se.Status().Code, se.Status().Reason
				}
			} else {
				u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ev.Object)
				if err != nil {
					t.Fatal(err)
				}
				r.Object = u
			}
			out = append(out, r)
		case <-timeout:
			t.Fatal("the watch did not end")
		}
	}
}

// TestMatchesClientGo: for each body, Stream delivers the
// same events as the dynamic client's watch, served the same bytes by the
// same HTTP server, and sends the same query. Both end (their channel
// closes) at the same point, an ERROR event first where client-go sends
// one.
func TestMatchesClientGo(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for name, body := range watchBodies() {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var queries []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				queries = append(queries, r.URL.Path+"?"+r.URL.RawQuery)
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(body)
			}))
			defer srv.Close()
			dyn, raw := clients(t, srv.URL)
			timeout := int64(300)
			initial := true // the reflector's watch-list request, as client-go 0.37 sends it
			opts := metav1.ListOptions{ResourceVersion: "5", TimeoutSeconds: &timeout, AllowWatchBookmarks: true, LabelSelector: "a=b",
				SendInitialEvents: &initial, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan}
			ctx := context.Background()
			want, err := dyn.Resource(widgets).Namespace("ns").Watch(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			wantEvents := recordWatch(t, want)
			want.Stop()
			got, err := Open(ctx, raw, "/apis/example.optel.dev/v1/namespaces/ns/widgets", opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			gotEvents := recordWatch(t, got)
			got.Stop()
			if !reflect.DeepEqual(gotEvents, wantEvents) {
				t.Errorf("Stream delivered\n%s\nclient-go\n%s", dump(gotEvents), dump(wantEvents))
			}
			t.Logf("%d events", len(gotEvents))
			mu.Lock()
			defer mu.Unlock()
			if len(queries) != 2 || queries[0] != queries[1] {
				t.Errorf("queries differ: %q", queries)
			}
		})
	}
}

func dump(evs []recorded) string {
	var b strings.Builder
	for _, e := range evs {
		o, _ := json.Marshal(e.Object)
		fmt.Fprintf(&b, "  %s %d %s %s\n", e.Type, e.Code, e.Reason, o)
	}
	return b.String()
}

// TestBoundsEvents: an event over 16 MiB ends the watch with an
// ERROR event instead of growing a buffer without bound.
func TestBoundsEvents(t *testing.T) {
	body := event("ADDED", widget("huge", map[string]any{"spec": map[string]any{"blob": strings.Repeat("x", maxEventBytes+1)}}))
	w := New(nopCloser{bytes.NewReader(body)}, nil)
	defer w.Stop()
	ev, ok := <-w.ResultChan()
	if !ok || ev.Type != watch.Error {
		t.Fatalf("got %v %v, want an ERROR event", ev.Type, ok)
	}
	if err := apierrors.FromObject(ev.Object); !strings.Contains(err.Error(), "longer than") {
		t.Errorf("error %v, want the size named", err)
	}
	if _, ok := <-w.ResultChan(); ok {
		t.Error("the watch went on after the ERROR event")
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// TestStopEndsReceiver: Stop while events are unread ends the
// receiving goroutine.
func TestStopEndsReceiver(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	w := New(nopCloser{bytes.NewReader(bytes.Repeat(event("ADDED", widget("a", nil)), 100))}, nil)
	<-w.ResultChan()
	w.Stop()
	for range w.ResultChan() {
	}
}

// FuzzMatchesClientGo: for any body, a Stream delivers what the dynamic
// client's watch delivers from the same bytes. Two kinds of input are
// checked less: a key that differs from kind, apiVersion, type or object
// only in case (client-go finds the kind case-insensitively, the object's
// fields case-sensitively), where the Stream must only end; and an event
// whose object is a meta/v1 kind with apiVersion v1 (a Status in an ADDED
// event, say), which client-go decodes into its Go type and a Stream
// leaves unstructured, where the events' types must agree. A watch of a resource carries neither (a
// Status comes only in an ERROR event, which both give alike).
func FuzzMatchesClientGo(f *testing.F) {
	for _, b := range watchBodies() {
		f.Add(b)
	}
	var body atomic.Pointer[[]byte]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*body.Load())
	}))
	defer srv.Close()
	dyn, raw := clients(f, srv.URL)
	f.Fuzz(func(t *testing.T, b []byte) {
		body.Store(&b)
		ctx := context.Background()
		want, err := dyn.Resource(widgets).Namespace("ns").Watch(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var typed bool
		wantEvents := recordWatchFunc(t, want, func(ev watch.Event) {
			if _, ok := ev.Object.(runtime.Unstructured); !ok && ev.Type != watch.Error {
				typed = true
			}
		})
		want.Stop()
		got, err := Open(ctx, raw, "/apis/example.optel.dev/v1/namespaces/ns/widgets", metav1.ListOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		gotEvents := recordWatch(t, got) // fails the input if the Stream does not end
		got.Stop()
		switch {
		case keyCaseDiffers(b):
			// Outside the compared domain: the Stream must only end
			// (recordWatch checked it) without panicking.
		case typed:
			// client-go typed a meta/v1 object, whose map differs from
			// the unstructured one: the events' types must still agree.
			if !slices.Equal(eventTypes(gotEvents), eventTypes(wantEvents)) {
				t.Errorf("body %q: Stream delivered %v, client-go %v", b, eventTypes(gotEvents), eventTypes(wantEvents))
			}
		case !reflect.DeepEqual(gotEvents, wantEvents):
			t.Errorf("body %q:\nStream delivered\n%s\nclient-go\n%s", b, dump(gotEvents), dump(wantEvents))
		}
	})
}

func eventTypes(evs []recorded) []watch.EventType {
	out := make([]watch.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// keyCaseDiffers reports whether b holds "kind", "apiversion", "type" or
// "object" in another case than theirs.
func keyCaseDiffers(b []byte) bool {
	lower := make([]byte, len(b)) // ASCII lowering keeps the offsets of b
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	for _, k := range []string{`"kind"`, `"apiVersion"`, `"type"`, `"object"`} {
		lk := []byte(strings.ToLower(k))
		for i := 0; ; {
			j := bytes.Index(lower[i:], lk)
			if j < 0 {
				break
			}
			if string(b[i+j:i+j+len(k)]) != k {
				return true
			}
			i += j + 1
		}
	}
	return false
}
