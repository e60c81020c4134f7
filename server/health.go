package server

import "net/http"

// metricsPath is the path whose authorization guards probe details.
const metricsPath = "/metrics"

// detailsForAuthorized serves anonymous requests without a query the
// summary of h, and everything else (a bearer token, ?format=, ?verbose)
// the full report through filter, authorized as a GET of /metrics would
// be: Kubernetes' default RBAC (system:public-info-viewer) lets every user
// get /healthz, so the probe path itself would authorize anyone.
func detailsForAuthorized(h http.Handler, filter func(http.Handler) http.Handler) http.Handler {
	summary := summarize(h)
	authorized := filter(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = r.Header.Get(originalPathHeader)
		r2.Header.Del(originalPathHeader)
		h.ServeHTTP(w, r2)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" && r.URL.RawQuery == "" {
			summary.ServeHTTP(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.Header.Set(originalPathHeader, r.URL.Path)
		r2.URL.Path = metricsPath
		authorized.ServeHTTP(w, r2)
	})
}

// originalPathHeader carries the probe path past the filter, which sees
// /metrics. It is set here on a clone, so a client cannot choose it.
const originalPathHeader = "X-Optel-Probe-Path"

// summarize runs h and answers with its status code only, as "ok" or
// "failed": what a kubelet needs, and nothing an attacker can read
// resource names, queue depths or error strings from.
func summarize(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusOnly{header: http.Header{}}
		r2 := r.Clone(r.Context())
		r2.URL.RawQuery = ""
		h.ServeHTTP(rec, r2)
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(rec.code)
		if r.Method == http.MethodHead {
			return
		}
		if rec.code < 300 {
			_, _ = w.Write([]byte("ok\n"))
		} else {
			_, _ = w.Write([]byte("failed\n"))
		}
	})
}

// statusOnly is a ResponseWriter that keeps the status code and discards
// the body.
type statusOnly struct {
	header http.Header
	code   int
}

func (s *statusOnly) Header() http.Header { return s.header }

func (s *statusOnly) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return len(b), nil
}

func (s *statusOnly) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
}
