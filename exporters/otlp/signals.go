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
		o := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(t.ep.Host), otlptracegrpc.WithTimeout(c.timeout)}
		if t.insecure {
			o = append(o, otlptracegrpc.WithInsecure())
		} else if c.tls != nil {
			o = append(o, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(c.tls)))
		}
		if len(c.headers) > 0 {
			o = append(o, otlptracegrpc.WithHeaders(c.headers))
		}
		if c.compression == Gzip {
			o = append(o, otlptracegrpc.WithCompressor("gzip"))
		}
		exp, err := otlptracegrpc.New(ctx, o...)
		if err != nil {
			return nil, fmt.Errorf("create otlp grpc span exporter: %w", err)
		}
		return exp, nil
	}
	o := []otlptracehttp.Option{otlptracehttp.WithEndpoint(t.ep.Host), otlptracehttp.WithURLPath(t.path), otlptracehttp.WithTimeout(c.timeout)}
	if t.insecure {
		o = append(o, otlptracehttp.WithInsecure())
	} else if c.tls != nil {
		o = append(o, otlptracehttp.WithTLSClientConfig(c.tls))
	}
	if len(c.headers) > 0 {
		o = append(o, otlptracehttp.WithHeaders(c.headers))
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
		o := []otlploggrpc.Option{otlploggrpc.WithEndpoint(t.ep.Host), otlploggrpc.WithTimeout(c.timeout)}
		if t.insecure {
			o = append(o, otlploggrpc.WithInsecure())
		} else if c.tls != nil {
			o = append(o, otlploggrpc.WithTLSCredentials(credentials.NewTLS(c.tls)))
		}
		if len(c.headers) > 0 {
			o = append(o, otlploggrpc.WithHeaders(c.headers))
		}
		if c.compression == Gzip {
			o = append(o, otlploggrpc.WithCompressor("gzip"))
		}
		exp, err := otlploggrpc.New(ctx, o...)
		if err != nil {
			return nil, fmt.Errorf("create otlp grpc log exporter: %w", err)
		}
		return exp, nil
	}
	o := []otlploghttp.Option{otlploghttp.WithEndpoint(t.ep.Host), otlploghttp.WithURLPath(t.path), otlploghttp.WithTimeout(c.timeout)}
	if t.insecure {
		o = append(o, otlploghttp.WithInsecure())
	} else if c.tls != nil {
		o = append(o, otlploghttp.WithTLSClientConfig(c.tls))
	}
	if len(c.headers) > 0 {
		o = append(o, otlploghttp.WithHeaders(c.headers))
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
