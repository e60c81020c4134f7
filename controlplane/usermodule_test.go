package controlplane_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUserModuleWithoutBinaries runs `go test` in a user's own module (a
// temporary one that requires optel through a replace directive) on a
// machine without the control-plane binaries: the test fails with the
// build recipe, skips only when OPTEL_SKIP_CONTROLPLANE is set, and fails
// again under CI=true whatever the opt-out says.
func TestUserModuleWithoutBinaries(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/userop\n\ngo 1.26.0\n\nrequire github.com/optel-dev/optel v0.0.0\n\nreplace github.com/optel-dev/optel => "+root+"\n")
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write("go.sum", string(sum))
	write("op_test.go", `package userop

import (
	"testing"

	"github.com/optel-dev/optel/controlplane"
)

func TestMyOperator(t *testing.T) {
	controlplane.StartForTest(t, controlplane.Options{})
	t.Log("control plane started")
}
`)
	goTest := func(env ...string) (string, error) {
		cmd := exec.Command("go", "test", "-count=1", "-v", ".")
		cmd.Dir = dir
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "CI=") && !strings.HasPrefix(kv, "OPTEL_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, append([]string{"GOFLAGS=-mod=mod"}, env...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	tests := []struct {
		name     string
		env      []string
		wantFail bool
		want     []string
	}{
		{"no binaries fails with the recipe", nil, true, []string{"--- FAIL: TestMyOperator", "control-plane binary missing", "OPTEL_BIN_DIR", "go build", "OPTEL_SKIP_CONTROLPLANE=1"}},
		{"opt-out skips", []string{"OPTEL_SKIP_CONTROLPLANE=1"}, false, []string{"--- SKIP: TestMyOperator", "OPTEL_SKIP_CONTROLPLANE"}},
		{"CI ignores the opt-out", []string{"OPTEL_SKIP_CONTROLPLANE=1", "CI=true"}, true, []string{"--- FAIL: TestMyOperator"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := goTest(tc.env...)
			if failed := err != nil; failed != tc.wantFail {
				t.Fatalf("go test failed=%v, want %v:\n%s", failed, tc.wantFail, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
