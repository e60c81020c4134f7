package prometheus

import (
	"github.com/spf13/pflag"

	"github.com/optel-dev/optel/telemetry/setting"
)

// FlagEncoder is the flag Config.BindFlags binds.
const FlagEncoder = "prometheus-encoder"

// Config is the Prometheus exporter's own settings: the encoder, from
// --prometheus-encoder or code (Encoder.Set), and a family transform,
// from code only. The telemetry package binds its flag (telemetry.Flags),
// resolves it and builds the exporter from Options; it sets Transform to
// optel's naming profile (--metrics-naming) unless code set one.
type Config struct {
	Encoder setting.Var[Encoder]
	// Transform, if not nil, is passed to WithFamilyTransform.
	Transform FamilyTransform
}

var parseEncoder = setting.OneOf("unknown Prometheus encoder", false, EncoderOptel, EncoderStock)

// NewConfig returns the settings with their flag and defaults.
func NewConfig() *Config {
	return &Config{Encoder: setting.Var[Encoder]{
		Flag: FlagEncoder, FlagType: "string", FlagDefault: string(EncoderOptel), Option: "prometheus.Config.Encoder",
		Usage:   "Prometheus scrape encoder: optel (renders straight from the collected data, shares concurrent scrapes) or stock (the OTel Prometheus exporter; native histograms over protobuf). Both write exemplars in OpenMetrics.",
		Default: EncoderOptel,
		Parse:   parseEncoder,
		Check: func(src string, e Encoder) error {
			_, err := parseEncoder(src, string(e))
			return err
		},
	}}
}

// BindFlags registers --prometheus-encoder on fs.
func (c *Config) BindFlags(fs *pflag.FlagSet) { c.Encoder.BindFlag(fs) }

// Resolve settles the encoder from the flag, code and the default; the
// exporter reads no environment variable. An error is a *setting.Error.
func (c *Config) Resolve(lookup func(string) (string, bool)) error {
	return c.Encoder.Resolve(lookup)
}

// Options returns the New options the resolved settings stand for.
func (c *Config) Options() []Option {
	return []Option{WithEncoder(c.Encoder.Value()), WithFamilyTransform(c.Transform)}
}
