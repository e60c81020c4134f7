package prometheus

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/common/expfmt"
)

// handler serves the optel encoder's output. Concurrent scrapes asking for
// the same format share one collection and one rendered buffer (and one
// gzip of it): a scrape that arrives while a render runs waits for it and
// writes the same bytes. Buffers are reference-counted and kept on a short
// free list (not a sync.Pool, which every GC empties: with a large heap a
// GC runs between most scrapes), so a steady scrape load reuses them
// instead of growing an exposition-sized buffer each time. The cost is
// that a buffer per format stays allocated between scrapes.
type handler struct {
	r           *renderer
	sem         chan struct{} // nil: no limit on scrapes in flight
	collections atomic.Int64

	mu      sync.Mutex
	flights [2]*flight  // by format: text, OpenMetrics
	free    []*snapshot // at most maxFree
	size    [2]int      // last body size per format, to size new buffers
	live    int         // snapshots some scrape still holds
	maxLive int         // 0: no bound
}

const maxFree = 2

type flight struct {
	done chan struct{}
	snap *snapshot
}

// snapshot is one rendered exposition, shared by the scrapes that waited
// for it. The last one to finish returns it to the pool.
type snapshot struct {
	h      *handler
	body   []byte
	refs   atomic.Int32
	gzOnce sync.Once
	gz     bytes.Buffer
}

func (s *snapshot) release() {
	if s.refs.Add(-1) != 0 {
		return
	}
	s.body = s.body[:0]
	s.gz.Reset()
	s.gzOnce = sync.Once{}
	h := s.h
	h.mu.Lock()
	h.live--
	if len(h.free) < maxFree {
		h.free = append(h.free, s)
	}
	h.mu.Unlock()
}

// gzipped compresses the body once, whoever asks first.
func (s *snapshot) gzipped() []byte {
	s.gzOnce.Do(func() {
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(&s.gz)
		_, _ = zw.Write(s.body)
		_ = zw.Close()
		gzipPool.Put(zw)
	})
	return s.gz.Bytes()
}

var gzipPool = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// The formats the optel encoder writes. Protobuf is not offered: a
// scraper that prefers it (for native histograms) falls back to text.
var acceptedFormats = []expfmt.Format{
	expfmt.NewFormat(expfmt.TypeOpenMetrics),
	expfmt.FmtOpenMetrics_0_0_1,
	expfmt.NewFormat(expfmt.TypeTextPlain),
}

func newHandler(r *renderer, maxInFlight, maxSnapshots int) *handler {
	h := &handler{r: r, maxLive: maxSnapshots}
	if maxInFlight > 0 {
		h.sem = make(chan struct{}, maxInFlight)
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if h.sem != nil {
		select {
		case h.sem <- struct{}{}:
			defer func() { <-h.sem }()
		default:
			http.Error(w, "too many concurrent scrapes", http.StatusServiceUnavailable)
			return
		}
	}
	format := expfmt.NegotiateAccept(req.Header, acceptedFormats...)
	om := format.FormatType() == expfmt.TypeOpenMetrics
	snap := h.snapshot(req.Context(), om)
	if snap == nil {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many expositions held by slow scrapes; retry later", http.StatusServiceUnavailable)
		return
	}
	defer snap.release()

	hdr := w.Header()
	hdr.Set("Content-Type", string(format))
	hdr.Add("Vary", "Accept")
	hdr.Add("Vary", "Accept-Encoding")
	body := snap.body
	if acceptsGzip(req.Header.Get("Accept-Encoding")) {
		body = snap.gzipped()
		hdr.Set("Content-Encoding", "gzip")
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	if req.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// snapshot returns a rendered exposition holding one reference for the
// caller: the running render of that format if there is one, else a new
// render, or nil when a new render would exceed the bound on snapshots
// held. The render does not inherit the request's cancellation, because
// other scrapes may be waiting on it.
func (h *handler) snapshot(ctx context.Context, om bool) *snapshot {
	i := 0
	if om {
		i = 1
	}
	h.mu.Lock()
	if f := h.flights[i]; f != nil {
		f.snap.refs.Add(1)
		h.mu.Unlock()
		<-f.done
		return f.snap
	}
	if h.maxLive > 0 && h.live >= h.maxLive {
		h.mu.Unlock()
		return nil
	}
	h.live++
	var s *snapshot
	if n := len(h.free); n > 0 {
		s, h.free = h.free[n-1], h.free[:n-1]
	} else {
		s = &snapshot{h: h}
	}
	if last := h.size[i]; cap(s.body) < last {
		s.body = make([]byte, 0, last+last/8) // room to grow without a copy
	}
	s.refs.Store(1)
	f := &flight{done: make(chan struct{}), snap: s}
	h.flights[i] = f
	h.mu.Unlock()

	// Clear the flight even if rendering panics (a user's observable
	// callback can): otherwise every later scrape of this format would wait
	// for it forever. Waiters then get the empty body; the panic goes on to
	// net/http, which answers the first scraper with an error. The first
	// scraper's reference is dropped then, or the snapshot would count as
	// held for ever.
	defer func() {
		p := recover()
		h.mu.Lock()
		h.flights[i] = nil
		h.size[i] = len(s.body)
		h.mu.Unlock()
		close(f.done)
		if p != nil {
			s.release()
			panic(p)
		}
	}()
	s.body = h.r.render(context.WithoutCancel(ctx), s.body[:0], om)
	h.collections.Add(1)
	return s
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip (a
// "gzip" or "*" entry without q=0).
func acceptsGzip(h string) bool {
	for h != "" {
		var part string
		part, h, _ = strings.Cut(h, ",")
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.TrimSpace(coding)
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		if q == "q=0" || strings.HasPrefix(q, "q=0.0") && strings.Trim(q[len("q=0."):], "0") == "" {
			continue
		}
		return true
	}
	return false
}
