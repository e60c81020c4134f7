package telemetry

import (
	"errors"
	"fmt"
	"testing"

	"github.com/optel-dev/optel/exporters/otlp"
)

// TestDroppedPointsSumsEveryDroppedError: joined and wrapped DroppedErrors
// are all counted, not only the first that errors.As would find.
func TestDroppedPointsSumsEveryDroppedError(t *testing.T) {
	d := func(n int) error { return &otlp.DroppedError{Err: errors.New("unavailable"), DeltaPoints: n} }
	tests := []struct {
		name   string
		err    error
		want   int
		wantOK bool
	}{
		{name: "nil", err: nil},
		{name: "plain error", err: errors.New("boom")},
		{name: "one", err: d(3), want: 3, wantOK: true},
		{name: "wrapped", err: fmt.Errorf("export: %w", d(4)), want: 4, wantOK: true},
		{name: "joined", err: errors.Join(d(3), errors.New("other"), d(5)), want: 8, wantOK: true},
		{name: "joined and wrapped", err: fmt.Errorf("x: %w", errors.Join(fmt.Errorf("a: %w", d(1)), errors.Join(d(2), d(7)))), want: 10, wantOK: true},
		{name: "zero is still known", err: d(0), want: 0, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := droppedPoints(tt.err)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("droppedPoints = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
