package controlplane

import (
	"context"
	"errors"
	"os"
	"testing"
)

// StartForTest starts a control plane for t and stops it in t.Cleanup. When
// the binaries are missing it fails the test under CI=true and skips it
// otherwise, so CI can never pass without the real API server.
func StartForTest(t testing.TB, opts Options) *ControlPlane {
	t.Helper()
	cp, err := Start(context.Background(), opts)
	if errors.Is(err, ErrBinaryMissing) && os.Getenv("CI") != "true" {
		t.Skip(err.Error() + " (skipped outside CI)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cp.Stop() })
	return cp
}
