package struere

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of the deploy and sync workflow, matched with errors.Is.
var (
	// ErrRefused: the operation was refused before anything was written,
	// because it could not be carried out exactly (it would delete or
	// invent something). The error lists the items and reasons.
	ErrRefused = errors.New("struere: refused")
	// ErrLocalDiffers: Deploy was given local definitions that differ from
	// development. It also matches ErrRefused.
	ErrLocalDiffers = errors.New("struere: local definitions differ from development")
	// ErrWouldDelete: Sync would delete remote resources and
	// AllowDeletions was not given. It also matches ErrRefused.
	ErrWouldDelete = errors.New("struere: sync would delete remote resources")
	// ErrStalePlan: a plan passed with WithPlan no longer matches the
	// backend, the backend changed between a deploy's, sync's or
	// rollback's read and its write (a *StalePlanError), or production
	// changed since the deploy a release records, so that rolling it back
	// would overwrite the change (a *RefusedError naming each item).
	// Nothing was written; compute a new plan or retry.
	ErrStalePlan = errors.New("struere: stale plan")
	// ErrVerificationFailed: after a deploy, production did not read back
	// as expected, or a deploy's or sync's write reported changes it did
	// not mean. It was written; inspect the mismatches.
	ErrVerificationFailed = errors.New("struere: verification failed")
)

// RefusedError says what an operation refused to do, and why. Nothing was
// written.
type RefusedError struct {
	Op       string    // the operation: "deploy", "rollback" or "sync"
	Refusals []Refusal // every reason, by agent or resource
	kind     error
}

// Error lists every refusal.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("struere: %s: refused, nothing was written: %s", e.Op, joinRefusals(e.Refusals))
}

// Is matches ErrRefused and the specific class (ErrLocalDiffers,
// ErrWouldDelete, or ErrStalePlan for a rollback refused because
// production changed since the release's deploy).
func (e *RefusedError) Is(target error) bool { return target == ErrRefused || target == e.kind }

// StalePlanError reports that the backend changed since the plan was made.
// It is also returned when the backend changed between an operation's
// read and its write (Changed then says what changed).
type StalePlanError struct {
	Op      string // the operation: "deploy", "rollback" or "sync"
	Planned string // the plan's fingerprint
	Current string // the backend's fingerprint now, or "changed"
	// Changed, when not empty, names what changed between the read and
	// the re-read just before writing.
	Changed string
}

// Error names both fingerprints, or what changed.
func (e *StalePlanError) Error() string {
	if e.Changed != "" {
		return fmt.Sprintf("struere: %s: the backend changed while this %s was being prepared (%s); nothing was written: another deploy, sync or dashboard edit ran at the same time; retry when it is done", e.Op, e.Op, e.Changed)
	}
	return fmt.Sprintf("struere: %s: plan %s is stale (the backend is now at %s); nothing was written: make a new plan", e.Op, e.Planned, e.Current)
}

// Is matches ErrStalePlan.
func (e *StalePlanError) Is(target error) bool { return target == ErrStalePlan }

// VerificationError reports that an operation was written but did not
// read back as it meant: production after a deploy or rollback differs
// from what was sent, or a sync's backend reports creations or deletions
// it did not intend (for example an agent created by someone else between
// the sync's read and its write, which the sync then deleted).
type VerificationError struct {
	// Op is the operation: "deploy", "rollback" or "sync".
	Op string
	// Result is what a deploy or rollback wrote (for a rollback,
	// Result.Plan.Op is "rollback"); nil after a sync.
	Result *DeployResult
	// Sync, after a sync, is what the backend reported it did.
	Sync *SyncResult
	// Mismatches says, per agent or resource, what did not read back
	// right, and what to do.
	Mismatches []Refusal
	// Err is the error that stopped the read-back, if that is what failed.
	Err error
}

// Error lists every mismatch.
func (e *VerificationError) Error() string {
	if e.Sync != nil {
		return fmt.Sprintf("struere: %s: written, but not as meant: %s", e.Op, joinRefusals(e.Mismatches))
	}
	return fmt.Sprintf("struere: %s: verification failed: %s", e.Op, joinRefusals(e.Mismatches))
}

// Is matches ErrVerificationFailed.
func (e *VerificationError) Is(target error) bool { return target == ErrVerificationFailed }

// Unwrap returns the error that stopped the read-back, if any.
func (e *VerificationError) Unwrap() error { return e.Err }

func joinRefusals(rs []Refusal) string {
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		if r.Slug == "" {
			parts = append(parts, r.Reason)
		} else {
			parts = append(parts, r.Slug+": "+r.Reason)
		}
	}
	return strings.Join(parts, "; ")
}
