package prometheus

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	prom "github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/protobuf/proto"
)

// The repairs that keep a scrape from breaking: which they are, and which
// of several alike series is kept, is in the package doc. Invalid UTF-8 is
// replaced where text is written (appendEscaped, appendForeign, validHelp).
// Duplicates are found per family: while a family is rendered, track notes
// whether two of its series may render alike, and only then is it rendered
// again in two more passes, the first marking the duplicates, the second
// leaving them out. A family that renderTo has already partly written when
// that turns out is checked before it is rendered from then on: a scan
// (scanFamily) looks at its series' attribute keys, value types and string
// values as track does, without writing anything.

// pass is where the rendering of a family stands.
type pass uint8

const (
	passPlain pass = iota // the usual: render every series
	passRetry             // two series may render alike: stop, to render again
	passScan              // write nothing; find out whether two series may render alike
	passMark              // render labels only and mark duplicates
	passWrite             // render, leaving out the marked duplicates
)

// alike notes that two series of the family may render with the same labels.
func (r *renderer) alike() {
	switch r.pass {
	case passPlain:
		r.pass = passRetry
	case passScan:
		r.mayBeAlike = true
	}
}

// scanFamily reports whether two series of f may render alike. For each
// series it does what renderLabels does for tracking: with scope labels, or
// when a series' label names are out of order, it renders the labels (into
// r.lbl, which it leaves undefined); otherwise it only looks the keys up
// and checks the string values for invalid UTF-8, which is all rendering
// would find. It counts and reports nothing.
func (r *renderer) scanFamily(f *family) bool {
	r.pass, r.quiet, r.mayBeAlike = passScan, true, false
	defer func() { r.pass, r.quiet = passPlain, false }()
	for _, mem := range f.members {
		switch v := mem.m.Data.(type) {
		case metricdata.Sum[int64]:
			scanPoints(r, mem.scope, v.DataPoints, func(p *metricdata.DataPoint[int64]) attribute.Set { return p.Attributes })
		case metricdata.Sum[float64]:
			scanPoints(r, mem.scope, v.DataPoints, func(p *metricdata.DataPoint[float64]) attribute.Set { return p.Attributes })
		case metricdata.Gauge[int64]:
			scanPoints(r, mem.scope, v.DataPoints, func(p *metricdata.DataPoint[int64]) attribute.Set { return p.Attributes })
		case metricdata.Gauge[float64]:
			scanPoints(r, mem.scope, v.DataPoints, func(p *metricdata.DataPoint[float64]) attribute.Set { return p.Attributes })
		case metricdata.Histogram[int64]:
			scanPoints(r, mem.scope, v.DataPoints, func(p *metricdata.HistogramDataPoint[int64]) attribute.Set { return p.Attributes })
		case metricdata.Histogram[float64]:
			scanPoints(r, mem.scope, v.DataPoints, func(p *metricdata.HistogramDataPoint[float64]) attribute.Set { return p.Attributes })
		case metricdata.ExponentialHistogram[int64]:
			scanPoints(r, mem.scope, v.DataPoints, func(p *metricdata.ExponentialHistogramDataPoint[int64]) attribute.Set { return p.Attributes })
		case metricdata.ExponentialHistogram[float64]:
			scanPoints(r, mem.scope, v.DataPoints, func(p *metricdata.ExponentialHistogramDataPoint[float64]) attribute.Set { return p.Attributes })
		}
		if r.mayBeAlike {
			return true
		}
	}
	return false
}

func scanPoints[P any](r *renderer, scope *instrumentation.Scope, dps []P, attrs func(*P) attribute.Set) {
	for i := range dps {
		if r.scanSet(attrs(&dps[i]), scope); r.mayBeAlike {
			return
		}
	}
}

func (r *renderer) scanSet(set attribute.Set, scope *instrumentation.Scope) {
	if r.scopeInfo {
		r.renderLabels(set, scope)
		return
	}
	gen := stamp(r.gen, 0)
	prev := ""
	for i := range set.Len() {
		kv, _ := set.Get(i)
		li, err := r.label(kv.Key)
		if err != nil {
			return // the point is skipped when rendered
		}
		if li.seen != gen|uint64(kv.Value.Type()) {
			r.track(li, kv)
		}
		if i > 0 && li.name <= prev {
			r.renderLabels(set, scope) // the slow path: merged names
			return
		}
		prev = li.name
		if kv.Value.Type() == attribute.STRING && !utf8.ValidString(kv.Value.AsString()) {
			r.alike() // values that differ only in invalid bytes render alike
			return
		}
	}
}

// repairPass handles a series outside passPlain: stop ends the family's
// pass, skip leaves the series out.
func (r *renderer) repairPass(set attribute.Set, scope *instrumentation.Scope) (stop, skip bool) {
	switch r.pass {
	case passRetry:
		return true, false
	case passMark:
		r.markSeries(set, scope)
		return false, true
	case passWrite:
		g := r.series
		r.series++
		return false, r.drop[g]
	}
	return false, false
}

// ErrRepaired is wrapped by the error the exporter hands to its error
// handler, once per rendering, when it repaired what it rendered. Such a
// scrape still succeeds: it is not an export failure.
var ErrRepaired = errors.New("prometheus exporter: exposition repaired")

// Repairs counts what the exporter repaired in its output, summed over
// renderings: a value rendered by every scrape is counted by every scrape.
// Concurrent scrapes that share a rendering count it once.
type Repairs struct {
	// Sanitized counts label values and HELP texts written with invalid
	// UTF-8 replaced by U+FFFD (for client_golang families served with
	// WithGatherer by the optel encoder: lines). The stock encoder repairs
	// only HELP texts; it drops a point with an invalid label value.
	Sanitized int64
	// DuplicateSeries counts series left out because an earlier series of
	// the same family had the same labels (optel encoder; the stock encoder
	// drops them too, uncounted).
	DuplicateSeries int64
}

type repairCounts struct{ sanitized, duplicates atomic.Int64 }

func (c *repairCounts) load() Repairs {
	return Repairs{Sanitized: c.sanitized.Load(), DuplicateSeries: c.duplicates.Load()}
}

// repairs tracks one rendering's repairs: how many, and the first of each
// kind for the error message.
type repairs struct {
	sanitized, duplicates          int
	firstSanitized, firstDuplicate string
}

func (r *repairs) err() error {
	var parts []string
	if r.sanitized > 0 {
		parts = append(parts, fmt.Sprintf("invalid UTF-8 replaced with U+FFFD in %d label values or HELP texts, the first in %s", r.sanitized, r.firstSanitized))
	}
	if r.duplicates > 0 {
		parts = append(parts, fmt.Sprintf("%d duplicate series dropped, the first %s", r.duplicates, r.firstDuplicate))
	}
	return fmt.Errorf("%w: %s", ErrRepaired, strings.Join(parts, "; "))
}

// labelInfo is the cached translation of an attribute key, and what the
// current family has seen of it: seen is stamp(gen, type) for the family
// rendering it was last seen in and its value type then.
type labelInfo struct {
	name string
	slot *nameSlot
	seen uint64
}

// stamp packs a family rendering and a value type (a small number) into
// one word, so a series pays one comparison per attribute for tracking.
func stamp(gen uint64, typ attribute.Type) uint64 { return gen<<8 | uint64(typ) }

// nameSlot is shared by every key that translates to one label name; it
// records which key last used the name, and in which family rendering.
type nameSlot struct {
	gen uint64
	key attribute.Key
}

// track notes an attribute of a series being rendered whose key the family
// has not seen yet, or not with that value type, and notes whether the
// family may hold series that render alike.
func (r *renderer) track(li *labelInfo, kv attribute.KeyValue) {
	typ := kv.Value.Type()
	if li.seen>>8 == r.gen {
		r.alike() // one key, values of two types
		return
	}
	li.seen = stamp(r.gen, typ)
	switch typ {
	case attribute.STRING, attribute.INT64, attribute.BOOL:
	default:
		r.alike() // floats (NaN) and composite values may print alike
	}
	if s := li.slot; s.gen == r.gen && s.key != kv.Key {
		r.alike() // two keys, one label name
	} else {
		s.gen, s.key = r.gen, kv.Key
	}
	if r.scopeInfo && strings.HasPrefix(li.name, scopeLabel) {
		r.alike() // merges with a scope label
	}
}

func (r *renderer) noteSanitized() {
	r.alike() // values that differ only in invalid bytes render alike
	if r.pass != passScan {
		r.countSanitized()
	}
}

// countSanitized counts a repaired text that is not part of a series'
// identity (an exemplar's label value).
func (r *renderer) countSanitized() {
	r.rep.sanitized++
	if r.rep.firstSanitized == "" {
		r.rep.firstSanitized = r.family
	}
}

// crossScope reports whether series of different members of f can render
// alike: always without scope labels, and with them only when two scopes
// share a name and version (their schema URL or attributes may still
// render alike).
func (r *renderer) crossScope(f *family) bool {
	if len(f.members) < 2 {
		return false
	}
	if !r.scopeInfo {
		return true
	}
	for i := 1; i < len(f.members); i++ {
		a, b := f.members[i-1].scope, f.members[i].scope
		if a.Name == b.Name && a.Version == b.Version {
			return true
		}
	}
	return false
}

// seenSeries is a series already rendered in the family, chained by the
// hash of its labels. Its labels are not kept: they are rendered again
// when a later series has the same hash, which is rare unless it is a
// duplicate.
type seenSeries struct {
	set    attribute.Set
	scope  *instrumentation.Scope
	series int32 // index of the series in the family
	member int32
	next   int32 // next entry with the same hash, or -1
}

// maxKeptSeen bounds the duplicate tables kept between scrapes: a larger
// family that needs the check allocates them anew on every scrape rather
// than hold memory in proportion to it.
const maxKeptSeen = 1 << 16

// markDuplicates renders the labels of every series of f and sets
// r.drop[i] for each series i that renders like a series that wins over it
// (see the order in the package doc).
func (r *renderer) markDuplicates(f *family) {
	clear(r.seen)
	r.seenEntries, r.drop = r.seenEntries[:0], r.drop[:0]
	r.pass, r.quiet = passMark, true
	r.side = r.appendMembers(r.side[:0], f, false)
	r.quiet = false
}

// releaseDuplicates drops the duplicate tables if a large family grew them.
func (r *renderer) releaseDuplicates() {
	if cap(r.seenEntries) > maxKeptSeen {
		r.seen, r.seenEntries, r.drop = map[uint64]int32{}, nil, nil
	}
}

func (r *renderer) markSeries(set attribute.Set, scope *instrumentation.Scope) {
	g := len(r.drop)
	r.drop = append(r.drop, false)
	if !r.renderLabels(set, scope) {
		return // skipped anyway
	}
	h := maphash.Bytes(r.seed, r.lbl)
	head, ok := r.seen[h]
	if !ok {
		head = -1
	}
	for e := head; e >= 0; e = r.seenEntries[e].next {
		s := &r.seenEntries[e]
		if !r.sameLabels(s) {
			continue
		}
		// Members come in scope order, so an earlier member wins; within
		// one, the smaller attribute set does.
		if r.member == int(s.member) && compareSets(set, s.set) < 0 {
			r.drop[s.series] = true
			s.series, s.set = int32(g), set
		} else {
			r.drop[g] = true
		}
		r.rep.duplicates++
		if r.rep.firstDuplicate == "" {
			r.rep.firstDuplicate = r.family + "{" + string(r.lbl) + "}"
		}
		return
	}
	r.seenEntries = append(r.seenEntries, seenSeries{set: set, scope: scope, series: int32(g), member: int32(r.member), next: head})
	r.seen[h] = int32(len(r.seenEntries) - 1)
}

// sameLabels reports whether s renders with the labels in r.lbl, which it
// leaves as they were.
func (r *renderer) sameLabels(s *seenSeries) bool {
	cur := r.lbl
	r.lbl = r.lbl2[:0]
	r.renderLabels(s.set, s.scope)
	other := r.lbl
	r.lbl, r.lbl2 = cur, other
	return bytes.Equal(cur, other)
}

// compareSets orders attribute sets by their keys, then value types, then
// values, so which of two alike series wins does not depend on the SDK's
// (map) order of points.
func compareSets(a, b attribute.Set) int {
	for i := 0; i < a.Len() && i < b.Len(); i++ {
		x, _ := a.Get(i)
		y, _ := b.Get(i)
		if c := strings.Compare(string(x.Key), string(y.Key)); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Value.Type(), y.Value.Type()); c != 0 {
			return c
		}
		if c := strings.Compare(x.Value.Emit(), y.Value.Emit()); c != 0 {
			return c
		}
	}
	return cmp.Compare(a.Len(), b.Len())
}

// compareScopes orders scopes by name, version, schema URL and attributes.
func compareScopes(a, b *instrumentation.Scope) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if c := strings.Compare(a.Version, b.Version); c != 0 {
		return c
	}
	if c := strings.Compare(a.SchemaURL, b.SchemaURL); c != 0 {
		return c
	}
	return compareSets(a.Attributes, b.Attributes)
}

// appendValidLines appends src, a client_golang family encoded by expfmt,
// to b with invalid UTF-8 replaced line by line, and returns how many lines
// needed it.
func appendValidLines(b, src []byte) ([]byte, int) {
	n := 0
	for len(src) > 0 {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line = src[:i+1]
		}
		src = src[len(line):]
		if utf8.Valid(line) {
			b = append(b, line...)
			continue
		}
		b = append(b, bytes.ToValidUTF8(line, []byte("\uFFFD"))...)
		n++
	}
	return b, n
}

// validHelp gives the stock encoder valid HELP texts: client_golang checks
// label values (a point with an invalid one is dropped and reported) but
// writes HELP as it is. Families it changes are copied, not modified, as a
// gatherer may return families it keeps.
type validHelp struct {
	g      prom.Gatherer
	counts *repairCounts
	report func(error)
}

func (v validHelp) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := v.g.Gather()
	var rep repairs
	for i, mf := range mfs {
		if utf8.ValidString(mf.GetHelp()) {
			continue
		}
		if rep.sanitized == 0 {
			mfs = slices.Clone(mfs)
			rep.firstSanitized = mf.GetName()
		}
		c := proto.Clone(mf).(*dto.MetricFamily)
		c.Help = proto.String(strings.ToValidUTF8(mf.GetHelp(), "\uFFFD"))
		mfs[i] = c
		rep.sanitized++
	}
	if rep.sanitized > 0 {
		v.counts.sanitized.Add(int64(rep.sanitized))
		if v.report != nil {
			v.report(rep.err())
		}
	}
	return mfs, err
}
