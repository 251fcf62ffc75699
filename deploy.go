package struere

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/struere/struere-go/internal/convex"
)

// How a deploy promotes development to production, as Plan.Method and
// DeployResult.Method report it.
const (
	// promoteServer calls sync:deployAllAgents: one transaction on the
	// backend copies each active agent's development configuration.
	promoteServer = "server"
	// promoteClient, for backends without sync:deployAllAgents (and for
	// every deploy with PromoteResources), syncs production with each
	// agent's development configuration and sends production's own entity
	// types and roles back as read, or development's for the kinds
	// PromoteResources names; triggers are sent only when promoted, eval
	// suites never, which leaves them untouched.
	promoteClient = "client"
)

// Skip reasons reported in SkippedAgent.Reason.
const (
	ReasonNoDevelopmentConfig = "no development configuration"
	ReasonNotActive           = "not active (paused)"
)

// DeployResult is the outcome of Client.Deploy, and of Client.Rollback,
// which is a deploy of a release's recorded content: then Plan.Op is
// "rollback", Method "client", Deployed lists the agents restored, and
// Plan.Resources the entity types, roles and triggers put back.
type DeployResult struct {
	// DryRun reports that nothing was written; Plan says what would be.
	DryRun      bool        `json:"dryRun"`
	Environment Environment `json:"environment"` // always Production
	Generation  Generation  `json:"-"`           // the backend generation used
	Method      string      `json:"method"`      // how the deploy promoted: "server" or "client", as Plan.Method
	Plan        *Plan       `json:"plan"`        // the plan the deploy carried out (or would, for a dry run)
	// Deployed lists the promoted (for a rollback: restored) agents'
	// slugs; empty for a dry run.
	Deployed []string `json:"deployed"`
	// Unchanged lists agents whose production configuration already
	// equalled development's: nothing was promoted for them (and when no
	// agent needed promoting, nothing was written at all).
	Unchanged []string `json:"unchanged"`
	// Skipped lists agents left alone, with the reason.
	Skipped []SkippedAgent `json:"skipped"`
	// Verified reports that production was read back and matched (for a
	// rollback: held the release's recorded content).
	Verified bool `json:"verified"`
	// Smoke holds the smoke checks' results (WithSmokeTest).
	Smoke []SmokeResult `json:"smoke,omitempty"`
	// Evals holds the eval gate's report (GateOnEvals).
	Evals *EvalReport `json:"evals,omitempty"`
	// Release records what production held before this deploy for every
	// agent it promoted and every resource it created, updated or deleted,
	// and what the deploy left, for Client.Rollback. A rollback's records
	// what the rollback changed, so that rolling it back undoes it.
	// It is set whenever the deploy wrote (also when verification or the
	// smoke test then failed); nil for a dry run and when nothing was
	// written. When the write's reply is lost (the connection drops after
	// the request was sent, or the answer is not the backend's), Deploy
	// and Rollback return only the error, with no result and no Release:
	// the write may have run. Read production (Status) before trying
	// again; a Rollback tried again refuses if production changed.
	Release *Release `json:"release,omitempty"`
}

// DeployOption configures Client.Deploy (and Client.Rollback, which takes
// DryRun, AcceptLoss, SkipVerification and WithSmokeTest). These build one:
//
//   - DryRun(): compute the plan, write nothing;
//   - WithPlan(plan): deploy exactly a dry run's plan, or refuse with
//     ErrStalePlan if the backend changed since;
//   - WithLocal(defs): refuse unless development holds exactly defs (a
//     LocalOption, also a StatusOption);
//   - AcceptLoss(losses...): go ahead although the named values are lost;
//   - SkipVerification(): do not read production back after the deploy;
//   - WithSmokeTest(key, checks...): after the deploy, send each check's
//     message with a production key (checked before anything is written);
//   - PromoteResources(kinds...): promote entity types, roles or triggers
//     too (agents only by default);
//   - AllowResourceDeletions(): with PromoteResources, let the deploy
//     delete production resources development does not have;
//   - GateOnEvals(defs, opts...): run the eval suites first and deploy
//     only if they pass.
type DeployOption interface{ applyDeploy(*deployOptions) }

type deployOptions struct {
	accept   map[Loss]bool
	dryRun   bool
	plan     *Plan
	local    *Definitions
	noVerify bool
	smoke    *smokeTest
	evals    *evalGate

	resources              []ResourceKind // PromoteResources
	resourcesSet           bool
	allowResourceDeletions bool
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
// production. Agents without one are skipped, with the reason; agents
// whose production configuration already equals development's are
// reported as Unchanged, and when no agent needs promoting nothing is
// written. Production entity types, roles and triggers are left as they
// are, unless PromoteResources names kinds of them to promote too: then
// the plan lists each resource of those kinds as create, update, delete or
// unchanged, deletions are refused unless AllowResourceDeletions is given,
// and agents and resources are written together in one call.
//
// Where the backend serves sync:deployAllAgents, Deploy calls it. Where it
// does not, Deploy performs the same promotion itself by re-sending
// production's own entity types and roles with the promoted agents. Deploy
// never deletes and never invents: when the promotion cannot be expressed
// exactly (an agent would be deleted or given a default configuration, a
// value production holds would be cleared or cannot be shown to survive),
// it refuses before writing anything, with an error matching ErrRefused
// that names the agents, roles and fields; AcceptLoss overrides the
// refusals that concern such values. Immediately before writing it reads
// both environments' sync state again and refuses with ErrStalePlan if
// they changed. After writing it compares what the backend reports created,
// updated and deleted with what was meant, then reads production back; any
// difference is a VerificationError (matching ErrVerificationFailed) that
// names it.
//
// Deploys and Syncs of one Client never overlap: each waits for the one
// running. Separate processes are not coordinated; run at most one deploy
// or sync per organization at a time (for example one CI concurrency group
// per organization).
func (c *Client) Deploy(ctx context.Context, opts ...DeployOption) (*DeployResult, error) {
	const op = "deploy"
	if ctx == nil {
		return nil, nilContext(op)
	}
	var o deployOptions
	for _, opt := range opts {
		opt.applyDeploy(&o)
	}
	promo, err := resourceOptions(op, &o)
	if err != nil {
		return nil, err
	}
	if o.plan != nil && o.plan.Op == opRollback {
		return nil, fmt.Errorf("struere: %s: WithPlan was given a rollback's plan, which writes a release's recorded content rather than development's: carry it out with Rollback, or make a deploy plan with Deploy(ctx, DryRun()): %w", op, ErrValidation)
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
	var evals *EvalReport // the gate runs before anything is read or written
	if o.evals != nil && !o.dryRun {
		var err error
		if evals, err = c.runEvalGate(ctx, op, o.evals); err != nil {
			return nil, err
		}
	}
	release, err := c.exclusive(ctx, op)
	if err != nil {
		return nil, err
	}
	defer release()
	gen, err := c.DetectGeneration(ctx)
	if err != nil {
		return nil, err
	}
	if promo.on() && !gen.environmentIsolated() {
		return nil, fmt.Errorf("struere: %s: PromoteResources: %w: on this backend (%s) entity types and roles are organization-wide, one set shared by development and production, so there is nothing to promote, and it has no triggers; production's resource contents cannot be read either", op, ErrUnsupported, gen)
	}
	// Promoting resources takes the client-side promotion everywhere: one
	// syncOrganization carries agents and resources in one transaction,
	// where sync:deployAllAgents and a second call could half succeed.
	clientSide := gen.environmentIsolated() && (!gen.hasDeployAllAgents() || promo.on())
	// Both environments' full configurations are read on isolated
	// backends: the promotion sends them, and they tell agents already
	// up to date apart.
	isolated := gen.environmentIsolated()
	r, err := c.readRemoteAs(ctx, op, gen, reads{devPull: isolated, prodPull: isolated})
	if err != nil {
		return nil, err
	}
	var rec *recovery
	if clientSide {
		if rec, err = c.recoverFor(ctx, op, r, promo.has(KindRole)); err != nil {
			return nil, err
		}
	}
	plan, err := c.makePlan(op, r, rec, o.accept, promo)
	if err != nil {
		return nil, err
	}
	if o.local != nil {
		why, err := localDifferences(op, r, o.local)
		if err != nil {
			return nil, err
		}
		if len(why) > 0 {
			return nil, &RefusedError{Op: op, Refusals: why, kind: ErrLocalDiffers}
		}
	}
	if o.plan != nil && o.plan.Fingerprint != plan.Fingerprint {
		return nil, &StalePlanError{Op: op, Planned: o.plan.Fingerprint, Current: plan.Fingerprint}
	}
	res := &DeployResult{DryRun: o.dryRun, Environment: Production, Generation: gen, Method: plan.Method, Plan: plan,
		Deployed: []string{}, Unchanged: []string{}, Skipped: []SkippedAgent{}, Evals: evals}
	for _, a := range plan.Unchanged {
		res.Unchanged = append(res.Unchanged, a.Slug)
	}
	if o.dryRun {
		return res, nil
	}
	if len(plan.Refusals) > 0 {
		return nil, &RefusedError{Op: op, Refusals: plan.Refusals, kind: ErrRefused}
	}
	if !plan.writes() {
		// Nothing to promote: nothing is written.
		res.Skipped = append(res.Skipped, plan.Skip...)
	} else {
		if err := c.recheck(ctx, op, r, rec, plan); err != nil {
			return nil, err
		}
		wroteAt := time.Now()
		switch plan.Method {
		case promoteServer:
			err = c.deployServer(ctx, op, r, plan, res)
		default:
			err = c.deployClient(ctx, op, plan, res)
		}
		var verr *VerificationError
		if err != nil && !errors.As(err, &verr) {
			return nil, err
		}
		res.Release = c.newRelease(ctx, op, r, rec, plan.Method, releaseKeys(plan), wroteAt)
		if err != nil {
			return res, err // written, but not as intended
		}
	}
	sort.Strings(res.Deployed)
	sort.Strings(res.Unchanged)
	sort.Slice(res.Skipped, func(i, j int) bool { return res.Skipped[i].Slug < res.Skipped[j].Slug })
	if !o.noVerify {
		if err := c.verify(ctx, op, r, rec, o.accept, res); err != nil {
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

// deployAllResult is deployAllAgents' value; the lists must be present.
type deployAllResult struct {
	Success  bool      `json:"success"`
	Deployed *[]string `json:"deployed"`
	Skipped  *[]string `json:"skipped"`
}

func (c *Client) deployServer(ctx context.Context, op string, r *remote, p *Plan, res *DeployResult) error {
	var out deployAllResult
	if err := c.call(ctx, op, convex.Mutation, fnDeployAllAgents, orgArgs{OrganizationID: c.s.org}, &out); err != nil {
		return err
	}
	if !out.Success || out.Deployed == nil || out.Skipped == nil {
		return &VerificationError{Op: op, Result: res, Mismatches: []Refusal{{Reason: "the backend's answer to sync:deployAllAgents lacks success or its deployed and skipped lists, so what it wrote is unknown: check production (Status) before deploying again"}},
			Err: &APIError{Op: op, Path: fnDeployAllAgents, HTTPStatus: 200, Message: "deployAllAgents result without success or its lists", kinds: []error{ErrMalformedResponse}}}
	}
	unchanged := map[string]bool{}
	for _, a := range p.Unchanged {
		unchanged[a.Slug] = true
	}
	var bad []Refusal
	listed := map[string]bool{}
	for _, s := range *out.Deployed {
		listed[s] = true
		switch {
		case !r.hasAgent(s):
			bad = append(bad, Refusal{Slug: s, Kind: "agent", Reason: "the backend deployed an agent the deploy did not read (created concurrently): check its production configuration"})
			res.Deployed = append(res.Deployed, s)
		case unchanged[s]:
			// Copied again, identical: reported as unchanged.
		default:
			res.Deployed = append(res.Deployed, s)
		}
	}
	for _, s := range *out.Skipped {
		listed[s] = true
		res.Skipped = append(res.Skipped, SkippedAgent{Slug: s, Reason: ReasonNoDevelopmentConfig})
	}
	// The backend ignores paused agents: they appear in neither list.
	res.Unchanged = res.Unchanged[:0]
	for _, a := range r.dev.Agents {
		switch {
		case !listed[a.Slug]:
			res.Skipped = append(res.Skipped, SkippedAgent{Slug: a.Slug, Reason: ReasonNotActive})
		case unchanged[a.Slug] && !slices.Contains(*out.Skipped, a.Slug):
			res.Unchanged = append(res.Unchanged, a.Slug)
		}
	}
	if len(bad) > 0 {
		return &VerificationError{Op: op, Result: res, Mismatches: bad}
	}
	return nil
}
