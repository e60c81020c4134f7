package operator

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

type ctxKey int

const (
	meterKey ctxKey = iota
	loggerKey
	objectKey
)

// Meter returns the meter the operator injected into a handler's context,
// or a no-op meter outside a handler.
func Meter(ctx context.Context) metric.Meter {
	if m, ok := ctx.Value(meterKey).(metric.Meter); ok {
		return m
	}
	return noop.NewMeterProvider().Meter("")
}

// Logger returns the handler's logger, already carrying the resource,
// object and handler, or slog.Default() outside a handler.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// ObjectFrom returns the raw object the handler runs for, or nil outside a
// handler.
func ObjectFrom(ctx context.Context) *unstructured.Unstructured {
	o, _ := ctx.Value(objectKey).(*unstructured.Unstructured)
	return o
}

func withHandlerValues(ctx context.Context, m metric.Meter, l *slog.Logger, obj *unstructured.Unstructured) context.Context {
	ctx = context.WithValue(ctx, meterKey, m)
	ctx = context.WithValue(ctx, loggerKey, l)
	if obj != nil {
		ctx = context.WithValue(ctx, objectKey, obj)
	}
	return ctx
}
