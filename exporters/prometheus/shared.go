package prometheus

import (
	"sync"
	"sync/atomic"

	prom "github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// sharedGatherer lets concurrent scrapes share one collection: a Gather that
// starts while another is running waits for it and returns the same
// families. A storm of scrapers therefore costs one collection at a time
// rather than one per scraper. The data a waiter gets was collected at most
// one collection before its arrival. The families are only read by the
// encoders, so sharing them is safe.
type sharedGatherer struct {
	g prom.Gatherer

	mu          sync.Mutex
	call        *gatherCall
	collections atomic.Int64
}

type gatherCall struct {
	done chan struct{}
	mfs  []*dto.MetricFamily
	err  error
}

func (s *sharedGatherer) Gather() ([]*dto.MetricFamily, error) {
	s.mu.Lock()
	if c := s.call; c != nil {
		s.mu.Unlock()
		<-c.done
		return c.mfs, c.err
	}
	c := &gatherCall{done: make(chan struct{})}
	s.call = c
	s.mu.Unlock()

	c.mfs, c.err = s.g.Gather()
	s.collections.Add(1)
	s.mu.Lock()
	s.call = nil
	s.mu.Unlock()
	close(c.done)
	return c.mfs, c.err
}
