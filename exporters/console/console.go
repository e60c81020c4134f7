package console

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutlog"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

type config struct{ w io.Writer }

// Option configures New.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithWriter sets where the exporter writes. Default os.Stdout; nil means
// the default.
func WithWriter(w io.Writer) Option { return optionFunc(func(c *config) { c.w = w }) }

// New returns the console exporter.
func New(opts ...Option) (sdkmetric.Exporter, error) {
	c := config{}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.w == nil {
		c.w = os.Stdout
	}
	exp, err := stdoutmetric.New(stdoutmetric.WithWriter(c.w))
	if err != nil {
		return nil, fmt.Errorf("create console exporter: %w", err)
	}
	return exp, nil
}

// Config is the console exporter's own settings, set in code only.
type Config struct {
	// Writer is where the exporter writes. Default os.Stdout.
	Writer io.Writer
}

// NewConfig returns the default settings.
func NewConfig() *Config { return &Config{} }

// BindFlags binds nothing: the console exporter has no flags.
func (c *Config) BindFlags(*pflag.FlagSet) {}

// Resolve reads nothing and always succeeds: the writer has no
// environment form.
func (c *Config) Resolve(func(string) (string, bool)) error { return nil }

// Options returns the New options the settings stand for.
func (c *Config) Options() []Option { return []Option{WithWriter(c.Writer)} }

// NewTraceExporter returns the console span exporter: one JSON object per
// span, pretty-printed.
func NewTraceExporter(opts ...Option) (sdktrace.SpanExporter, error) {
	c := config{}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.w == nil {
		c.w = os.Stdout
	}
	exp, err := stdouttrace.New(stdouttrace.WithWriter(c.w))
	if err != nil {
		return nil, fmt.Errorf("create console span exporter: %w", err)
	}
	return exp, nil
}

// NewLogExporter returns the console log record exporter.
func NewLogExporter(opts ...Option) (sdklog.Exporter, error) {
	c := config{}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.w == nil {
		c.w = os.Stdout
	}
	exp, err := stdoutlog.New(stdoutlog.WithWriter(c.w))
	if err != nil {
		return nil, fmt.Errorf("create console log exporter: %w", err)
	}
	return exp, nil
}
