package testpeers

import (
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// Collector is a real OpenTelemetry Collector (bin/otelcol) with an OTLP
// receiver on gRPC and HTTP. Its pipeline forwards everything it receives,
// through its own otlphttp exporter, to Sink: so a test reads what the
// collector received and re-exported, not what the test sent.
type Collector struct {
	// GRPCEndpoint and HTTPEndpoint are http:// URLs of the receivers.
	GRPCEndpoint, HTTPEndpoint string
	Sink                       *Sink

	t    testing.TB
	bin  string
	cfg  string
	proc *process
}

// StartCollector builds the config, starts the collector and waits until it
// is ready.
func StartCollector(t testing.TB) *Collector {
	t.Helper()
	bin := filepath.Join(BinDir(t), "otelcol")
	Need(t, bin, "run `make tools` to build the collector from Go modules")
	sink := newSink(t)
	grpcAddr, httpAddr := FreeAddr(t), FreeAddr(t)
	cfg := filepath.Join(t.TempDir(), "collector.yaml")
	yaml := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
exporters:
  otlphttp:
    endpoint: %s
    encoding: proto
    compression: none
    retry_on_failure:
      enabled: false
    sending_queue:
      enabled: false
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [otlphttp]
    traces:
      receivers: [otlp]
      exporters: [otlphttp]
    logs:
      receivers: [otlp]
      exporters: [otlphttp]
`, grpcAddr, httpAddr, sink.srv.URL)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Collector{GRPCEndpoint: "http://" + grpcAddr, HTTPEndpoint: "http://" + httpAddr, Sink: sink, t: t, bin: bin, cfg: cfg}
	c.Start()
	t.Cleanup(c.Stop)
	return c
}

// Start (re)starts the collector on the same ports and waits for it.
func (c *Collector) Start() {
	c.t.Helper()
	c.proc = start(c.t, c.bin, "--config=file:"+c.cfg)
	Eventually(c.t, 30*time.Second, func() string {
		if c.proc.exited() {
			c.t.Fatalf("collector exited: %s", trimLog(c.proc.Output()))
		}
		// The HTTP receiver answers 405 to GET once it is up.
		resp, err := http.Get(c.HTTPEndpoint + "/v1/metrics")
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		return ""
	})
}

// Stop stops the collector; its ports go dark until Start.
func (c *Collector) Stop() {
	if c.proc != nil {
		c.proc.stop()
	}
}

// Output is the collector's log so far.
func (c *Collector) Output() string { return c.proc.Output() }

// Sink receives the collector's otlphttp exports and keeps, per series, the
// latest value: a cumulative sum's or gauge's value, a histogram's count;
// for a delta sum, the total of every point received. It keeps every span
// and log record received, too.
type Sink struct {
	srv *httptest.Server

	mu    sync.Mutex
	spans []SinkSpan
	// exemplars are the trace ids of histogram exemplars, by metric.
	exemplars map[string][]string
	logs      []SinkLog
	series    map[string]float64 // cumulative values; for delta sums, the total received
	deltas    map[string]float64
	resource  map[string]string
	requests  int
}

func newSink(t testing.TB) *Sink {
	s := &Sink{series: map[string]float64{}, deltas: map[string]float64{}, resource: map[string]string{}, exemplars: map[string][]string{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch r.URL.Path {
	case "/v1/traces":
		s.serveTraces(w, b)
		return
	case "/v1/logs":
		s.serveLogs(w, b)
		return
	}
	var req colmetrics.ExportMetricsServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests++
	for _, rm := range req.ResourceMetrics {
		for _, kv := range rm.GetResource().GetAttributes() {
			s.resource[kv.Key] = kv.Value.GetStringValue()
		}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				s.add(m)
			}
		}
	}
	s.mu.Unlock()
	out, _ := proto.Marshal(&colmetrics.ExportMetricsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (s *Sink) add(m *metricspb.Metric) {
	num := func(p *metricspb.NumberDataPoint) float64 {
		if _, ok := p.Value.(*metricspb.NumberDataPoint_AsInt); ok {
			return float64(p.GetAsInt())
		}
		return p.GetAsDouble()
	}
	switch d := m.Data.(type) {
	case *metricspb.Metric_Sum:
		for _, p := range d.Sum.DataPoints {
			k := SeriesKey(m.Name, attrMap(p.Attributes))
			if d.Sum.AggregationTemporality == metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA {
				s.deltas[k] += num(p)
				s.series[k] = s.deltas[k]
				continue
			}
			s.series[k] = num(p)
		}
	case *metricspb.Metric_Gauge:
		for _, p := range d.Gauge.DataPoints {
			s.series[SeriesKey(m.Name, attrMap(p.Attributes))] = num(p)
		}
	case *metricspb.Metric_Histogram:
		for _, p := range d.Histogram.DataPoints {
			s.series[SeriesKey(m.Name, attrMap(p.Attributes))] = float64(p.Count)
			for _, e := range p.Exemplars {
				if len(e.TraceId) > 0 {
					s.exemplars[m.Name] = append(s.exemplars[m.Name], hex.EncodeToString(e.TraceId))
				}
			}
		}
	}
}

func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = anyString(kv.Value)
	}
	return m
}

func anyString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprint(x.IntValue)
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprint(x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return fmt.Sprint(x.DoubleValue)
	}
	return v.String()
}

// SeriesKey is name{k=v,...} with sorted keys.
func SeriesKey(name string, attrs map[string]string) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + attrs[k])
	}
	b.WriteByte('}')
	return b.String()
}

// Value returns the latest value of a series.
func (s *Sink) Value(name string, attrs map[string]string) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.series[SeriesKey(name, attrs)]
	return v, ok
}

// Names returns the metric names received so far.
func (s *Sink) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for k := range s.series {
		seen[k[:strings.IndexByte(k, '{')]] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Resource returns the resource attributes received.
func (s *Sink) Resource() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.resource))
	for k, v := range s.resource {
		out[k] = v
	}
	return out
}

// Requests counts exports received from the collector.
func (s *Sink) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Count returns how many series of a metric were received.
func (s *Sink) Count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k := range s.series {
		if strings.HasPrefix(k, name+"{") {
			n++
		}
	}
	return n
}
