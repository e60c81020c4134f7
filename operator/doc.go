// Package operator is optel's kopf-style runtime for Kubernetes operators,
// built on client-go, with telemetry built in.
//
// Entry point: New(restConfig, Options), then register and Run. Handlers are
// typed: a Kind handle ties a Go type to its resource, and every method on it
// is typed from then on.
//
//	apps := operator.For[*App](op, appsResource)          // your struct, JSON tags, no generated code
//	deployments := operator.ForBuiltin[*appsv1.Deployment](op)
//	apps.OnCreate("provision", fn)      // never handled before
//	apps.OnUpdate("resize", fn)         // spec/labels/annotations changed; ev.Old and ev.Diff say how
//	apps.OnField("spec.replicas", "scale", fn)  // one field changed (kopf's on.field)
//	apps.OnDelete("release", fn)        // via a finalizer the runtime adds and removes
//	apps.OnResume("reattach", fn)       // handled before, present when the operator starts
//	apps.OnEvent("audit", fn)           // every raw watch event
//	apps.Timer("poll", 30*time.Second, fn, operator.WithIdle(time.Minute))
//	apps.Daemon("stream", fn)           // one goroutine per object
//	apps.Reconcile("converge", fn)      // level-based: the object or an owned child changed
//	apps.Owns(deployments)              // a Deployment's change wakes its controller owner
//	operator.Watches(apps, configMaps, mapFn)  // related objects, mapped to owners
//	op.OnStartup / OnCleanup / Background      // operator-level activities
//	op.Probe("db", probes.Liveness, probe)     // served on /healthz
//	err := op.Run(ctx)
//
// The Operator's own methods (op.OnCreate(resource, ...) and so on) are the
// same handlers for *unstructured.Unstructured objects. Each kind of handler
// takes its own option type (ChangeOption, TimerOption, DaemonOption, ...),
// so an option that means nothing there does not compile: WithIdle is a
// TimerOption only. Filters: Options.Namespaces, WithLabelSelector, When.
//
// # What optel writes
//
// Watching a resource never writes to it. Only a resource with
// change-detecting handlers (create, update, field, resume) gets the
// <prefix>/last-handled-configuration annotation, a JSON copy of what was
// handled (kopf's approach), so a restart tells create, update and resume
// apart. While the operator runs, it also remembers in memory what it last
// handled for each object (reset when the uid changes), so a stale cache
// never re-runs a handler; as a consequence, a hand edit or removal of the
// annotation takes effect only after the operator restarts (the annotation
// is re-read then), and until then the in-memory state wins. Only a resource with delete handlers or daemons gets the
// <prefix>/finalizer; optel removes its finalizer from an object being
// deleted even after the last delete handler is gone, so a new version
// never leaves objects stuck. A resource that is only watched (Owns,
// Watches, For for its cache, OnEvent, Reconcile, Timer) is never written
// by optel, and its RBAC needs only get, list and watch, plus whatever the
// handlers themselves write, plus create and patch on events when handler
// Events are on (the default) for resources that have handlers.
//
// Mind built-in kinds: registering change-detecting handlers on Deployments
// makes optel annotate them, and an annotation change bumps a Deployment's
// metadata.generation (the deployment controller also copies annotations to
// ReplicaSets). Own Deployments with Owns and Reconcile instead. An
// operator upgraded from a version that annotated watched-only objects
// leaves those annotations behind; remove them with, for example,
// kubectl annotate deployments --all -A optel.dev/last-handled-configuration-
//
// # Tracing
//
// With traces on (the Telemetry provider's TracerProvider is not a no-op),
// every handler run, timer tick, daemon start and activity run is a span
// named "<cause> <resource>", the root of a new trace, linked to the
// object's tracing.k8s.io/traceparent annotation (TraceparentAnnotation);
// API calls made through the operator's clients inside a run are its
// child spans and send the traceparent header; the run's logger adds
// trace_id and span_id. StampTraceparent writes the run's context onto an
// object; Kind.CreateOrUpdate does so for what it creates or changes. The
// annotation is not part of the last-handled state: stamping it runs no
// update handler. docs/tracing.md lists the attributes.
//
// # Ordering and exclusion
//
// One shared informer per resource (and namespace), a rate-limited work
// queue and Options.Workers workers per resource with handlers. For one
// object, these never run at the same time: a worker processing its key,
// a tick of any of its timers, and the start of its daemons; they all hold
// the object's lock. A worker runs the object's handlers one after the
// other: delete handlers when it is being deleted; otherwise create, or
// update then resume (resume only once the updates succeeded), then
// reconcile handlers. Reconcile handlers run even while a create or update
// handler is failing and waiting for its retry, and they run again when
// optel's own annotation write brings the object back from the watch.
//
// What does run concurrently for one object: the body of a daemon (it is
// started under the lock, then runs for as long as it likes, so daemons are
// not excluded from anything), event handlers (they run on Options.Workers
// event goroutines, sharded by object, off the watch's delivery
// goroutine), a handler cut at its timeout (it keeps running with a
// cancelled context while the next run may start), and writes a handler of
// another object makes to it (Kind.CreateOrUpdate and Kind.UpdateStatus do
// not take the target's lock). Different objects are handled concurrently.
//
// After a restart, a change made while the operator was down reaches update
// handlers first, with its diff, then resume handlers, which see the same
// Old and Diff.
//
// # Owned children and reconcile
//
// Adopt sets a controller owner reference (controller-runtime's
// SetControllerReference, kopf's adopt). Owns routes every event of a child
// whose controller owner is of this kind to the owner's key, through the
// owner's queue, retries and lock. Watches does the same with a mapping
// function. Reconcile handlers are level-based: they run whenever the
// object or anything mapped to it changed, and again after
// Result.RequeueAfter; errors retry with backoff. Kind.CreateOrUpdate and
// Kind.UpdateStatus read from the cache and write only what changed.
//
// # Clients, Events and conditions
//
// Operator.Kubernetes, Dynamic and RESTConfig are the operator's clients,
// on its instrumented transport: every request is counted in
// optel.api.requests by verb and code. Kind.Get and Kind.List read from the
// operator's caches (no request). Handler failures and recoveries post
// Kubernetes Events on the object (HandlerFailed, HandlerFailedPermanently,
// HandlerRecovered; Options.DisableHandlerEvents turns them off), through
// client-go's aggregating, rate-limited recorder; ev.Eventf and
// Operator.EventRecorder post your own. SetCondition stamps
// observedGeneration.
//
// # Delivery
//
// Handler errors follow kopf: TemporaryError retries after its delay,
// PermanentError stops retrying, any other error or a panic retries with
// exponential backoff, and a run longer than its timeout is cut
// (outcome=timeout) and retried. Delivery is at least once: a handler that
// succeeded may run again after a crash or restart before its success was
// recorded, so handlers must be idempotent. Handlers get a context carrying
// the meter (Meter), a logger (Logger) and the raw object (ObjectFrom).
//
// Leader election (Options.LeaderElect) uses a coordination.k8s.io Lease:
// handlers, timers, daemons and activities run on the leader only, while
// metrics and probes serve on every replica; optel.leader shows who leads.
//
// Run starts in this order: startup activities; discovery of each
// resource's kind (a resource the API server does not serve fails Run);
// queues; watches; wait for caches; workers; background activities.
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
// once. To test a restart, build a new Operator (operatortest.Harness does).
package operator
