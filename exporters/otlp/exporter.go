package otlp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"google.golang.org/grpc/credentials"
)

// Protocol is an OTLP transport.
type Protocol string

// The protocols OTLP defines for metrics that this package supports.
const (
	GRPC         Protocol = "grpc"
	HTTPProtobuf Protocol = "http/protobuf"
)

// Compression is the payload compression for exports.
type Compression string

// Supported compressions.
const (
	Gzip          Compression = "gzip"
	NoCompression Compression = "none"
)

// Default endpoints per protocol, as the OTel specification defines them.
const (
	DefaultGRPCEndpoint = "http://localhost:4317"
	DefaultHTTPEndpoint = "http://localhost:4318"
	defaultTimeout      = 10 * time.Second
	metricsPath         = "/v1/metrics"
)

// Endpoint is a parsed OTLP endpoint.
type Endpoint struct {
	// Host is host:port.
	Host string
	// Path is the URL path for http/protobuf; empty for a bare host:port.
	Path string
	// Scheme is "http", "https" or "" for a bare host:port.
	Scheme string
}

// ParseEndpoint accepts "host:port" or an http(s) URL and says precisely what
// is wrong otherwise.
func ParseEndpoint(s string) (Endpoint, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Endpoint{}, errors.New("endpoint is empty")
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return Endpoint{}, fmt.Errorf("not a URL: %v", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return Endpoint{}, fmt.Errorf("scheme %q is not http or https", u.Scheme)
		}
		if u.Host == "" {
			return Endpoint{}, errors.New("URL has no host")
		}
		host := u.Host
		if u.Port() == "" {
			port := "80"
			if u.Scheme == "https" {
				port = "443"
			}
			host = net.JoinHostPort(u.Hostname(), port)
		}
		return Endpoint{Host: host, Path: u.Path, Scheme: u.Scheme}, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return Endpoint{}, errors.New("missing port, or not host:port")
	}
	if host == "" {
		return Endpoint{}, errors.New("missing host")
	}
	if err := checkPort(port); err != nil {
		return Endpoint{}, err
	}
	return Endpoint{Host: s}, nil
}

func checkPort(p string) error {
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return fmt.Errorf("port %q is not a number", p)
		}
		n = n*10 + int(c-'0')
		if n > 65535 {
			return fmt.Errorf("port %q is out of range", p)
		}
	}
	if p == "" || n == 0 {
		return fmt.Errorf("port %q is out of range", p)
	}
	return nil
}

type config struct {
	protocol    Protocol
	endpoint    string
	appendPath  bool
	headers     map[string]string
	timeout     time.Duration
	insecure    bool
	compression Compression
	tls         *tls.Config
	temporality Temporality

	maxPoints    int
	maxPointsSet bool
}

// Option configures New.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithProtocol selects the transport. Default GRPC.
func WithProtocol(p Protocol) Option { return optionFunc(func(c *config) { c.protocol = p }) }

// WithEndpoint sets "host:port" or an http(s) URL. A URL's scheme decides
// TLS (http means plaintext). For http/protobuf a URL path is used as is; an
// empty path means /v1/metrics. Default: localhost:4317 (grpc) or
// localhost:4318 (http/protobuf).
func WithEndpoint(e string) Option { return optionFunc(func(c *config) { c.endpoint = e }) }

// WithSignalPathAppended makes a URL endpoint behave like the generic
// OTEL_EXPORTER_OTLP_ENDPOINT: /v1/metrics is appended to its path for
// http/protobuf.
func WithSignalPathAppended() Option { return optionFunc(func(c *config) { c.appendPath = true }) }

// WithHeaders adds headers (gRPC metadata) to every export.
func WithHeaders(h map[string]string) Option { return optionFunc(func(c *config) { c.headers = h }) }

// WithTimeout bounds each export, retries included. Default 10s.
func WithTimeout(d time.Duration) Option { return optionFunc(func(c *config) { c.timeout = d }) }

// WithInsecure disables TLS for a bare host:port endpoint. A URL's scheme
// takes precedence.
func WithInsecure(b bool) Option { return optionFunc(func(c *config) { c.insecure = b }) }

// WithCompression sets payload compression. Default none.
func WithCompression(comp Compression) Option {
	return optionFunc(func(c *config) { c.compression = comp })
}

// WithTLSConfig sets the client TLS configuration (CA, client certificates).
func WithTLSConfig(t *tls.Config) Option { return optionFunc(func(c *config) { c.tls = t }) }

// New returns an OTLP metric exporter for the chosen protocol. It does not
// connect: a collector that is down makes exports fail, never New.
//
// The returned exporter uses cumulative temporality unless WithTemporality
// says otherwise, so an export that fails loses nothing: the next successful
// one carries the totals. The temporality is passed to the OTel exporter
// explicitly, so OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE in the
// environment cannot change it behind the caller's back.
func New(ctx context.Context, opts ...Option) (sdkmetric.Exporter, error) {
	c, t, err := newTarget(metricsPath, opts)
	if err != nil {
		return nil, err
	}
	if _, err := ParseTemporality(string(c.temporality)); err != nil {
		return nil, fmt.Errorf("otlp: %w", err)
	}
	insecure := t.insecure
	switch c.protocol {
	case GRPC:
		o := []otlpmetricgrpc.Option{otlpmetricgrpc.WithEndpointURL(t.url()), otlpmetricgrpc.WithTimeout(c.timeout), otlpmetricgrpc.WithTemporalitySelector(c.temporality.Selector()),
			otlpmetricgrpc.WithHeaders(c.headerMap())}
		if !insecure && c.tls != nil {
			o = append(o, otlpmetricgrpc.WithTLSCredentials(credentials.NewTLS(c.tls)))
		}
		if c.compression == Gzip {
			o = append(o, otlpmetricgrpc.WithCompressor("gzip"))
		} else if c.grpcNoCompressionNeeded("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION") {
			o = append(o, otlpmetricgrpc.WithCompressor("none"))
		}
		exp, err := otlpmetricgrpc.New(ctx, o...)
		if err != nil {
			return nil, fmt.Errorf("create otlp grpc exporter: %w", err)
		}
		return c.split(exp), nil
	case HTTPProtobuf:
		o := []otlpmetrichttp.Option{otlpmetrichttp.WithEndpointURL(t.url()), otlpmetrichttp.WithTimeout(c.timeout), otlpmetrichttp.WithTemporalitySelector(c.temporality.Selector()),
			otlpmetrichttp.WithHeaders(c.headerMap()), otlpmetrichttp.WithCompression(otlpmetrichttp.NoCompression)}
		if !insecure && c.tls != nil {
			o = append(o, otlpmetrichttp.WithTLSClientConfig(c.tls))
		}
		if c.compression == Gzip {
			o = append(o, otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
		}
		exp, err := otlpmetrichttp.New(ctx, o...)
		if err != nil {
			return nil, fmt.Errorf("create otlp http exporter: %w", err)
		}
		return c.split(exp), nil
	}
	return nil, fmt.Errorf("otlp protocol %q: accepted grpc, http/protobuf", c.protocol)
}

// target is where one signal's exporter sends: the parsed endpoint,
// whether it is plaintext, and the URL path for http/protobuf.
type target struct {
	ep       Endpoint
	insecure bool
	path     string
}

// url is the endpoint as the OTel exporters' WithEndpointURL takes it. The
// scheme carries the TLS decision, so the OTel exporter's own reading of
// OTEL_EXPORTER_OTLP_*_INSECURE cannot override optel's.
func (t target) url() string {
	scheme := "https"
	if t.insecure {
		scheme = "http"
	}
	return scheme + "://" + t.ep.Host + t.path
}

// headers is never nil, so the OTel exporter's own reading of
// OTEL_EXPORTER_OTLP_*_HEADERS cannot add headers optel did not resolve.
func (c *config) headerMap() map[string]string {
	if c.headers == nil {
		return map[string]string{}
	}
	return c.headers
}

// grpcNoCompressionNeeded reports whether an OTel gRPC exporter would pick
// up gzip from the process environment although optel resolved none (a
// --otlp-compression=none flag over the variable): only then is "none"
// passed, which the OTel exporter reports once as an unknown compressor
// while it turns compression off.
func (c *config) grpcNoCompressionNeeded(signalVar string) bool {
	if c.compression == Gzip {
		return false
	}
	for _, k := range []string{signalVar, EnvCompression} {
		if v, ok := os.LookupEnv(k); ok && strings.TrimSpace(v) != "" && !strings.EqualFold(strings.TrimSpace(v), "none") {
			return true
		}
	}
	return false
}

// newTarget applies opts over the defaults and validates what every
// signal's exporter needs; signalPath is /v1/metrics, /v1/traces or
// /v1/logs.
func newTarget(signalPath string, opts []Option) (config, target, error) {
	c := config{protocol: GRPC, timeout: defaultTimeout, compression: NoCompression, temporality: Cumulative}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.endpoint == "" {
		c.endpoint = DefaultGRPCEndpoint
		if c.protocol == HTTPProtobuf {
			c.endpoint = DefaultHTTPEndpoint
		}
	}
	ep, err := ParseEndpoint(c.endpoint)
	if err != nil {
		return c, target{}, fmt.Errorf("otlp endpoint %q: %w", c.endpoint, err)
	}
	if c.timeout <= 0 {
		return c, target{}, fmt.Errorf("otlp timeout %v: must be greater than zero", c.timeout)
	}
	if c.protocol != GRPC && c.protocol != HTTPProtobuf {
		return c, target{}, fmt.Errorf("otlp protocol %q: accepted grpc, http/protobuf", c.protocol)
	}
	t := target{ep: ep, insecure: c.insecure, path: ep.Path}
	if ep.Scheme != "" {
		t.insecure = ep.Scheme == "http"
	}
	switch {
	case t.path == "" || t.path == "/":
		t.path = signalPath
	case c.appendPath:
		t.path = strings.TrimSuffix(t.path, "/") + signalPath
	}
	return c, t, nil
}

func (c *config) split(exp sdkmetric.Exporter) sdkmetric.Exporter {
	n := DefaultMaxPointsPerExport
	if c.maxPointsSet {
		n = c.maxPoints
	}
	if n <= 0 {
		return exp
	}
	return &splitExporter{Exporter: exp, max: n}
}
