// Command widgets is optel's demo operator. It manages Widget objects
// (example.com/v1) and shows every kind of handler with built-in telemetry:
//
//   - create: writes status and counts widgets.created;
//   - update: records what changed (widgets.changes by field);
//   - delete: cleans up through the finalizer (widgets.deleted);
//   - a per-object timer that stamps status.lastChecked;
//   - a per-object daemon that simulates a connection (widgets.connections);
//   - a Background loop for the whole operator;
//   - a liveness probe.
//
// Without KUBECONFIG or --kubeconfig it starts an embedded control plane
// (etcd, kube-apiserver and kube-controller-manager from bin/, built by
// `make tools`), applies the CRD and creates --demo-widgets Widgets, so
// `make demo` needs no cluster.
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/optel-dev/optel/controlplane"
	"github.com/optel-dev/optel/operator"
	"github.com/optel-dev/optel/probes"
	"github.com/optel-dev/optel/telemetry"
)

//go:embed deploy/crd.yaml
var crdYAML []byte

var widgets = operator.Resource{Group: "example.com", Version: "v1", Resource: "widgets"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("widgets", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := operator.Options{Name: "widgets-operator"}
	opts.BindFlags(fs)
	demoWidgets := fs.Int("demo-widgets", 3, "Widgets to create at start (only with the embedded control plane, or --demo-create).")
	demoCreate := fs.Bool("demo-create", false, "Create the demo Widgets (and the CRD) even on a cluster from KUBECONFIG.")
	timerInterval := fs.Duration("timer-interval", 10*time.Second, "Interval of the per-object timer.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "error: %v\nrun with --help to list the flags\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts.Logger = log
	opts.TelemetryOptions = []telemetry.Option{telemetry.WithServiceVersion("0.1.0")}

	cfg, embedded, err := clusterConfig(ctx, &opts, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	if embedded != nil {
		defer embedded.Stop()
	}
	if embedded != nil || *demoCreate {
		if err := controlplane.ApplyCRDs(ctx, cfg, crdYAML); err != nil {
			fmt.Fprintln(stderr, "error: apply Widget CRD:", err)
			return 1
		}
	}

	op, err := operator.New(cfg, opts)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		if errors.Is(err, telemetry.ErrInvalidConfig) {
			return 2
		}
		return 1
	}
	if err := register(op, *timerInterval); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	if embedded != nil || *demoCreate {
		go createDemoWidgets(ctx, cfg, *demoWidgets, log)
	}
	printURLs(stdout, opts)
	if err := op.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	fmt.Fprintln(stdout, "shut down cleanly")
	return 0
}

// clusterConfig uses --kubeconfig or KUBECONFIG when given, else starts the
// embedded control plane and writes its kubeconfig for kubectl users.
func clusterConfig(ctx context.Context, opts *operator.Options, stdout io.Writer) (*rest.Config, *controlplane.ControlPlane, error) {
	if opts.Kubeconfig != "" || os.Getenv("KUBECONFIG") != "" {
		cfg, err := opts.RESTConfig()
		return cfg, nil, err
	}
	fmt.Fprintln(stdout, "no KUBECONFIG: starting the embedded control plane (etcd, kube-apiserver, kube-controller-manager on loopback)")
	cp, err := controlplane.Start(ctx, controlplane.Options{ControllerManager: true})
	if err != nil {
		return nil, nil, fmt.Errorf("start embedded control plane: %w", err)
	}
	kc := filepath.Join(cp.Dir(), "kubeconfig")
	if err := cp.WriteKubeconfig(kc); err == nil {
		fmt.Fprintf(stdout, "embedded control plane at %s; kubectl: KUBECONFIG=%s kubectl get widgets\n", cp.URL(), kc)
	}
	return cp.Config(), cp, nil
}

func printURLs(w io.Writer, opts operator.Options) {
	host := dialable(opts.Server.BindAddress)
	if host == "" {
		return
	}
	health := host
	if h := dialable(opts.Server.HealthProbeBindAddress); h != "" {
		health = h
	}
	scheme := "http"
	if opts.Server.SecureServing {
		scheme = "https"
	}
	fmt.Fprintf(w, "metrics:      %s://%s/metrics\n", scheme, host)
	fmt.Fprintf(w, "metrics JSON: %s://%s/metrics.json\n", scheme, host)
	fmt.Fprintf(w, "status page:  %s://%s/\n", scheme, host)
	fmt.Fprintf(w, "health:       http://%s/healthz  http://%s/readyz\n", health, health)
	fmt.Fprintln(w, "Ctrl-C to stop")
}

// dialable turns a bind address into one a browser can open: ":8080"
// becomes "127.0.0.1:8080"; "" and "0" (disabled) become "".
func dialable(addr string) string {
	switch {
	case addr == "" || addr == "0":
		return ""
	case strings.HasPrefix(addr, ":"):
		return "127.0.0.1" + addr
	}
	return addr
}

// register wires the demo's handlers. Everything records through the
// operator's meter, so it reaches every configured exporter.
func register(op *operator.Operator, timerInterval time.Duration) error {
	m := op.Meter()
	created, err := m.Int64Counter("widgets.created", metric.WithDescription("Widgets provisioned by the demo operator."))
	if err != nil {
		return err
	}
	changes, _ := m.Int64Counter("widgets.changes", metric.WithDescription("Widget fields changed, by field."))
	deleted, _ := m.Int64Counter("widgets.deleted", metric.WithDescription("Widgets cleaned up through the finalizer."))
	conns, _ := m.Int64UpDownCounter("widgets.connections", metric.WithDescription("Simulated per-widget connections held by daemons."))
	var loops atomic.Int64
	_, _ = m.Int64ObservableCounter("widgets.reporter.loops", metric.WithDescription("Iterations of the operator-level reporter loop."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error { o.Observe(loops.Load()); return nil }))

	return errors.Join(
		op.OnCreate(widgets, "provision", func(ctx context.Context, ev *operator.Event) error {
			size, _, _ := unstructured.NestedInt64(ev.Object.Object, "spec", "size")
			created.Add(ctx, 1)
			ev.Logger.Info("provisioning widget", "size", size)
			return ev.PatchStatus(ctx, map[string]any{"phase": "Provisioned", "capacity": size * 10})
		}),
		op.OnUpdate(widgets, "reconfigure", func(ctx context.Context, ev *operator.Event) error {
			for _, d := range ev.Diff {
				changes.Add(ctx, 1, metric.WithAttributes(attribute.String("field", strings.Join(d.Path, "."))))
				ev.Logger.Info("widget changed", "change", d.String())
			}
			size, _, _ := unstructured.NestedInt64(ev.Object.Object, "spec", "size")
			return ev.PatchStatus(ctx, map[string]any{"phase": "Reconfigured", "capacity": size * 10})
		}),
		op.OnDelete(widgets, "release", func(ctx context.Context, ev *operator.Event) error {
			deleted.Add(ctx, 1)
			ev.Logger.Info("widget released")
			return nil
		}),
		op.Timer(widgets, "check", timerInterval, func(ctx context.Context, ev *operator.Event) error {
			return ev.PatchStatus(ctx, map[string]any{"lastChecked": time.Now().UTC().Format(time.RFC3339)})
		}),
		op.Daemon(widgets, "connection", func(ctx context.Context, ev *operator.Event) error {
			conns.Add(ctx, 1)
			defer conns.Add(context.WithoutCancel(ctx), -1)
			<-ctx.Done() // hold the simulated connection until the widget goes away
			return nil
		}),
		op.Background("reporter", func(ctx context.Context) error {
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
					loops.Add(1)
				}
			}
		}),
		op.Probe("widgets", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) {
			return map[string]any{"reporter_loops": loops.Load()}, nil
		})),
	)
}

func createDemoWidgets(ctx context.Context, cfg *rest.Config, n int, log *slog.Logger) {
	ri := dynamic.NewForConfigOrDie(cfg).Resource(widgets).Namespace("default")
	colors := []string{"red", "green", "blue"}
	for i := range n {
		w := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "example.com/v1", "kind": "Widget",
			"metadata": map[string]any{"name": fmt.Sprintf("widget-%d", i+1)},
			"spec":     map[string]any{"size": int64(1 + rand.IntN(5)), "color": colors[i%len(colors)]},
		}}
		if _, err := ri.Create(ctx, w, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			log.Error("create demo widget", "error", err)
		}
	}
}
