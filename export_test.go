package struere

import "time"

// SetCredentialsClock replaces the clock OpenCredentialsFile's source
// judges token expiry by, for tests of refresh timing.
func SetCredentialsClock(src TokenSource, now func() time.Time) {
	f := src.(*loginFile)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}
