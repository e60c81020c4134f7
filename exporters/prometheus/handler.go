package prometheus

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
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
	flights [2]*flight     // by format: text, OpenMetrics
	free    []*snapshot    // at most maxFree
	size    [2]int         // last body size per format, to size new buffers
	live    int            // snapshots some scrape still holds
	maxLive int            // 0: no bound
	done    [2][]*snapshot // by format: completed renders some scrape still holds, oldest first
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
	zsOnce sync.Once
	zs     []byte
	failed bool // the render panicked; set before its flight is done
}

func (s *snapshot) release() {
	if s.refs.Add(-1) != 0 {
		return
	}
	s.body = s.body[:0]
	s.gz.Reset()
	s.gzOnce = sync.Once{}
	s.zs = s.zs[:0]
	s.zsOnce = sync.Once{}
	s.failed = false
	h := s.h
	h.mu.Lock()
	h.live--
	for i := range h.done {
		h.done[i] = slices.DeleteFunc(h.done[i], func(d *snapshot) bool { return d == s })
	}
	if len(h.free) < maxFree {
		h.free = append(h.free, s)
	}
	h.mu.Unlock()
}

// tryRef adds a reference unless the last one was already dropped (then
// the snapshot is being recycled and must not be shared).
func (s *snapshot) tryRef() bool {
	for {
		r := s.refs.Load()
		if r <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
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

// zstded compresses the body with zstd once, whoever asks first.
func (s *snapshot) zstded() []byte {
	s.zsOnce.Do(func() { s.zs = zstdEncoder().EncodeAll(s.body, s.zs[:0]) })
	return s.zs
}

// The compressors are klauspost/compress's: its gzip writes the same format
// as compress/gzip, faster at equal levels. Both run at their fastest
// level: a scrape body is compressed once per scrape and thrown away, so
// CPU matters more than the last few percent of size (docs/benchmarks.md
// reports the sizes next to promhttp's, which uses compress/gzip's default
// level).
var gzipPool = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	// EncodeAll is safe for concurrent use; the options cannot fail.
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2), zstd.WithLowerEncoderMem(true))
	return enc
})

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
			w.Header().Set("Retry-After", "1")
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
	if snap.failed {
		// The render this scrape waited for panicked (a user's callback
		// can): answer an error, so the scrape shows as failed (up=0)
		// rather than as a target that exports nothing.
		http.Error(w, "rendering the exposition failed; see the operator's log", http.StatusInternalServerError)
		return
	}

	hdr := w.Header()
	hdr.Set("Content-Type", string(format))
	hdr.Add("Vary", "Accept")
	hdr.Add("Vary", "Accept-Encoding")
	body := snap.body
	switch negotiateEncoding(req.Header.Get("Accept-Encoding")) {
	case "zstd":
		body = snap.zstded()
		hdr.Set("Content-Encoding", "zstd")
	case "gzip":
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
// render; when a new render would exceed the bound on snapshots held, the
// newest completed one of that format, or nil if none is held. The render does not inherit the request's cancellation, because
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
		// Every snapshot allowed is held by scrapes still writing (slow
		// readers, or many at once): share the newest completed one of
		// this format instead of rendering another. It is at most as old
		// as the longest of those writes.
		for j := len(h.done[i]) - 1; j >= 0; j-- {
			if s := h.done[i][j]; s.tryRef() {
				h.mu.Unlock()
				return s
			}
		}
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
	// for it forever. Waiters then answer 500; the panic goes on to
	// net/http, which drops the first scraper's connection. The first
	// scraper's reference is dropped then, or the snapshot would count as
	// held for ever.
	defer func() {
		p := recover()
		if p != nil {
			s.failed = true
		}
		h.mu.Lock()
		h.flights[i] = nil
		h.size[i] = len(s.body)
		if p == nil {
			h.done[i] = append(h.done[i], s)
		}
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

// negotiateEncoding picks the Content-Encoding for an Accept-Encoding
// header: "zstd" or "gzip" when accepted (a named entry, or "*", without
// q=0), the one with the higher q, zstd on a tie; else "" (identity).
// Prometheus asks for gzip only.
func negotiateEncoding(h string) string {
	qGzip, qZstd, qStar := -1.0, -1.0, -1.0
	for h != "" {
		var part string
		part, h, _ = strings.Cut(h, ",")
		coding, params, _ := strings.Cut(part, ";")
		q := 1.0
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				continue // malformed weights are ignored, as RFC 9110 allows
			}
			q = f
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip":
			qGzip = q
		case "zstd":
			qZstd = q
		case "*":
			qStar = q
		}
	}
	if qGzip < 0 {
		qGzip = qStar
	}
	if qZstd < 0 {
		qZstd = qStar
	}
	switch {
	case qZstd > 0 && qZstd >= qGzip:
		return "zstd"
	case qGzip > 0:
		return "gzip"
	}
	return ""
}
