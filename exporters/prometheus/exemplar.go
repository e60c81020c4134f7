package prometheus

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Exemplars, OpenMetrics only (the text format 0.0.4 has no syntax for
// them): a histogram bucket line carries the most recent exemplar whose
// value falls in that bucket, a counter's _total line the most recent of
// the point's exemplars. "Most recent" is by the exemplar's time; on a tie
// the later one in the SDK's list wins, which is the one the stock encoder
// writes. Gauges, up-down counters and exponential histograms carry none,
// as with the stock encoder.
//
// The labels are trace_id and span_id (lowercase hex, each only when the
// measurement had a span) and then the exemplar's filtered attributes,
// named and escaped like series labels, invalid UTF-8 replaced and
// counted. OpenMetrics limits the combined label names and values to 128
// code points: trace_id and span_id are always kept (63 code points), and
// a filtered attribute that would overflow the limit is left out, while a
// later, shorter one may still fit. A filtered attribute whose label name
// is trace_id, span_id or one already written is left out too. An
// exemplar whose IDs alone overflow the limit (not a valid W3C trace or
// span ID) is not written. The stock encoder instead drops every exemplar
// of a point when one overflows the limit or holds invalid UTF-8.

// exemplarMaxRunes is OpenMetrics' bound on the combined length of an
// exemplar's label names and values, in code points.
const exemplarMaxRunes = 128

const (
	traceIDLabel = "trace_id"
	spanIDLabel  = "span_id"
)

// latestInBuckets returns, for each bucket of bounds (the last one is
// +Inf), the index in exs of the most recent exemplar that falls in it, or
// -1. Bucket i holds the values v with bounds[i-1] < v <= bounds[i]; NaN
// falls in +Inf, as in the stock encoder. The slice is r's scratch.
func latestInBuckets[N int64 | float64](r *renderer, bounds []float64, exs []metricdata.Exemplar[N]) []int32 {
	n := len(bounds) + 1
	r.exBucket = slices.Grow(r.exBucket[:0], n)[:n]
	for i := range r.exBucket {
		r.exBucket[i] = -1
	}
	for k := range exs {
		i := bucketOf(bounds, float64(exs[k].Value))
		if best := r.exBucket[i]; best < 0 || !exs[k].Time.Before(exs[best].Time) {
			r.exBucket[i] = int32(k)
		}
	}
	return r.exBucket
}

// bucketOf returns the first i with bounds[i] >= v, or len(bounds).
func bucketOf(bounds []float64, v float64) int {
	lo, hi := 0, len(bounds)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bounds[m] >= v {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// latest returns the index of the most recent exemplar, or -1 if none.
func latest[N int64 | float64](exs []metricdata.Exemplar[N]) int {
	best := -1
	for k := range exs {
		if best < 0 || !exs[k].Time.Before(exs[best].Time) {
			best = k
		}
	}
	return best
}

// appendExemplar appends ` # {labels} value timestamp` (the timestamp
// only when the exemplar has a time) to a sample line that has no newline
// yet.
func appendExemplar[N int64 | float64](r *renderer, b []byte, ex *metricdata.Exemplar[N]) []byte {
	budget := exemplarMaxRunes
	if len(ex.TraceID) > 0 {
		budget -= len(traceIDLabel) + hex.EncodedLen(len(ex.TraceID))
	}
	if len(ex.SpanID) > 0 {
		budget -= len(spanIDLabel) + hex.EncodedLen(len(ex.SpanID))
	}
	if budget < 0 {
		return b
	}
	b = append(b, " # {"...)
	sep := false
	if len(ex.TraceID) > 0 {
		b = append(b, traceIDLabel+`="`...)
		b = hex.AppendEncode(b, ex.TraceID)
		b = append(b, '"')
		sep = true
	}
	if len(ex.SpanID) > 0 {
		if sep {
			b = append(b, ',')
		}
		b = append(b, spanIDLabel+`="`...)
		b = hex.AppendEncode(b, ex.SpanID)
		b = append(b, '"')
		sep = true
	}
	r.exNames = r.exNames[:0]
	for _, kv := range ex.FilteredAttributes {
		li, err := r.label(kv.Key)
		if err != nil {
			r.reportPoint(fmt.Errorf("prometheus exporter: %s: exemplar: %w", r.family, err))
			continue
		}
		name := li.name
		if name == traceIDLabel || name == spanIDLabel || slices.Contains(r.exNames, name) {
			continue
		}
		v := valueString(kv.Value)
		n := len(name) + sanitizedRunes(v) // label names are ASCII
		if n > budget {
			continue
		}
		budget -= n
		r.exNames = append(r.exNames, name)
		if sep {
			b = append(b, ',')
		}
		b = append(b, name...)
		b = append(b, '=', '"')
		var bad bool
		if b, bad = appendEscaped(b, v, true); bad {
			r.countSanitized()
		}
		b = append(b, '"')
		sep = true
	}
	b = append(b, '}', ' ')
	b = appendOMFloat(b, float64(ex.Value))
	if !ex.Time.IsZero() {
		b = append(b, ' ')
		b = appendUnixSeconds(b, ex.Time)
	}
	return b
}

// sanitizedRunes counts the code points of s as appendEscaped writes it
// before escaping: a run of invalid bytes is one U+FFFD.
func sanitizedRunes(s string) int {
	n, invalid := 0, false
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			n, invalid = n+1, false
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		if size == 1 { // an invalid byte
			if !invalid {
				n++
			}
			invalid = true
			i++
			continue
		}
		n, invalid = n+1, false
		i += size
	}
	return n
}

// appendUnixSeconds writes t as seconds since the Unix epoch with up to
// nine exact decimals, trailing zeros dropped: 1700000000.123, -0.5,
// 1700000000. (The stock encoder goes through a float64 and writes
// 1.700000000123e+09, to about a microsecond.)
func appendUnixSeconds(b []byte, t time.Time) []byte {
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	if sec < 0 {
		b = append(b, '-')
		if nsec > 0 {
			sec, nsec = sec+1, 1e9-nsec
		}
		b = strconv.AppendUint(b, uint64(-sec), 10)
	} else {
		b = strconv.AppendInt(b, sec, 10)
	}
	if nsec == 0 {
		return b
	}
	var frac [9]byte
	for i := len(frac) - 1; i >= 0; i-- {
		frac[i] = byte('0' + nsec%10)
		nsec /= 10
	}
	n := len(frac)
	for frac[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, frac[:n]...)
}
