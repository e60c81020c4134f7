package otlp

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc/credentials"
)

const (
	tracesPath = "/v1/traces"
	logsPath   = "/v1/logs"
)

// NewTraceExporter returns an OTLP span exporter with the same options as
// New (WithTemporality does not apply). An empty http/protobuf path means
// /v1/traces; WithSignalPathAppended appends it. Like New it never dials:
// a collector that is down makes exports fail, never NewTraceExporter.
func NewTraceExporter(ctx context.Context, opts ...Option) (sdktrace.SpanExporter, error) {
	c, t, err := newTarget(tracesPath, opts)
	if err != nil {
		return nil, err
	}
	if c.protocol == GRPC {
		o := []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(t.url()), otlptracegrpc.WithTimeout(c.timeout), otlptracegrpc.WithHeaders(c.headerMap())}
		if !t.insecure && c.tls != nil {
			o = append(o, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(c.tls)))
		}
		if c.compression == Gzip {
			o = append(o, otlptracegrpc.WithCompressor("gzip"))
		} else if c.grpcNoCompressionNeeded(EnvTracesCompression) {
			o = append(o, otlptracegrpc.WithCompressor("none"))
		}
		exp, err := otlptracegrpc.New(ctx, o...)
		if err != nil {
			return nil, fmt.Errorf("create otlp grpc span exporter: %w", err)
		}
		return exp, nil
	}
	o := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(t.url()), otlptracehttp.WithTimeout(c.timeout), otlptracehttp.WithHeaders(c.headerMap()),
		otlptracehttp.WithCompression(otlptracehttp.NoCompression)}
	if !t.insecure && c.tls != nil {
		o = append(o, otlptracehttp.WithTLSClientConfig(c.tls))
	}
	if c.compression == Gzip {
		o = append(o, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	}
	exp, err := otlptracehttp.New(ctx, o...)
	if err != nil {
		return nil, fmt.Errorf("create otlp http span exporter: %w", err)
	}
	return exp, nil
}

// NewLogExporter returns an OTLP log record exporter with the same options
// as New (WithTemporality does not apply). An empty http/protobuf path means
// /v1/logs. It never dials.
func NewLogExporter(ctx context.Context, opts ...Option) (sdklog.Exporter, error) {
	c, t, err := newTarget(logsPath, opts)
	if err != nil {
		return nil, err
	}
	if c.protocol == GRPC {
		o := []otlploggrpc.Option{otlploggrpc.WithEndpointURL(t.url()), otlploggrpc.WithTimeout(c.timeout), otlploggrpc.WithHeaders(c.headerMap())}
		if !t.insecure && c.tls != nil {
			o = append(o, otlploggrpc.WithTLSCredentials(credentials.NewTLS(c.tls)))
		}
		if c.compression == Gzip {
			o = append(o, otlploggrpc.WithCompressor("gzip"))
		} else if c.grpcNoCompressionNeeded(EnvLogsCompression) {
			o = append(o, otlploggrpc.WithCompressor("none"))
		}
		exp, err := otlploggrpc.New(ctx, o...)
		if err != nil {
			return nil, fmt.Errorf("create otlp grpc log exporter: %w", err)
		}
		return exp, nil
	}
	o := []otlploghttp.Option{otlploghttp.WithEndpointURL(t.url()), otlploghttp.WithTimeout(c.timeout), otlploghttp.WithHeaders(c.headerMap()),
		otlploghttp.WithCompression(otlploghttp.NoCompression)}
	if !t.insecure && c.tls != nil {
		o = append(o, otlploghttp.WithTLSClientConfig(c.tls))
	}
	if c.compression == Gzip {
		o = append(o, otlploghttp.WithCompression(otlploghttp.GzipCompression))
	}
	exp, err := otlploghttp.New(ctx, o...)
	if err != nil {
		return nil, fmt.Errorf("create otlp http log exporter: %w", err)
	}
	return exp, nil
}
