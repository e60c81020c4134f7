// Command kustomize renders a kustomization with sigs.k8s.io/kustomize/api
// (krusty), as `kustomize build DIR` does, so tests and users can render
// optel's overlays with a binary built from Go modules by `make tools`.
package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func main() {
	if len(os.Args) != 3 || os.Args[1] != "build" {
		fmt.Fprintln(os.Stderr, "usage: kustomize build DIR")
		os.Exit(2)
	}
	opts := krusty.MakeDefaultOptions()
	// Like the kustomize CLI without --reorder: the kustomization's own
	// sortOptions decide, and without them the output keeps input order.
	opts.Reorder = krusty.ReorderOptionUnspecified
	k := krusty.MakeKustomizer(opts)
	m, err := k.Run(filesys.MakeFsOnDisk(), os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "kustomize build:", err)
		os.Exit(1)
	}
	y, err := m.AsYaml()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kustomize build:", err)
		os.Exit(1)
	}
	_, _ = os.Stdout.Write(y)
}
