// Command kube-apiserver is the real Kubernetes API server, built from
// k8s.io/kubernetes for optel's tests and demo (no binary downloads here).
// It lives in its own module so k8s.io/kubernetes and its replace directives
// never reach the optel library's dependency graph.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
