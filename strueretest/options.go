package strueretest

import (
	"time"

	struere "github.com/struere/struere-go"
)

// Option configures a Server.
type Option func(*options)

type options struct {
	gen    struere.Generation
	redact bool
	clock  time.Time
}

// DefaultClock is the instant a Server's clock starts at unless WithClock is
// given: 2026-03-01T12:00:00Z.
var DefaultClock = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func defaultOptions() options {
	return options{gen: struere.GenerationE2Deploy, clock: DefaultClock}
}

// WithGeneration selects the backend generation the server emulates:
// struere.GenerationE2Deploy (the default: environment-isolated, with
// sync:deployAllAgents), struere.GenerationE1 (protocol §5) or
// struere.GenerationE2 (protocol §6). Any other value makes NewServer and
// Start fail.
func WithGeneration(g struere.Generation) Option { return func(o *options) { o.gen = g } }

// WithRedaction makes every function error carry only its first line,
// "[Request ID: <16 hex>] Server Error", as production deployments do.
// errorData (ConvexError data) still passes.
func WithRedaction(on bool) Option { return func(o *options) { o.redact = on } }

// WithClock starts the server's clock at start. The clock only moves when
// Server.Advance is called.
func WithClock(start time.Time) Option { return func(o *options) { o.clock = start } }
