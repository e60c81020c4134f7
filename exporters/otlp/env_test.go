package otlp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/log/logtest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/optel-dev/optel/exporters/otlp"
)

type seen struct {
	mu       sync.Mutex
	requests int
	gzip     bool
	injected bool
}

// TestResolvedSettingsBeatTheSDKsEnvironment: the OTel exporters read the
// OTEL_EXPORTER_OTLP_* variables themselves when they are built. optel
// resolves those settings itself (a given --otlp-* flag wins over them), so
// every exporter it builds must get the resolved TLS choice, compression
// and headers explicitly: a variable saying insecure must not turn an
// https endpoint into plaintext, nor gzip or extra headers appear that
// optel did not resolve. Checked on a real HTTP server for the three
// signals over http/protobuf.
func TestResolvedSettingsBeatTheSDKsEnvironment(t *testing.T) {
	for _, k := range []string{"", "METRICS_", "TRACES_", "LOGS_"} {
		t.Setenv("OTEL_EXPORTER_OTLP_"+k+"INSECURE", "true")
		t.Setenv("OTEL_EXPORTER_OTLP_"+k+"COMPRESSION", "gzip")
		t.Setenv("OTEL_EXPORTER_OTLP_"+k+"HEADERS", "injected=1")
	}
	var s seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		s.gzip = s.gzip || r.Header.Get("Content-Encoding") == "gzip"
		s.injected = s.injected || r.Header.Get("injected") != ""
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	exportAll := func(endpoint string) []error {
		opts := []otlp.Option{otlp.WithProtocol(otlp.HTTPProtobuf), otlp.WithEndpoint(endpoint), otlp.WithTimeout(time.Second)}
		var errs []error
		me, err := otlp.New(ctx, opts...)
		if err != nil {
			t.Fatal(err)
		}
		errs = append(errs, me.Export(ctx, &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{{
			Name: "g", Data: metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Attributes: attribute.NewSet(), Value: 1}}},
		}}}}}))
		_ = me.Shutdown(ctx)
		te, err := otlp.NewTraceExporter(ctx, opts...)
		if err != nil {
			t.Fatal(err)
		}
		errs = append(errs, te.ExportSpans(ctx, []sdktrace.ReadOnlySpan{tracetest.SpanStub{Name: "s"}.Snapshot()}))
		_ = te.Shutdown(ctx)
		le, err := otlp.NewLogExporter(ctx, opts...)
		if err != nil {
			t.Fatal(err)
		}
		errs = append(errs, le.Export(ctx, []sdklog.Record{logtest.RecordFactory{}.NewRecord()}))
		_ = le.Shutdown(ctx)
		return errs
	}

	// An https endpoint stays TLS: the plaintext server gets no request.
	for i, err := range exportAll("https://" + host) {
		if err == nil {
			t.Errorf("signal %d exported to a plaintext server through an https endpoint", i)
		}
	}
	s.mu.Lock()
	if s.requests != 0 {
		t.Errorf("%d plaintext requests reached the server for an https endpoint: an *_INSECURE variable overrode optel's TLS choice", s.requests)
	}
	s.mu.Unlock()

	// A plaintext endpoint: no gzip and no header optel did not resolve.
	for i, err := range exportAll("http://" + host) {
		if err != nil {
			t.Errorf("signal %d: %v", i, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.requests != 3 || s.gzip || s.injected {
		t.Errorf("requests %d (want 3), gzip %v, injected header %v: the SDK's own environment reading won", s.requests, s.gzip, s.injected)
	}
}
