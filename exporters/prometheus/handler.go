package prometheus

import (
	"context"
	"io"
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
// the same format and encoding share one collection and one rendering: a
// scrape that arrives while a render runs waits for it and writes the same
// bytes. A render streams the exposition through the compressor in chunks
// (renderer.renderTo), so a gzip or zstd scrape never holds the
// uncompressed exposition; the compressed one (or, for an uncompressed
// scrape, the exposition) is held by the scrapes writing it, and let go
// when the last one is done. Buffers of at most maxKeptBody bytes are kept
// on a short free list (not a sync.Pool, which every GC empties) for the
// next render; larger ones are freed, so that what stays allocated between
// scrapes does not grow with the number of series.
type handler struct {
	r           *renderer
	sem         chan struct{} // nil: no limit on scrapes in flight
	collections atomic.Int64

	mu      sync.Mutex
	flights [numKeys]*flight     // by key (format and encoding)
	free    []*snapshot          // at most maxFree
	size    [numKeys]int         // last body size per key, to size new buffers
	live    int                  // snapshots some scrape still holds
	maxLive int                  // 0: no bound
	done    [numKeys][]*snapshot // by key: completed renders some scrape still holds, oldest first
}

const (
	maxFree = 2
	// maxKeptBody bounds the buffers kept between scrapes.
	maxKeptBody = 8 << 20
)

// The encodings of a response body.
const (
	encIdentity = iota
	encGzip
	encZstd
	numEncodings
)

// numKeys is the number of distinct renders: two formats (text,
// OpenMetrics) times the encodings.
const numKeys = 2 * numEncodings

func renderKey(om bool, enc int) int {
	if om {
		return numEncodings + enc
	}
	return enc
}

type flight struct {
	done chan struct{}
	snap *snapshot
}

// snapshot is one rendered and encoded exposition, shared by the scrapes
// that waited for it. The last one to finish returns it to the pool.
type snapshot struct {
	h      *handler
	body   []byte
	refs   atomic.Int32
	failed bool // the render panicked; set before its flight is done
}

func (s *snapshot) release() {
	if s.refs.Add(-1) != 0 {
		return
	}
	s.failed = false
	h := s.h
	h.mu.Lock()
	h.live--
	for i := range h.done {
		h.done[i] = slices.DeleteFunc(h.done[i], func(d *snapshot) bool { return d == s })
	}
	if len(h.free) < maxFree && cap(s.body) <= maxKeptBody {
		s.body = s.body[:0]
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

// encode renders an exposition into s.body in encoding enc: straight
// into it without compression, else through the compressor in chunks.
func (s *snapshot) encode(ctx context.Context, r *renderer, om bool, enc int) {
	var pool *sync.Pool
	switch enc {
	case encGzip:
		pool = &gzipPool
	case encZstd:
		pool = &zstdPool
	default:
		s.body = r.render(ctx, s.body[:0], om)
		return
	}
	zw := pool.Get().(compressor)
	c := &compressing{body: appendWriter{s.body[:0]}, zw: zw}
	zw.Reset(&c.body)
	_ = r.renderTo(ctx, c, om) // writes to memory do not fail
	_ = zw.Close()
	s.body = c.body.b
	// Pooled only when the render returned, and pointed away from the
	// body, so that the pool keeps no body alive.
	zw.Reset(io.Discard)
	pool.Put(zw)
}

// compressor is a gzip or zstd writer.
type compressor interface {
	io.WriteCloser
	Reset(w io.Writer)
}

// compressing compresses what it is written into body; Restart throws it
// away and starts a new stream.
type compressing struct {
	body appendWriter
	zw   compressor
}

func (c *compressing) Write(p []byte) (int, error) { return c.zw.Write(p) }

func (c *compressing) Restart() {
	c.body.b = c.body.b[:0]
	c.zw.Reset(&c.body)
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

var zstdPool = sync.Pool{New: func() any {
	// Concurrency 1: the stream is compressed in the rendering goroutine,
	// with no goroutine of its own. The options cannot fail.
	zw, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
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
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many concurrent scrapes", http.StatusServiceUnavailable)
			return
		}
	}
	format := expfmt.NegotiateAccept(req.Header, acceptedFormats...)
	om := format.FormatType() == expfmt.TypeOpenMetrics
	enc := negotiateEncoding(req.Header.Get("Accept-Encoding"))
	snap := h.snapshot(req.Context(), om, enc)
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
	switch enc {
	case encZstd:
		hdr.Set("Content-Encoding", "zstd")
	case encGzip:
		hdr.Set("Content-Encoding", "gzip")
	}
	hdr.Set("Content-Length", strconv.Itoa(len(snap.body)))
	if req.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(snap.body)
}

// snapshot returns a rendered exposition holding one reference for the
// caller: the running render of that format and encoding if there is one,
// else a new render; when a new render would exceed the bound on snapshots
// held, the newest completed one of that format and encoding, or nil if
// none is held. The render does not inherit the request's cancellation,
// because other scrapes may be waiting on it.
func (h *handler) snapshot(ctx context.Context, om bool, enc int) *snapshot {
	i := renderKey(om, enc)
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
		// this format and encoding instead of rendering another. It is at
		// most as old as the longest of those writes.
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
		// Clear the slot: the backing array would otherwise keep s, and
		// whatever body it grows to, after release declines to keep it.
		s, h.free[n-1], h.free = h.free[n-1], nil, h.free[:n-1]
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
	s.encode(context.WithoutCancel(ctx), h.r, om, enc)
	h.collections.Add(1)
	return s
}

// negotiateEncoding picks the Content-Encoding for an Accept-Encoding
// header: zstd or gzip when accepted (a named entry, or "*", without
// q=0), the one with the higher q, zstd on a tie; else identity.
// Prometheus asks for gzip only.
func negotiateEncoding(h string) int {
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
		return encZstd
	case qGzip > 0:
		return encGzip
	}
	return encIdentity
}
