package operator_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/rest"

	"github.com/optel-dev/optel/operator"
	"github.com/optel-dev/optel/probes"
)

// A complete operator: handlers, a timer, a probe. (Compiled, not run: it
// needs a cluster; see examples/widgets for a runnable one.)
func Example() {
	widgets := operator.Resource{Group: "example.com", Version: "v1", Resource: "widgets"}
	var cfg *rest.Config // from Options.RESTConfig()
	op, err := operator.New(cfg, operator.Options{Name: "widgets-operator"})
	if err != nil {
		panic(err)
	}
	_ = op.OnCreate(widgets, "provision", func(ctx context.Context, ev *operator.Event) error {
		created, _ := operator.Meter(ctx).Int64Counter("widgets.created")
		created.Add(ctx, 1)
		return ev.PatchStatus(ctx, map[string]any{"phase": "Provisioned"})
	})
	_ = op.OnUpdate(widgets, "resize", func(ctx context.Context, ev *operator.Event) error {
		if !ev.Diff.Changed("spec.size") {
			return nil
		}
		if ready := false; !ready {
			return operator.Temporary(errors.New("backend busy"), 10*time.Second)
		}
		return nil
	})
	_ = op.Timer(widgets, "health", time.Minute, func(ctx context.Context, ev *operator.Event) error {
		operator.Logger(ctx).Info("checking", "widget", ev.Object.GetName())
		return nil
	}, operator.WithIdle(5*time.Minute))
	_ = op.Probe("backend", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) { return "ok", nil }))
	_ = op.Run(context.Background())
}

// Diff describes what an update changed.
func ExampleDiff_Changed() {
	d := operator.Diff{{Op: operator.DiffChange, Path: []string{"spec", "size"}, Old: 1.0, New: 3.0}}
	fmt.Println(d.Changed("spec.size"), d.Changed("spec"), d.Changed("spec.color"), d[0])
	// Output: true true false change spec.size: 1 -> 3
}

// Handler errors decide retries, as in kopf.
func ExampleTemporary() {
	err := operator.Temporary(errors.New("quota exceeded"), 30*time.Second)
	var te *operator.TemporaryError
	fmt.Println(errors.As(err, &te), te.Delay)
	fmt.Println(operator.Permanent(errors.New("spec.size must be positive")))
	// Output:
	// true 30s
	// permanent error: spec.size must be positive
}
