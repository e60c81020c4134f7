package server

import (
	"net"
	"net/http"
	"strconv"
	"sync"
)

// perClient bounds concurrent requests per client address. The metrics
// routes of one listener share one perClient.
type perClient struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

func newPerClient(max int) *perClient { return &perClient{max: max, n: map[string]int{}} }

func (p *perClient) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			addr = r.RemoteAddr
		}
		p.mu.Lock()
		if p.n[addr] >= p.max {
			p.mu.Unlock()
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many concurrent requests from "+addr+" (limit "+strconv.Itoa(p.max)+"); retry later", http.StatusTooManyRequests)
			return
		}
		p.n[addr]++
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			if p.n[addr]--; p.n[addr] == 0 {
				delete(p.n, addr)
			}
			p.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
}
