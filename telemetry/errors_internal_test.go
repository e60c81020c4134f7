package telemetry

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestErrorsAreLoggedWithRateLimit: a collector outage produces a failure
// per export; the default handler logs the first, suppresses the rest for
// the interval, then logs one line saying how many it suppressed.
func TestErrorsAreLoggedWithRateLimit(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newRateLimitedLogger(slog.New(slog.NewTextHandler(&buf, nil)), 30*time.Second)
	l.now = func() time.Time { return now }
	for range 10 { // 10 failures within 10 s
		l.Handle(errors.New("otlp exporter: connection refused"))
		now = now.Add(time.Second)
	}
	now = now.Add(30 * time.Second)
	l.Handle(errors.New("otlp exporter: connection refused"))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("logged %d lines, want 2:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], "suppressed=0") || !strings.Contains(lines[1], "suppressed=9") {
		t.Errorf("lines do not report suppression:\n%s", buf.String())
	}
}
