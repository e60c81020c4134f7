package prometheus

// RendersWaitingForTest reports how many scrapes hold a reference to the
// render in flight (the scrape running it included), for any format; 0
// when none runs. Tests use it to know that waiters joined a render.
func RendersWaitingForTest(e *Exporter) int {
	h, ok := e.handler.(*handler)
	if !ok {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, f := range h.flights {
		if f != nil {
			n += int(f.snap.refs.Load())
		}
	}
	return n
}
