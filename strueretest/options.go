package strueretest

import (
	"time"

	struere "github.com/struere/struere-go"
)

// Option configures a Server.
type Option func(*options)

type options struct {
	gen    struere.Generation
	redact *bool // nil: the generation's default (see WithRedaction)
	clock  time.Time
	plan   Plan

	evalSched EvalScheduling
}

// DefaultClock is the instant a Server's clock starts at unless WithClock is
// given: 2026-03-01T12:00:00Z.
var DefaultClock = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func defaultOptions() options {
	return options{gen: struere.GenerationHead, clock: DefaultClock, plan: PlanFree}
}

// redacts reports whether function errors are redacted.
func (o *options) redacts() bool {
	if o.redact != nil {
		return *o.redact
	}
	return o.gen == struere.GenerationHead
}

// WithGeneration selects the backend generation the server emulates:
// struere.GenerationHead (the default: what the hosted service runs,
// protocol-head.md),
// struere.GenerationE1 (protocol §5), struere.GenerationE2 (protocol §6) or
// struere.GenerationE2Deploy (E2 plus sync:deployAllAgents: the deploy the
// product docs describe; no backend commit has it). Any other value makes
// NewServer and Start fail.
func WithGeneration(g struere.Generation) Option { return func(o *options) { o.gen = g } }

// WithRedaction sets whether every function error carries only its first
// line, "[Request ID: <16 hex>] Server Error", as production deployments
// do; errorData (ConvexError data) still passes, and logLines are sent only
// when errors are not redacted. The default is on for
// struere.GenerationHead (the hosted deployment redacts) and off for the
// other generations.
func WithRedaction(on bool) Option { return func(o *options) { o.redact = &on } }

// WithClock starts the server's clock at start. The clock only moves when
// Server.Advance is called.
func WithClock(start time.Time) Option { return func(o *options) { o.clock = start } }

// WithPlan sets the billing plan of every organization that has none of
// its own (see Server.SetPlan). The default is PlanFree. Plan limits are
// enforced by struere.GenerationHead only.
func WithPlan(p Plan) Option { return func(o *options) { o.plan = p } }

// Plan is an organization's billing plan (protocol-head §H5.6). Its limits
// are checked inside sync on struere.GenerationHead.
type Plan string

// The plans of the hosted service.
const (
	// PlanFree allows 3 agents per organization, 1 active eval suite per
	// environment and 5 triggers (automations) across all environments.
	PlanFree Plan = "free"
	// PlanStarter has no agent, eval suite or trigger limit.
	PlanStarter Plan = "starter"
	// PlanPro has no agent, eval suite or trigger limit.
	PlanPro Plan = "pro"
)

// limits returns the plan's maximum agents, active eval suites per
// environment and triggers; -1 means unlimited. An unknown plan has the
// free plan's limits, as the backend's getPlanLimits does.
func (p Plan) limits() (agents, evalSuites, automations int) {
	switch p {
	case PlanStarter, PlanPro:
		return -1, -1, -1
	}
	return 3, 1, 5
}
