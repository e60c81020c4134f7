package testpeers

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// StormResult is what Storm measured.
type StormResult struct {
	Scrapes, Failures int64
	MaxHeapInUse      uint64
	// FirstErrors are the first few distinct failure messages, so a
	// failing storm says why.
	FirstErrors []string
}

// Storm runs n concurrent scrapers, each calling scrape(i) in a loop (i is
// the scraper's index), for d.
// Every 100 ms it samples the heap in use and calls tick (to keep recording
// while scraped). A scrape that returns an error counts as a failure.
func Storm(n int, d time.Duration, scrape func(i int) error, tick func()) StormResult {
	var scrapes, failures atomic.Int64
	var errMu sync.Mutex
	var firstErrors []string
	var maxHeap atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > maxHeap.Load() {
					maxHeap.Store(ms.HeapInuse)
				}
				if tick != nil {
					tick()
				}
			}
		}
	})
	deadline := time.Now().Add(d)
	for i := range n {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := scrape(i); err != nil {
					failures.Add(1)
					errMu.Lock()
					if len(firstErrors) < 5 && !slices.Contains(firstErrors, err.Error()) {
						firstErrors = append(firstErrors, err.Error())
					}
					errMu.Unlock()
					continue
				}
				scrapes.Add(1)
			}
		})
	}
	time.Sleep(time.Until(deadline))
	close(stop)
	wg.Wait()
	return StormResult{Scrapes: scrapes.Load(), Failures: failures.Load(), MaxHeapInUse: maxHeap.Load(), FirstErrors: firstErrors}
}
