package operator

import (
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// TestLeaseTimingsValidated: timings under which a standby could take the
// Lease before the old leader's watchdog fires are refused by New, with a
// message that names the fields and what is accepted.
func TestLeaseTimingsValidated(t *testing.T) {
	s := time.Second
	tests := []struct {
		name                string
		elect               bool
		lease, renew, retry time.Duration
		wantIn              []string
	}{
		{name: "defaults", elect: true},
		{name: "no leader election, anything goes", elect: false, lease: s, renew: 10 * s, retry: 5 * s},
		{name: "tests' fast timings", elect: true, lease: 2 * s, renew: 1500 * time.Millisecond, retry: 200 * time.Millisecond},
		{name: "lease not past renew deadline", elect: true, lease: 10 * s, renew: 10 * s, retry: 2 * s, wantIn: []string{"LeaseDuration 10s", "RenewDeadline 10s", "accepted: LeaseDuration > 11s"}},
		{name: "lease within half a retry of the deadline", elect: true, lease: 10500 * time.Millisecond, renew: 10 * s, retry: 2 * s, wantIn: []string{"LeaseDuration 10.5s", "accepted: LeaseDuration > 11s"}},
		{name: "renew deadline under jittered retry", elect: true, lease: 20 * s, renew: 2 * s, retry: 2 * s, wantIn: []string{"RenewDeadline 2s must be greater than 1.2 × RetryPeriod 2s", "accepted: RenewDeadline > 2.4s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{LeaderElect: tt.elect, LeaseDuration: tt.lease, RenewDeadline: tt.renew, RetryPeriod: tt.retry}
			o.setDefaults()
			err := o.validateLease()
			if len(tt.wantIn) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.wantIn {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if _, nerr := New(&rest.Config{Host: "https://127.0.0.1:1"}, Options{LeaderElect: true, LeaseDuration: tt.lease, RenewDeadline: tt.renew, RetryPeriod: tt.retry}); nerr == nil || nerr.Error() != err.Error() {
				t.Errorf("New: %v, want %v", nerr, err)
			}
		})
	}
}
