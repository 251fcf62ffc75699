package struere

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/struere/struere-go/internal/convex"
)

// promotionArgs is the production syncOrganization payload of a
// client-side promotion or a rollback: every agent with the configuration
// production must end up with, and production's own entity types and
// roles exactly as read (a rollback's with the release's put back).
// Values are raw JSON so that nothing the backend holds is lost or
// reshaped on the way back.
type promotionArgs struct {
	OrganizationID string            `json:"organizationId,omitempty"`
	Environment    Environment       `json:"environment"`
	Agents         []json.RawMessage `json:"agents"`
	EntityTypes    []json.RawMessage `json:"entityTypes"`
	Roles          []json.RawMessage `json:"roles"`
	// Triggers are sent only when the deploy promotes triggers
	// (PromoteResources) and one of them changes, or the rollback's
	// release holds a trigger; evalSuites never. An
	// omitted list leaves the remote set untouched, which
	// is exactly "unchanged". Re-sending the pulled triggers deletes
	// disabled ones, which the pull state does not show.
	Triggers []json.RawMessage `json:"triggers,omitempty"`
}

// promotionPayload builds the client-side promotion from development and
// production pull states (and what the extra queries recovered), adding to
// p the refusals, adjustments and accepted losses it finds. Every agent of
// the organization must be in the payload, or the backend deletes it; an
// agent configured in neither environment would get a default
// configuration. Both are refused, as is every value the round trip would
// lose unless the caller accepted that loss.
func (c *Client) promotionPayload(op string, r *remote, rec *recovery, accept map[Loss]bool, p *Plan) (*promotionArgs, error) {
	if r.devPull == nil || r.prodPull == nil {
		return nil, fmt.Errorf("struere: %s: internal error: client-side promotion without pull states", op)
	}
	devAgents, err := r.pulledAgents(op, r.devPull)
	if err != nil {
		return nil, err
	}
	prodAgents, err := r.pulledAgents(op, r.prodPull)
	if err != nil {
		return nil, err
	}
	args := &promotionArgs{
		OrganizationID: c.s.org,
		Environment:    Production,
		Agents:         make([]json.RawMessage, 0, len(r.dev.Agents)),
		EntityTypes:    r.prodPull.EntityTypes,
		Roles:          make([]json.RawMessage, 0, len(r.prodPull.Roles)),
	}
	// The payload replaces production's entity types, roles and agents
	// wholesale: anything missing from it is deleted. Refuse unless the
	// pull states hold exactly what the sync states list.
	if problem := partialRead(r, devAgents, prodAgents); problem != "" {
		p.Refusals = append(p.Refusals, Refusal{Reason: problem + ": the promotion would delete what the read missed; nothing was written, retry"})
		return args, nil
	}
	head := r.gen == GenerationHead
	refuse := func(rf Refusal) { p.refuseUnlessAccepted(rf, accept) }
	for _, a := range r.dev.Agents {
		dev, prod := r.devView(a), r.prodView(a.Slug)
		var cfg json.RawMessage
		var wantVersion string
		var extras map[string]*agentExtras
		switch {
		case dev.configured:
			cfg, wantVersion = devAgents[a.Slug], dev.version
			if rec != nil {
				extras = rec.dev
			}
		case prod.configured:
			cfg, wantVersion = prodAgents[a.Slug], prod.version
			if rec != nil {
				extras = rec.prod
			}
		default:
			continue // already refused by makePlan
		}
		if cfg == nil {
			p.Refusals = append(p.Refusals, Refusal{Slug: a.Slug, Kind: "agent", Reason: "missing from the pull state (partial read): nothing would be sent for it and the backend would delete it; retry"})
			continue
		}
		var v struct {
			Version string `json:"version"`
			Name    string `json:"name"`
		}
		if json.Unmarshal(cfg, &v) != nil || v.Version != wantVersion {
			p.Refusals = append(p.Refusals, Refusal{Slug: a.Slug, Kind: "agent", Reason: fmt.Sprintf("pull state has version %q but sync state has %q (the backend changed while reading); retry", v.Version, wantVersion)})
			continue
		}
		// One "name" sets both the configuration's name and the shared
		// agent's: sending it would rename the agent in every environment.
		if v.Name != a.Name {
			p.Refusals = append(p.Refusals, Refusal{Slug: a.Slug, Kind: "agent", Fields: []string{"name"}, Reason: fmt.Sprintf("its configuration is named %q but the agent %q; promoting it here would rename the agent in every environment: make the names agree (Sync sets both)", v.Name, a.Name)})
			continue
		}
		if head {
			var ex *agentExtras
			if rec != nil && rec.agentsWhy == "" {
				ex = extras[a.Slug]
			} else {
				why := "not returned by the pull state, and " + recoveryAgentsReason + " cannot be used"
				if rec != nil {
					why = "not returned by the pull state, and " + rec.agentsWhy
				}
				refuse(lossRefusal("agent", a.Slug, []Loss{LossFirstMessageSuggestions, LossThreadContextParams},
					why+"; re-sending the configuration would clear them in production if it has them"))
			}
			out := headAgent(a.Slug, cfg, ex, accept)
			p.Adjustments = append(p.Adjustments, out.adjustments...)
			p.Accepted = append(p.Accepted, out.accepted...)
			p.Refusals = append(p.Refusals, out.refusals...)
			if out.payload == nil {
				continue
			}
			cfg = out.payload
		}
		args.Agents = append(args.Agents, cfg)
	}
	// Roles: duplicates are collapsed by the backend (all but the first
	// deleted, with their policies and user assignments); stored values
	// the pull state cannot express would be lost.
	names := make([]string, 0, len(r.prod.Roles))
	for _, x := range r.prod.Roles {
		names = append(names, x.Name)
	}
	dups := duplicateNames(append(names, duplicateNames(fields(r.prodPull.Roles, "name"))...))
	for _, d := range dups {
		p.Refusals = append(p.Refusals, Refusal{Slug: d, Kind: "role", Reason: "production has several roles of this name; the promotion re-sends one and the backend deletes the others with their policies, scope rules, masks and user assignments: delete or rename the duplicates in production first"})
	}
	// Entity types are re-sent as production holds them; a client must
	// not send a slug twice (the backend would keep or re-create one of
	// them arbitrarily). When they are promoted, resourcePayload checks.
	if !p.promo.has(KindEntityType) {
		slugs := make([]string, 0, len(r.prod.EntityTypes))
		for _, e := range r.prod.EntityTypes {
			slugs = append(slugs, e.Slug)
		}
		for _, d := range duplicateNames(append(slugs, duplicateNames(fields(r.prodPull.EntityTypes, "slug"))...)) {
			p.Refusals = append(p.Refusals, Refusal{Slug: d, Kind: "entity type", Reason: "production has several entity types of this slug; the deploy re-sends production's entity types, and sending a slug twice would make the backend keep or re-create one of them arbitrarily: delete or rename the duplicates in production first"})
		}
	}
	for _, raw := range r.prodPull.Roles {
		var role pulledRole
		if err := json.Unmarshal(raw, &role); err != nil {
			return nil, &APIError{Op: op, Path: fnGetPullState, Message: "pull state lists a role that is not an object", kinds: []error{ErrMalformedResponse}}
		}
		if act, ok := p.resourceAction(KindRole, role.Name); ok && act != ResourceUnchanged {
			continue // development's role replaces it, or it is deleted (resourcePayload)
		}
		var hasPolicies struct {
			Policies []json.RawMessage `json:"policies"`
		}
		_ = json.Unmarshal(raw, &hasPolicies)
		switch {
		case rec == nil || rec.rolesWhy != "":
			why := recoveryRolesReason + " cannot be used"
			if rec != nil {
				why = rec.rolesWhy
			}
			var ls []Loss
			if head {
				ls = append(ls, LossAgentAccess)
			}
			if len(hasPolicies.Policies) > 0 {
				ls = append(ls, LossScopeRules, LossFieldMasks)
			}
			if len(ls) > 0 {
				refuse(lossRefusal("role", role.Name, ls, "not fully returned by the pull state, and "+why+"; Deploy cannot show the promotion keeps them"))
			}
		default:
			if ls, why := roleLosses(raw, rec.roleRows[role.Name]); len(ls) > 0 {
				refuse(lossRefusal("role", role.Name, ls, why))
			}
			if head {
				withAccess, err := withAgentAccess(raw, rec.roleAccess[role.Name])
				if err != nil {
					return nil, &APIError{Op: op, Path: fnGetPullState, Message: "pull state lists a role that is not an object", kinds: []error{ErrMalformedResponse}}
				}
				raw = withAccess
			}
		}
		args.Roles = append(args.Roles, raw)
	}
	if p.promo.on() {
		resourcePayload(p, args)
	}
	sort.SliceStable(p.Refusals, func(i, j int) bool { return p.Refusals[i].Slug < p.Refusals[j].Slug })
	return args, nil
}

// partialRead compares the pull states with the sync states read at the
// same time and describes the first disagreement, or returns "".
func partialRead(r *remote, devAgents, prodAgents map[string]json.RawMessage) string {
	if r.devPull.Agents == nil || r.prodPull.Agents == nil || r.prodPull.EntityTypes == nil || r.prodPull.Roles == nil {
		return "a pull state lacks its agents, entityTypes or roles list"
	}
	agents := make([]string, 0, len(r.dev.Agents))
	for _, a := range r.dev.Agents {
		agents = append(agents, a.Slug)
	}
	if !sameSet(agents, keys(devAgents)) || !sameSet(agents, keys(prodAgents)) {
		return "the pull states list other agents than the sync states"
	}
	return productionResourcesDisagree(r)
}

// productionResourcesDisagree compares the entity types and roles of
// production's pull state with its sync state and describes the first
// disagreement, or returns "".
func productionResourcesDisagree(r *remote) string {
	ets := make([]string, 0, len(r.prod.EntityTypes))
	for _, e := range r.prod.EntityTypes {
		ets = append(ets, e.Slug)
	}
	if !sameSet(ets, fields(r.prodPull.EntityTypes, "slug")) {
		return "production's pull state lists other entity types than its sync state"
	}
	roles := make([]string, 0, len(r.prod.Roles))
	for _, e := range r.prod.Roles {
		roles = append(roles, e.Name)
	}
	if !sameSet(roles, fields(r.prodPull.Roles, "name")) {
		return "production's pull state lists other roles than its sync state"
	}
	return ""
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// fields returns one string field of each JSON object ("" when absent).
func fields(raws []json.RawMessage, name string) []string {
	out := make([]string, 0, len(raws))
	for _, raw := range raws {
		var m map[string]json.RawMessage
		var s string
		if json.Unmarshal(raw, &m) == nil {
			_ = json.Unmarshal(m[name], &s)
		}
		out = append(out, s)
	}
	return out
}

// sameSet reports whether a and b hold the same strings, each once.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := make(map[string]int, len(a))
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x] == 0 {
			return false
		}
		seen[x]--
	}
	return true
}

// syncChanges is one kind's part of a syncOrganization result.
type syncChanges struct {
	Created   []string `json:"created"`
	Updated   []string `json:"updated"`
	Deleted   []string `json:"deleted"`
	Preserved []string `json:"preserved"`
	Skipped   []string `json:"skipped"`
}

// wireSyncResult is syncOrganization's value.
type wireSyncResult struct {
	Success                bool         `json:"success"`
	EntityTypes            syncChanges  `json:"entityTypes"`
	Roles                  syncChanges  `json:"roles"`
	Agents                 syncChanges  `json:"agents"`
	EvalSuites             *syncChanges `json:"evalSuites"`
	Triggers               *syncChanges `json:"triggers"`
	PackResourcesPreserved bool         `json:"packResourcesPreserved"`
}

// promotionResult is syncOrganization's value as a deploy checks it: the
// lists must be there, or the outcome of the write is unknown.
type promotionResult struct {
	Success     bool             `json:"success"`
	Agents      *promotedChanges `json:"agents"`
	EntityTypes *promotedChanges `json:"entityTypes"`
	Roles       *promotedChanges `json:"roles"`
	Triggers    *promotedChanges `json:"triggers"`
}

type promotedChanges struct {
	Created *[]string `json:"created"`
	Updated *[]string `json:"updated"`
	Deleted *[]string `json:"deleted"`
}

func (c *Client) deployClient(ctx context.Context, op string, p *Plan, res *DeployResult) error {
	var out promotionResult
	if err := c.exchange(ctx, op, Production, convex.Mutation, fnSyncOrganization, p.promotion, &out); err != nil {
		return err
	}
	for _, a := range p.Deploy {
		res.Deployed = append(res.Deployed, a.Slug)
	}
	res.Skipped = append(res.Skipped, p.Skip...)
	if !out.Success || out.Agents == nil || out.EntityTypes == nil || out.Roles == nil {
		return &VerificationError{Op: op, Result: res, Mismatches: []Refusal{{Reason: "the backend's answer to the promotion lacks success or its agents, entityTypes or roles lists, so what it wrote is unknown: check production (Status) before deploying again"}},
			Err: &APIError{Op: op, Path: fnSyncOrganization, HTTPStatus: 200, Message: "syncOrganization result without success or its lists", kinds: []error{ErrMalformedResponse}}}
	}
	sent := func(list []json.RawMessage, key string) map[string]bool {
		m := map[string]bool{}
		for _, s := range fields(list, key) {
			m[s] = true
		}
		return m
	}
	bad := unintended("agent", out.Agents, sent(p.promotion.Agents, "slug"), nil,
		"it was created after the deploy read the backend (a concurrent change), and the backend deleted it with its configurations in every environment: re-create it (Sync) and deploy again",
		"it was deleted after the deploy read the backend (a concurrent change), and the promotion re-created it: delete it again if that was intended")
	bad = append(bad, unintended("entity type", out.EntityTypes, sent(p.promotion.EntityTypes, "slug"), p.plannedActions(KindEntityType),
		"it was created in production after the deploy read it, and the backend deleted it (its entities are kept): re-create it",
		"it was deleted from production after the deploy read it, and the promotion re-created it: delete it again if that was intended")...)
	bad = append(bad, unintended("role", out.Roles, sent(p.promotion.Roles, "name"), p.plannedActions(KindRole),
		"it was created in production after the deploy read it, and the backend deleted it with its policies and user assignments: re-create it",
		"it was deleted from production after the deploy read it, and the promotion re-created it: delete it again if that was intended")...)
	if p.promotion.Triggers != nil {
		if out.Triggers == nil {
			bad = append(bad, Refusal{Kind: "trigger", Reason: "the backend's answer to the promotion lacks its triggers list, so what it did to production's triggers is unknown: check them in the dashboard"})
		} else {
			bad = append(bad, unintended("trigger", out.Triggers, sent(p.promotion.Triggers, "slug"), p.plannedActions(KindTrigger),
				"it was not listed by production's state queries, which show enabled triggers only: a disabled production trigger (or one created after the deploy read production), now hard-deleted; re-create it if it was wanted",
				"it was deleted from production after the deploy read it, and the promotion re-created it: delete it again if that was intended",
				"production held a trigger of this slug that the state queries did not list (a disabled one, which stays disabled, or one created concurrently): check that it is enabled")...)
		}
	}
	if len(bad) > 0 {
		return &VerificationError{Op: op, Result: res, Mismatches: bad}
	}
	return nil
}

// plannedActions indexes the plan's resources of one kind by name.
func (p *Plan) plannedActions(kind ResourceKind) map[string]ResourceAction {
	out := map[string]ResourceAction{}
	for _, r := range p.Resources {
		if r.Kind == kind {
			out[r.Name] = r.Action
		}
	}
	return out
}

// unintended compares what the backend reports with what the promotion
// meant: every item sent is updated, except those planned as created,
// which must be reported created; none is deleted except those planned as
// deleted, which must be. For a created one reported updated, ifUpdated
// says why; for an unplanned deletion, ifDeleted; for an unplanned
// creation, ifCreated.
func unintended(kind string, ch *promotedChanges, sent map[string]bool, planned map[string]ResourceAction, ifDeleted, ifCreated string, ifUpdated ...string) []Refusal {
	var bad []Refusal
	seen := map[string]bool{}
	for _, s := range deref(ch.Deleted) {
		seen[s] = true
		if planned[s] == ResourceDelete {
			continue
		}
		bad = append(bad, Refusal{Slug: s, Kind: kind, Reason: fmt.Sprintf("the backend reported %s %q deleted: %s", kind, s, ifDeleted)})
	}
	for _, s := range deref(ch.Created) {
		seen[s] = true
		if planned[s] == ResourceCreate {
			continue
		}
		bad = append(bad, Refusal{Slug: s, Kind: kind, Reason: fmt.Sprintf("the backend reported %s %q created: %s", kind, s, ifCreated)})
	}
	for _, s := range deref(ch.Updated) {
		seen[s] = true
		switch {
		case !sent[s]:
			bad = append(bad, Refusal{Slug: s, Kind: kind, Reason: fmt.Sprintf("the backend reported %s %q updated, which the promotion did not send: check it in production", kind, s)})
		case planned[s] == ResourceCreate:
			why := "it existed in production although the deploy did not read it (created concurrently): check it"
			if len(ifUpdated) > 0 {
				why = ifUpdated[0]
			}
			bad = append(bad, Refusal{Slug: s, Kind: kind, Reason: fmt.Sprintf("the backend reported %s %q updated, where the deploy meant to create it: %s", kind, s, why)})
		}
	}
	for _, s := range sortedKeys(planned) {
		if !seen[s] && (planned[s] == ResourceDelete || planned[s] == ResourceCreate) {
			bad = append(bad, Refusal{Slug: s, Kind: kind, Reason: fmt.Sprintf("the backend did not report %s %q %sd, as the deploy meant: check it in production", kind, s, planned[s])})
		}
	}
	return bad
}

func deref(p *[]string) []string {
	if p == nil {
		return nil
	}
	return *p
}
