// Command kube-controller-manager is the real Kubernetes controller manager,
// built from k8s.io/kubernetes for optel's tests (garbage collector,
// Deployment, ReplicaSet and namespace controllers). It shares the
// kube-apiserver tools module, its replace directives and its build cache.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
