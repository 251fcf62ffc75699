package struere

import (
	"context"
	"errors"
	"sort"

	"github.com/struere/struere-go/internal/convex"
)

// PromotionMethod says how a deploy promotes development to production.
type PromotionMethod string

const (
	// PromoteServer calls sync:deployAllAgents: one transaction on the
	// backend copies each active agent's development configuration.
	PromoteServer PromotionMethod = "server"
	// PromoteClient, for backends without sync:deployAllAgents, syncs
	// production with each agent's development configuration and sends
	// production's own entity types and roles back as read; triggers and
	// eval suites are left out, which leaves them untouched.
	PromoteClient PromotionMethod = "client"
)

// Skip reasons reported in SkippedAgent.Reason.
const (
	ReasonNoDevelopmentConfig = "no development configuration"
	ReasonNotActive           = "not active (paused)"
)

// DeployResult is the outcome of Client.Deploy.
type DeployResult struct {
	// DryRun reports that nothing was written; Plan says what would be.
	DryRun      bool            `json:"dryRun"`
	Environment Environment     `json:"environment"` // always Production
	Generation  Generation      `json:"-"`           // the backend generation used
	Method      PromotionMethod `json:"method"`      // how the deploy promoted
	Plan        *Plan           `json:"plan"`        // the plan the deploy carried out (or would, for a dry run)
	// Deployed lists the promoted agents' slugs.
	Deployed []string `json:"deployed"`
	// Skipped lists agents left alone, with the reason.
	Skipped []SkippedAgent `json:"skipped"`
	// Verified reports that production was read back and matched.
	Verified bool `json:"verified"`
	// Smoke holds the smoke checks' results (WithSmokeTest).
	Smoke []SmokeResult `json:"smoke,omitempty"`
}

// DeployOption configures Client.Deploy.
type DeployOption interface{ applyDeploy(*deployOptions) }

type deployOptions struct {
	dryRun   bool
	plan     *Plan
	local    *Definitions
	noVerify bool
	smoke    *smokeTest
}

type deployOptionFunc func(*deployOptions)

func (f deployOptionFunc) applyDeploy(o *deployOptions) { f(o) }

// DryRun makes Deploy compute and return the plan without writing.
func DryRun() DeployOption { return deployOptionFunc(func(o *deployOptions) { o.dryRun = true }) }

// WithPlan deploys only if development and production still match the
// plan's fingerprint; otherwise Deploy fails with ErrStalePlan and writes
// nothing.
func WithPlan(p *Plan) DeployOption { return deployOptionFunc(func(o *deployOptions) { o.plan = p }) }

// SkipVerification turns off reading production back after the deploy.
func SkipVerification() DeployOption {
	return deployOptionFunc(func(o *deployOptions) { o.noVerify = true })
}

func (o LocalOption) applyDeploy(d *deployOptions) { d.local = o.defs }

// Deploy promotes every active agent's development configuration to
// production. Agents without one are skipped, with the reason. Production
// entity types, roles and triggers are left as they are.
//
// Where the backend serves sync:deployAllAgents, Deploy calls it. Where it
// does not, Deploy performs the same promotion itself. Deploy never deletes
// and never invents: when the promotion cannot be expressed exactly, it
// refuses before writing anything, with an error matching ErrRefused that
// names the agents and reasons. After writing it reads production back and
// fails with ErrVerificationFailed if production does not serve the
// development versions.
func (c *Client) Deploy(ctx context.Context, opts ...DeployOption) (*DeployResult, error) {
	const op = "deploy"
	if ctx == nil {
		return nil, nilContext(op)
	}
	var o deployOptions
	for _, opt := range opts {
		opt.applyDeploy(&o)
	}
	if o.local != nil {
		if err := o.local.Validate(); err != nil {
			return nil, wrapOp(op, err)
		}
	}
	if o.smoke != nil {
		if err := o.smoke.validate(op); err != nil {
			return nil, err
		}
		if err := c.verifySmokeKey(ctx, op, o.smoke); err != nil {
			return nil, err
		}
	}
	gen, err := c.Generation(ctx)
	if err != nil {
		return nil, err
	}
	clientSide := gen.EnvironmentIsolated() && !gen.HasDeployAllAgents()
	// Development's full configurations are read when the promotion sends
	// them, or when the plan's fingerprint or the local comparison needs
	// them; a plain server-side deploy does without the largest read.
	needDevPull := gen.EnvironmentIsolated() && (clientSide || o.dryRun || o.plan != nil || o.local != nil)
	r, err := c.readRemoteAs(ctx, op, gen, reads{devPull: needDevPull, prodPull: clientSide})
	if err != nil {
		return nil, err
	}
	plan, err := c.makePlan(op, r)
	if err != nil {
		return nil, err
	}
	if o.local != nil {
		devPull, err := r.pulledAgents(op, r.devPull)
		if err != nil {
			return nil, err
		}
		st := buildStatus(r, o.local, devPull, c.s.org)
		var why []Refusal
		for _, a := range st.Agents {
			if a.State.DiffersLocally() {
				why = append(why, Refusal{Slug: a.Slug, Reason: "local definition differs from development (" + string(a.State) + "): run Sync first"})
			}
		}
		if len(why) > 0 {
			return nil, &RefusedError{Op: op, Refusals: why, kind: ErrLocalDiffers}
		}
	}
	if o.plan != nil && o.plan.Fingerprint != plan.Fingerprint {
		return nil, &StalePlanError{Op: op, Planned: o.plan.Fingerprint, Current: plan.Fingerprint}
	}
	res := &DeployResult{DryRun: o.dryRun, Environment: Production, Generation: gen, Method: plan.Method, Plan: plan,
		Deployed: []string{}, Skipped: []SkippedAgent{}}
	if o.dryRun {
		return res, nil
	}
	if len(plan.Refusals) > 0 {
		return nil, &RefusedError{Op: op, Refusals: plan.Refusals, kind: ErrRefused}
	}
	switch plan.Method {
	case PromoteServer:
		err = c.deployServer(ctx, op, r, res)
	default:
		err = c.deployClient(ctx, op, plan, res)
	}
	var verr *VerificationError
	if errors.As(err, &verr) {
		return res, err // written, but not as intended
	}
	if err != nil {
		return nil, err
	}
	sort.Strings(res.Deployed)
	sort.Slice(res.Skipped, func(i, j int) bool { return res.Skipped[i].Slug < res.Skipped[j].Slug })
	if !o.noVerify {
		if err := c.verify(ctx, op, r, res); err != nil {
			return res, err
		}
	}
	if o.smoke != nil {
		if err := c.runSmoke(ctx, op, o.smoke, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

type deployAllResult struct {
	Success  bool     `json:"success"`
	Deployed []string `json:"deployed"`
	Skipped  []string `json:"skipped"`
}

func (c *Client) deployServer(ctx context.Context, op string, r *remote, res *DeployResult) error {
	var out deployAllResult
	if err := c.call(ctx, op, convex.Mutation, fnDeployAllAgents, orgArgs{OrganizationID: c.s.org}, &out); err != nil {
		return err
	}
	if !out.Success {
		return &APIError{Op: op, Path: fnDeployAllAgents, HTTPStatus: 200, Message: "backend answered success:false", kinds: []error{ErrMalformedResponse}}
	}
	listed := map[string]bool{}
	res.Deployed = append(res.Deployed, out.Deployed...)
	for _, s := range out.Deployed {
		listed[s] = true
	}
	for _, s := range out.Skipped {
		listed[s] = true
		res.Skipped = append(res.Skipped, SkippedAgent{Slug: s, Reason: ReasonNoDevelopmentConfig})
	}
	// The backend ignores paused agents: they appear in neither list.
	for _, a := range r.dev.Agents {
		if !listed[a.Slug] {
			res.Skipped = append(res.Skipped, SkippedAgent{Slug: a.Slug, Reason: ReasonNotActive})
		}
	}
	return nil
}
