package jsonexp

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// AppendJSON appends the JSON snapshot of rm to dst and returns the extended
// buffer. The shape is documented in docs/exporters.md. It never fails:
// non-finite floats are rendered as the strings "NaN", "+Inf" and "-Inf",
// and invalid UTF-8 is replaced with U+FFFD.
func AppendJSON(dst []byte, rm *metricdata.ResourceMetrics) []byte {
	dst = append(dst, `{"resource":`...)
	if rm.Resource != nil {
		dst = appendAttrs(dst, rm.Resource.Set())
	} else {
		dst = append(dst, "{}"...)
	}
	dst = append(dst, `,"scopes":[`...)
	for i, sm := range rm.ScopeMetrics {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = appendString(dst, sm.Scope.Name)
		dst = append(dst, `,"version":`...)
		dst = appendString(dst, sm.Scope.Version)
		dst = append(dst, `,"metrics":[`...)
		for j, m := range sm.Metrics {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendMetric(dst, m)
		}
		dst = append(dst, "]}"...)
	}
	return append(dst, "]}"...)
}

func appendMetric(dst []byte, m metricdata.Metrics) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendString(dst, m.Name)
	dst = append(dst, `,"unit":`...)
	dst = appendString(dst, m.Unit)
	dst = append(dst, `,"description":`...)
	dst = appendString(dst, m.Description)
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		dst = appendSumHeader(dst, d.Temporality, d.IsMonotonic)
		dst = appendNumberPoints(dst, d.DataPoints, appendInt)
	case metricdata.Sum[float64]:
		dst = appendSumHeader(dst, d.Temporality, d.IsMonotonic)
		dst = appendNumberPoints(dst, d.DataPoints, appendFloat)
	case metricdata.Gauge[int64]:
		dst = append(dst, `,"kind":"gauge"`...)
		dst = appendNumberPoints(dst, d.DataPoints, appendInt)
	case metricdata.Gauge[float64]:
		dst = append(dst, `,"kind":"gauge"`...)
		dst = appendNumberPoints(dst, d.DataPoints, appendFloat)
	case metricdata.Histogram[int64]:
		dst = appendHistHeader(dst, d.Temporality)
		dst = appendHistPoints(dst, d.DataPoints, appendInt)
	case metricdata.Histogram[float64]:
		dst = appendHistHeader(dst, d.Temporality)
		dst = appendHistPoints(dst, d.DataPoints, appendFloat)
	case metricdata.ExponentialHistogram[int64]:
		dst = appendExpHeader(dst, d.Temporality)
		dst = appendExpPoints(dst, d.DataPoints, appendInt)
	case metricdata.ExponentialHistogram[float64]:
		dst = appendExpHeader(dst, d.Temporality)
		dst = appendExpPoints(dst, d.DataPoints, appendFloat)
	case metricdata.Summary:
		dst = append(dst, `,"kind":"summary","points":[`...)
		for i, p := range d.DataPoints {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendPointHead(dst, p.Attributes, p.StartTime, p.Time)
			dst = append(dst, `,"count":`...)
			dst = strconv.AppendUint(dst, p.Count, 10)
			dst = append(dst, `,"sum":`...)
			dst = appendFloat(dst, p.Sum)
			dst = append(dst, `,"quantiles":[`...)
			for k, q := range p.QuantileValues {
				if k > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, `{"quantile":`...)
				dst = appendFloat(dst, q.Quantile)
				dst = append(dst, `,"value":`...)
				dst = appendFloat(dst, q.Value)
				dst = append(dst, '}')
			}
			dst = append(dst, "]}"...)
		}
		dst = append(dst, ']')
	default:
		dst = append(dst, `,"kind":"unknown","points":[]`...)
	}
	return append(dst, '}')
}

func appendSumHeader(dst []byte, t metricdata.Temporality, mono bool) []byte {
	dst = append(dst, `,"kind":"sum","temporality":`...)
	dst = appendTemporality(dst, t)
	dst = append(dst, `,"monotonic":`...)
	return strconv.AppendBool(dst, mono)
}

func appendHistHeader(dst []byte, t metricdata.Temporality) []byte {
	dst = append(dst, `,"kind":"histogram","temporality":`...)
	return appendTemporality(dst, t)
}

func appendExpHeader(dst []byte, t metricdata.Temporality) []byte {
	dst = append(dst, `,"kind":"exponential_histogram","temporality":`...)
	return appendTemporality(dst, t)
}

func appendTemporality(dst []byte, t metricdata.Temporality) []byte {
	switch t {
	case metricdata.CumulativeTemporality:
		return append(dst, `"cumulative"`...)
	case metricdata.DeltaTemporality:
		return append(dst, `"delta"`...)
	}
	return append(dst, `"unspecified"`...)
}

func appendNumberPoints[N int64 | float64](dst []byte, pts []metricdata.DataPoint[N], num func([]byte, N) []byte) []byte {
	dst = append(dst, `,"points":[`...)
	for i, p := range pts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendPointHead(dst, p.Attributes, p.StartTime, p.Time)
		dst = append(dst, `,"value":`...)
		dst = num(dst, p.Value)
		dst = appendExemplars(dst, p.Exemplars, num)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

func appendHistPoints[N int64 | float64](dst []byte, pts []metricdata.HistogramDataPoint[N], num func([]byte, N) []byte) []byte {
	dst = append(dst, `,"points":[`...)
	for i, p := range pts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendPointHead(dst, p.Attributes, p.StartTime, p.Time)
		dst = append(dst, `,"count":`...)
		dst = strconv.AppendUint(dst, p.Count, 10)
		dst = append(dst, `,"sum":`...)
		dst = num(dst, p.Sum)
		if v, ok := p.Min.Value(); ok {
			dst = append(dst, `,"min":`...)
			dst = num(dst, v)
		}
		if v, ok := p.Max.Value(); ok {
			dst = append(dst, `,"max":`...)
			dst = num(dst, v)
		}
		dst = append(dst, `,"buckets":[`...)
		for k, c := range p.BucketCounts {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"le":`...)
			if k < len(p.Bounds) {
				dst = appendFloat(dst, p.Bounds[k])
			} else {
				dst = append(dst, `"+Inf"`...)
			}
			dst = append(dst, `,"count":`...)
			dst = strconv.AppendUint(dst, c, 10)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
		dst = appendExemplars(dst, p.Exemplars, num)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendExemplars writes `,"exemplars":[...]`, or nothing when there are
// none, so points without exemplars keep their shape and their cost.
func appendExemplars[N int64 | float64](dst []byte, ex []metricdata.Exemplar[N], num func([]byte, N) []byte) []byte {
	if len(ex) == 0 {
		return dst
	}
	dst = append(dst, `,"exemplars":[`...)
	for i, e := range ex {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"value":`...)
		dst = num(dst, e.Value)
		dst = append(dst, `,"time":"`...)
		dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
		if len(e.TraceID) > 0 {
			dst = append(dst, `,"trace_id":`...)
			dst = appendHex(dst, e.TraceID)
		}
		if len(e.SpanID) > 0 {
			dst = append(dst, `,"span_id":`...)
			dst = appendHex(dst, e.SpanID)
		}
		dst = append(dst, `,"filtered_attributes":`...)
		dst = appendKVs(dst, e.FilteredAttributes)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendHex writes b as a quoted lowercase hex string.
func appendHex(dst, b []byte) []byte {
	dst = append(dst, '"')
	for _, c := range b {
		dst = append(dst, hex[c>>4], hex[c&0xf])
	}
	return append(dst, '"')
}

// appendKVs renders attributes as an object in the order given (the SDK
// has already removed duplicate keys from recorded and span attributes).
func appendKVs(dst []byte, kvs []attribute.KeyValue) []byte {
	dst = append(dst, '{')
	for i, kv := range kvs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, string(kv.Key))
		dst = append(dst, ':')
		dst = appendValue(dst, kv.Value)
	}
	return append(dst, '}')
}

func appendExpPoints[N int64 | float64](dst []byte, pts []metricdata.ExponentialHistogramDataPoint[N], num func([]byte, N) []byte) []byte {
	dst = append(dst, `,"points":[`...)
	for i, p := range pts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendPointHead(dst, p.Attributes, p.StartTime, p.Time)
		dst = append(dst, `,"count":`...)
		dst = strconv.AppendUint(dst, p.Count, 10)
		dst = append(dst, `,"sum":`...)
		dst = num(dst, p.Sum)
		dst = append(dst, `,"scale":`...)
		dst = strconv.AppendInt(dst, int64(p.Scale), 10)
		dst = append(dst, `,"zero_count":`...)
		dst = strconv.AppendUint(dst, p.ZeroCount, 10)
		dst = appendExpBuckets(dst, `,"positive":`, p.PositiveBucket)
		dst = appendExpBuckets(dst, `,"negative":`, p.NegativeBucket)
		dst = appendExemplars(dst, p.Exemplars, num)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

func appendExpBuckets(dst []byte, key string, b metricdata.ExponentialBucket) []byte {
	dst = append(dst, key...)
	dst = append(dst, `{"offset":`...)
	dst = strconv.AppendInt(dst, int64(b.Offset), 10)
	dst = append(dst, `,"counts":[`...)
	for i, c := range b.Counts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, c, 10)
	}
	return append(dst, "]}"...)
}

func appendPointHead(dst []byte, attrs attribute.Set, start, t time.Time) []byte {
	dst = append(dst, `{"attributes":`...)
	dst = appendAttrs(dst, &attrs)
	if !start.IsZero() {
		dst = append(dst, `,"start":"`...)
		dst = start.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"time":"`...)
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// appendAttrs renders a set as an object. attribute.Set is sorted by key,
// so output is deterministic.
func appendAttrs(dst []byte, s *attribute.Set) []byte {
	dst = append(dst, '{')
	iter := s.Iter()
	first := true
	for iter.Next() {
		kv := iter.Attribute()
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, string(kv.Key))
		dst = append(dst, ':')
		dst = appendValue(dst, kv.Value)
	}
	return append(dst, '}')
}

func appendValue(dst []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.BOOL:
		return strconv.AppendBool(dst, v.AsBool())
	case attribute.INT64:
		return strconv.AppendInt(dst, v.AsInt64(), 10)
	case attribute.FLOAT64:
		return appendFloat(dst, v.AsFloat64())
	case attribute.STRING:
		return appendString(dst, v.AsString())
	case attribute.BOOLSLICE:
		return appendSlice(dst, v.AsBoolSlice(), strconv.AppendBool)
	case attribute.INT64SLICE:
		return appendSlice(dst, v.AsInt64Slice(), appendInt)
	case attribute.FLOAT64SLICE:
		return appendSlice(dst, v.AsFloat64Slice(), appendFloat)
	case attribute.STRINGSLICE:
		return appendSlice(dst, v.AsStringSlice(), appendString)
	}
	return appendString(dst, v.Emit())
}

func appendSlice[T any](dst []byte, s []T, f func([]byte, T) []byte) []byte {
	dst = append(dst, '[')
	for i, x := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = f(dst, x)
	}
	return append(dst, ']')
}

func appendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

func appendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"+Inf"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Inf"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

const hex = "0123456789abcdef"

// appendString writes a JSON string, escaping what JSON requires plus <, >
// and & (safe to embed in HTML), and replacing invalid UTF-8.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
