package controlplane

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
)

// EnvSkip names the opt-out environment variable: set to 1 (or any true
// value of strconv.ParseBool), StartForTest skips instead of failing when
// the binaries are missing. It is ignored when CI is true, so CI cannot pass
// without the real control plane. It never skips a test whose binaries are
// present.
const EnvSkip = "OPTEL_SKIP_CONTROLPLANE"

// StartForTest starts a control plane for t and stops it in t.Cleanup.
//
// A missing binary fails the test, with a message saying how to build the
// binaries, unless SkipMissing reports true: then it skips, naming EnvSkip.
// Any other start-up error fails the test.
func StartForTest(t testing.TB, opts Options) *ControlPlane {
	t.Helper()
	cp, err := Start(context.Background(), opts)
	if errors.Is(err, ErrBinaryMissing) {
		if SkipMissing() {
			t.Skip("skipped because " + EnvSkip + " is set and CI is not: " + err.Error())
		}
		t.Fatal(err.Error() + "\nTo skip the tests that need it instead, set " + EnvSkip + "=1 (ignored when CI=true).")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cp.Stop() })
	return cp
}

// RequireBinaries reports whether Start would find the binaries opts needs
// (etcd and kube-apiserver, plus kube-controller-manager with
// ControllerManager) without starting anything. It returns nil, or an error
// wrapping ErrBinaryMissing that says how to build them. TestMain functions
// can call it before expensive set-up.
func RequireBinaries(opts Options) error {
	_, err := findBinaries(opts.BinDir, opts.ControllerManager)
	return err
}

// SkipMissing reports whether tests may skip rather than fail when the
// binaries are missing: EnvSkip is true and CI is not. StartForTest uses it;
// TestMain functions should too, exiting 0 only when it is true:
//
//	if err := controlplane.RequireBinaries(opts); err != nil {
//		fmt.Fprintln(os.Stderr, err)
//		if controlplane.SkipMissing() {
//			os.Exit(0)
//		}
//		os.Exit(1)
//	}
func SkipMissing() bool {
	return envTrue(EnvSkip) && !envTrue("CI")
}

func envTrue(name string) bool {
	v, err := strconv.ParseBool(os.Getenv(name))
	return err == nil && v
}
