package probes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/optel-dev/optel/internal/observ"
)

// Kind says which endpoint a probe answers for.
type Kind int

// Probe kinds.
const (
	// Liveness probes decide /healthz: failing means "restart me".
	Liveness Kind = iota + 1
	// Readiness probes decide /readyz: failing means "send me no work".
	Readiness
)

func (k Kind) String() string {
	switch k {
	case Liveness:
		return "liveness"
	case Readiness:
		return "readiness"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Probe checks one aspect of health. The returned value, which must be
// JSON-encodable, is shown in the report; a non-nil error fails the probe.
type Probe interface {
	Check(ctx context.Context) (any, error)
}

// ProbeFunc adapts a function to Probe.
type ProbeFunc func(ctx context.Context) (any, error)

// Check calls f.
func (f ProbeFunc) Check(ctx context.Context) (any, error) { return f(ctx) }

var _ Probe = ProbeFunc(nil)

// Sentinel errors from Register.
var (
	ErrDuplicateID = errors.New("probe id already registered for this kind")
	ErrInvalidID   = errors.New("invalid probe id")
	ErrInvalidKind = errors.New("invalid probe kind")
)

// Defaults.
const (
	// DefaultCacheTTL is how long a result is reused, as in kopf.
	DefaultCacheTTL = 10 * time.Second
	// DefaultTimeout bounds one probe run; keep the kubelet's timeoutSeconds
	// above it.
	DefaultTimeout = 5 * time.Second
	maxIDLen       = 128
)

type config struct {
	mp      metric.MeterProvider
	ttl     time.Duration
	timeout time.Duration
	now     func() time.Time
}

// Option configures NewRegistry.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMeterProvider records probe status and duration through mp
// (optel.probe.status, optel.probe.duration). Default: no metrics.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.mp = mp })
}

// WithCacheTTL sets how long a result is reused before the probe runs again.
// 0 runs probes on every request (concurrent requests still share one run).
// Default 10s. Negative values are treated as 0.
func WithCacheTTL(d time.Duration) Option { return optionFunc(func(c *config) { c.ttl = max(d, 0) }) }

// WithTimeout bounds each probe run; a probe still running then is reported
// as failed, and the report is returned without waiting for it. Default 5s.
// Values <= 0 mean the default.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	})
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return optionFunc(func(c *config) { c.now = now }) }

// Registry holds probes and runs them on demand with caching, de-duplication
// of concurrent runs, a deadline, and panic recovery. It is safe for
// concurrent use; it starts no goroutine except the runs themselves.
type Registry struct {
	cfg  config
	inst observ.Probes

	mu      sync.RWMutex
	entries map[Kind]map[string]*entry
}

// NewRegistry returns an empty registry.
func NewRegistry(opts ...Option) (*Registry, error) {
	c := config{mp: noop.NewMeterProvider(), ttl: DefaultCacheTTL, timeout: DefaultTimeout, now: time.Now}
	for _, o := range opts {
		o.apply(&c)
	}
	inst, err := observ.NewProbes(c.mp.Meter(observ.ScopeName))
	if err != nil {
		return nil, fmt.Errorf("create probe instruments: %w", err)
	}
	return &Registry{cfg: c, inst: inst, entries: map[Kind]map[string]*entry{}}, nil
}

// Register adds a probe. The id must be 1-128 printable characters and
// unique per kind; a duplicate returns ErrDuplicateID.
func (r *Registry) Register(id string, kind Kind, p Probe) error {
	if err := validID(id); err != nil {
		return err
	}
	if kind != Liveness && kind != Readiness {
		return fmt.Errorf("register probe %q: %w: %v (accepted: Liveness, Readiness)", id, ErrInvalidKind, kind)
	}
	if p == nil {
		return fmt.Errorf("register probe %q: nil probe", id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.entries[kind]
	if m == nil {
		m = map[string]*entry{}
		r.entries[kind] = m
	}
	if _, ok := m[id]; ok {
		return fmt.Errorf("register %s probe %q: %w", kind, id, ErrDuplicateID)
	}
	set := attribute.NewSet(observ.AttrProbe.String(id), observ.AttrProbeKind.String(kind.String()))
	m[id] = &entry{id: id, kind: kind, probe: p, attrs: []metric.RecordOption{metric.WithAttributeSet(set)}}
	return nil
}

func validID(id string) error {
	if id == "" || len(id) > maxIDLen || !utf8.ValidString(id) {
		return fmt.Errorf("%w %q: must be 1-%d bytes of valid UTF-8", ErrInvalidID, id, maxIDLen)
	}
	for _, c := range id {
		if !unicode.IsPrint(c) {
			return fmt.Errorf("%w %q: contains a non-printable character", ErrInvalidID, id)
		}
	}
	return nil
}

// Check runs (or reuses cached results of) every probe of kind concurrently
// and returns the report. It returns within the probe timeout even if a
// probe hangs, or sooner if ctx ends.
func (r *Registry) Check(ctx context.Context, kind Kind) Report {
	r.mu.RLock()
	entries := make([]*entry, 0, len(r.entries[kind]))
	for _, e := range r.entries[kind] {
		entries = append(entries, e)
	}
	r.mu.RUnlock()
	slices.SortFunc(entries, func(a, b *entry) int { return cmpString(a.id, b.id) })

	rep := Report{Kind: kind, Checks: make([]CheckResult, len(entries))}
	var wg sync.WaitGroup
	for i, e := range entries {
		wg.Go(func() { rep.Checks[i] = r.result(ctx, e) })
	}
	wg.Wait()
	rep.Healthy = true
	for _, c := range rep.Checks {
		if c.Error != "" {
			rep.Healthy = false
		}
	}
	return rep
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type entry struct {
	id    string
	kind  Kind
	probe Probe
	attrs []metric.RecordOption

	mu       sync.Mutex
	last     *outcome
	inflight chan struct{}
	started  time.Time
}

type outcome struct {
	value    json.RawMessage
	err      error
	duration time.Duration
	finished time.Time
}

// result returns a fresh-enough outcome, joining a run already in flight
// rather than starting another one.
func (r *Registry) result(ctx context.Context, e *entry) CheckResult {
	now := r.cfg.now()
	e.mu.Lock()
	if e.last != nil && now.Sub(e.last.finished) < r.cfg.ttl {
		o := e.last
		e.mu.Unlock()
		return e.report(o, now)
	}
	ch := e.inflight
	if ch == nil {
		ch = make(chan struct{})
		e.inflight = ch
		e.started = now
		go r.run(e, ch)
	}
	started := e.started
	e.mu.Unlock()

	wait := time.NewTimer(r.cfg.timeout - r.cfg.now().Sub(started))
	defer wait.Stop()
	select {
	case <-ch:
		e.mu.Lock()
		o := e.last
		e.mu.Unlock()
		return e.report(o, r.cfg.now())
	case <-wait.C:
		o := &outcome{
			err:      fmt.Errorf("timed out after %s", r.cfg.timeout),
			duration: r.cfg.timeout,
			finished: r.cfg.now(),
		}
		e.mu.Lock()
		if e.inflight == ch { // still hanging: remember the failure
			e.last = o
		}
		e.mu.Unlock()
		r.record(e, o)
		return e.report(o, o.finished)
	case <-ctx.Done():
		return CheckResult{ID: e.id, Error: "request ended before the probe finished: " + ctx.Err().Error()}
	}
}

// run executes the probe detached from any one request, so a client that
// gives up does not cancel the run other clients are waiting for.
func (r *Registry) run(e *entry, done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.timeout)
	defer cancel()
	start := r.cfg.now()
	val, err := safeCheck(ctx, e.probe)
	var raw json.RawMessage
	if err == nil {
		raw, err = encodeValue(val)
	}
	o := &outcome{value: raw, err: err, duration: r.cfg.now().Sub(start), finished: r.cfg.now()}
	r.record(e, o)
	e.mu.Lock()
	e.last = o
	e.inflight = nil
	e.mu.Unlock()
	close(done)
}

func (r *Registry) record(e *entry, o *outcome) {
	status := int64(1)
	if o.err != nil {
		status = 0
	}
	ctx := context.Background()
	r.inst.Status.Record(ctx, status, e.attrs...)
	r.inst.Duration.Record(ctx, o.duration.Seconds(), e.attrs...)
}

func safeCheck(ctx context.Context, p Probe) (v any, err error) {
	defer func() {
		if rec := recover(); rec != nil {
			v, err = nil, fmt.Errorf("panicked: %v", rec)
		}
	}()
	return p.Check(ctx)
}

// encodeValue turns a probe's value into JSON once, at run time, so a value
// that cannot be encoded (NaN, a channel, a cycle) fails that probe with a
// clear error instead of breaking the report.
func encodeValue(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("result is not JSON-encodable: %w", err)
	}
	return b, nil
}

func (e *entry) report(o *outcome, now time.Time) CheckResult {
	c := CheckResult{ID: e.id, Value: o.value, Duration: o.duration, Age: max(now.Sub(o.finished), 0)}
	if o.err != nil {
		c.Error = o.err.Error()
		if c.Error == "" {
			c.Error = "failed"
		}
	}
	return c
}
