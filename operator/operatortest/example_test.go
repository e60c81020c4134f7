package operatortest_test

import (
	"context"
	"testing"

	"github.com/optel-dev/optel/operator"
	"github.com/optel-dev/optel/operator/operatortest"
)

// How an operator author tests a handler. (Compiled, not run: it needs the
// control-plane binaries; TestHarness runs the same steps for real.)
func Example() {
	var t *testing.T // the test's *testing.T
	h := operatortest.New(t, operatortest.Options{CRDs: [][]byte{[]byte(thingCRD)}})
	_ = h.Operator.OnCreate(things, "provision", func(ctx context.Context, ev *operator.Event) error {
		return ev.PatchStatus(ctx, map[string]any{"ready": true})
	})
	h.Start()
	h.Create(things, thing("a", 1))
	h.WaitHandled(things, "provision", operator.CauseCreate, 1)
	h.Metrics.Sum(t, "optel.handler.invocations", 1)
}
