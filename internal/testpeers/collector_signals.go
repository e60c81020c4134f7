package testpeers

import (
	"encoding/hex"
	"net/http"
	"slices"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// SinkSpan is one span the collector forwarded, with ids in hex.
type SinkSpan struct {
	TraceID, SpanID, ParentSpanID string
	Name, Scope                   string
	Kind                          string
	Attrs                         map[string]string
	Resource                      map[string]string
	Links                         []SinkLink
	StatusCode                    string // STATUS_CODE_UNSET, _OK or _ERROR
	StartNanos, EndNanos          uint64
}

// SinkLink is a span link.
type SinkLink struct{ TraceID, SpanID string }

// SinkLog is one log record the collector forwarded.
type SinkLog struct {
	TraceID, SpanID string
	Body, Severity  string
	Attrs           map[string]string
	Scope           string
}

func (s *Sink) serveTraces(w http.ResponseWriter, b []byte) {
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests++
	for _, rs := range req.ResourceSpans {
		res := attrMap(rs.GetResource().GetAttributes())
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				out := SinkSpan{
					TraceID: hex.EncodeToString(sp.TraceId), SpanID: hex.EncodeToString(sp.SpanId), ParentSpanID: hex.EncodeToString(sp.ParentSpanId),
					Name: sp.Name, Scope: ss.GetScope().GetName(), Kind: sp.Kind.String(), Attrs: attrMap(sp.Attributes), Resource: res,
					StatusCode: sp.GetStatus().GetCode().String(), StartNanos: sp.StartTimeUnixNano, EndNanos: sp.EndTimeUnixNano,
				}
				for _, l := range sp.Links {
					out.Links = append(out.Links, SinkLink{TraceID: hex.EncodeToString(l.TraceId), SpanID: hex.EncodeToString(l.SpanId)})
				}
				s.spans = append(s.spans, out)
			}
		}
	}
	s.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (s *Sink) serveLogs(w http.ResponseWriter, b []byte) {
	var req collogs.ExportLogsServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests++
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			for _, lr := range sl.LogRecords {
				s.logs = append(s.logs, SinkLog{
					TraceID: hex.EncodeToString(lr.TraceId), SpanID: hex.EncodeToString(lr.SpanId),
					Body: anyString(lr.Body), Severity: lr.SeverityText, Attrs: attrMap(lr.Attributes), Scope: sl.GetScope().GetName(),
				})
			}
		}
	}
	s.mu.Unlock()
	out, _ := proto.Marshal(&collogs.ExportLogsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// Spans returns every span received so far.
func (s *Sink) Spans() []SinkSpan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.spans)
}

// Logs returns every log record received so far.
func (s *Sink) Logs() []SinkLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.logs)
}

// ExemplarTraces returns the trace ids of the exemplars received on a
// histogram metric.
func (s *Sink) ExemplarTraces(metric string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.exemplars[metric])
}
