package operator

import (
	"context"
	"sync/atomic"
	"time"

	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// renewTracker wraps the Lease lock and remembers when this replica last
// wrote the Lease successfully (acquired or renewed it). The term's
// watchdog uses it to decide that the Lease is lost on its own clock,
// without waiting for client-go, which reports a loss only after its
// release call returns (and that call can hang on an unreachable API
// server past the moment a standby may take over).
type renewTracker struct {
	resourcelock.Interface
	base time.Time    // a monotonic reference: wall-clock steps do not move it
	last atomic.Int64 // time.Since(base) of the last successful write, in nanoseconds
}

func newRenewTracker(l resourcelock.Interface) *renewTracker {
	return &renewTracker{Interface: l, base: time.Now()}
}

// Create and Update record the time the write was sent, not when its
// answer came: the API server may apply a renewal at once and answer late,
// and a standby counts LeaseDuration from when it sees the write, which is
// after it was sent. Measuring from the send keeps the watchdog ahead.
func (r *renewTracker) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	sent := time.Since(r.base)
	err := r.Interface.Create(ctx, ler)
	if err == nil {
		r.stamp(sent)
	}
	return err
}

func (r *renewTracker) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	sent := time.Since(r.base)
	err := r.Interface.Update(ctx, ler)
	if err == nil && ler.HolderIdentity == r.Identity() {
		r.stamp(sent)
	}
	return err
}

// stamp records a successful write sent at sent, never moving backwards.
func (r *renewTracker) stamp(sent time.Duration) {
	for {
		old := r.last.Load()
		if int64(sent) <= old || r.last.CompareAndSwap(old, int64(sent)) {
			return
		}
	}
}

// sinceRenewal is how long ago the Lease was last written by us.
func (r *renewTracker) sinceRenewal() time.Duration {
	return time.Since(r.base) - time.Duration(r.last.Load())
}
