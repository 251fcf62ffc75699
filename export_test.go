package struere

import "time"

// SetCredentialsClock replaces the clock a CredentialsFile judges token
// expiry by, for tests of refresh timing.
func SetCredentialsClock(f *CredentialsFile, now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}
