package controlplane_test

import (
	"context"
	"fmt"

	"github.com/optel-dev/optel/controlplane"
)

// Start a real API server, use it, stop it. (Compiled, not run: it needs
// the binaries from `make tools`; the package tests run it for real.)
func Example() {
	cp, err := controlplane.Start(context.Background(), controlplane.Options{})
	if err != nil {
		panic(err) // errors.Is(err, controlplane.ErrBinaryMissing) when not built
	}
	defer cp.Stop()
	admin := cp.Config()                                  // system:masters
	nobody, _ := cp.UserConfig(controlplane.Unprivileged) // 403 on everything
	_ = cp.WriteKubeconfig("/tmp/optel.kubeconfig")       // for kubectl or an operator binary
	fmt.Println(admin.Host != "", nobody.BearerToken != "")
}
