// Package testpeers starts the real peers optel's integration tests run
// against: a Prometheus server (and promtool) from Debian's package, and an
// OpenTelemetry Collector built from Go modules by `make tools`. Each starts
// on free loopback ports with a fresh directory and is stopped by t.Cleanup.
//
// A missing peer fails the test when CI=true and skips it otherwise, so a
// developer without the peers still gets fast unit tests while CI can never
// pass silently.
package testpeers

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/optel-dev/optel/internal/child"
)

// Need fails (CI=true) or skips the test when a peer binary is missing.
func Need(t testing.TB, path, install string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	msg := fmt.Sprintf("real peer %s is missing; %s", path, install)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (skipped outside CI)")
}

// RepoRoot returns the directory holding optel's root go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/optel-dev/optel\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("cannot find optel's go.mod above the working directory")
		}
		dir = parent
	}
}

// BinDir is where `make tools` puts built peers: $OPTEL_BIN_DIR or <repo>/bin.
func BinDir(t testing.TB) string {
	if d := os.Getenv("OPTEL_BIN_DIR"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(t), "bin")
}

// FreeAddr returns a loopback host:port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is a started peer whose output is kept for failure messages.
type process struct {
	*child.Process
	out *SyncBuffer
}

func start(t testing.TB, name string, args ...string) *process {
	t.Helper()
	out := &SyncBuffer{}
	c, err := child.Start(name, out, args...)
	if err != nil {
		t.Fatal(err)
	}
	return &process{Process: c, out: out}
}

func (p *process) stop()        { p.Stop(5 * time.Second) }
func (p *process) exited() bool { return p.Exited() }

// Output is what the process printed so far.
func (p *process) Output() string { return p.out.String() }

// SyncBuffer is a bytes.Buffer safe for a process writing and a test
// reading at once.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// BuildBinary builds the main package in the current directory (with the
// race detector) into a temporary directory and returns its path and a
// cleanup function. For TestMain of example programs.
func BuildBinary(name string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "optel-"+name)
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-race", "-o", bin, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("build %s: %v\n%s", name, err, out)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// Eventually polls cond every 100ms until it returns "" or timeout passes;
// then it fails with the last reason. Timeouts here are generous upper bounds
// for a peer to converge, not performance assertions.
func Eventually(t testing.TB, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var why string
	for {
		if why = cond(); why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %s", timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func trimLog(s string) string {
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return strings.TrimSpace(s)
}
