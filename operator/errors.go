package operator

import (
	"errors"
	"fmt"
	"time"
)

// TemporaryError asks for a retry after Delay (kopf's TemporaryError). The
// run counts as outcome temporary_error.
type TemporaryError struct {
	Err   error
	Delay time.Duration
}

func (e *TemporaryError) Error() string {
	return fmt.Sprintf("temporary error (retry in %s): %v", e.Delay, e.Err)
}

func (e *TemporaryError) Unwrap() error { return e.Err }

// Temporary wraps err so the handler is retried after delay.
func Temporary(err error, delay time.Duration) error { return &TemporaryError{Err: err, Delay: delay} }

// PermanentError stops retrying the handler (kopf's PermanentError). The run
// counts as outcome permanent_error and the handler is considered done for
// this change.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent error: " + e.Err.Error() }

func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so the handler is not retried.
func Permanent(err error) error { return &PermanentError{Err: err} }

// Sentinel errors.
var (
	// ErrStarted is returned when registering after Run has started.
	ErrStarted = errors.New("operator already started: register handlers before Run")
	// ErrDuplicateHandler is returned when an id is registered twice for the
	// same resource and cause.
	ErrDuplicateHandler = errors.New("handler id already registered")
	// ErrHandlerTimeout is the error of a run cut at the handler timeout.
	ErrHandlerTimeout = errors.New("handler timed out")
	// ErrLeadershipLost ends Run when leader election is on and the lease is lost.
	ErrLeadershipLost = errors.New("leadership lost")
)

// outcome classifies a handler run for optel.handler.invocations.
type outcome string

const (
	outcomeSuccess   outcome = "success"
	outcomeTemporary outcome = "temporary_error"
	outcomePermanent outcome = "permanent_error"
	outcomePanic     outcome = "panic"
	outcomeTimeout   outcome = "timeout"
)

var allOutcomes = []outcome{outcomeSuccess, outcomeTemporary, outcomePermanent, outcomePanic, outcomeTimeout}

// panicError carries a recovered panic.
type panicError struct{ v any }

func (p *panicError) Error() string { return fmt.Sprintf("handler panicked: %v", p.v) }

func classify(err error) outcome {
	var pe *PermanentError
	var pan *panicError
	switch {
	case err == nil:
		return outcomeSuccess
	case errors.As(err, &pan):
		return outcomePanic
	case errors.Is(err, ErrHandlerTimeout):
		return outcomeTimeout
	case errors.As(err, &pe):
		return outcomePermanent
	}
	return outcomeTemporary
}
