package prometheus

import (
	"sync/atomic"

	"golang.org/x/sync/singleflight"

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
	g           prom.Gatherer
	flights     singleflight.Group
	collections atomic.Int64
}

func (s *sharedGatherer) Gather() ([]*dto.MetricFamily, error) {
	v, err, _ := s.flights.Do("gather", func() (any, error) {
		mfs, err := s.g.Gather() // a Gatherer may return families and an error
		s.collections.Add(1)
		return mfs, err
	})
	mfs, _ := v.([]*dto.MetricFamily)
	return mfs, err
}
