// Package watchstream opens Kubernetes watches and decodes their events
// once each.
//
// A watch through the dynamic client decodes every event's bytes about
// seven times over: the framer scans the event to find its end, the event
// is decoded into a metav1.WatchEvent (validated, then decoded, copying
// the object's bytes), and the object is decoded by
// unstructured.UnstructuredJSONScheme, which unmarshals it twice (once to
// look for list items, once into the map). In an operator that does
// little per event this was the largest single cost: 23 % of the CPU in
// the bench/ operator workload. A Stream decodes each event once: the
// API server writes one event per line, so a line is found with a byte
// search, then validated and decoded into the object's map in one call.
// A stream that is not one event per line (an API server or proxy that
// pretty-prints) is framed by a JSON decoder from then on. The results
// are those of the dynamic client's watch, which a test checks
// (TestMatchesClientGo, FuzzMatchesClientGo), as are its errors: a broken stream is
// an ERROR event, an ended one closes the channel.
package watchstream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	kjson "sigs.k8s.io/json"
)

// Observer sees a Stream's events and its end.
type Observer interface {
	// Saw is called with every event, before it is delivered.
	Saw(watch.Event)
	// Ended is called once when the stream ended by itself (not by Stop),
	// after its last event.
	Ended()
}

// Stream is a watch.Interface over one watch response body.
type Stream struct {
	body   io.ReadCloser
	obs    Observer
	result chan watch.Event
	done   chan struct{}
	once   sync.Once
}

// maxEventBytes bounds one event, as client-go's streaming decoder does.
const maxEventBytes = 16 << 20

// errEventTooLarge is the error of an event over maxEventBytes.
var errEventTooLarge = fmt.Errorf("watch event longer than %d bytes", maxEventBytes)

var (
	watchParamScheme = runtime.NewScheme()
	watchParamCodec  = runtime.NewParameterCodec(watchParamScheme)
	watchParamsV1    = schema.GroupVersion{Version: "v1"}
	decodeReporter   = apierrors.NewClientErrorReporter(http.StatusInternalServerError, http.MethodGet, "ClientWatchDecoding")
)

func init() { metav1.AddToGroupVersion(watchParamScheme, watchParamsV1) }

// Open starts a watch of the collection at path (such as
// /apis/example.dev/v1/namespaces/ns/widgets) through raw, with opts
// encoded as the dynamic client encodes them, and the Accept header set to
// JSON. raw should have no client-side rate limit, as client-go's watches
// have none. Errors the API server answers with are
// StatusErrors, as the dynamic client's are.
//
// A connection that breaks while the watch is being opened is handled as
// client-go's Request.Watch handles it: tried again a second later, up to
// watchRetries times, then reported as a watch that ended at once (the
// reflector then watches again from the same resource version). Any other
// error, a refused connection among them, is returned.
func Open(ctx context.Context, raw rest.Interface, path string, opts metav1.ListOptions, obs Observer) (watch.Interface, error) {
	opts.Watch = true
	for attempt := 1; ; attempt++ {
		body, err := raw.Get().AbsPath(path).
			SpecificallyVersionedParams(&opts, watchParamCodec, watchParamsV1).
			SetHeader("Accept", "application/json").
			Stream(ctx)
		switch {
		case err == nil:
			return New(body, obs), nil
		case !utilnet.IsProbableEOF(err) && !utilnet.IsTimeout(err):
			return nil, err
		case attempt > watchRetries:
			return watch.NewEmptyWatch(), nil
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("watch %s: %w (after %v)", path, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// watchRetries is client-go's default for a request's retries.
const watchRetries = 10

// New starts decoding the watch response body; obs may be nil.
func New(body io.ReadCloser, obs Observer) *Stream {
	s := &Stream{body: body, obs: obs, result: make(chan watch.Event), done: make(chan struct{})}
	go s.receive()
	return s
}

func (s *Stream) ResultChan() <-chan watch.Event { return s.result }

// Stop ends the watch: the body is closed, and the result channel closes
// once the receiving goroutine has seen it.
func (s *Stream) Stop() {
	s.once.Do(func() {
		close(s.done)
		_ = s.body.Close()
	})
}

func (s *Stream) receive() {
	defer close(s.result)
	defer s.Stop()
	dec := eventDecoder{br: bufio.NewReaderSize(s.body, 64<<10)}
	for {
		ev, err := dec.next()
		if err != nil {
			// As client-go's StreamWatcher: the end of the stream, or a
			// connection that broke, ends the watch quietly (the reflector
			// starts another); anything else is an ERROR event first.
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !utilnet.IsProbableEOF(err) && !utilnet.IsTimeout(err) {
				ev = watch.Event{Type: watch.Error, Object: decodeReporter.AsObject(fmt.Errorf("unable to decode an event from the watch stream: %w", err))}
				if !s.deliver(ev) {
					return
				}
			}
			select {
			case <-s.done: // stopped: the error is Stop's closing the body
			default:
				if s.obs != nil {
					s.obs.Ended()
				}
			}
			return
		}
		if !s.deliver(ev) {
			return
		}
	}
}

// deliver hands ev to the reader, first to the observer; it reports
// false when the watch was stopped instead.
func (s *Stream) deliver(ev watch.Event) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	if s.obs != nil {
		s.obs.Saw(ev)
	}
	select {
	case <-s.done:
		return false
	case s.result <- ev:
		return true
	}
}

// eventDecoder reads watch events from a stream.
type eventDecoder struct {
	br   *bufio.Reader
	line []byte        // a line longer than br's buffer, assembled
	json *json.Decoder // set once the stream turned out not to be one event per line
}

// wireEvent is one watch event as the API server writes it. The API
// server writes no kind or apiVersion beside type and object; client-go
// reads them as the event's own and rejects any but WatchEvent in v1, and
// so does decodeEvent.
type wireEvent struct {
	Type       watch.EventType `json:"type"`
	Object     map[string]any  `json:"object"`
	Kind       string          `json:"kind"`
	APIVersion string          `json:"apiVersion"`
}

func (d *eventDecoder) next() (watch.Event, error) {
	for d.json == nil {
		line, err := d.readLine()
		if len(bytes.TrimSpace(line)) == 0 {
			if err != nil {
				return watch.Event{}, err
			}
			continue // a blank line
		}
		ev, derr := decodeEvent(line)
		switch {
		case derr == nil:
			return ev, nil
		case err != nil && !errors.Is(err, io.EOF):
			return watch.Event{}, err // reading failed inside the line
		}
		// Not one event per line (pretty-printed, two on a line, or the
		// stream ended inside an event): frame this line and the rest
		// of the stream with a JSON decoder from now on, which tells a
		// truncated event (io.ErrUnexpectedEOF, a quiet end) from one
		// that is not JSON (an ERROR event), as client-go's framer does.
		d.json = json.NewDecoder(io.MultiReader(bytes.NewReader(bytes.Clone(line)), d.br))
	}
	var raw json.RawMessage
	if err := d.json.Decode(&raw); err != nil {
		return watch.Event{}, err
	}
	return decodeEvent(raw)
}

// readLine returns the next line, its newline included; the slice is
// valid until the next call. At the end of the stream it returns what is
// left with io.EOF.
func (d *eventDecoder) readLine() ([]byte, error) {
	b, err := d.br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return b, err
	}
	d.line = append(d.line[:0], b...)
	for errors.Is(err, bufio.ErrBufferFull) && len(d.line) <= maxEventBytes {
		b, err = d.br.ReadSlice('\n')
		d.line = append(d.line, b...)
	}
	if len(d.line) > maxEventBytes {
		return nil, errEventTooLarge
	}
	return d.line, err
}

// decodeEvent decodes one event: its type must be a watch event type and
// its object must have a kind and an apiVersion, as client-go requires.
func decodeEvent(b []byte) (watch.Event, error) {
	var w wireEvent
	if err := kjson.UnmarshalCaseSensitivePreserveInts(b, &w); err != nil {
		return watch.Event{}, err
	}
	if (w.Kind != "" && w.Kind != "WatchEvent") || (w.APIVersion != "" && w.APIVersion != "v1") {
		return watch.Event{}, fmt.Errorf("watch event is a %s %s, not a v1 WatchEvent", w.APIVersion, w.Kind)
	}
	switch w.Type {
	case watch.Added, watch.Modified, watch.Deleted, watch.Error, watch.Bookmark:
	default:
		return watch.Event{}, fmt.Errorf("got invalid watch event type: %v", w.Type)
	}
	if w.Object == nil {
		return watch.Event{}, fmt.Errorf("watch event %s has no object", w.Type)
	}
	u := &unstructured.Unstructured{Object: w.Object}
	if u.GetKind() == "" {
		return watch.Event{}, fmt.Errorf("unable to decode watch event: %w", runtime.NewMissingKindErr(string(b)))
	}
	gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
	if err != nil {
		return watch.Event{}, fmt.Errorf("unable to decode watch event: %w", err)
	}
	if gv.Version == "" {
		return watch.Event{}, fmt.Errorf("unable to decode watch event: %w", runtime.NewMissingVersionErr(string(b)))
	}
	if u.GetKind() == "Status" {
		// client-go decodes a Status of any apiVersion into its Go type
		// (it is one of meta/v1's unversioned kinds), and the reflector
		// reads an ERROR event's Status from it.
		var st metav1.Status
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &st); err != nil {
			return watch.Event{}, fmt.Errorf("unable to decode watch event: %w", err)
		}
		return watch.Event{Type: w.Type, Object: &st}, nil
	}
	return watch.Event{Type: w.Type, Object: u}, nil
}
