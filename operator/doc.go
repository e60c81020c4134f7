// Package operator is optel's kopf-style runtime for Kubernetes operators,
// built on client-go, with telemetry built in.
//
// Entry point: New(restConfig, Options), then register and Run:
//
//	op.OnCreate(widgets, "provision", fn)   // never handled before
//	op.OnUpdate(widgets, "resize", fn)      // spec/labels/annotations changed; Event.Diff says how
//	op.OnDelete(widgets, "release", fn)     // via a finalizer the runtime adds and removes
//	op.OnResume(widgets, "reattach", fn)    // handled before, present when the operator starts
//	op.OnEvent(widgets, "audit", fn)        // every raw watch event
//	op.Timer(widgets, "poll", 30*time.Second, fn, operator.WithIdle(time.Minute))
//	op.Daemon(widgets, "stream", fn)        // one goroutine per object
//	op.OnStartup / OnCleanup / Background   // operator-level activities
//	op.Probe("db", probes.Liveness, probe)  // served on /healthz
//	err := op.Run(ctx)
//
// Objects are addressed by group/version/resource and handled as
// *unstructured.Unstructured through the dynamic client. Filters:
// Options.Namespaces, WithLabelSelector, When.
//
// Engine: one shared informer per resource (and namespace), a rate-limited
// work queue, Options.Workers workers, and never two workers on one object.
// What was handled is recorded in the <prefix>/last-handled-configuration
// annotation (kopf's approach), so a restart tells create, update and resume
// apart. Handler errors follow kopf: TemporaryError retries after its delay,
// PermanentError stops retrying, any other error or a panic retries with
// exponential backoff, and a run longer than its timeout is cut
// (outcome=timeout) and retried. Handlers get a context carrying the meter
// (Meter), a logger (Logger) and the object (Object); Event has helpers for
// status and annotation patches that cannot clobber concurrent writers.
//
// Leader election (Options.LeaderElect) uses a coordination.k8s.io Lease:
// handlers, timers, daemons and activities run on the leader only, while
// metrics and probes serve on every replica; optel.leader shows who leads.
//
// Shutdown order when Run's context ends: stop intake; let running handlers
// finish until GracefulShutdownTimeout, then cancel them; cancel daemons,
// timers and background activities and wait (each up to its cancellation
// timeout); run cleanup activities; flush telemetry; stop serving.
//
// Self-telemetry goes through the injected MeterProvider, with the names
// listed in docs/metrics.md: handler invocations by outcome (initialised to
// 0), durations and retries; queue depth, adds and wait; watch events and
// restarts; objects in cache; running daemons and restarts; timer lateness;
// leadership; and API requests by verb and code, measured by wrapping the
// client transport rather than client-go's process-global hooks.
//
// An Operator is used from one goroutine for registration; Run may be called
// once. Handlers run concurrently for different objects.
package operator
