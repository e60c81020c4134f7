package operator

import (
	"context"
	"testing"
	"time"

	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// slowLock answers its writes after delay, as an API server that applied a
// renewal at once but answers late.
type slowLock struct {
	resourcelock.Interface
	delay time.Duration
}

func (l slowLock) Create(context.Context, resourcelock.LeaderElectionRecord) error {
	time.Sleep(l.delay)
	return nil
}

func (l slowLock) Update(context.Context, resourcelock.LeaderElectionRecord) error {
	time.Sleep(l.delay)
	return nil
}

func (l slowLock) Identity() string { return "me" }

// TestRenewTrackerCountsFromTheSend: a renewal answered late counts from
// when it was sent, so the watchdog's deadline is not pushed forward by
// the API server's slowness (a standby counts from when it saw the write).
func TestRenewTrackerCountsFromTheSend(t *testing.T) {
	const delay = 300 * time.Millisecond
	r := newRenewTracker(slowLock{delay: delay})
	for _, write := range []struct {
		name string
		fn   func() error
	}{
		{"create", func() error {
			return r.Create(context.Background(), resourcelock.LeaderElectionRecord{HolderIdentity: "me"})
		}},
		{"update", func() error {
			return r.Update(context.Background(), resourcelock.LeaderElectionRecord{HolderIdentity: "me"})
		}},
	} {
		if err := write.fn(); err != nil {
			t.Fatal(err)
		}
		if got := r.sinceRenewal(); got < delay {
			t.Errorf("%s answered after %s: sinceRenewal %s, want at least %s (counted from the send)", write.name, delay, got, delay)
		}
	}
}
