package operator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/optel-dev/optel/probes"
)

// registerBuiltinProbes adds the runtime's own probes, driven by the same
// signals as its telemetry.
//
// Readiness: "optel-informers" fails until the leader's caches synced;
// "optel-leadership" reports leadership and always passes (a standby is
// ready to take over).
//
// Liveness: "optel-informers-sync" fails when the leader's caches have not
// synced within CacheSyncTimeout; "optel-watch" fails when a watch has been
// silent beyond WatchSilenceThreshold while its cache holds objects;
// "optel-queue" fails when work is queued but no worker took any for
// QueueStallThreshold.
func (o *Operator) registerBuiltinProbes() error {
	return errors.Join(
		o.probes.Register("optel-informers", probes.Readiness, probes.ProbeFunc(func(context.Context) (any, error) {
			if o.leader.Load() && !o.synced.Load() {
				return nil, errors.New("informer caches have not synced yet")
			}
			return map[string]bool{"synced": o.synced.Load()}, nil
		})),
		o.probes.Register("optel-leadership", probes.Readiness, probes.ProbeFunc(func(context.Context) (any, error) {
			return map[string]bool{"leader": o.leader.Load(), "leader_election": o.opts.LeaderElect}, nil
		})),
		o.probes.Register("optel-informers-sync", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) {
			since := o.leaderSince.Load()
			if o.leader.Load() && !o.synced.Load() && since != 0 {
				if waited := time.Since(time.Unix(0, since)); waited > o.opts.CacheSyncTimeout {
					return nil, fmt.Errorf("caches not synced %s after becoming leader (limit %s)", waited.Round(time.Second), o.opts.CacheSyncTimeout)
				}
			}
			return map[string]bool{"synced": o.synced.Load()}, nil
		})),
		o.probes.Register("optel-watch", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) {
			silent := map[string]float64{}
			var errs []error
			for _, c := range o.liveControllers() {
				n, _ := c.objectCount()
				quiet := time.Since(time.Unix(0, c.lastActivity.Load()))
				silent[c.name] = quiet.Seconds()
				if n > 0 && quiet > o.opts.WatchSilenceThreshold {
					errs = append(errs, fmt.Errorf("watch of %s silent for %s with %d objects cached (limit %s)", c.name, quiet.Round(time.Second), n, o.opts.WatchSilenceThreshold))
				}
			}
			return map[string]any{"silent_seconds": silent}, errors.Join(errs...)
		})),
		o.probes.Register("optel-queue", probes.Liveness, probes.ProbeFunc(func(context.Context) (any, error) {
			depth := map[string]int{}
			var errs []error
			for _, c := range o.liveControllers() {
				if c.queue == nil {
					continue // only watched: no queue to stall
				}
				n := c.queue.Len()
				depth[c.name] = n
				idle := time.Since(time.Unix(0, c.lastGet.Load()))
				if n > 0 && idle > o.opts.QueueStallThreshold {
					errs = append(errs, fmt.Errorf("queue of %s holds %d items and no worker took one for %s (limit %s)", c.name, n, idle.Round(time.Second), o.opts.QueueStallThreshold))
				}
			}
			return map[string]any{"depth": depth}, errors.Join(errs...)
		})),
	)
}

// liveControllers are the controllers running on this leader, synced.
func (o *Operator) liveControllers() []*controller {
	if !o.leader.Load() || !o.synced.Load() {
		return nil
	}
	return o.controllerList()
}
