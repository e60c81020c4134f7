package operator

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
)

// fanout sends every record to each handler that is enabled for it: the
// user's stderr handler and the OTel slog bridge.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}

// lazyHandler defers WithAttrs to the first record: a handler run's logger
// gets the object's, handler's and trace's attributes on every run, and
// most runs log nothing, while a text or JSON handler formats attributes
// when they are added.
type lazyHandler struct {
	base  slog.Handler
	attrs []slog.Attr
	once  sync.Once
	built slog.Handler
}

func newLazyLogger(l *slog.Logger, args ...any) *slog.Logger {
	r := slog.Record{}
	r.Add(args...)
	attrs := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a); return true })
	return slog.New(&lazyHandler{base: l.Handler(), attrs: attrs})
}

func (h *lazyHandler) handler() slog.Handler {
	h.once.Do(func() { h.built = h.base.WithAttrs(h.attrs) })
	return h.built
}

func (h *lazyHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.base.Enabled(ctx, l) }

func (h *lazyHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.handler().Handle(ctx, r)
}

func (h *lazyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &lazyHandler{base: h.base, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h *lazyHandler) WithGroup(name string) slog.Handler { return h.handler().WithGroup(name) }
