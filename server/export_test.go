package server

import "time"

// SelfSignedForTest exposes the certificate generator to tests.
var SelfSignedForTest = selfSigned

// SetClock replaces the clock of a KubeAuth, for cache-TTL tests.
func (a *KubeAuth) SetClock(now func() time.Time) { a.now = now }
