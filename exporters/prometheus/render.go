package prometheus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	prom "github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

const (
	targetInfoName = "target_info"
	targetInfoHelp = "Target metadata"
	scopeLabel     = "otel_scope_"
	// bridgeScope is the scope of go.opentelemetry.io/contrib/bridges/prometheus.
	bridgeScope = "go.opentelemetry.io/contrib/bridges/prometheus"
)

// renderer is the optel encoder: it collects from a ManualReader into
// storage shaped like the last collection, released after the render
// (collect.go), and writes the text format or OpenMetrics, with exemplars
// (exemplar.go), straight from metricdata into a caller's buffer or, in
// chunks, to a writer (renderTo). Nothing is converted into client_golang
// metric objects.
//
// Renders are serialized by mu, which also guards the caches; concurrent
// scrapes of one format and encoding share a render (see handler).
type renderer struct {
	// scopeOrder is reused by group to visit scopes in a stable order.
	scopeOrder []int
	reader     *sdkmetric.ManualReader
	scopeInfo  bool
	targetInfo bool
	foreign    prom.Gatherer   // client_golang registries served as they are; may be nil
	transform  FamilyTransform // may be nil
	report     func(error)

	mu       sync.Mutex
	rm       metricdata.ResourceMetrics
	names    map[nameKey]string
	labels   map[attribute.Key]*labelInfo
	slots    map[string]*nameSlot // by label name, shared by the keys that translate to it
	families []family
	index    map[string]int
	lbl      []byte   // the current data point's rendered labels
	pairs    []lpair  // slow-path label scratch
	le       [][]byte // formatted bucket bounds of the current metric
	leBounds []float64
	leOM     bool
	scratch  []byte   // side buffer for families rendered through expfmt
	exBucket []int32  // the exemplar chosen per bucket of the current point
	exNames  []string // label names of the exemplar being written
	side     []byte   // side buffer for repairs: a foreign family, a marking pass

	// Repairs (repair.go). gen counts family renderings; pass is where the
	// rendering of the family called family stands.
	counts *repairCounts
	rep    repairs // this rendering's
	gen    uint64
	pass   pass
	family string
	member int // the index of the member being rendered
	// mayBeAlike is what scanFamily found; checkFirst names the families
	// it scans before they are rendered (see renderTo). spilled says that
	// part of the family being rendered has been written, and restart that
	// the exposition must be rendered again.
	mayBeAlike bool
	checkFirst map[string]bool
	spilled    bool
	restart    bool
	// Duplicate detection, reused across scrapes: seen maps a hash of a
	// label set to its first entry in seenEntries; drop marks the series
	// of the family to leave out, by their index in the family.
	seed        maphash.Seed
	seen        map[uint64]int32
	seenEntries []seenSeries
	lbl2        []byte // labels of an earlier series, to compare
	drop        []bool
	series      int
	quiet       bool // per-point problems are reported by another pass

	// Streaming (renderTo): out receives the rendered bytes in chunks of
	// about chunkSize, rendered into chunk.
	out   *chunkWriter
	chunk []byte
	// shape is what the last collection held, to give the next one
	// storage the SDK fills in place (collect.go).
	shape []scopeShape
}

type nameKey struct {
	name, unit string
	typ        otlptranslator.MetricType
}

type lpair struct{ name, value string }

// family is one metric name in the output: the OTel metrics that render
// under it (possibly from several scopes), or a client_golang family.
type family struct {
	name    string
	help    string
	typ     dto.MetricType
	members []member
	foreign *dto.MetricFamily
}

type member struct {
	scope *instrumentation.Scope
	m     *metricdata.Metrics
}

var (
	labelNamer  = otlptranslator.LabelNamer{}
	metricNamer = otlptranslator.NewMetricNamer("", TranslationStrategy)
)

func newRenderer(reader *sdkmetric.ManualReader, c *config, foreign prom.Gatherer) *renderer {
	report := c.errorLog
	if report == nil {
		report = func(error) {}
	}
	return &renderer{
		reader:     reader,
		scopeInfo:  c.scopeInfo,
		targetInfo: c.targetInfo,
		foreign:    foreign,
		transform:  c.transform,
		report:     report,
		names:      map[nameKey]string{},
		labels:     map[attribute.Key]*labelInfo{},
		slots:      map[string]*nameSlot{},
		index:      map[string]int{},
		counts:     &repairCounts{},
		seed:       maphash.MakeSeed(),
		seen:       map[uint64]int32{},
		checkFirst: map[string]bool{},
	}
}

// chunkSize is about how many bytes renderTo hands its writer at a time.
const chunkSize = 128 << 10

// render collects and appends one whole exposition to b. Problems with
// single metrics are reported and the metric is skipped; the rest is still
// rendered, as a scrape with gaps is worth more than none. What it repairs
// (repair.go) is counted and reported once.
func (r *renderer) render(ctx context.Context, b []byte, om bool) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.release()
	r.collect(ctx)
	return r.emit(b, om)
}

// streamWriter is what renderTo writes to. Restart discards what was
// written: renderTo calls it before it renders the exposition again.
type streamWriter interface {
	io.Writer
	Restart()
}

// renderTo renders one whole exposition as render does, writing it to w in
// chunks of about chunkSize bytes as it goes, so that the exposition is
// never held whole. It returns the first error of w.
//
// Streaming takes from a family the chance to be rendered again: the
// duplicate check (repair.go) finds out that a family needs it while the
// family is being rendered, and by then part of it may have been written.
// Then w is restarted and the exposition rendered again from the same
// collection, the family marked to be checked before it is rendered, on
// this and every later scrape. This costs one more rendering the first
// time a large family holds series that may render alike.
func (r *renderer) renderTo(ctx context.Context, w streamWriter, om bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.release()
	if cap(r.chunk) == 0 {
		r.chunk = make([]byte, 0, chunkSize+chunkSize/4)
	}
	sink := &chunkWriter{w: w}
	r.out = sink
	defer func() { r.out = nil }()
	r.collect(ctx)
	for {
		b := r.emit(r.chunk[:0], om)
		r.chunk = b[:0]
		if !r.restart {
			sink.write(b)
			return sink.err
		}
		r.restart = false
		w.Restart()
		sink.err = nil
	}
}

// chunkWriter keeps the first error of w and writes nothing after it.
type chunkWriter struct {
	w   io.Writer
	err error
}

func (c *chunkWriter) write(b []byte) {
	if c.err == nil && len(b) > 0 {
		_, c.err = c.w.Write(b)
	}
}

// spill hands b to the streaming writer, if any, once it holds a chunk,
// and returns the buffer to go on with. Nothing is spilled while a family
// is only being marked for duplicates (its bytes are thrown away).
func (r *renderer) spill(b []byte) []byte {
	if r.out == nil || len(b) < chunkSize || r.pass == passMark {
		return b
	}
	r.out.write(b)
	r.spilled = true
	return b[:0]
}

// collect collects into r.rm and indexes what it got into r.families.
func (r *renderer) collect(ctx context.Context) {
	collected := true
	r.prepare()
	if err := r.reader.Collect(ctx, &r.rm); err != nil {
		if !errors.Is(err, sdkmetric.ErrReaderShutdown) {
			r.report(fmt.Errorf("prometheus exporter: collect: %w", err))
		}
		// A reader shut down or not registered, or a cancelled context,
		// leaves r.rm as prepare made it: no data.
		collected = !errors.Is(err, sdkmetric.ErrReaderShutdown) && !errors.Is(err, sdkmetric.ErrReaderNotRegistered) && ctx.Err() == nil
	}
	r.families = r.families[:0]
	clear(r.index)
	if collected {
		r.group()
		if r.targetInfo && r.rm.Resource != nil && r.rm.Resource.Len() > 0 {
			r.addFamily(targetInfoName, targetInfoHelp, dto.MetricType_GAUGE)
		}
	}
	if r.transform != nil {
		out := r.out
		r.out = nil // claimed families are rendered into r.scratch, whole
		r.applyTransform()
		r.out = out
	}
	if r.foreign != nil {
		r.addForeign()
	}
	slices.SortFunc(r.families, func(a, b family) int { return strings.Compare(a.name, b.name) })
}

// emit appends the families to b, spilling as it goes when streaming. It
// stops early, with r.restart set, when the output must be rendered again.
func (r *renderer) emit(b []byte, om bool) []byte {
	r.rep = repairs{}
	r.pass, r.quiet = passPlain, false
	for i := range r.families {
		f := &r.families[i]
		switch {
		case f.foreign != nil:
			b = r.appendForeign(b, f.foreign, om)
		case f.name == targetInfoName && len(f.members) == 0:
			b = r.appendTargetInfo(b, om)
		default:
			b = r.appendFamily(b, f, om)
		}
		if r.restart {
			return b
		}
		b = r.spill(b)
	}
	if om {
		b = append(b, "# EOF\n"...)
	}
	if r.rep.sanitized+r.rep.duplicates > 0 {
		r.counts.sanitized.Add(int64(r.rep.sanitized))
		r.counts.duplicates.Add(int64(r.rep.duplicates))
		r.report(r.rep.err())
	}
	return b
}

// group indexes the collected metrics by their Prometheus name. Metrics of
// the same name from different scopes share a family; a type conflict drops
// the later metric, and a description conflict keeps the first, as the
// stock exporter does. Scopes are taken in the order of their names (then
// versions, schema URLs and attributes), because the SDK returns them in
// map order: which metric wins a
// conflict, or which of two alike series is written, must not change from
// one scrape to the next.
func (r *renderer) group() {
	r.scopeOrder = r.scopeOrder[:0]
	for i := range r.rm.ScopeMetrics {
		r.scopeOrder = append(r.scopeOrder, i)
	}
	slices.SortFunc(r.scopeOrder, func(a, b int) int {
		return compareScopes(&r.rm.ScopeMetrics[a].Scope, &r.rm.ScopeMetrics[b].Scope)
	})
	for _, i := range r.scopeOrder {
		sm := &r.rm.ScopeMetrics[i]
		if sm.Scope.Name == bridgeScope {
			continue // a shared reader's bridged client_golang metrics: served directly
		}
		for j := range sm.Metrics {
			m := &sm.Metrics[j]
			typ, ntyp, ok := metricType(m.Data)
			if !ok {
				r.report(fmt.Errorf("prometheus exporter: %s: unsupported data type %T", m.Name, m.Data))
				continue
			}
			name, err := r.metricName(m.Name, m.Unit, ntyp)
			if err != nil {
				r.report(fmt.Errorf("prometheus exporter: metric name %q: %w", m.Name, err))
				continue
			}
			f := r.addFamily(name, m.Description, typ)
			if f.typ != typ {
				r.report(fmt.Errorf("prometheus exporter: %s: instrument type conflict (%s, dropped %s)", name, f.typ, typ))
				continue
			}
			f.members = append(f.members, member{scope: &sm.Scope, m: m})
		}
	}
}

// addFamily returns the family called name, adding it if new. The families
// slice and each family's members slice are reused across scrapes.
func (r *renderer) addFamily(name, help string, typ dto.MetricType) *family {
	if i, ok := r.index[name]; ok {
		return &r.families[i]
	}
	n := len(r.families)
	if n < cap(r.families) {
		r.families = r.families[:n+1]
	} else {
		r.families = append(r.families, family{})
	}
	f := &r.families[n]
	*f = family{name: name, help: help, typ: typ, members: f.members[:0]}
	r.index[name] = n
	return f
}

func (r *renderer) metricName(name, unit string, typ otlptranslator.MetricType) (string, error) {
	k := nameKey{name, unit, typ}
	if s, ok := r.names[k]; ok {
		return s, nil
	}
	s, err := metricNamer.Build(otlptranslator.Metric{Name: name, Unit: unit, Type: typ})
	if err != nil {
		return "", err
	}
	if !model.LegacyValidation.IsValidMetricName(s) {
		return "", fmt.Errorf("translates to %q, not a valid Prometheus name", s)
	}
	r.names[k] = s
	return s, nil
}

func (r *renderer) label(k attribute.Key) (*labelInfo, error) {
	if li, ok := r.labels[k]; ok {
		return li, nil
	}
	s, err := labelNamer.Build(string(k))
	if err != nil {
		return nil, fmt.Errorf("attribute %q: %w", k, err)
	}
	slot := r.slots[s]
	if slot == nil {
		slot = &nameSlot{}
		r.slots[s] = slot
	}
	li := &labelInfo{name: s, slot: slot}
	r.labels[k] = li
	return li, nil
}

// metricType gives the Prometheus type and the naming type of an
// aggregation: monotonic sums are counters, other sums and gauges gauges.
func metricType(data metricdata.Aggregation) (dto.MetricType, otlptranslator.MetricType, bool) {
	switch v := data.(type) {
	case metricdata.Sum[int64]:
		return sumType(v.IsMonotonic)
	case metricdata.Sum[float64]:
		return sumType(v.IsMonotonic)
	case metricdata.Gauge[int64], metricdata.Gauge[float64]:
		return dto.MetricType_GAUGE, otlptranslator.MetricTypeGauge, true
	case metricdata.Histogram[int64], metricdata.Histogram[float64],
		metricdata.ExponentialHistogram[int64], metricdata.ExponentialHistogram[float64]:
		return dto.MetricType_HISTOGRAM, otlptranslator.MetricTypeHistogram, true
	}
	return 0, 0, false
}

func sumType(monotonic bool) (dto.MetricType, otlptranslator.MetricType, bool) {
	if monotonic {
		return dto.MetricType_COUNTER, otlptranslator.MetricTypeMonotonicCounter, true
	}
	return dto.MetricType_GAUGE, otlptranslator.MetricTypeNonMonotonicCounter, true
}

// appendFamily renders a family. If two of its series may render with the
// same labels (repair.go), it first marks the duplicates and then renders
// the family leaving them out; other families pay a look-up and a
// comparison per attribute for finding out.
func (r *renderer) appendFamily(b []byte, f *family, om bool) []byte {
	r.beginFamily(f.name)
	start, before := len(b), r.rep
	reported := false // per-point problems, by an earlier pass
	crossScope := r.crossScope(f)
	switch {
	case crossScope:
	case r.checkFirst[f.name]:
		if !r.scanFamily(f) {
			return r.appendMembers(b, f, om) // passPlain; cannot find series alike
		}
	default:
		r.spilled = false
		b = r.appendMembers(b, f, om)
		if r.pass != passRetry {
			return b
		}
		if r.spilled {
			// Part of the family is written: render again (renderTo).
			r.checkFirst[f.name] = true
			r.restart = true
			return b
		}
		b, r.rep, reported = b[:start], before, true
	}
	r.markDuplicates(f)
	r.rep.sanitized, r.rep.firstSanitized = before.sanitized, before.firstSanitized // counted again below
	r.pass, r.series, r.quiet = passWrite, 0, reported
	b = r.appendMembers(b, f, om)
	r.pass, r.quiet = passPlain, false
	r.releaseDuplicates()
	return b
}

func (r *renderer) beginFamily(name string) {
	r.gen++
	r.family = name
	r.pass = passPlain
}

func (r *renderer) appendMembers(b []byte, f *family, om bool) []byte {
	var bad bool
	b, bad = appendHeader(b, f.name, f.help, f.typ, om)
	if bad && r.pass != passMark {
		r.countSanitized() // a HELP text: it does not make series alike
	}
	for i, mem := range f.members {
		if r.pass == passRetry {
			break
		}
		r.member = i
		// OpenMetrics allows exemplars on counters, not on gauges.
		exemplars := om && f.typ == dto.MetricType_COUNTER
		switch v := mem.m.Data.(type) {
		case metricdata.Sum[int64]:
			b = appendPoints(r, b, f.name, mem.scope, v.DataPoints, om, exemplars)
		case metricdata.Sum[float64]:
			b = appendPoints(r, b, f.name, mem.scope, v.DataPoints, om, exemplars)
		case metricdata.Gauge[int64]:
			b = appendPoints(r, b, f.name, mem.scope, v.DataPoints, om, false)
		case metricdata.Gauge[float64]:
			b = appendPoints(r, b, f.name, mem.scope, v.DataPoints, om, false)
		case metricdata.Histogram[int64]:
			b = appendHistogram(r, b, f.name, mem.scope, v.DataPoints, om)
		case metricdata.Histogram[float64]:
			b = appendHistogram(r, b, f.name, mem.scope, v.DataPoints, om)
		case metricdata.ExponentialHistogram[int64]:
			b = appendExponential(r, b, f.name, mem.scope, v.DataPoints, om)
		case metricdata.ExponentialHistogram[float64]:
			b = appendExponential(r, b, f.name, mem.scope, v.DataPoints, om)
		}
	}
	return b
}

// appendHeader writes HELP and TYPE. OpenMetrics names a counter family
// without its _total suffix. sanitized reports invalid UTF-8 in help.
func appendHeader(b []byte, name, help string, typ dto.MetricType, om bool) (_ []byte, sanitized bool) {
	fam := name
	if om && typ == dto.MetricType_COUNTER {
		fam = strings.TrimSuffix(name, "_total")
	}
	b = append(b, "# HELP "...)
	b = append(b, fam...)
	b = append(b, ' ')
	b, sanitized = appendEscaped(b, help, om)
	b = append(b, "\n# TYPE "...)
	b = append(b, fam...)
	switch typ {
	case dto.MetricType_COUNTER:
		if om && fam == name {
			b = append(b, " unknown\n"...)
		} else {
			b = append(b, " counter\n"...)
		}
	case dto.MetricType_HISTOGRAM:
		b = append(b, " histogram\n"...)
	default:
		b = append(b, " gauge\n"...)
	}
	return b, sanitized
}

// appendPoints renders counter and gauge points; with exemplars (an
// OpenMetrics counter), each line carries its point's latest exemplar.
func appendPoints[N int64 | float64](r *renderer, b []byte, name string, scope *instrumentation.Scope, dps []metricdata.DataPoint[N], om, exemplars bool) []byte {
	for i := range dps {
		if r.pass != passPlain {
			if stop, skip := r.repairPass(dps[i].Attributes, scope); stop {
				break
			} else if skip {
				continue
			}
		}
		if !r.renderLabels(dps[i].Attributes, scope) {
			continue
		}
		b = appendSeries(b, name, "", r.lbl, nil)
		b = appendValue(b, float64(dps[i].Value), om)
		if exemplars && len(dps[i].Exemplars) > 0 {
			b = appendExemplar(r, b, &dps[i].Exemplars[latest(dps[i].Exemplars)])
		}
		b = append(b, '\n')
		b = r.spill(b)
	}
	return b
}

func appendHistogram[N int64 | float64](r *renderer, b []byte, name string, scope *instrumentation.Scope, dps []metricdata.HistogramDataPoint[N], om bool) []byte {
	for i := range dps {
		dp := &dps[i]
		if r.pass != passPlain {
			if stop, skip := r.repairPass(dp.Attributes, scope); stop {
				break
			} else if skip {
				continue
			}
		}
		if !r.renderLabels(dp.Attributes, scope) {
			continue
		}
		les := r.bounds(dp.Bounds, om)
		var ex []int32 // per bucket, the exemplar to write or -1 (OpenMetrics only)
		if om && len(dp.Exemplars) > 0 {
			ex = latestInBuckets(r, dp.Bounds, dp.Exemplars)
		}
		var cum uint64
		for j, le := range les {
			if j < len(dp.BucketCounts) {
				cum += dp.BucketCounts[j]
			}
			b = appendSeries(b, name, "_bucket", r.lbl, le)
			b = appendCount(b, cum, om)
			if ex != nil && ex[j] >= 0 {
				b = appendExemplar(r, b, &dp.Exemplars[ex[j]])
			}
			b = append(b, '\n')
		}
		b = appendSeries(b, name, "_bucket", r.lbl, infBound)
		b = appendCount(b, dp.Count, om)
		if ex != nil && ex[len(les)] >= 0 {
			b = appendExemplar(r, b, &dp.Exemplars[ex[len(les)]])
		}
		b = append(b, '\n')
		b = appendSums(b, name, r.lbl, float64(dp.Sum), dp.Count, om)
		b = r.spill(b)
	}
	return b
}

// appendExponential renders an exponential histogram the way the stock
// exporter's text output does: the +Inf bucket, sum and count. Its native
// buckets travel only in the protobuf format, which needs the stock encoder.
func appendExponential[N int64 | float64](r *renderer, b []byte, name string, scope *instrumentation.Scope, dps []metricdata.ExponentialHistogramDataPoint[N], om bool) []byte {
	for i := range dps {
		dp := &dps[i]
		if r.pass != passPlain {
			if stop, skip := r.repairPass(dp.Attributes, scope); stop {
				break
			} else if skip {
				continue
			}
		}
		if !r.renderLabels(dp.Attributes, scope) {
			continue
		}
		b = appendSeries(b, name, "_bucket", r.lbl, infBound)
		b = appendCount(b, dp.Count, om)
		b = append(b, '\n')
		b = appendSums(b, name, r.lbl, float64(dp.Sum), dp.Count, om)
		b = r.spill(b)
	}
	return b
}

var infBound = []byte("+Inf")

func appendSums(b []byte, name string, lbl []byte, sum float64, count uint64, om bool) []byte {
	b = appendSeries(b, name, "_sum", lbl, nil)
	b = appendValue(b, sum, om)
	b = append(b, '\n')
	b = appendSeries(b, name, "_count", lbl, nil)
	b = appendCount(b, count, om)
	return append(b, '\n')
}

// bounds returns the formatted le values for a histogram's bounds. Data
// points of one instrument share their bounds, so they are formatted once
// per metric rather than once per series.
func (r *renderer) bounds(bounds []float64, om bool) [][]byte {
	if om == r.leOM && slices.Equal(bounds, r.leBounds) {
		return r.le[:len(bounds)]
	}
	r.leOM = om
	r.leBounds = append(r.leBounds[:0], bounds...)
	for len(r.le) < len(bounds) {
		r.le = append(r.le, nil)
	}
	for i, f := range bounds {
		if om {
			r.le[i] = appendOMFloat(r.le[i][:0], f)
		} else {
			r.le[i] = appendFloat(r.le[i][:0], f)
		}
	}
	return r.le[:len(bounds)]
}

// renderLabels writes a data point's labels into r.lbl. Attribute sets are
// sorted by key, and sanitizing keys rarely changes that order, so the fast
// path writes them as they come; when sanitizing reorders or merges keys,
// or scope labels are on, the slow path sorts and merges. It reports false
// when an attribute cannot be named (the point is skipped).
func (r *renderer) renderLabels(set attribute.Set, scope *instrumentation.Scope) bool {
	r.lbl = r.lbl[:0]
	if !r.scopeInfo {
		prev := ""
		ok := true
		gen := stamp(r.gen, 0)
		for i := range set.Len() {
			kv, _ := set.Get(i)
			li, err := r.label(kv.Key)
			if err != nil {
				r.reportPoint(fmt.Errorf("prometheus exporter: %w", err))
				return false
			}
			if li.seen != gen|uint64(kv.Value.Type()) {
				r.track(li, kv)
			}
			name := li.name
			if i > 0 && name <= prev {
				ok = false
				break
			}
			prev = name
			if i > 0 {
				r.lbl = append(r.lbl, ',')
			}
			r.lbl = append(r.lbl, name...)
			r.lbl = append(r.lbl, '=', '"')
			var bad bool
			if r.lbl, bad = appendEscaped(r.lbl, valueString(kv.Value), true); bad {
				r.noteSanitized()
			}
			r.lbl = append(r.lbl, '"')
		}
		if ok {
			return true
		}
		r.lbl = r.lbl[:0]
	}
	r.pairs = r.pairs[:0]
	if err := r.collectPairs(set, ""); err != nil {
		r.reportPoint(fmt.Errorf("prometheus exporter: %w", err))
		return false
	}
	if r.scopeInfo && scope != nil {
		r.pairs = append(r.pairs,
			lpair{scopeLabel + "name", scope.Name},
			lpair{scopeLabel + "version", scope.Version},
			lpair{scopeLabel + "schema_url", scope.SchemaURL})
		if err := r.collectPairs(scope.Attributes, scopeLabel); err != nil {
			r.reportPoint(fmt.Errorf("prometheus exporter: scope %s: %w", scope.Name, err))
			return false
		}
	}
	r.lbl = r.appendPairs(r.lbl, r.pairs)
	return true
}

// reportPoint reports a problem with one point, unless an earlier pass
// over the same family did.
func (r *renderer) reportPoint(err error) {
	if !r.quiet {
		r.report(err)
	}
}

// collectPairs adds a set's attributes, sanitized, to r.pairs.
func (r *renderer) collectPairs(set attribute.Set, prefix string) error {
	for i := range set.Len() {
		kv, _ := set.Get(i)
		li, err := r.label(kv.Key)
		if err != nil {
			return err
		}
		if li.seen != stamp(r.gen, kv.Value.Type()) {
			r.track(li, kv)
		}
		name := li.name
		if prefix != "" {
			switch name {
			case "name", "version", "schema_url":
				continue // reserved for the scope's own fields
			}
			name = prefix + name
		}
		r.pairs = append(r.pairs, lpair{name, valueString(kv.Value)})
	}
	return nil
}

// appendPairs sorts pairs by name and writes them, joining the sorted
// values of names that sanitizing made equal with ";" (as the OTel
// specification for Prometheus says).
func (r *renderer) appendPairs(b []byte, pairs []lpair) []byte {
	slices.SortStableFunc(pairs, func(a, b lpair) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	for i := 0; i < len(pairs); {
		j := i + 1
		for j < len(pairs) && pairs[j].name == pairs[i].name {
			j++
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, pairs[i].name...)
		b = append(b, '=', '"')
		for k := i; k < j; k++ {
			if k > i {
				b = append(b, ';')
			}
			var bad bool
			if b, bad = appendEscaped(b, pairs[k].value, true); bad {
				r.noteSanitized()
			}
		}
		b = append(b, '"')
		i = j
	}
	return b
}

func valueString(v attribute.Value) string {
	if v.Type() == attribute.STRING {
		return v.AsString()
	}
	return v.String()
}

func (r *renderer) appendTargetInfo(b []byte, om bool) []byte {
	r.beginFamily(targetInfoName)
	r.pairs = r.pairs[:0]
	if err := r.collectPairs(*r.rm.Resource.Set(), ""); err != nil {
		r.report(fmt.Errorf("prometheus exporter: target_info: %w", err))
		return b
	}
	r.lbl = r.appendPairs(r.lbl[:0], r.pairs)
	b, _ = appendHeader(b, targetInfoName, targetInfoHelp, dto.MetricType_GAUGE, om)
	b = appendSeries(b, targetInfoName, "", r.lbl, nil)
	b = appendValue(b, 1, om)
	return append(b, '\n')
}

// addForeign adds the client_golang gatherers' families. A name the OTel
// side already renders is dropped and reported rather than served twice.
func (r *renderer) addForeign() {
	mfs, err := r.foreign.Gather()
	if err != nil {
		r.report(fmt.Errorf("prometheus exporter: gather: %w", err))
	}
	for _, mf := range mfs {
		if _, dup := r.index[mf.GetName()]; dup {
			r.report(fmt.Errorf("prometheus exporter: %s is both an OTel metric and a client_golang one; the client_golang one is dropped", mf.GetName()))
			continue
		}
		f := r.addFamily(mf.GetName(), mf.GetHelp(), mf.GetType())
		f.foreign = mf
	}
}

// appendForeign encodes a client_golang family with expfmt. client_golang
// checks label values but not HELP texts, and a Gatherer may check
// neither, so lines with invalid UTF-8 are repaired (a scan that costs
// little next to expfmt).
func (r *renderer) appendForeign(b []byte, mf *dto.MetricFamily, om bool) []byte {
	start := len(b)
	w := appendWriter{b}
	var err error
	if om {
		_, err = expfmt.MetricFamilyToOpenMetrics(&w, mf)
	} else {
		_, err = expfmt.MetricFamilyToText(&w, mf)
	}
	if err != nil {
		r.report(fmt.Errorf("prometheus exporter: encode %s: %w", mf.GetName(), err))
	}
	b = w.b
	if !utf8.Valid(b[start:]) {
		r.family = mf.GetName()
		r.side = append(r.side[:0], b[start:]...)
		var n int
		b, n = appendValidLines(b[:start], r.side)
		for range n {
			r.noteSanitized()
		}
	}
	return b
}

// applyTransform renders the families the FamilyTransform claims in the
// text format, parses them back into client_golang families, hands those to
// the transform, as the stock path does, and puts the results in their
// place. A transform is meant for small families, so the detour costs
// little.
func (r *renderer) applyTransform() {
	r.scratch = r.scratch[:0]
	kept := r.families[:0]
	for _, f := range r.families {
		if f.foreign == nil && r.transform.Claims(f.name) {
			r.scratch = r.appendFamily(r.scratch, &f, false)
			continue
		}
		kept = append(kept, f)
	}
	// Clear the tail so dropped families' members are not reused while
	// still referenced by kept ones.
	for i := len(kept); i < len(r.families); i++ {
		r.families[i] = family{}
	}
	r.families = kept
	clear(r.index)
	for i := range r.families {
		r.index[r.families[i].name] = i
	}
	if len(r.scratch) == 0 {
		return
	}
	mfs, err := parseText(r.scratch)
	if err != nil {
		r.report(fmt.Errorf("prometheus exporter: family transform: %w", err))
		return
	}
	for _, mf := range r.transform.Transform(mfs) {
		f := r.addFamily(mf.GetName(), mf.GetHelp(), mf.GetType())
		f.foreign = mf
	}
}

// parseText parses a text-format exposition into families sorted by name.
func parseText(b []byte) ([]*dto.MetricFamily, error) {
	parser := expfmt.NewTextParser(model.LegacyValidation)
	parsed, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out := make([]*dto.MetricFamily, 0, len(parsed))
	for _, mf := range parsed {
		out = append(out, mf)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out, nil
}

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteString(s string) (int, error) {
	w.b = append(w.b, s...)
	return len(s), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

func (w *appendWriter) WriteRune(c rune) (int, error) {
	n := len(w.b)
	w.b = utf8.AppendRune(w.b, c)
	return len(w.b) - n, nil
}
