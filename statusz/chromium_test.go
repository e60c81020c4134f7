package statusz_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/optel-dev/optel/exporters/jsonexp"
	"github.com/optel-dev/optel/internal/testpeers"
	"github.com/optel-dev/optel/statusz"
)

// tracedOperator records what optel's operator records for two runs of
// the provision handler, through the real SDKs: a successful run (a handler
// span with a GET and a PATCH child, linked to a remote traceparent) and a
// failed one, each measured in optel.handler.duration inside its span, so
// the histogram's buckets carry exemplars with their trace ids. A third
// handler has an id that is HTML. It serves the status page, /metrics.json
// and, unless tracesOff, /traces.json.
func tracedOperator(t *testing.T, tracesOff bool) (srv *httptest.Server, ok, failed trace.SpanContext) {
	t.Helper()
	ctx := context.Background()
	view := jsonexp.NewTraceView()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(view.SpanProcessor()))
	t.Cleanup(func() { _ = tp.Shutdown(ctx) })
	exp := jsonexp.New()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp.Reader()), sdkmetric.WithExemplarFilter(exemplar.TraceBasedFilter))
	t.Cleanup(func() { _ = mp.Shutdown(ctx) })
	tr := tp.Tracer("github.com/optel-dev/optel/operator")
	dur, _ := mp.Meter("optel").Float64Histogram("optel.handler.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))
	inv, _ := mp.Meter("optel").Int64Counter("optel.handler.invocations")

	run := func(resource, handler string, start time.Time, d time.Duration, fail bool) trace.SpanContext {
		opts := []trace.SpanStartOption{trace.WithTimestamp(start), trace.WithAttributes(
			attribute.String("optel.handler", handler), attribute.String("optel.resource", resource),
			attribute.String("optel.cause", "create"), attribute.Int("optel.retry", 0),
			attribute.String("k8s.namespace.name", "default"), attribute.String("optel.object.name", "w1"))}
		if !fail {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35}, SpanID: trace.SpanID{0x00, 0xf0, 0x67}, TraceFlags: trace.FlagsSampled, Remote: true})}))
		}
		sctx, root := tr.Start(ctx, "create "+resource, opts...)
		for i, verb := range []string{"GET", "PATCH"} {
			cs := start.Add(time.Duration(i+1) * d / 4)
			_, c := tr.Start(sctx, verb+" widgets", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(cs),
				trace.WithAttributes(attribute.String("http.request.method", verb), attribute.Int("http.response.status_code", 200)))
			c.End(trace.WithTimestamp(cs.Add(d / 5)))
		}
		outcome := "success"
		if fail {
			outcome = "failure"
			root.SetStatus(codes.Error, "widget quota exceeded")
			root.SetAttributes(attribute.String("error.type", "QuotaError"))
		}
		root.SetAttributes(attribute.String("optel.outcome", outcome))
		attrs := metric.WithAttributes(attribute.String("resource", resource), attribute.String("handler", handler), attribute.String("outcome", outcome))
		dur.Record(sctx, d.Seconds(), attrs)
		inv.Add(sctx, 1, attrs)
		root.End(trace.WithTimestamp(start.Add(d)))
		return root.SpanContext()
	}
	now := time.Now()
	ok = run("widgets.example.com", "provision", now.Add(-2*time.Second), 18*time.Millisecond, false)
	failed = run("widgets.example.com", "provision", now.Add(-time.Second), 320*time.Millisecond, true)
	run("gadgets.example.com", `<b class="xss">x</b>`, now, 3*time.Millisecond, false)

	m := http.NewServeMux()
	routes := statusz.Routes(nil, statusz.WithTitle("widgets"))
	for p, h := range exp.Routes() {
		routes[p] = h
	}
	if !tracesOff {
		for p, h := range view.Routes() {
			routes[p] = h
		}
	}
	for p, h := range routes {
		m.Handle(p, h)
	}
	srv = httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return srv, ok, failed
}

var (
	waterfallRe = regexp.MustCompile(`<div id="waterfall" data-trace-id="([0-9a-f]*)"`)
	spanRowRe   = regexp.MustCompile(`^<div class="wf-row" data-span="([0-9a-f]{16})" data-depth="(\d+)">`)
	spanNameRe  = regexp.MustCompile(`<span class="wf-name">([^<]*)</span>`)
	barRe       = regexp.MustCompile(`<div class="wf-bar (\w+)"[^>]*? style="left: ([\d.]+)%; width: ([\d.]+)%;"`)
	traceIDRe   = regexp.MustCompile(`data-run="([0-9a-f]{32})"`)
)

// spanRow is one row of the waterfall as the DOM shows it.
type spanRow struct {
	id, name, status string
	depth            int
	left, width      float64
}

// waterfallRows parses the waterfall's rows out of a DOM dump.
func waterfallRows(t *testing.T, dom string) []spanRow {
	t.Helper()
	var rows []spanRow
	parts := strings.Split(dom, `<div class="wf-row"`)
	for _, p := range parts[1:] {
		p = `<div class="wf-row"` + p
		m, n, b := spanRowRe.FindStringSubmatch(p), spanNameRe.FindStringSubmatch(p), barRe.FindStringSubmatch(p)
		if m == nil || n == nil || b == nil {
			t.Fatalf("waterfall row without an id, name or positioned bar: %.400s", p)
		}
		depth, _ := strconv.Atoi(m[2])
		left, _ := strconv.ParseFloat(b[2], 64)
		width, _ := strconv.ParseFloat(b[3], 64)
		rows = append(rows, spanRow{id: m[1], depth: depth, name: n[1], status: b[1], left: left, width: width})
	}
	return rows
}

// table returns the HTML of the table with the given id.
func table(dom, id string) string {
	i := strings.Index(dom, `<table id="`+id+`">`)
	if i < 0 {
		return ""
	}
	j := strings.Index(dom[i:], "</table>")
	return dom[i : i+j]
}

// TestTracesPanelInChromium: the status page, loaded in headless Chromium
// against real SDK spans in a TraceView and a real /metrics.json, lists the
// provision handler's recent, slow and failed runs, draws the chosen run's
// spans as a waterfall (bars placed by start offset and duration), links
// each handler row and each histogram bucket's exemplar to its trace, says
// so when a linked trace is no longer retained, renders a handler id that
// is HTML as text, and says traces are off where /traces.json is not
// served. A screenshot goes to .cache/statusz-traces.png.
func TestTracesPanelInChromium(t *testing.T) {
	srv, ok, failed := tracedOperator(t, false)
	sel := url.Values{"resource": {"widgets.example.com"}, "handler": {"provision"}}
	open := func(id trace.TraceID) string {
		q := url.Values{"resource": sel["resource"], "handler": sel["handler"], "trace_id": {id.String()}}
		return srv.URL + "/statusz#" + q.Encode()
	}

	// The successful run, opened as its link from the run list opens it.
	dom := testpeers.ChromiumDOM(t, open(ok.TraceID()), 3*time.Second)
	if !strings.Contains(dom, `data-traces="on"`) {
		t.Fatalf("traces panel is not on:\n%s", dom)
	}
	runs := map[string][]string{}
	for _, list := range []string{"recent", "slowest", "failed"} {
		for _, m := range traceIDRe.FindAllStringSubmatch(table(dom, "runs-"+list), -1) {
			runs[list] = append(runs[list], m[1])
		}
	}
	okID, failedID := ok.TraceID().String(), failed.TraceID().String()
	if strings.Join(runs["recent"], " ") != failedID+" "+okID || strings.Join(runs["slowest"], " ") != failedID+" "+okID || strings.Join(runs["failed"], " ") != failedID {
		t.Errorf("run lists = %v; want recent and slowest [failed ok], failed [failed]", runs)
	}
	if m := waterfallRe.FindStringSubmatch(dom); m == nil || m[1] != okID {
		t.Fatalf("waterfall shows %v, want trace %s", m, okID)
	}
	rows := waterfallRows(t, dom)
	if len(rows) != 3 {
		t.Fatalf("waterfall has %d span rows, want 3:\n%s", len(rows), dom)
	}
	// 18 ms run: GET at +4.5 ms and PATCH at +9 ms, 3.6 ms each.
	for i, want := range []spanRow{
		{id: ok.SpanID().String(), name: "create widgets.example.com", depth: 0, status: "unset", left: 0, width: 100},
		{name: "GET widgets", depth: 1, status: "unset", left: 25, width: 20},
		{name: "PATCH widgets", depth: 1, status: "unset", left: 50, width: 20},
	} {
		r := rows[i]
		if (want.id != "" && r.id != want.id) || r.name != want.name || r.depth != want.depth || r.status != want.status || math.Abs(r.left-want.left) > 0.5 || math.Abs(r.width-want.width) > 0.5 {
			t.Errorf("span row %d = %+v, want %+v", i, r, want)
		}
	}
	for _, want := range []string{
		"outcome=success", "method=PATCH", "response.status_code=200", // key attributes
		`data-link-trace="4bf92f35000000000000000000000000"`, // the handler span's link
		`class="traces-link" data-traces-for="provision"`,    // the handler table's link
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if !strings.Contains(dom, `href="#resource=widgets.example.com&amp;handler=provision"`) {
		t.Error("the provision row does not link to its traces")
	}
	// Each exemplar links to its run: 18 ms in the ≤ 25 ms bucket, 320 ms in ≤ 500 ms.
	for le, id := range map[string]string{"0.025": okID, "0.5": failedID} {
		re := regexp.MustCompile(`<tr data-le="` + regexp.QuoteMeta(le) + `">.*?<a href="([^"]*)" data-exemplar-trace="([0-9a-f]+)"`)
		m := re.FindStringSubmatch(dom)
		if m == nil || m[2] != id || !strings.Contains(m[1], "trace_id="+id) {
			t.Errorf("bucket le=%s exemplar link = %v, want one to trace %s", le, m, id)
		}
	}

	// The failed run: its bar is red, its error shown.
	dom = testpeers.ChromiumDOM(t, open(failed.TraceID()), 3*time.Second)
	if m := waterfallRe.FindStringSubmatch(dom); m == nil || m[1] != failedID {
		t.Errorf("waterfall shows %v, want the failed trace %s", m, failedID)
	}
	if rows := waterfallRows(t, dom); len(rows) != 3 || rows[0].status != "error" || rows[0].width < 99 {
		t.Errorf("failed run's waterfall rows = %+v, want 3 with the handler span in error", rows)
	}
	if !strings.Contains(dom, "error: widget quota exceeded") || !strings.Contains(dom, "error.type=QuotaError") {
		t.Error("failed run's waterfall lacks its error")
	}

	// A trace the view does not hold (evicted, say): the panel says so.
	gone := trace.TraceID{0xde, 0xad}
	dom = testpeers.ChromiumDOM(t, open(gone), 3*time.Second)
	if !strings.Contains(dom, `id="trace-missing"`) || !strings.Contains(dom, "no longer retained") || !strings.Contains(dom, gone.String()) {
		t.Errorf("a trace not retained is not reported as such:\n%s", waterfallRe.FindString(dom))
	}

	// No selection: the first handler of the table, whose id is HTML, shown as text.
	dom = testpeers.ChromiumDOM(t, srv.URL+"/statusz", 3*time.Second)
	if strings.Contains(dom, `<b class="xss">`) || !strings.Contains(dom, `gadgets.example.com / &lt;b class="xss"&gt;x&lt;/b&gt;`) {
		t.Errorf("a handler id that is HTML is not shown as text:\n%s", dom)
	}

	png := filepath.Join(testpeers.RepoRoot(t), ".cache", "statusz-traces.png")
	if err := os.MkdirAll(filepath.Dir(png), 0o755); err != nil {
		t.Fatal(err)
	}
	testpeers.ChromiumScreenshot(t, open(ok.TraceID()), png, 1280, 1400, 3*time.Second)
	if st, err := os.Stat(png); err != nil || st.Size() < 20_000 {
		t.Fatalf("screenshot missing or blank (%v, %v)", err, st)
	}
	t.Logf("screenshot: %s", png)

	// Without /traces.json the panel says traces are off.
	off, _, _ := tracedOperator(t, true)
	dom = testpeers.ChromiumDOM(t, off.URL+"/statusz", 3*time.Second)
	if !strings.Contains(dom, `data-traces="off"`) || !strings.Contains(dom, "Traces are off: /traces.json is not served") {
		t.Errorf("without /traces.json the panel does not say traces are off:\n%s", dom)
	}
}
