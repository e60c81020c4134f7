package operator

import (
	"context"
	"errors"

	"github.com/optel-dev/optel/probes"
)

// registerBuiltinProbes adds the runtime's own readiness probes:
// "informers" fails until every watch has synced on the leader, and
// "leadership" reports whether this replica leads (it passes either way: a
// standby replica is ready to take over).
func (o *Operator) registerBuiltinProbes() error {
	err := o.probes.Register("optel-informers", probes.Readiness, probes.ProbeFunc(func(context.Context) (any, error) {
		if o.leader.Load() && !o.synced.Load() {
			return nil, errors.New("informer caches have not synced yet")
		}
		return map[string]bool{"synced": o.synced.Load()}, nil
	}))
	if err != nil {
		return err
	}
	return o.probes.Register("optel-leadership", probes.Readiness, probes.ProbeFunc(func(context.Context) (any, error) {
		return map[string]bool{"leader": o.leader.Load(), "leader_election": o.opts.LeaderElect}, nil
	}))
}
