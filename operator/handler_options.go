package operator

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// Each kind of handler takes its own option type, so an option that means
// nothing for a kind does not compile there: WithIdle is a TimerOption, and
// OnCreate takes ChangeOptions. The options every kind shares (filters and
// timeouts) are FilterOptions, which satisfy every option type.
//
// All option types are sealed: they are built only by this package's With*
// functions.

// ChangeOption configures a change-detecting handler: OnCreate, OnUpdate,
// OnDelete, OnResume and OnField.
type ChangeOption interface{ applyChange(*handlerSpec) error }

// EventOption configures an OnEvent handler.
type EventOption interface{ applyEvent(*handlerSpec) error }

// TimerOption configures a Timer.
type TimerOption interface{ applyTimer(*handlerSpec) error }

// DaemonOption configures a Daemon.
type DaemonOption interface{ applyDaemon(*handlerSpec) error }

// ReconcileOption configures a Reconcile handler.
type ReconcileOption interface{ applyReconcile(*handlerSpec) error }

// FilterOption is accepted by every kind of handler.
type FilterOption struct{ fn func(*handlerSpec) error }

func (o FilterOption) applyChange(h *handlerSpec) error    { return o.fn(h) }
func (o FilterOption) applyEvent(h *handlerSpec) error     { return o.fn(h) }
func (o FilterOption) applyTimer(h *handlerSpec) error     { return o.fn(h) }
func (o FilterOption) applyDaemon(h *handlerSpec) error    { return o.fn(h) }
func (o FilterOption) applyReconcile(h *handlerSpec) error { return o.fn(h) }

// timerOnly, daemonOnly and runnerOption carry options that belong to
// timers, daemons, or both.
type timerOnly struct{ fn func(*handlerSpec) error }

func (o timerOnly) applyTimer(h *handlerSpec) error { return o.fn(h) }

type daemonOnly struct{ fn func(*handlerSpec) error }

func (o daemonOnly) applyDaemon(h *handlerSpec) error { return o.fn(h) }

// RunnerOption is accepted by timers and daemons.
type RunnerOption struct{ fn func(*handlerSpec) error }

func (o RunnerOption) applyTimer(h *handlerSpec) error  { return o.fn(h) }
func (o RunnerOption) applyDaemon(h *handlerSpec) error { return o.fn(h) }

// WithLabelSelector runs the handler only for objects whose labels match
// selector (Kubernetes syntax, e.g. "tier=web,env!=dev"). A malformed
// selector makes registration fail with the parser's message.
func WithLabelSelector(selector string) FilterOption {
	return FilterOption{func(h *handlerSpec) error {
		s, err := labels.Parse(selector)
		if err != nil {
			return fmt.Errorf("label selector %q: %w", selector, err)
		}
		h.selector = s
		return nil
	}}
}

// When runs the handler only for objects for which cond returns true (kopf's
// `when=`); use it for field conditions. cond sees the raw object.
func When(cond func(obj *unstructured.Unstructured) bool) FilterOption {
	return FilterOption{func(h *handlerSpec) error {
		if cond == nil {
			return fmt.Errorf("when: condition is nil")
		}
		h.when = cond
		return nil
	}}
}

// TimeoutOption is accepted by every kind of handler that runs to
// completion: all but daemons, which run for as long as they like.
type TimeoutOption struct{ fn func(*handlerSpec) error }

func (o TimeoutOption) applyChange(h *handlerSpec) error    { return o.fn(h) }
func (o TimeoutOption) applyEvent(h *handlerSpec) error     { return o.fn(h) }
func (o TimeoutOption) applyTimer(h *handlerSpec) error     { return o.fn(h) }
func (o TimeoutOption) applyReconcile(h *handlerSpec) error { return o.fn(h) }

// WithTimeout overrides Options.HandlerTimeout for this handler. Daemons
// do not take it.
func WithTimeout(d time.Duration) TimeoutOption {
	return TimeoutOption{func(h *handlerSpec) error {
		if d <= 0 {
			return fmt.Errorf("timeout %s: must be positive", d)
		}
		h.timeout = d
		return nil
	}}
}

// WithInitialDelay delays a timer's first tick or a daemon's start.
// Negative values are an error.
func WithInitialDelay(d time.Duration) RunnerOption {
	return RunnerOption{func(h *handlerSpec) error {
		if d < 0 {
			return fmt.Errorf("initial delay %s: must not be negative", d)
		}
		h.initialDelay = d
		return nil
	}}
}

// WithIdle makes a timer fire only when the object has not changed for d
// (kopf's idle=).
func WithIdle(d time.Duration) TimerOption {
	return timerOnly{func(h *handlerSpec) error {
		if d < 0 {
			return fmt.Errorf("idle %s: must not be negative", d)
		}
		h.idle = d
		return nil
	}}
}

// WithCancellationTimeout bounds how long a daemon may take to return after
// its context is cancelled; after that it is abandoned and logged. Default
// 10s.
func WithCancellationTimeout(d time.Duration) DaemonOption {
	return daemonOnly{func(h *handlerSpec) error {
		if d < 0 {
			return fmt.Errorf("cancellation timeout %s: must not be negative", d)
		}
		h.cancellationTimeout = d
		return nil
	}}
}
