package operator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/util/flowcontrol"

	"github.com/optel-dev/optel/internal/observ"
	"github.com/optel-dev/optel/probes"
	"github.com/optel-dev/optel/server"
	"github.com/optel-dev/optel/statusz"
	"github.com/optel-dev/optel/telemetry"
)

// reviewQPS and reviewBurst are the client-side limits of the clientset
// that reviews metrics readers' tokens (see Run). They sit above the sum of
// KubeAuth's own caps on reviews it is made to send for callers it does
// not know (TokenReviews: the shared cap and the reserve, 50/s each;
// SubjectAccessReviews of tokens never served: 50/s), so budgeted reviews
// do not queue client-side; what remains is served readers' refreshes.
const (
	reviewQPS   = 250
	reviewBurst = 500
)

// Operator hosts handlers for Kubernetes resources, with built-in telemetry.
// Register handlers, timers, daemons, activities and probes, then call Run.
type Operator struct {
	opts   Options
	cfg    *rest.Config // instrumented
	dyn    dynamic.Interface
	kube   kubernetes.Interface
	tel    *telemetry.Provider
	ownTel bool
	probes *probes.Registry
	meter  metric.Meter // handed to handlers
	inst   *observ.Operator
	log    *slog.Logger
	eng    *engine
	events *events

	mu          sync.Mutex
	started     bool
	controllers map[Resource]*controller
	order       []Resource
	startup     []activity
	cleanup     []activity
	background  []activity

	leader      atomic.Bool
	lostLease   atomic.Bool
	synced      atomic.Bool
	leaderSince atomic.Int64 // unix nanoseconds; 0 before leading

	// runners counts timers, daemons and background activities of the
	// current leadership term.
	runners sync.WaitGroup
	// cancelTermWork cancels the running handlers, timers, daemons and
	// background activities of the current term; the leader-election
	// watchdog calls it when the Lease is lost.
	termMu         sync.Mutex
	cancelTermWork context.CancelFunc
}

// abortTerm cancels the current term's running handlers, timers, daemons
// and background activities at once.
func (o *Operator) abortTerm() {
	o.termMu.Lock()
	f := o.cancelTermWork
	o.termMu.Unlock()
	if f != nil {
		f()
	}
}

// New prepares an operator for the cluster cfg points at. It builds the
// telemetry provider and probe registry unless Options inject them, and
// instruments cfg so every API request is measured (without global hooks).
// A telemetry configuration error wraps telemetry.ErrInvalidConfig.
func New(cfg *rest.Config, opts Options) (*Operator, error) {
	opts.setDefaults()
	if err := opts.validateLease(); err != nil {
		return nil, err
	}
	o := &Operator{opts: opts, log: opts.Logger.With("operator", opts.Name), controllers: map[Resource]*controller{}}
	if opts.Telemetry == nil {
		tp, err := telemetry.New(context.Background(), append(append([]telemetry.Option{
			telemetry.WithServiceName(opts.Name),
			telemetry.WithLogger(opts.Logger),
		}, opts.TelemetryOptions...), opts.TelemetryFlags.Options()...)...)
		if err != nil {
			return nil, err
		}
		o.tel, o.ownTel = tp, true
	} else {
		o.tel = opts.Telemetry
	}
	o.meter = o.tel.Meter(opts.Name)
	inst, err := observ.NewOperator(o.tel.Meter(observ.ScopeName))
	if err != nil {
		return nil, o.failNew(fmt.Errorf("create operator instruments: %w", err))
	}
	o.inst = &inst
	if opts.Probes == nil {
		if o.probes, err = probes.NewRegistry(probes.WithMeterProvider(o.tel.MeterProvider())); err != nil {
			return nil, o.failNew(err)
		}
	} else {
		o.probes = opts.Probes
	}
	var tracer trace.Tracer
	if o.tel.Tracing() {
		tracer = o.tel.TracerProvider().Tracer(observ.ScopeName)
	}
	if o.tel.Logging() {
		// Logs go to stderr as before and, through the OTel slog bridge,
		// to the log exporters; records logged inside a handler run carry
		// its trace (runLogger).
		o.log = slog.New(fanout{opts.Logger.Handler(), otelslog.NewHandler(observ.ScopeName, otelslog.WithLoggerProvider(o.tel.LoggerProvider()))}).With("operator", opts.Name)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(newAPIMetrics(o.inst, tracer))
	if o.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, o.failNew(fmt.Errorf("create dynamic client: %w", err))
	}
	if o.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, o.failNew(fmt.Errorf("create clientset: %w", err))
	}
	o.cfg = cfg
	rawCfg := rest.CopyConfig(cfg)
	rawCfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	raw, err := rest.UnversionedRESTClientFor(rawCfg)
	if err != nil {
		return nil, o.failNew(fmt.Errorf("create REST client: %w", err))
	}
	watchCfg := rest.CopyConfig(rawCfg)
	watchCfg.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter()
	watches, err := rest.UnversionedRESTClientFor(watchCfg)
	if err != nil {
		return nil, o.failNew(fmt.Errorf("create REST client for watches: %w", err))
	}
	o.events = &events{component: opts.Name, kube: o.kube, drop: func(msg string) { o.log.Warn("dropped event", "reason", msg) }}
	o.eng = &engine{
		log: o.log, inst: o.inst, meter: o.meter, dyn: o.dyn, watches: watches,
		tracer: tracer, tracing: tracer != nil,
		writer: dynamicWriter{dyn: o.dyn, raw: raw},
		events: o.events,
		cfg: engineConfig{
			workers: opts.Workers, handlerTimeout: opts.HandlerTimeout,
			backoffBase: opts.BackoffBase, backoffMax: opts.BackoffMax,
			annotationPrefix: opts.AnnotationPrefix, namespaces: opts.Namespaces,
			perObjectMetrics: opts.PerObjectMetrics, handlerEvents: !opts.DisableHandlerEvents,
		},
	}
	if _, err := o.tel.Meter(observ.ScopeName).RegisterCallback(o.observe, o.inst.Objects, o.inst.Leader, o.inst.ObjectHandlerInvocations); err != nil {
		return nil, o.failNew(err)
	}
	if err := o.registerBuiltinProbes(); err != nil {
		return nil, o.failNew(err)
	}
	return o, nil
}

func (o *Operator) failNew(err error) error {
	if o.ownTel {
		_ = o.tel.Shutdown(context.Background())
	}
	return err
}

// Telemetry returns the provider the operator records through.
func (o *Operator) Telemetry() *telemetry.Provider { return o.tel }

// Probes returns the probe registry served on /healthz and /readyz.
func (o *Operator) Probes() *probes.Registry { return o.probes }

// Meter is the meter handlers also get through Meter(ctx).
func (o *Operator) Meter() metric.Meter { return o.meter }

// IsLeader reports whether this replica runs handlers now.
func (o *Operator) IsLeader() bool { return o.leader.Load() }

// controllerList snapshots the controllers in registration order.
func (o *Operator) controllerList() []*controller {
	o.mu.Lock()
	defer o.mu.Unlock()
	cs := make([]*controller, 0, len(o.order))
	for _, r := range o.order {
		cs = append(cs, o.controllers[r])
	}
	return cs
}

func (o *Operator) observe(_ context.Context, obs metric.Observer) error {
	cs := o.controllerList()
	for _, c := range cs {
		if n, ok := c.objectCount(); ok {
			obs.ObserveInt64(o.inst.Objects, int64(n), c.resourceAttrs.Observe()...)
		}
		c.observeObjects(obs, o.inst.ObjectHandlerInvocations)
	}
	leader := int64(0)
	if o.leader.Load() {
		leader = 1
	}
	obs.ObserveInt64(o.inst.Leader, leader)
	return nil
}

// Run starts serving metrics and probes, then (on the leader, if leader
// election is on) runs startup activities, watches, workers, timers, daemons
// and background activities until ctx ends. Shutdown happens in this order:
//
//  1. stop intake (watches and the queue stop taking work);
//  2. let running handlers finish, up to GracefulShutdownTimeout, then
//     cancel them;
//  3. cancel daemons, timers and background activities and wait for them
//     (each up to its cancellation timeout);
//  4. run cleanup activities; flush and shut down telemetry; stop serving.
//
// Run returns nil after a clean shutdown, ErrLeadershipLost if the lease was
// lost, or the error that stopped it. It can be called once.
func (o *Operator) Run(ctx context.Context) error {
	o.mu.Lock()
	if o.started {
		o.mu.Unlock()
		return ErrStarted
	}
	o.started = true
	o.mu.Unlock()

	so := o.opts.Server
	if so.SecureServing && so.MetricsFilter == nil {
		// Protect /metrics the way controller-runtime does: TokenReview,
		// then SubjectAccessReview on the non-resource URL. The reviews get
		// a clientset of their own, so they never queue behind, or delay,
		// the leader-election Lease renewals on the operator's clientset.
		// Its client-side limit sits above KubeAuth's own limit for unknown
		// tokens, so admitted reviews never queue in client-go (whose
		// default, 5/s, would hold known readers' refreshes behind them).
		rc := o.RESTConfig()
		rc.QPS, rc.Burst = reviewQPS, reviewBurst
		reviews, err := kubernetes.NewForConfig(rc)
		if err != nil {
			o.shutdownTelemetry()
			return fmt.Errorf("create client for metrics authorization: %w", err)
		}
		so.MetricsFilter = server.NewKubeAuth(reviews, server.WithAuthLogger(o.log)).Wrap
	}
	if so.Logger == nil {
		so.Logger = o.log
	}
	routes := server.Routes{}
	for p, h := range o.tel.Routes() {
		routes[p] = h
	}
	if !o.opts.DisableStatusPage {
		for p, h := range statusz.Routes(o.probes, statusz.WithTitle(o.opts.Name)) {
			routes[p] = h
		}
	}
	srv, err := server.New(so, routes, server.Routes{
		"/healthz": o.probes.Handler(probes.Liveness),
		"/readyz":  o.probes.Handler(probes.Readiness),
	})
	if err != nil {
		o.shutdownTelemetry()
		return err
	}
	srvCtx, stopSrv := context.WithCancel(context.Background())
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Start(srvCtx) }()
	if a := srv.MetricsAddr(); a != "" {
		o.log.Info("serving telemetry", "address", a, "exporters", o.tel.Exporters())
	}

	if o.opts.LeaderElect {
		err = o.runWithLeaderElection(ctx)
	} else {
		o.leader.Store(true)
		err = o.runLeader(ctx)
	}
	o.shutdownTelemetry()
	stopSrv()
	if serr := <-srvDone; serr != nil && err == nil {
		err = serr
	}
	return err
}

func (o *Operator) shutdownTelemetry() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if o.ownTel {
		if err := o.tel.Shutdown(ctx); err != nil {
			o.log.Error("shut down telemetry", "error", err)
		}
		return
	}
	_ = o.tel.ForceFlush(ctx)
}

// runWithLeaderElection runs the leader's term while this replica holds
// the Lease. Two rules keep two replicas out of one object's handlers:
//
//   - At shutdown the Lease is released only after this replica's handlers,
//     timers and daemons have stopped (runLeader returned), so a standby
//     cannot take over while they still run.
//   - When the Lease is lost (renewals failed for RenewDeadline), intake
//     stops and running handlers are cancelled at once, without the
//     graceful-shutdown wait: another replica may acquire the Lease once
//     LeaseDuration has passed since the last renewal.
//
// A handler that ignores its context can still run after it was
// cancelled; that is the one way to overlap, and handlers must honour ctx.
func (o *Operator) runWithLeaderElection(ctx context.Context) error {
	host, _ := os.Hostname()
	identity := fmt.Sprintf("%s_%d_%d", host, os.Getpid(), time.Now().UnixNano())
	lock := newRenewTracker(&resourcelock.LeaseLock{
		LeaseMeta:  metaFor(o.opts.LeaderElectionID, o.opts.LeaderElectionNamespace),
		Client:     o.kube.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	})
	// The watchdog's limit errs on the side of safety: RenewDeadline after
	// the last successful write, well before LeaseDuration, the earliest a
	// standby can take over. A renewal slower than that ends the term
	// although client-go might still have renewed.
	lostAfter := o.opts.RenewDeadline
	// The elector's context is not the caller's: it ends (and the Lease is
	// released) only after the term has shut down.
	leCtx, stopElector := context.WithCancel(context.Background())
	defer stopElector()
	// state guards the race between acquiring the Lease (client-go then
	// starts OnStartedLeading in a goroutine) and the caller stopping.
	var (
		mu       sync.Mutex
		led      bool // OnStartedLeading began a term
		stopping bool // no term may begin any more
		runErr   error
	)
	leaderDone := make(chan struct{})
	returned := make(chan struct{})
	defer close(returned)
	go func() {
		select {
		case <-ctx.Done():
			mu.Lock()
			if !led {
				stopping = true
				stopElector() // a standby just stops campaigning
			}
			mu.Unlock()
		case <-returned:
		}
	}()
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   o.opts.LeaseDuration,
		RenewDeadline:   o.opts.RenewDeadline,
		RetryPeriod:     o.opts.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            o.opts.LeaderElectionID,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(lctx context.Context) {
				mu.Lock()
				if stopping || ctx.Err() != nil {
					mu.Unlock()
					stopElector()
					return
				}
				led = true
				mu.Unlock()
				defer close(leaderDone)
				defer stopElector() // release the Lease only now
				o.leader.Store(true)
				o.log.Info("became leader", "identity", identity)
				term, endTerm := context.WithCancel(ctx)
				defer endTerm()
				// The watchdog runs for the whole term, the graceful
				// shutdown included: the Lease counts as lost when client-go
				// reports it, or as soon as it has not been renewed for
				// RenewDeadline, whichever comes first. A standby can take
				// over only LeaseDuration after the last renewal.
				termDone := make(chan struct{})
				defer close(termDone)
				lose := func(why string) {
					if o.lostLease.CompareAndSwap(false, true) {
						o.leader.Store(false)
						o.log.Error("leadership lost: stopping intake and cancelling running handlers now", "identity", identity, "why", why)
						o.abortTerm()
						endTerm()
					}
				}
				go func() {
					tick := time.NewTicker(max(o.opts.RetryPeriod/2, 50*time.Millisecond))
					defer tick.Stop()
					for {
						select {
						case <-termDone:
							return
						case <-lctx.Done():
							if leCtx.Err() == nil {
								lose("the elector stopped renewing")
							}
							return
						case <-tick.C:
							if d := lock.sinceRenewal(); d > lostAfter {
								lose("not renewed for " + d.Round(time.Millisecond).String())
								return
							}
						}
					}
				}()
				err := o.runLeader(term)
				mu.Lock()
				runErr = err
				mu.Unlock()
			},
			OnStoppedLeading: func() { o.leader.Store(false) },
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	le.Run(leCtx) // returns when the Lease is lost or released
	mu.Lock()
	stopping = true // a term that has not begun yet never will
	wasLed := led
	mu.Unlock()
	if wasLed {
		// client-go runs OnStartedLeading in its own goroutine and does not
		// wait for it: wait here so shutdown completes before Run returns.
		<-leaderDone
	}
	o.leader.Store(false)
	mu.Lock()
	err = runErr
	mu.Unlock()
	if o.lostLease.Load() {
		return errors.Join(ErrLeadershipLost, err)
	}
	return err
}

// runLeader is the leader's whole life: it returns after shutdown steps 1-4a.
func (o *Operator) runLeader(ctx context.Context) error {
	o.leaderSince.Store(time.Now().UnixNano())
	workCtx, cancelWork := context.WithCancel(context.Background())
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelWork()
	defer cancelRun()
	o.termMu.Lock()
	// A lost Lease cancels timers, daemons and background activities too,
	// at once: they must not run on while a standby takes over.
	o.cancelTermWork = func() { cancelWork(); cancelRun() }
	o.termMu.Unlock()
	o.eng.begin(workCtx, runCtx, &o.runners)
	o.events.start()
	defer o.events.stop()

	for _, a := range o.startup {
		if err := o.runActivity(ctx, a); err != nil {
			return fmt.Errorf("startup activity %q: %w", a.id, err)
		}
	}
	cs := o.controllerList()
	if err := o.resolve(ctx, cs); err != nil {
		return err
	}
	// Every queue exists before any watch starts, so an owned child's
	// first event always finds its owner's queue.
	for _, c := range cs {
		c.prepare()
	}
	for _, c := range cs {
		if err := c.start(); err != nil {
			return err
		}
	}
	for _, c := range cs {
		if !c.waitSynced(ctx) {
			break // ctx ended first
		}
	}
	if ctx.Err() == nil {
		o.synced.Store(true)
		o.log.Info("caches synced, handling", "resources", len(cs))
	}
	var workers sync.WaitGroup
	for _, c := range cs {
		c.runWorkers(&workers)
	}
	for _, a := range o.background {
		o.startBackground(a)
	}

	<-ctx.Done()
	o.log.Info("shutting down")
	// 1. stop intake.
	for _, c := range cs {
		c.stopIntake()
	}
	// 2. let running handlers finish within the deadline, then cancel them;
	// after a lost Lease, cancel them now.
	if o.lostLease.Load() {
		cancelWork()
		cancelRun()
	}
	done := make(chan struct{})
	go func() { workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(o.opts.GracefulShutdownTimeout):
		o.log.Warn("handlers still running at the graceful-shutdown deadline; cancelling them")
		cancelWork()
		<-done
	}
	// 3. cancel daemons, timers and background activities, and wait.
	cancelRun()
	for _, c := range cs {
		c.stopAllRunners()
	}
	o.runners.Wait()
	// 4. cleanup activities.
	cctx, cancel := context.WithTimeout(context.Background(), o.opts.GracefulShutdownTimeout)
	defer cancel()
	var errs []error
	for _, a := range o.cleanup {
		if err := o.runActivity(cctx, a); err != nil {
			errs = append(errs, fmt.Errorf("cleanup activity %q: %w", a.id, err))
		}
	}
	o.synced.Store(false)
	return errors.Join(errs...)
}

// runActivity runs a startup or cleanup function with panic recovery and
// records it as cause=activity.
func (o *Operator) runActivity(ctx context.Context, a activity) error {
	rec := o.activityRecorder(a.id)
	start := time.Now()
	sctx, span := o.eng.startActivity(ctx, a.id, 0)
	err := safeActivity(withHandlerValues(sctx, o.meter, runLogger(o.log.With("activity", a.id), span), nil), a.fn)
	oc := classify(err)
	rec.record(sctx, oc, time.Since(start), false)
	endRun(span, oc, err)
	return err
}

func safeActivity(ctx context.Context, fn Activity) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{v: r}
		}
	}()
	return fn(ctx)
}
