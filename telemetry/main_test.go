package telemetry_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// noEnv hides the process environment so tests are independent of it.
func noEnv(string) (string, bool) { return "", false }
