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

// Count an operator's requests as the API server recorded them. (Compiled,
// not run; TestAuditEventsCountEachRequestOnce runs it for real.)
func ExampleControlPlane_AuditEvents() {
	cp, err := controlplane.Start(context.Background(), controlplane.Options{
		AuditLog: true,
		Users:    []controlplane.User{{Name: "my-operator", Groups: []string{"system:masters"}}},
	})
	if err != nil {
		panic(err)
	}
	defer cp.Stop()
	cfg, _ := cp.UserConfig("my-operator")
	_ = cfg // run the operator with cfg, then:
	events, _ := cp.AuditEvents("my-operator")
	for _, e := range events {
		fmt.Println(e.Verb, e.ObjectRef.Resource, e.Code)
	}
}
