package struere

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// PlannedAgent is an agent a deploy promotes, or a rollback restores.
type PlannedAgent struct {
	Slug string `json:"slug"` // the agent
	// Version is the version production will serve afterwards:
	// development's for a deploy, the one the release recorded from before
	// its deploy for a rollback.
	Version string `json:"version"`
	// Before is production's configuration now, before the deploy or
	// rollback, with the Digest Status gives it ("" on the oldest
	// backend, which does not serve production's content).
	Before Presence `json:"before"`
}

// SkippedAgent is an agent a deploy leaves alone, and why.
type SkippedAgent struct {
	Slug   string `json:"slug"`   // the agent
	Reason string `json:"reason"` // why it is skipped, e.g. ReasonNoDevelopmentConfig
}

// Refusal is a reason a deploy or sync cannot be carried out exactly.
type Refusal struct {
	// Slug names the agent or resource concerned ("" for the whole call):
	// the slug of an agent, entity type or trigger, the name of a role.
	Slug string `json:"slug,omitempty"`
	// Kind is "agent", "role", "entity type" or "trigger" when known.
	Kind string `json:"kind,omitempty"`
	// Fields names the fields concerned, e.g. "threadContextParams".
	Fields []string `json:"fields,omitempty"`
	// Losses, when not empty, are the kinds of loss AcceptLoss must name
	// for the deploy to go ahead anyway; a refusal without them cannot be
	// overridden.
	Losses []Loss `json:"losses,omitempty"`
	Reason string `json:"reason"` // what cannot be done exactly, and what to do
}

// Adjustment is a change the promotion makes to a pulled value so that the
// backend accepts it back, without changing its meaning (for example a
// legacy model written as provider and name, sent as "provider/name").
type Adjustment struct {
	Slug   string `json:"slug"`   // the agent
	Field  string `json:"field"`  // the field changed, e.g. "tools[entity.query].isBuiltin"
	Change string `json:"change"` // what was done
}

// What a plan is for, as Plan.Op says.
const (
	opDeploy   = "deploy"
	opRollback = "rollback"
)

// Plan is what a deploy or a rollback would do, computed from one
// consistent read of the backend. Op tells the two apart.
//
// A deploy's plan (Client.Deploy) promotes development's configurations:
// pass it back with WithPlan to deploy exactly it; the deploy is refused
// with ErrStalePlan if the backend changed.
//
// A rollback's plan (Client.Rollback) writes a Release's recorded content
// back to production: Deploy lists the agents restored, Resources the entity
// types, roles and triggers put back, and Diffs compare production now with
// the release's record. A rollback's plan cannot be passed to WithPlan.
type Plan struct {
	Generation Generation `json:"-"` // the backend generation the plan was made for
	// Op is what the plan is for: "deploy" (development promoted to
	// production) or "rollback" (a release's recorded content written back
	// to production).
	Op string `json:"op"`
	// Method is how the deploy promotes: "server" where the backend
	// has sync:deployAllAgents (one transaction on the backend copies each
	// active agent's development configuration), "client" elsewhere (the
	// SDK syncs production with each agent's development configuration,
	// sending production's own entity types and roles back as read). A
	// rollback is always "client": it sends production its content, with
	// the release's items put back.
	Method         string `json:"method"`
	OrganizationID string `json:"organizationId,omitempty"` // "" for the backend's default organization
	// Deploy lists the agents to promote (a rollback: to restore to the
	// release's recorded configuration), by slug.
	Deploy []PlannedAgent `json:"deploy"`
	// Unchanged are agents whose production configuration already equals
	// development's: nothing is promoted for them, and when every agent
	// is unchanged nothing is written at all. Empty for a rollback.
	Unchanged []PlannedAgent `json:"unchanged"`
	Skip      []SkippedAgent `json:"skip"` // agents left alone, by slug; empty for a rollback
	// Refusals, when not empty, stop the deploy or rollback before anything
	// is written. A rollback's also name each item production changed
	// since the release's deploy, with the fields that differ (their
	// Reason begins "production changed since the deploy").
	Refusals []Refusal `json:"refusals,omitempty"`
	// Notes say what the plan cannot know (for example, whether paused
	// agents are skipped).
	Notes []string `json:"notes,omitempty"`
	// SideEffects are what the backend does besides promoting, which no
	// client can avoid (for example, rewriting production user-role
	// assignments, writing a deploy event, re-checking plan limits).
	SideEffects []string `json:"sideEffects,omitempty"`
	// Adjustments are changes made to pulled values so that the backend
	// accepts them back with the same meaning.
	Adjustments []Adjustment `json:"adjustments,omitempty"`
	// Accepted are losses the caller accepted with AcceptLoss: without it
	// they would be refusals.
	Accepted []Refusal `json:"accepted,omitempty"`
	// PromotedKinds are the resource kinds the deploy promotes besides
	// agents (PromoteResources); empty for an agents-only deploy. For a
	// rollback, the resource kinds the release holds.
	PromotedKinds []ResourceKind `json:"promotedKinds,omitempty"`
	// Resources lists, for the kinds in PromotedKinds, every entity type,
	// role and trigger of development and production, by kind then name,
	// with what the deploy does to it in production. For a rollback, the
	// release's resources: ResourceUpdate (written back with the recorded
	// content), ResourceDelete (it did not exist before the deploy) or
	// ResourceCreate (the deploy deleted it).
	Resources []PlannedResource `json:"resources,omitempty"`
	// Diffs are, for each agent in Deploy and each resource the deploy
	// creates, updates or deletes, what the deploy changes in production,
	// field by field: before is production's, after development's (for a
	// rollback: before is production now, after the release's record).
	// Empty where the backend does not serve the configurations (E1).
	Diffs Diffs `json:"diffs"`
	// Fingerprint identifies the development and production state the
	// plan was computed from.
	Fingerprint string `json:"fingerprint"`

	// promotion is the syncOrganization payload for promoteClient.
	promotion *promotionArgs
	// promo is what PromoteResources and AllowResourceDeletions asked.
	promo resourcePromotion
}

// String renders the plan for a terminal: each agent to promote (for a
// rollback: each agent and resource to restore or delete), refusal,
// adjustment, accepted loss, note and side effect, then the changes field
// by field.
func (p *Plan) String() string {
	if p.Op == opRollback {
		return p.rollbackString()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Deploy plan (%s promotion, backend %s)\n", p.Method, p.Generation)
	for _, a := range p.Deploy {
		before := "none"
		if a.Before.Present {
			before = orUnknown(a.Before.Version)
		}
		fmt.Fprintf(&b, "  deploy  %-24s %s -> %s\n", a.Slug, before, a.Version)
	}
	for _, a := range p.Unchanged {
		fmt.Fprintf(&b, "  same    %-24s %s (production already serves it)\n", a.Slug, orUnknown(a.Version))
	}
	for _, s := range p.Skip {
		fmt.Fprintf(&b, "  skip    %-24s %s\n", s.Slug, s.Reason)
	}
	p.detailLines(&b)
	if !p.writes() && len(p.Refusals) == 0 && len(p.Unchanged)+len(p.Skip)+len(p.Resources) > 0 {
		b.WriteString("  nothing to promote: nothing will be written\n")
	}
	if len(p.Deploy)+len(p.Unchanged)+len(p.Skip)+len(p.Refusals) == 0 {
		b.WriteString("  (no agents)\n")
	}
	p.resourceLines(&b)
	if len(p.Diffs) > 0 {
		b.WriteString("\nChanges to production (before: production, after: development):\n")
		b.WriteString(p.Diffs.String())
	}
	return b.String()
}

// detailLines writes, for String, one line per refusal (a rollback's for
// items changed since the deploy marked CHANGED), adjustment, accepted
// loss, note and side effect.
func (p *Plan) detailLines(b *strings.Builder) {
	for _, r := range p.Refusals {
		label := "REFUSE "
		if p.Op == opRollback && strings.HasPrefix(r.Reason, staleReason) {
			label = "CHANGED"
		}
		fmt.Fprintf(b, "  %s %-24s %s\n", label, r.Slug, r.Reason)
	}
	for _, a := range p.Adjustments {
		fmt.Fprintf(b, "  adjust  %-24s %s: %s\n", a.Slug, a.Field, a.Change)
	}
	for _, r := range p.Accepted {
		fmt.Fprintf(b, "  LOSS    %-24s %s (accepted)\n", r.Slug, r.Reason)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(b, "  note: %s\n", n)
	}
	for _, n := range p.SideEffects {
		fmt.Fprintf(b, "  side effect: %s\n", n)
	}
}

// Markdown renders the plan for a pull-request comment or a CI step
// summary: the agents to promote, unchanged, skipped and refused, then each
// promoted agent's changes field by field (Diffs.Markdown). A rollback's
// plan shows the agents and resources restored or deleted instead.
func (p *Plan) Markdown() string {
	if p.Op == opRollback {
		return p.rollbackMarkdown()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### Struere deploy plan\n\n%s promotion, backend %s.\n\n", p.Method, p.Generation)
	if len(p.Deploy)+len(p.Unchanged)+len(p.Skip)+len(p.Refusals) > 0 {
		mdRow(&b, "Agent", "Production now", "After the deploy", "Action")
		mdRow(&b, "---", "---", "---", "---")
		for _, a := range p.Deploy {
			before := "none"
			if a.Before.Present {
				before = orUnknown(a.Before.Version)
			}
			mdRow(&b, mdCode(a.Slug), before, orUnknown(a.Version), "deploy")
		}
		for _, a := range p.Unchanged {
			mdRow(&b, mdCode(a.Slug), orUnknown(a.Version), orUnknown(a.Version), "unchanged")
		}
		for _, s := range p.Skip {
			mdRow(&b, mdCode(s.Slug), "", "", "skip: "+s.Reason)
		}
		for _, r := range p.Refusals {
			mdRow(&b, mdCode(r.Slug), "", "", "**refused**: "+r.Reason)
		}
		b.WriteString("\n")
	}
	p.resourceMarkdown(&b)
	for _, n := range p.Notes {
		b.WriteString("> " + n + "\n\n")
	}
	if len(p.Diffs) > 0 {
		b.WriteString("Changes to production (before: production, after: development):\n\n")
		b.WriteString(p.Diffs.Markdown())
	}
	return b.String()
}

func orUnknown(v string) string {
	if v == "" {
		return "(version not reported)"
	}
	return v
}

// makePlan computes what a deploy would do from one read of the backend
// (and, for a client-side promotion, what the extra queries recovered).
func (c *Client) makePlan(op string, r *remote, rec *recovery, accept map[Loss]bool, promo resourcePromotion) (*Plan, error) {
	p := &Plan{Generation: r.gen, Op: opDeploy, OrganizationID: c.s.org, Deploy: []PlannedAgent{}, Unchanged: []PlannedAgent{}, Skip: []SkippedAgent{}}
	if r.gen.hasDeployAllAgents() && !promo.on() {
		p.Method = promoteServer
	} else {
		p.Method = promoteClient
	}
	devAgents, err := r.pulledAgents(op, r.devPull)
	if err != nil {
		return nil, err
	}
	prodAgents, err := r.pulledAgents(op, r.prodPull)
	if err != nil {
		return nil, err
	}
	for _, a := range r.dev.Agents {
		dev, prod := r.devView(a), r.prodView(a.Slug)
		switch {
		case dev.configured:
			pa := PlannedAgent{Slug: a.Slug, Version: dev.version, Before: Presence{Present: prod.configured, Version: prod.version}}
			if raw, ok := prodAgents[a.Slug]; ok && prod.configured {
				pa.Before.Digest = pulledDigest(raw) // as Status gives it; "" where production is not served (E1)
			}
			if prod.configured && sameConfig(r.gen, a.Slug, devAgents[a.Slug], prodAgents[a.Slug], rec) {
				p.Unchanged = append(p.Unchanged, pa)
			} else {
				p.Deploy = append(p.Deploy, pa)
			}
		case p.Method == promoteClient && !prod.configured:
			p.Refusals = append(p.Refusals, Refusal{Slug: a.Slug, Kind: "agent", Reason: "no configuration in development or production: promoting on this backend would delete the agent or give it a default configuration; configure it in development (Sync) first"})
		default:
			p.Skip = append(p.Skip, SkippedAgent{Slug: a.Slug, Reason: ReasonNoDevelopmentConfig})
		}
	}
	sortPlan(p)
	p.Notes = append(p.Notes, c.keysOnlyNote()...)
	p.Diffs = promotionDiffs(r.gen, p.Deploy, devAgents, prodAgents, rec)
	switch {
	case r.gen == GenerationE1:
		p.Notes = append(p.Notes, "paused agents are skipped by the backend at deploy time; agent status is not reported, so the plan cannot tell them apart",
			"this backend does not report production configurations, so agents already up to date cannot be told apart: every active agent is promoted (a new production row each)")
	case p.Method == promoteServer:
		p.Notes = append(p.Notes, "paused agents are skipped by the backend at deploy time; agent status is not reported, so the plan cannot tell them apart")
		if len(p.Deploy) > 0 && len(p.Unchanged) > 0 {
			p.SideEffects = append(p.SideEffects, "sync:deployAllAgents copies every active agent: the unchanged ones get a new, identical production row")
		}
	case r.gen.hasDeployAllAgents():
		p.Notes = append(p.Notes,
			"resources are promoted too, so the deploy is one syncOrganization carrying agents and resources (one transaction) instead of sync:deployAllAgents and a second call that could half succeed; agent status is not reported, so every agent with a development configuration is promoted, paused ones included")
	default:
		p.Notes = append(p.Notes,
			"this backend has no sync:deployAllAgents and does not report agent status: every agent with a development configuration is promoted, paused ones included")
		if rec != nil && rec.agentsWhy != "" && r.gen == GenerationHead {
			p.Notes = append(p.Notes, "firstMessageSuggestions and threadContextParams could not be read ("+rec.agentsWhy+"), so agents are compared without them")
		}
	}
	if promo.on() {
		if err := planResources(op, r, rec, promo, accept, p); err != nil {
			return nil, err
		}
	}
	if p.Method == promoteClient && p.writes() {
		args, err := c.promotionPayload(op, r, rec, accept, p)
		if err != nil {
			return nil, err
		}
		p.promotion = args
		p.SideEffects = append(p.SideEffects, sideEffectsFor(r, fields(args.Roles, "name"))...)
	}
	fp, err := fingerprint(r, promo)
	if err != nil {
		return nil, err
	}
	p.Fingerprint = fp
	return p, nil
}

// sameConfig reports whether production already serves development's
// configuration of the agent, as far as the backend lets a client see.
func sameConfig(gen Generation, slug string, dev, prod json.RawMessage, rec *recovery) bool {
	if dev == nil || prod == nil {
		return false
	}
	if gen != GenerationHead {
		return sameJSON(dev, prod)
	}
	var de, pe *agentExtras
	if rec != nil && rec.agentsWhy == "" {
		de, pe = rec.dev[slug], rec.prod[slug]
	}
	a, b := headAgent(slug, dev, de, nil), headAgent(slug, prod, pe, nil)
	if a.payload == nil || b.payload == nil {
		return false
	}
	if rec != nil && rec.agentsWhy == "" && (de == nil) != (pe == nil) {
		return false
	}
	return sameJSON(a.payload, b.payload)
}

// sideEffectsFor lists what a client-side promotion (or a rollback)
// sending the roles named makes the backend do besides promoting, which no
// client can avoid.
func sideEffectsFor(r *remote, roles []string) []string {
	var out []string
	devRoles := map[string]bool{}
	for _, x := range r.dev.Roles {
		devRoles[x.Name] = true
	}
	// The backend copies assignments for every role sent that exists in
	// development, once production has it (created ones included).
	var both []string
	for _, name := range roles {
		if devRoles[name] {
			both = append(both, name)
		}
	}
	sort.Strings(both)
	if len(both) > 0 {
		out = append(out, fmt.Sprintf("production user-role assignments of %s (roles present in both environments) are replaced by development's; the backend also deletes those users' production role assignments in other organizations, and a user with several such development roles keeps only the last one", strings.Join(both, ", ")))
	}
	if len(roles) > 0 {
		out = append(out, "production role policies, scope rules and masks are rebuilt with new ids")
	}
	// Through the API-key route the backend records no user: it removes
	// deployedBy from every configuration it writes, and the event has a
	// system actor.
	if r.keyPath {
		out = append(out, "updatedAt changes on every production agent, entity type and role, and deployedBy is removed from every production agent configuration (the API-key route records no user)")
	} else {
		out = append(out, "updatedAt changes on every production agent, entity type and role, and deployedBy becomes the caller")
	}
	if r.gen == GenerationHead {
		if r.keyPath {
			out = append(out, "a deploy.completed event is written, with a system actor and no user")
		} else {
			out = append(out, "a deploy.completed event is written, with the caller as its actor")
		}
		out = append(out, "plan limits are checked again: an organization over its plan's agent limit fails with \"Agent limit reached\" and nothing is written")
	}
	return out
}

// sortPlan orders the plan by slug: the backend's list order is not
// guaranteed.
func sortPlan(p *Plan) {
	sort.Slice(p.Deploy, func(i, j int) bool { return p.Deploy[i].Slug < p.Deploy[j].Slug })
	sort.Slice(p.Unchanged, func(i, j int) bool { return p.Unchanged[i].Slug < p.Unchanged[j].Slug })
	sort.Slice(p.Skip, func(i, j int) bool { return p.Skip[i].Slug < p.Skip[j].Slug })
	sort.Slice(p.Refusals, func(i, j int) bool { return p.Refusals[i].Slug < p.Refusals[j].Slug })
}

// fingerprint hashes everything a plan was computed from, in a canonical
// form: list order and JSON key order do not change it, since the backend
// guarantees neither.
//
// A plan that promotes resources also hashes the kinds it promotes and
// whether it may delete, so that WithPlan never carries out a plan made
// with other resource options.
func fingerprint(r *remote, promo resourcePromotion) (string, error) {
	h := sha256.New()
	enc := json.NewEncoder(h)
	parts := []any{r.gen, canonicalState(r.dev), canonicalState(r.prod)}
	if promo.on() {
		parts = append(parts, promo.kinds, promo.allowDeletions)
	}
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
