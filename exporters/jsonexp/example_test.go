package jsonexp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/optel-dev/optel/exporters/jsonexp"
)

func Example() {
	exp := jsonexp.New()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()))
	defer mp.Shutdown(context.Background())
	c, _ := mp.Meter("x").Int64Counter("widgets.created")
	c.Add(context.Background(), 2)

	rm, _ := exp.Snapshot(context.Background())
	out := string(jsonexp.AppendJSON(nil, rm))
	i := strings.Index(out, `{"name":"widgets.created"`)
	fmt.Println(out[i : i+strings.Index(out[i:], `,"points"`)])
	// Output: {"name":"widgets.created","unit":"","description":"","kind":"sum","temporality":"cumulative","monotonic":true
}

// A TraceView is a span processor of the TracerProvider the operator is
// given (never the global one) and serves its runs at /traces.json.
func ExampleNewTraceView() {
	view := jsonexp.NewTraceView(jsonexp.WithRecentRuns(5))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(view.SpanProcessor()))
	defer tp.Shutdown(context.Background())
	tracer := tp.Tracer("example")

	// A handler run, as optel's operator records it: a root span with the
	// handler attributes, and a child per API call.
	ctx, run := tracer.Start(context.Background(), "create widgets.example.com", trace.WithAttributes(
		attribute.String("optel.handler", "provision"), attribute.String("optel.resource", "widgets.example.com")))
	_, call := tracer.Start(ctx, "PATCH widgets")
	call.End()
	run.End()

	mux := http.NewServeMux()
	for path, h := range view.Routes() {
		mux.Handle(path, h)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/traces.json?handler=provision", nil))
	var got struct {
		Handlers []struct {
			Resource, Handler string
			Recent            []struct{ Spans []struct{ Name string } }
		}
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &got)
	h := got.Handlers[0]
	fmt.Println(rec.Code, h.Resource, h.Handler, h.Recent[0].Spans)
	// Output: 200 widgets.example.com provision [{create widgets.example.com} {PATCH widgets}]
}
