package prometheus

import (
	"fmt"
	"strings"
)

// Encoder selects how scrapes are rendered.
type Encoder string

// Encoders.
const (
	// EncoderOptel (the default) renders the text format and OpenMetrics
	// straight from the SDK's collected data, streamed through the
	// compressor, and lets concurrent scrapes share one rendering. See
	// docs/benchmarks.md.
	EncoderOptel Encoder = "optel"
	// EncoderStock is go.opentelemetry.io/otel/exporters/prometheus served
	// by promhttp. It is what to choose for what the optel encoder does not
	// render: exponential histograms as native histograms over the
	// protobuf format. Both encoders write exemplars in OpenMetrics.
	EncoderStock Encoder = "stock"
)

// ParseEncoder validates an encoder name.
func ParseEncoder(s string) (Encoder, error) {
	switch e := Encoder(strings.TrimSpace(s)); e {
	case EncoderOptel, EncoderStock:
		return e, nil
	}
	return "", fmt.Errorf("unknown prometheus encoder %q (accepted: optel, stock)", s)
}

// WithEncoder selects the encoder. Default EncoderOptel.
func WithEncoder(e Encoder) Option { return optionFunc(func(c *config) { c.encoder = e }) }
