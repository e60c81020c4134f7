package telemetry

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/optel-dev/optel/telemetry/setting"
)

// ErrInvalidConfig is wrapped by every configuration error New returns, so a
// main can branch on it and exit with status 2 (the pflag convention). It
// is setting.ErrInvalid, which exporter packages' errors match too.
var ErrInvalidConfig = setting.ErrInvalid

// ErrShutdown is returned by Provider methods called after Shutdown.
var ErrShutdown = errors.New("telemetry provider is shut down")

// ConfigError names the setting that was wrong, where it came from, and what
// is accepted. It matches ErrInvalidConfig with errors.Is. It is
// setting.Error, so telemetry's settings and exporters' report alike.
type ConfigError = setting.Error

// ErrorHandler receives asynchronous errors: failed exports, failing
// collect-time callbacks. It must not block; it is called from export
// goroutines.
type ErrorHandler interface {
	Handle(error)
}

// ErrorHandlerFunc adapts a function to ErrorHandler.
type ErrorHandlerFunc func(error)

// Handle calls f(err).
func (f ErrorHandlerFunc) Handle(err error) { f(err) }

var _ ErrorHandler = ErrorHandlerFunc(nil)

// rateLimitedLogger is the default ErrorHandler: it logs the first error, then
// at most one line per interval that also says how many were suppressed, so a
// collector outage does not flood the operator's log.
type rateLimitedLogger struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func newRateLimitedLogger(l *slog.Logger, interval time.Duration) *rateLimitedLogger {
	return &rateLimitedLogger{log: l, interval: interval, now: time.Now}
}

func (r *rateLimitedLogger) Handle(err error) {
	r.mu.Lock()
	now := r.now()
	if !r.last.IsZero() && now.Sub(r.last) < r.interval {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	suppressed := r.suppressed
	r.suppressed = 0
	r.last = now
	r.mu.Unlock()
	r.log.Error("telemetry error", "error", err, "suppressed", suppressed)
}
