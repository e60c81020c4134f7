package jsonexp

// FlightRefsForTest reports how many requests hold the collection in flight
// (the one running it included); 0 when none runs.
func FlightRefsForTest(e *Exporter) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.flight == nil {
		return 0
	}
	return e.flight.refs
}
