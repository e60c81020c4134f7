// Command devcluster runs a throwaway Kubernetes control plane on loopback
// for trying an operator out: kube-apiserver and etcd (built into bin/ by
// `make tools`), an admin kubeconfig, and the admin token and server URL as
// plain files for curl. It runs until interrupted, then removes its data.
//
//	bin/devcluster --dir .cache/dev &
//	export KUBECONFIG=.cache/dev/kubeconfig
//
// It is what docs/getting-started.md uses; it is not for production.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/optel-dev/optel/controlplane"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("devcluster", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".cache/dev", "Directory for kubeconfig, token and server; created, and emptied of them at start.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 2
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	files := map[string]string{"kubeconfig": "", "token": "", "server": ""}
	for f := range files {
		_ = os.Remove(filepath.Join(*dir, f)) // readers wait for these to appear
	}
	cp, err := controlplane.Start(ctx, controlplane.Options{})
	if err != nil {
		fmt.Fprintln(stderr, "error: start control plane (run `make tools` first):", err)
		return 1
	}
	defer cp.Stop()
	files["token"], files["server"] = cp.Token(controlplane.Admin)+"\n", cp.URL()+"\n"
	for _, f := range []string{"token", "server"} {
		if err := os.WriteFile(filepath.Join(*dir, f), []byte(files[f]), 0o600); err != nil {
			fmt.Fprintln(stderr, "error:", err)
			return 1
		}
	}
	// The kubeconfig is written last: its presence means ready.
	if err := cp.WriteKubeconfig(filepath.Join(*dir, "kubeconfig")); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	fmt.Fprintf(stdout, "control plane at %s\nKUBECONFIG=%s\n", cp.URL(), filepath.Join(*dir, "kubeconfig"))
	<-ctx.Done()
	for f := range files {
		_ = os.Remove(filepath.Join(*dir, f))
	}
	return 0
}
