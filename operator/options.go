package operator

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/optel-dev/optel/probes"
	"github.com/optel-dev/optel/server"
	"github.com/optel-dev/optel/telemetry"
)

// Defaults for Options; each field's comment repeats its default.
const (
	DefaultName                    = "optel-operator"
	DefaultWorkers                 = 4
	DefaultHandlerTimeout          = 5 * time.Minute
	DefaultBackoffBase             = time.Second
	DefaultBackoffMax              = 5 * time.Minute
	DefaultGracefulShutdownTimeout = 30 * time.Second
	DefaultLeaseDuration           = 15 * time.Second
	DefaultRenewDeadline           = 10 * time.Second
	DefaultRetryPeriod             = 2 * time.Second
	DefaultAnnotationPrefix        = "optel.dev"
	DefaultWatchSilenceThreshold   = 15 * time.Minute
	DefaultQueueStallThreshold     = 5 * time.Minute
	DefaultCacheSyncTimeout        = 2 * time.Minute
)

// Options are the operator's top-level settings. Bind them to flags with
// BindFlags; zero values take the defaults below (see setDefaults).
type Options struct {
	// Name identifies the operator: service.name, the leader-election lease,
	// log records. Default "optel-operator".
	Name string
	// Kubeconfig is a kubeconfig path for RESTConfig. Default: $KUBECONFIG,
	// then ~/.kube/config, then in-cluster.
	Kubeconfig string
	// Namespaces limits watching to these namespaces. Default: all.
	Namespaces []string
	// Workers is the number of concurrent workers per resource; one object
	// key is never handled by two workers at once. Default 4.
	Workers int
	// HandlerTimeout cuts a handler run (outcome=timeout, retried with
	// backoff). Default 5m.
	HandlerTimeout time.Duration
	// BackoffBase and BackoffMax bound the exponential retry delay for errors
	// other than TemporaryError. Defaults 1s and 5m.
	BackoffBase, BackoffMax time.Duration
	// GracefulShutdownTimeout bounds waiting for running handlers at
	// shutdown before they are cancelled. Default 30s.
	GracefulShutdownTimeout time.Duration
	// LeaderElect runs handlers, timers and daemons on one replica only,
	// holding a coordination.k8s.io Lease. Default false.
	LeaderElect bool
	// LeaderElectionNamespace holds the Lease. Default $POD_NAMESPACE, else "default".
	LeaderElectionNamespace string
	// LeaderElectionID names the Lease. Default Name.
	LeaderElectionID string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election.
	// Defaults 15s, 10s, 2s.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// AnnotationPrefix names the finalizer (<prefix>/finalizer) and the
	// last-handled annotation (<prefix>/last-handled-configuration).
	// Default "optel.dev".
	AnnotationPrefix string

	// WatchSilenceThreshold fails the "optel-watch" liveness probe when a
	// watch has shown no activity (event, bookmark or re-watch) for this
	// long while its cache holds objects. client-go re-opens healthy watches
	// every 5-10 minutes, so silence beyond that means a stuck watch.
	// Default 15m.
	WatchSilenceThreshold time.Duration
	// QueueStallThreshold fails the "optel-queue" liveness probe when work is
	// queued but no worker has taken an item for this long. Default 5m.
	QueueStallThreshold time.Duration
	// CacheSyncTimeout fails the "optel-informers-sync" liveness probe when
	// the leader's caches have not synced this long after it started.
	// Default 2m.
	CacheSyncTimeout time.Duration
	// PerObjectMetrics adds optel.object.handler.invocations, with namespace
	// and name attributes. Its series are dropped when the object is
	// deleted. Off by default: per-object series multiply cardinality.
	PerObjectMetrics bool

	// DisableHandlerEvents stops the Kubernetes Events optel posts on an
	// object when one of its handlers fails (Warning HandlerFailed,
	// HandlerFailedPermanently) and when it recovers (Normal
	// HandlerRecovered). Default false: posted, as kopf does. Posting
	// needs RBAC create and patch on events.
	DisableHandlerEvents bool

	// DisableStatusPage removes the live status page (GET / and /statusz
	// on the metrics listener; see package statusz). Default false: served.
	DisableStatusPage bool

	// Server configures the metrics and health listeners.
	Server server.Options
	// TelemetryFlags are the telemetry flags; used when Telemetry is nil.
	TelemetryFlags telemetry.Flags
	// TelemetryOptions are extra options when Telemetry is nil.
	TelemetryOptions []telemetry.Option
	// Telemetry is an injected provider. Default: one built from
	// TelemetryFlags and TelemetryOptions, owned and shut down by Run.
	Telemetry *telemetry.Provider
	// Probes is an injected registry. Default: a new one recording through
	// the telemetry provider.
	Probes *probes.Registry
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Flag names bound by BindFlags (besides the server and telemetry flags).
const (
	FlagKubeconfig              = "kubeconfig"
	FlagNamespace               = "namespace"
	FlagWorkers                 = "workers"
	FlagHandlerTimeout          = "handler-timeout"
	FlagGracefulShutdownTimeout = "graceful-shutdown-timeout"
	FlagLeaderElect             = "leader-elect"
	FlagLeaderElectionNamespace = "leader-election-namespace"
	FlagLeaderElectionID        = "leader-election-id"
	FlagPerObjectMetrics        = "per-object-metrics"
	FlagDisableHandlerEvents    = "disable-handler-events"
)

// BindFlags binds the operator, server and telemetry flags.
func (o *Options) BindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, FlagKubeconfig, "", "Path to a kubeconfig. Default: $KUBECONFIG, ~/.kube/config, then in-cluster.")
	fs.StringSliceVar(&o.Namespaces, FlagNamespace, nil, "Namespace to watch; repeat or comma-separate for several. Default: all namespaces.")
	fs.IntVar(&o.Workers, FlagWorkers, DefaultWorkers, "Concurrent workers per resource.")
	fs.DurationVar(&o.HandlerTimeout, FlagHandlerTimeout, DefaultHandlerTimeout, "Maximum duration of one handler run; longer runs are cut (outcome=timeout) and retried.")
	fs.DurationVar(&o.GracefulShutdownTimeout, FlagGracefulShutdownTimeout, DefaultGracefulShutdownTimeout, "How long running handlers may finish at shutdown before they are cancelled.")
	fs.BoolVar(&o.LeaderElect, FlagLeaderElect, false, "Run handlers, timers and daemons on the elected leader only (a Lease). Probes and metrics serve on every replica.")
	fs.StringVar(&o.LeaderElectionNamespace, FlagLeaderElectionNamespace, "", "Namespace of the leader-election Lease. Default: $POD_NAMESPACE, else default.")
	fs.StringVar(&o.LeaderElectionID, FlagLeaderElectionID, "", "Name of the leader-election Lease. Default: the operator name.")
	fs.BoolVar(&o.PerObjectMetrics, FlagPerObjectMetrics, false, "Also count handler runs per object (optel.object.handler.invocations); series are dropped when the object is deleted.")
	fs.BoolVar(&o.DisableHandlerEvents, FlagDisableHandlerEvents, false, "Do not post Kubernetes Events on objects when their handlers fail or recover.")
	o.Server.BindFlags(fs)
	o.TelemetryFlags.BindFlags(fs)
}

func (o *Options) setDefaults() {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.HandlerTimeout <= 0 {
		o.HandlerTimeout = DefaultHandlerTimeout
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = DefaultBackoffBase
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	if o.GracefulShutdownTimeout <= 0 {
		o.GracefulShutdownTimeout = DefaultGracefulShutdownTimeout
	}
	if o.LeaderElectionNamespace == "" {
		o.LeaderElectionNamespace = os.Getenv("POD_NAMESPACE")
		if o.LeaderElectionNamespace == "" {
			o.LeaderElectionNamespace = "default"
		}
	}
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = o.Name
	}
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = DefaultLeaseDuration
	}
	if o.RenewDeadline <= 0 {
		o.RenewDeadline = DefaultRenewDeadline
	}
	if o.RetryPeriod <= 0 {
		o.RetryPeriod = DefaultRetryPeriod
	}
	if o.WatchSilenceThreshold <= 0 {
		o.WatchSilenceThreshold = DefaultWatchSilenceThreshold
	}
	if o.QueueStallThreshold <= 0 {
		o.QueueStallThreshold = DefaultQueueStallThreshold
	}
	if o.CacheSyncTimeout <= 0 {
		o.CacheSyncTimeout = DefaultCacheSyncTimeout
	}
	if o.AnnotationPrefix == "" {
		o.AnnotationPrefix = DefaultAnnotationPrefix
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// leaseJitter is client-go's leaderelection.JitterFactor: a renewal is
// retried at up to RetryPeriod × 1.2.
const leaseJitter = 1.2

// validateLease checks the leader-election timings. A standby may take the
// Lease LeaseDuration after it last saw it renewed; the leader's watchdog
// (see runWithLeaderElection) notices a missed renewal after RenewDeadline,
// checking every RetryPeriod/2. So LeaseDuration must exceed RenewDeadline
// plus half a RetryPeriod, or a standby could take over while the old
// leader's handlers still run; and RenewDeadline must exceed the jittered
// RetryPeriod, as client-go requires.
func (o *Options) validateLease() error {
	if !o.LeaderElect {
		return nil
	}
	if o.LeaseDuration <= o.RenewDeadline+o.RetryPeriod/2 {
		return fmt.Errorf("operator: leader election: LeaseDuration %s must be greater than RenewDeadline %s plus half of RetryPeriod %s (accepted: LeaseDuration > %s; the defaults are %s, %s, %s)",
			o.LeaseDuration, o.RenewDeadline, o.RetryPeriod, o.RenewDeadline+o.RetryPeriod/2, DefaultLeaseDuration, DefaultRenewDeadline, DefaultRetryPeriod)
	}
	if float64(o.RenewDeadline) <= leaseJitter*float64(o.RetryPeriod) {
		return fmt.Errorf("operator: leader election: RenewDeadline %s must be greater than 1.2 × RetryPeriod %s (accepted: RenewDeadline > %s; the defaults are %s, %s, %s)",
			o.RenewDeadline, o.RetryPeriod, time.Duration(leaseJitter*float64(o.RetryPeriod)), DefaultLeaseDuration, DefaultRenewDeadline, DefaultRetryPeriod)
	}
	return nil
}

// RESTConfig loads the client configuration: Kubeconfig if set, else
// $KUBECONFIG, ~/.kube/config, then the in-cluster service account.
func (o *Options) RESTConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if o.Kubeconfig != "" {
		rules.ExplicitPath = o.Kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	return cfg, nil
}
