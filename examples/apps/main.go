// Command apps is an operator written the optel way: a typed App custom
// resource (apps.example.com/v1) that owns a Deployment and a Service.
//
//   - Reconcile "converge" is level-based: it runs when an App, or a
//     Deployment or Service it controls, changes, and writes the children
//     back to the App's spec, reading only from caches.
//   - The children carry a controller owner reference (operator.Adopt), so
//     the garbage collector deletes them with their App, and their changes
//     wake the App (Kind.Owns). They are only watched: optel never
//     annotates them or adds finalizers.
//   - It reports a Ready condition with observedGeneration, posts Events
//     for creation, drift repair and scaling (OnField "spec.replicas"), and
//     optel posts HandlerFailed / HandlerRecovered when converge fails.
//   - Every API request goes through the operator's measured clients.
//
// Without KUBECONFIG or --kubeconfig it starts an embedded control plane
// (etcd, kube-apiserver and kube-controller-manager from bin/, built by
// `make tools`), applies the CRD and creates a demo App. There is no
// scheduler and no kubelet there, so Pods are created but never run.
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/optel-dev/optel/controlplane"
	"github.com/optel-dev/optel/operator"
	"github.com/optel-dev/optel/telemetry"
)

//go:embed deploy/crd.yaml
var crdYAML []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("apps", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := operator.Options{Name: "apps-operator"}
	opts.BindFlags(fs)
	demo := fs.Bool("demo-create", false, "Create the CRD and a demo App even on a cluster from KUBECONFIG (always done with the embedded control plane).")
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
	if embedded != nil || *demo {
		if err := controlplane.ApplyCRDs(ctx, cfg, crdYAML); err != nil {
			fmt.Fprintln(stderr, "error: apply App CRD:", err)
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
	c, err := register(op)
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	if embedded != nil || *demo {
		if err := createDemoApp(ctx, c.apps); err != nil {
			log.Error("create demo App", "error", err)
		}
	}
	if a := opts.Server.BindAddress; a != "" && a != "0" {
		if strings.HasPrefix(a, ":") {
			a = "127.0.0.1" + a
		}
		fmt.Fprintf(stdout, "metrics: http://%s/metrics  status page: http://%s/\n", a, a)
	}
	if err := op.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	fmt.Fprintln(stdout, "shut down cleanly")
	return 0
}

// clusterConfig uses --kubeconfig or KUBECONFIG when given, else starts the
// embedded control plane with a real garbage collector.
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
		fmt.Fprintf(stdout, "embedded control plane at %s; kubectl: KUBECONFIG=%s kubectl get apps.apps.example.com,deployments,services\n", cp.URL(), kc)
	}
	return cp.Config(), cp, nil
}

func createDemoApp(ctx context.Context, apps *operator.Kind[*App]) error {
	_, err := apps.Create(ctx, &App{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps.example.com/v1", Kind: "App"},
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default"},
		Spec:       AppSpec{Image: "nginx:1.27", Replicas: 2, Port: 8080},
	})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
