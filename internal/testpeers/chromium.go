package testpeers

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

const (
	chromiumBin       = "/usr/bin/chromium"
	installChromiumMs = "run `make tools` (apt-get install -y --no-install-recommends chromium)"
)

// chromiumArgs are the flags that work on these machines (TESTBED.md): as
// root, headless, and without the background networking that would try to
// reach the internet.
func chromiumArgs(t testing.TB) []string {
	return []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(),
	}
}

// ChromiumDOM loads url in headless Chromium, lets the page's scripts run
// for budget of virtual time (timers fire, fetches complete), and returns
// the resulting DOM.
func ChromiumDOM(t testing.TB, url string, budget time.Duration) string {
	t.Helper()
	Need(t, chromiumBin, installChromiumMs)
	args := append(chromiumArgs(t), "--dump-dom", "--virtual-time-budget="+strconv.FormatInt(budget.Milliseconds(), 10), url)
	return runChromium(t, args)
}

// ChromiumScreenshot saves a PNG of url at width x height after budget of
// virtual time.
func ChromiumScreenshot(t testing.TB, url, path string, width, height int, budget time.Duration) {
	t.Helper()
	Need(t, chromiumBin, installChromiumMs)
	args := append(chromiumArgs(t), "--screenshot="+path, fmt.Sprintf("--window-size=%d,%d", width, height),
		"--virtual-time-budget="+strconv.FormatInt(budget.Milliseconds(), 10), url)
	runChromium(t, args)
}

func runChromium(t testing.TB, args []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromiumBin, args...)
	var stderr SyncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args[len(args)-1], err, trimLog(stderr.String()))
	}
	return string(out)
}
