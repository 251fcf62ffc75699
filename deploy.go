package struere

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

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

// PlannedAgent is an agent a deploy promotes.
type PlannedAgent struct {
	Slug string `json:"slug"` // the agent
	// Version is the development version production will serve.
	Version string `json:"version"`
	// Before is production's configuration before the deploy.
	Before Presence `json:"before"`
}

// SkippedAgent is an agent a deploy leaves alone, and why.
type SkippedAgent struct {
	Slug   string `json:"slug"`   // the agent
	Reason string `json:"reason"` // why it is skipped, e.g. ReasonNoDevelopmentConfig
}

// Refusal is a reason a deploy or sync cannot be carried out exactly.
type Refusal struct {
	// Slug names the agent or resource concerned ("" for the whole call).
	Slug   string `json:"slug,omitempty"`
	Reason string `json:"reason"` // what cannot be done exactly, and what to do
}

// Plan is what a deploy would do, computed from one consistent read of
// development and production. Pass it back with WithPlan to deploy exactly
// it: the deploy is refused with ErrStalePlan if the backend changed.
type Plan struct {
	Generation     Generation      `json:"-"`                        // the backend generation the plan was made for
	Method         PromotionMethod `json:"method"`                   // how the deploy promotes
	OrganizationID string          `json:"organizationId,omitempty"` // "" for the backend's default organization
	Deploy         []PlannedAgent  `json:"deploy"`                   // agents to promote, by slug
	Skip           []SkippedAgent  `json:"skip"`                     // agents left alone, by slug
	// Refusals, when not empty, stop the deploy before anything is written.
	Refusals []Refusal `json:"refusals,omitempty"`
	// Notes say what the plan cannot know or what the backend will do
	// besides promoting (for example, whether paused agents are skipped).
	Notes []string `json:"notes,omitempty"`
	// Fingerprint identifies the development and production state the
	// plan was computed from.
	Fingerprint string `json:"fingerprint"`

	// promotion is the syncOrganization payload for PromoteClient.
	promotion *promotionArgs
}

// String renders the plan for a terminal.
func (p *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Deploy plan (%s promotion, backend %s)\n", p.Method, p.Generation)
	for _, a := range p.Deploy {
		before := "none"
		if a.Before.Present {
			before = orUnknown(a.Before.Version)
		}
		fmt.Fprintf(&b, "  deploy  %-24s %s -> %s\n", a.Slug, before, a.Version)
	}
	for _, s := range p.Skip {
		fmt.Fprintf(&b, "  skip    %-24s %s\n", s.Slug, s.Reason)
	}
	for _, r := range p.Refusals {
		fmt.Fprintf(&b, "  REFUSE  %-24s %s\n", r.Slug, r.Reason)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	if len(p.Deploy)+len(p.Skip)+len(p.Refusals) == 0 {
		b.WriteString("  (no agents)\n")
	}
	return b.String()
}

func orUnknown(v string) string {
	if v == "" {
		return "(version not reported)"
	}
	return v
}

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

// makePlan computes what a deploy would do from one read of the backend.
func (c *Client) makePlan(op string, r *remote) (*Plan, error) {
	p := &Plan{Generation: r.gen, OrganizationID: c.s.org, Deploy: []PlannedAgent{}, Skip: []SkippedAgent{}}
	if r.gen.HasDeployAllAgents() {
		p.Method = PromoteServer
	} else {
		p.Method = PromoteClient
	}
	for _, a := range r.dev.Agents {
		dev, prod := r.devView(a), r.prodView(a.Slug)
		switch {
		case dev.configured:
			p.Deploy = append(p.Deploy, PlannedAgent{Slug: a.Slug, Version: dev.version, Before: Presence{Present: prod.configured, Version: prod.version}})
		case p.Method == PromoteClient && !prod.configured:
			p.Refusals = append(p.Refusals, Refusal{Slug: a.Slug, Reason: "no configuration in development or production: promoting on this backend would delete the agent or give it a default configuration; configure it in development (Sync) first"})
		default:
			p.Skip = append(p.Skip, SkippedAgent{Slug: a.Slug, Reason: ReasonNoDevelopmentConfig})
		}
	}
	sortPlan(p)
	if p.Method == PromoteServer {
		p.Notes = append(p.Notes, "paused agents are skipped by the backend at deploy time; agent status is not reported, so the plan cannot tell them apart")
	} else {
		p.Notes = append(p.Notes,
			"this backend has no sync:deployAllAgents and does not report agent status: every agent with a development configuration is promoted, paused ones included",
			"production's entity types and roles are sent back as read; the backend rebuilds role policies and copies users' assignments of same-named development roles onto production roles (protocol §6.1); Deploy verifies their content afterwards")
	}
	if p.Method == PromoteClient {
		args, refusals, err := c.promotionPayload(op, r, p)
		if err != nil {
			return nil, err
		}
		p.Refusals = append(p.Refusals, refusals...)
		p.promotion = args
	}
	fp, err := fingerprint(r)
	if err != nil {
		return nil, err
	}
	p.Fingerprint = fp
	return p, nil
}

// sortPlan orders the plan by slug: the backend's list order is not
// guaranteed (protocol §12).
func sortPlan(p *Plan) {
	sort.Slice(p.Deploy, func(i, j int) bool { return p.Deploy[i].Slug < p.Deploy[j].Slug })
	sort.Slice(p.Skip, func(i, j int) bool { return p.Skip[i].Slug < p.Skip[j].Slug })
	sort.Slice(p.Refusals, func(i, j int) bool { return p.Refusals[i].Slug < p.Refusals[j].Slug })
}

// fingerprint hashes everything a plan was computed from, in a canonical
// form: list order and JSON key order do not change it, since the backend
// guarantees neither (protocol §12).
func fingerprint(r *remote) (string, error) {
	h := sha256.New()
	enc := json.NewEncoder(h)
	parts := []any{r.gen, canonicalState(r.dev), canonicalState(r.prod)}
	for _, p := range []*wirePullState{r.devPull, r.prodPull} {
		cp, err := canonicalPull(p)
		if err != nil {
			return "", fmt.Errorf("struere: fingerprint: %w", err)
		}
		parts = append(parts, cp)
	}
	for _, v := range parts {
		if err := enc.Encode(v); err != nil {
			return "", fmt.Errorf("struere: fingerprint: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

func canonicalState(s *wireSyncState) *wireSyncState {
	if s == nil {
		return nil
	}
	c := *s
	c.Agents = append([]wireAgentState(nil), s.Agents...)
	sort.Slice(c.Agents, func(i, j int) bool { return c.Agents[i].Slug < c.Agents[j].Slug })
	c.EntityTypes = append(c.EntityTypes[:0:0], s.EntityTypes...)
	sort.Slice(c.EntityTypes, func(i, j int) bool { return c.EntityTypes[i].Slug < c.EntityTypes[j].Slug })
	c.Roles = append(c.Roles[:0:0], s.Roles...)
	sort.Slice(c.Roles, func(i, j int) bool { return c.Roles[i].Name < c.Roles[j].Name })
	c.Triggers = append(c.Triggers[:0:0], s.Triggers...)
	sort.Slice(c.Triggers, func(i, j int) bool { return c.Triggers[i].Slug < c.Triggers[j].Slug })
	c.EvalSuites = append(c.EvalSuites[:0:0], s.EvalSuites...)
	sort.Slice(c.EvalSuites, func(i, j int) bool { return c.EvalSuites[i].Slug < c.EvalSuites[j].Slug })
	return &c
}

// canonicalPull decodes each pulled item (re-encoding sorts object keys)
// and orders every list by slug, or by name for roles.
func canonicalPull(p *wirePullState) (any, error) {
	if p == nil {
		return nil, nil
	}
	out := make([][]any, 0, 4)
	for _, list := range [][]json.RawMessage{p.Agents, p.EntityTypes, p.Roles, p.Triggers} {
		items := make([]any, 0, len(list))
		for _, raw := range list {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		sort.SliceStable(items, func(i, j int) bool { return sortKey(items[i]) < sortKey(items[j]) })
		out = append(out, items)
	}
	return out, nil
}

func sortKey(v any) string {
	m, _ := v.(map[string]any)
	if s, ok := m["slug"].(string); ok {
		return s
	}
	s, _ := m["name"].(string)
	return s
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

// verify reads production back and checks every deployed agent serves the
// development version that was promoted, and that production's other
// resources are still there.
func (c *Client) verify(ctx context.Context, op string, before *remote, res *DeployResult) error {
	clientSide := before.prodPull != nil
	after, err := c.readRemoteAs(ctx, op+": verify", before.gen, reads{prodPull: clientSide})
	if err != nil {
		// The deploy was written; say so, whatever stopped the read-back.
		return &VerificationError{Op: op, Result: res, Mismatches: []Refusal{{Reason: "production could not be read back after the deploy: " + err.Error()}}, Err: err}
	}
	want := map[string]string{}
	for _, a := range before.dev.Agents {
		want[a.Slug] = before.devView(a).version
	}
	var bad []Refusal
	for _, slug := range res.Deployed {
		got := after.prodView(slug)
		switch {
		case !got.configured:
			bad = append(bad, Refusal{Slug: slug, Reason: "production has no configuration after the deploy"})
		case got.version != "" && got.version != want[slug]:
			bad = append(bad, Refusal{Slug: slug, Reason: fmt.Sprintf("production serves version %s, development has %s", got.version, want[slug])})
		}
	}
	if before.prod != nil {
		wasProd := &remote{gen: before.gen, dev: before.prod}
		nowProd := &remote{gen: after.gen, dev: after.prod}
		now := map[ResourceKind]map[string]bool{}
		for _, rs := range resourceStatuses(nowProd, nil) {
			if now[rs.Kind] == nil {
				now[rs.Kind] = map[string]bool{}
			}
			now[rs.Kind][rs.Name] = true
		}
		for _, rs := range resourceStatuses(wasProd, nil) {
			if !now[rs.Kind][rs.Name] {
				bad = append(bad, Refusal{Slug: rs.Name, Reason: fmt.Sprintf("production %s %q is gone after the deploy", rs.Kind, rs.Name)})
			}
		}
	}
	if clientSide {
		bad = append(bad, contentMismatches(before, after, res.Deployed)...)
	}
	if len(bad) > 0 {
		return &VerificationError{Op: op, Result: res, Mismatches: bad}
	}
	res.Verified = true
	return nil
}

// contentMismatches compares, after a client-side promotion, production's
// entity types and roles with what they were, and each promoted agent's
// production configuration with its development one, in full.
func contentMismatches(before, after *remote, deployed []string) []Refusal {
	var bad []Refusal
	same := func(a, b []json.RawMessage) bool {
		ca, errA := canonicalPull(&wirePullState{EntityTypes: a})
		cb, errB := canonicalPull(&wirePullState{EntityTypes: b})
		if errA != nil || errB != nil {
			return false
		}
		ja, _ := json.Marshal(ca)
		jb, _ := json.Marshal(cb)
		return string(ja) == string(jb)
	}
	if !same(before.prodPull.EntityTypes, after.prodPull.EntityTypes) {
		bad = append(bad, Refusal{Reason: "production entity types differ from before the deploy"})
	}
	if !same(before.prodPull.Roles, after.prodPull.Roles) {
		bad = append(bad, Refusal{Reason: "production roles differ from before the deploy"})
	}
	devAgents, _ := before.pulledAgents("verify", before.devPull)
	prodAgents, _ := after.pulledAgents("verify", after.prodPull)
	for _, slug := range deployed {
		if !same([]json.RawMessage{devAgents[slug]}, []json.RawMessage{prodAgents[slug]}) {
			bad = append(bad, Refusal{Slug: slug, Reason: "production configuration differs from the development one that was promoted"})
		}
	}
	return bad
}
