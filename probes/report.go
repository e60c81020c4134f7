package probes

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Report is the outcome of checking every probe of one kind.
type Report struct {
	Kind    Kind
	Healthy bool
	// Checks are sorted by ID.
	Checks []CheckResult
}

// CheckResult is one probe's outcome.
type CheckResult struct {
	ID string
	// Value is the probe's JSON-encoded return value; nil when it failed.
	Value json.RawMessage
	// Error is empty when the probe passed.
	Error string
	// Duration is how long the run took (the timeout, if it hung).
	Duration time.Duration
	// Age is how long ago the run finished (non-zero for a cached result).
	Age time.Duration
}

// MarshalJSON renders the documented shape, status first:
//
//	{"status":"ok","checks":{"demo":{"status":"ok","value":{...},
//	  "duration_seconds":0.001,"age_seconds":2.5}}}
//
// A failed check has "status":"failed" and "error" instead of "value".
func (r Report) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, `{"status":`...)
	b = strconv.AppendQuote(b, statusWord(r.Healthy))
	b = append(b, `,"checks":{`...)
	for i, c := range r.Checks {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c.ID)
		b = append(b, `:{"status":`...)
		b = strconv.AppendQuote(b, statusWord(c.Error == ""))
		if c.Error == "" {
			b = append(b, `,"value":`...)
			b = append(b, orNull(c.Value)...)
		} else {
			b = append(b, `,"error":`...)
			b = appendJSONString(b, c.Error)
		}
		b = append(b, `,"duration_seconds":`...)
		b = strconv.AppendFloat(b, c.Duration.Seconds(), 'f', -1, 64)
		b = append(b, `,"age_seconds":`...)
		b = strconv.AppendFloat(b, c.Age.Seconds(), 'f', -1, 64)
		b = append(b, '}')
	}
	return append(b, "}}"...), nil
}

// MarshalKopf renders kopf's flat body: {"<id>": value}. A failed probe's
// value is null; the HTTP status says the report failed.
func (r Report) MarshalKopf() []byte {
	b := []byte{'{'}
	for i, c := range r.Checks {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c.ID)
		b = append(b, ':')
		if c.Error == "" {
			b = append(b, orNull(c.Value)...)
		} else {
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

// Failed returns the IDs of failed checks.
func (r Report) Failed() []string {
	var ids []string
	for _, c := range r.Checks {
		if c.Error != "" {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

func statusWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "failed"
}

func orNull(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return json.RawMessage("null")
	}
	return v
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes; invalid UTF-8 becomes U+FFFD
	return append(b, q...)
}

// Handler serves the report for kind as JSON: 200 when every probe passes,
// 503 otherwise (also when there are no probes it is 200 with empty checks).
// "?format=kopf" selects kopf's flat body. Only GET and HEAD are allowed.
func (r *Registry) Handler(kind Kind) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		format := req.URL.Query().Get("format")
		if format != "" && format != "kopf" && format != "json" {
			http.Error(w, `unknown format `+strconv.Quote(format)+` (accepted: json, kopf)`, http.StatusBadRequest)
			return
		}
		rep := r.Check(req.Context(), kind)
		var body []byte
		if format == "kopf" {
			body = rep.MarshalKopf()
		} else {
			body, _ = rep.MarshalJSON()
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if rep.Healthy {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write(append(body, '\n'))
	})
}
