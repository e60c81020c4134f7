package prometheus

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// The append helpers below write the Prometheus text format (version 0.0.4)
// and OpenMetrics 1.0 byte for byte as github.com/prometheus/common/expfmt
// does, so the optel encoder and the stock one produce the same lines
// (TestEncoderEquivalence checks this), except that invalid UTF-8 is
// replaced. They append to a caller-owned buffer and never allocate beyond
// its growth.

// appendFloat formats a sample value or an le bound for the text format.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(b, '1')
	case f == 0:
		return append(b, '0')
	case f == -1:
		return append(b, '-', '1')
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// appendOMFloat formats a float for OpenMetrics, which wants a "." or an
// exponent in every float ("1.0", not "1").
func appendOMFloat(b []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(b, "1.0"...)
	case f == 0:
		return append(b, "0.0"...)
	case f == -1:
		return append(b, "-1.0"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'g', -1, 64)
	for _, c := range b[start:] {
		if c == '.' || c == 'e' {
			return b
		}
	}
	return append(b, '.', '0')
}

// appendEscaped escapes a HELP text (quote=false in the text format) or a
// label value (quote=true): backslash, newline and, with quote, the double
// quote. Each run of bytes that is not valid UTF-8 is written as one U+FFFD,
// as strings.ToValidUTF8 does, and sanitized says so: Prometheus rejects a
// whole scrape for one invalid byte. The common case, ASCII with nothing to
// escape, is one scan and a single append.
func appendEscaped(b []byte, s string, quote bool) (_ []byte, sanitized bool) {
	special := &helpSpecial
	if quote {
		special = &valueSpecial
	}
	i := 0
	for i < len(s) && !special[s[i]] {
		i++
	}
	if i == len(s) {
		return append(b, s...), false
	}
	b = append(b, s[:i]...)
	invalid := false // in a run of invalid bytes
	for i < len(s) {
		c := s[i]
		if c >= utf8.RuneSelf {
			_, size := utf8.DecodeRuneInString(s[i:])
			if size == 1 { // utf8.RuneError: an invalid byte
				if !invalid {
					b = append(b, "\uFFFD"...)
				}
				invalid, sanitized = true, true
				i++
				continue
			}
			b = append(b, s[i:i+size]...)
			i += size
			invalid = false
			continue
		}
		invalid = false
		switch {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\n':
			b = append(b, '\\', 'n')
		case quote && c == '"':
			b = append(b, '\\', '"')
		default:
			b = append(b, c)
		}
		i++
	}
	return b, sanitized
}

// helpSpecial and valueSpecial mark the bytes appendEscaped cannot copy as
// they are: what it escapes, and every non-ASCII byte, which it checks.
var helpSpecial, valueSpecial = specialBytes(false), specialBytes(true)

func specialBytes(quote bool) (t [256]bool) {
	for c := utf8.RuneSelf; c < len(t); c++ {
		t[c] = true
	}
	t['\\'], t['\n'], t['"'] = true, true, quote
	return t
}

// appendSeries appends a sample's name, suffix and labels: lbl is the
// pre-rendered `a="x",b="y"` part (may be empty) and le, when not nil, the
// bucket bound. It ends with the space before the value.
func appendSeries(b []byte, name, suffix string, lbl, le []byte) []byte {
	b = append(b, name...)
	b = append(b, suffix...)
	if len(lbl) > 0 || le != nil {
		b = append(b, '{')
		b = append(b, lbl...)
		if le != nil {
			if len(lbl) > 0 {
				b = append(b, ',')
			}
			b = append(b, `le="`...)
			b = append(b, le...)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	return append(b, ' ')
}

// appendCount appends a histogram count: a float in the text format (as
// expfmt writes it), an integer in OpenMetrics.
func appendCount(b []byte, n uint64, om bool) []byte {
	if om {
		return strconv.AppendUint(b, n, 10)
	}
	return appendFloat(b, float64(n))
}

// appendValue appends a counter or gauge value in the format's float style.
func appendValue(b []byte, f float64, om bool) []byte {
	if om {
		return appendOMFloat(b, f)
	}
	return appendFloat(b, f)
}
