package struere

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/struere/struere-go/internal/convex"
)

// Rollback restores production to what it held before the deploy that
// returned rel, for everything that deploy changed: each agent's
// production configuration, and each entity type, role and trigger the
// deploy promoted, is written back with the content the release recorded.
// Production's other agents and resources are sent back as they are now,
// so they do not change. A rollback is a deploy of recorded content, and
// speaks the deploy's vocabulary: the result is a *DeployResult whose Plan
// has Op "rollback", with the agents restored in Plan.Deploy (Version is
// the recorded version production will serve again, Before what it serves
// now) and the release's entity types, roles and triggers in
// Plan.Resources (ResourceUpdate: written back with the recorded content;
// ResourceDelete: it did not exist before the deploy and is deleted;
// ResourceCreate: the deploy deleted it and it is re-created). Plan.Diffs
// compare production now (before) with the release's record (after).
//
// Before writing, production is read and must still hold, for every item
// of the release, exactly the content the deploy left (compared in full,
// not by version); if anything changed since — another deploy, a sync to
// production, a dashboard edit — the rollback is refused with an error
// matching ErrStalePlan and ErrRefused that names each changed item and
// field, and nothing is written (a dry run's Plan.Refusals name them
// too). The same refusals and loss rules as Deploy apply to everything
// sent (values the backend cannot take back exactly are refused unless
// accepted with AcceptLoss), the backend is read again immediately before
// writing, and production is read back afterwards and compared with the
// record; a difference is a *VerificationError (ErrVerificationFailed)
// whose Result is the rollback's result. Rollbacks, Deploys and Syncs of
// one Client never overlap.
//
// The result's Deployed lists the agents restored, Verified says that
// production read back as the release recorded, and Release records what
// this rollback changed (production as the rollback found it, and as it
// left it): passing it to Rollback undoes the rollback.
//
// An agent that had no production configuration before the deploy cannot
// be rolled back: the backend has no function that removes one
// environment's configuration of an agent (deleting an agent removes it,
// with its configurations, from every environment), so the rollback is
// refused and names it. Likewise every agent of the organization must
// have a production configuration, since a production sync must list
// every agent and would give one to any agent it lists. Entity types,
// roles and triggers the deploy created are deleted from production.
//
// Options: DryRun returns the plan and writes nothing; AcceptLoss accepts
// named losses as for Deploy; SkipVerification skips the read-back;
// WithSmokeTest, as for Deploy, checks the production key before anything
// is written and, after the rollback is verified (with SkipVerification:
// once it is written), sends each check's message (without checks, DefaultSmokeMessage to every agent restored):
// results are in the result's Smoke, and a failed check returns the
// result with a *SmokeTestError. Other deploy options are refused with
// ErrValidation, PromoteResources and AllowResourceDeletions included:
// what a rollback restores is what the release records. A release with no items has nothing to roll back: it
// is refused with ErrValidation and nothing is written (a production sync
// restoring nothing would still have its side effects).
//
// The release must come from a deploy (or rollback) on this backend
// generation, of the organization this client is configured for, and pass
// Validate; otherwise the rollback fails with ErrValidation and writes
// nothing. When the deploy or this client has no configured organization
// (the credentials' default one, or API keys, which carry their own), the
// organizations cannot be compared, and the content comparison is what
// refuses a release of another organization. On the oldest backend, which
// does not serve production content, rollback is not possible:
// ErrUnsupported.
func (c *Client) Rollback(ctx context.Context, rel *Release, opts ...DeployOption) (*DeployResult, error) {
	const op = opRollback
	if ctx == nil {
		return nil, nilContext(op)
	}
	var o deployOptions
	for _, opt := range opts {
		opt.applyDeploy(&o)
	}
	if o.plan != nil || o.local != nil || o.evals != nil {
		return nil, fmt.Errorf("struere: %s: only DryRun, AcceptLoss, SkipVerification and WithSmokeTest apply to a rollback (WithPlan, WithLocal and GateOnEvals do not: what it writes is the release's record, not development): %w", op, ErrValidation)
	}
	if o.resourcesSet || o.allowResourceDeletions {
		return nil, fmt.Errorf("struere: %s: PromoteResources and AllowResourceDeletions do not apply to a rollback: it restores exactly the agents, entity types, roles and triggers the release records (those the deploy changed), and deletes only those the deploy created: %w", op, ErrValidation)
	}
	if err := rel.Validate(); err != nil {
		return nil, wrapOp(op, err)
	}
	if len(rel.Items) == 0 {
		return nil, fmt.Errorf("struere: %s: the release records no items (the deploy changed nothing in production): nothing to roll back, nothing was written: %w", op, ErrValidation)
	}
	relGen, _ := generationByName(rel.Generation)
	if relGen == GenerationE1 || rel.ContentUnavailable != "" {
		why := rel.ContentUnavailable
		if why == "" {
			why = "the release records no production content"
		}
		return nil, fmt.Errorf("struere: %s: %s; production content cannot be restored without it: %w", op, why, ErrUnsupported)
	}
	if rel.OrganizationID != "" && c.s.org != "" && rel.OrganizationID != c.s.org {
		return nil, fmt.Errorf("struere: %s: the release is of organization %q but this client is configured for %q: use a client of the release's organization: %w", op, rel.OrganizationID, c.s.org, ErrValidation)
	}
	if o.smoke != nil {
		if err := o.smoke.validate(op); err != nil {
			return nil, err
		}
		if err := c.verifySmokeKey(ctx, op, o.smoke); err != nil {
			return nil, err
		}
	}
	gen, err := c.DetectGeneration(ctx)
	if err != nil {
		return nil, err
	}
	if gen == GenerationE1 {
		return nil, fmt.Errorf("struere: %s: this backend (e1) does not serve production configurations, so production cannot be compared with the release or restored exactly: %w", op, ErrUnsupported)
	}
	if gen != relGen {
		return nil, fmt.Errorf("struere: %s: the release was recorded on a %s backend, this one is %s: content of one generation cannot be sent to another: %w", op, relGen, gen, ErrValidation)
	}
	if rel.AfterUnknown != "" {
		return nil, &RefusedError{Op: op, kind: ErrStalePlan, Refusals: []Refusal{{Reason: "the release does not record what the deploy left (" + rel.AfterUnknown + "), so nothing shows production is still as the deploy left it"}}}
	}
	unlock, err := c.exclusive(ctx, op)
	if err != nil {
		return nil, err
	}
	defer unlock()
	now, r, rec, err := c.readProductionFull(ctx, op, gen)
	if err != nil {
		return nil, err
	}
	plan, args, stale, err := c.rollbackPlan(op, rel, r, rec, now, o.accept)
	if err != nil {
		return nil, err
	}
	res := &DeployResult{DryRun: o.dryRun, Environment: Production, Generation: gen, Method: plan.Method, Plan: plan,
		Deployed: []string{}, Unchanged: []string{}, Skipped: []SkippedAgent{}}
	if o.dryRun {
		return res, nil
	}
	if len(plan.Refusals) > len(stale) {
		// What cannot be done is said first; what changed is named too.
		return nil, &RefusedError{Op: op, kind: ErrRefused, Refusals: plan.Refusals}
	}
	if len(stale) > 0 {
		return nil, &RefusedError{Op: op, kind: ErrStalePlan, Refusals: stale}
	}
	if err := c.recheck(ctx, op, r, rec, &Plan{}); err != nil {
		return nil, err
	}
	keys := make([]itemKey, 0, len(rel.Items))
	for _, it := range rel.Items {
		keys = append(keys, itemKey{it.Kind, it.Name})
	}
	wroteAt := time.Now()
	if err := c.rollbackWrite(ctx, op, r, args); err != nil {
		var verr *VerificationError
		if !errors.As(err, &verr) {
			return nil, err
		}
		// Written, but not as meant: record what production holds now.
		res.Deployed = plannedSlugs(plan)
		res.Release = c.newRelease(ctx, op, r, rec, plan.Method, keys, wroteAt)
		verr.Result = res
		return res, err
	}
	res.Deployed = plannedSlugs(plan)
	if o.noVerify {
		res.Release = c.newRelease(ctx, op, r, rec, plan.Method, keys, wroteAt)
	} else {
		got, err := c.readProduction(ctx, op+": verify", gen)
		res.Release = c.recordRelease(op, r, rec, plan.Method, keys, wroteAt, got, err)
		if err != nil {
			return res, &VerificationError{Op: op, Result: res, Err: err,
				Mismatches: []Refusal{{Reason: "production could not be read back after the rollback: " + err.Error()}}}
		}
		if bad := rollbackMismatches(gen, rel, now, got); len(bad) > 0 {
			return res, &VerificationError{Op: op, Result: res, Mismatches: bad}
		}
		res.Verified = true
	}
	if o.smoke != nil {
		if err := c.runSmoke(ctx, op, o.smoke, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// plannedSlugs are the slugs of the plan's agents to promote or restore.
func plannedSlugs(p *Plan) []string {
	out := make([]string, 0, len(p.Deploy))
	for _, a := range p.Deploy {
		out = append(out, a.Slug)
	}
	return out
}

// rollbackPlan compares production now with the release and builds the
// plan and the payload. stale are the refusals for items production
// changed since the deploy; the plan's Refusals end with them.
func (c *Client) rollbackPlan(op string, rel *Release, r *remote, rec *recovery, now *snapshot, accept map[Loss]bool) (p *Plan, args *promotionArgs, stale []Refusal, err error) {
	p = &Plan{Generation: r.gen, Op: opRollback, Method: promoteClient, OrganizationID: c.s.org,
		Deploy: []PlannedAgent{}, Unchanged: []PlannedAgent{}, Skip: []SkippedAgent{}, Diffs: Diffs{}}
	prodAgents, err := r.pulledAgents(op, r.prodPull)
	if err != nil {
		return nil, nil, nil, err
	}
	target := map[itemKey]*ReleaseItem{}
	head := r.gen == GenerationHead
	refuse := func(rf Refusal) { p.refuseUnlessAccepted(rf, accept) }
	for i := range rel.Items {
		it := &rel.Items[i]
		k := itemKey{it.Kind, it.Name}
		target[k] = it
		cur := now.items[k]
		compared, comparable := cur, true
		switch unread := lossKeys(now.missing[k]); {
		case len(cur) > 0 && len(unread) > 0 && !recordedWithout(it, unread):
			// The release holds values these credentials cannot read:
			// production cannot be compared with it.
			why := "these credentials cannot use the dashboard queries that return them"
			switch {
			case rec != nil && it.Kind == KindAgent && rec.agentsWhy != "":
				why = rec.agentsWhy
			case rec != nil && it.Kind == KindRole && rec.rolesWhy != "":
				why = rec.rolesWhy
			}
			p.Refusals = append(p.Refusals, Refusal{Slug: it.Name, Kind: kindLabel(it.Kind), Fields: unread,
				Reason: fmt.Sprintf("%s could not be read (the pull state omits them, and %s), but the release records them: the rollback cannot show that production is still what the deploy left; retry, or roll back with a user token of an organization admin", strings.Join(unread, " and "), why)})
			comparable = false
		case len(cur) > 0 && len(it.Missing) > 0:
			// The release could not record these: compare without them.
			compared = withoutKeys(cur, lossKeys(it.Missing))
		}
		if comparable && contentDigest(compared) != it.AfterDigest {
			stale = append(stale, staleRefusal(k, it.After, compared))
		}
		d, derr := diffItem(it.Kind, it.Name, cur, it.Before)
		if derr == nil && d != nil {
			p.Diffs = append(p.Diffs, *d)
		}
		switch {
		case it.Kind == KindAgent && len(it.Before) > 0:
			prod := r.prodView(it.Name)
			before := Presence{Present: prod.configured, Version: prod.version}
			if prod.configured {
				before.Digest = pulledDigest(prodAgents[it.Name])
			}
			p.Deploy = append(p.Deploy, PlannedAgent{Slug: it.Name, Version: fields([]json.RawMessage{it.Before}, "version")[0], Before: before})
		case it.Kind != KindAgent:
			pr := PlannedResource{Kind: it.Kind, Name: it.Name, Action: ResourceUpdate, before: cur, after: it.Before}
			switch {
			case len(it.Before) == 0:
				pr.Action = ResourceDelete
			case len(cur) == 0:
				pr.Action = ResourceCreate
			case derr == nil && d != nil:
				pr.Fields = topFields(d)
			}
			p.Resources = append(p.Resources, pr)
			if !slices.Contains(p.PromotedKinds, it.Kind) {
				p.PromotedKinds = append(p.PromotedKinds, it.Kind)
			}
		}
		if len(it.Before) > 0 && len(it.Missing) > 0 {
			refuse(lossRefusalTo("roll back", kindLabel(it.Kind), it.Name, it.Missing, "not recorded by the release ("+unrecordedWhy(it.Missing)+"); restoring it would clear them in production"))
		}
		if it.Kind == KindAgent && len(it.Before) == 0 {
			p.Refusals = append(p.Refusals, Refusal{Slug: it.Name, Kind: "agent", Reason: "it had no production configuration before the deploy, and the backend has no function that removes only one environment's configuration of an agent (deleting the agent removes it from every environment): it cannot be rolled back; deploy a fixed configuration instead, or delete the agent (Sync without it) if that is intended"})
		}
	}
	args = &promotionArgs{OrganizationID: c.s.org, Environment: Production, Agents: []json.RawMessage{}, EntityTypes: []json.RawMessage{}, Roles: []json.RawMessage{}}
	if why := productionPartial(r); why != "" {
		p.Refusals = append(p.Refusals, Refusal{Reason: why + ": the rollback would delete what the read missed; nothing was written, retry"})
	}
	// Agents: every agent of the organization, or the backend deletes it.
	devNames := map[string]string{}
	for _, a := range r.dev.Agents {
		devNames[a.Slug] = a.Name
	}
	for _, a := range r.dev.Agents {
		k := itemKey{KindAgent, a.Slug}
		cfg := now.items[k]
		if it := target[k]; it != nil {
			if len(it.Before) == 0 {
				continue // refused above
			}
			cfg = it.Before
		} else if cfg == nil {
			p.Refusals = append(p.Refusals, Refusal{Slug: a.Slug, Kind: "agent", Reason: "it has no production configuration; a production sync must list every agent of the organization (one left out is deleted in every environment) and would give it one: deploy it, or delete it (Sync without it), then roll back"})
			continue
		} else if ls := now.missing[k]; len(ls) > 0 {
			why := "not returned by the pull state, and " + recoveryAgentsReason + " cannot be used"
			if rec != nil && rec.agentsWhy != "" {
				why = "not returned by the pull state, and " + rec.agentsWhy
			}
			refuse(lossRefusalTo("roll back", "agent", a.Slug, ls, why+"; re-sending the configuration would clear them in production if it has them"))
		}
		var v struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(cfg, &v) != nil || v.Name != devNames[a.Slug] {
			p.Refusals = append(p.Refusals, Refusal{Slug: a.Slug, Kind: "agent", Fields: []string{"name"}, Reason: fmt.Sprintf("the configuration to send is named %q but the agent %q; sending it would rename the agent in every environment: make the names agree first", v.Name, devNames[a.Slug])})
			continue
		}
		if head {
			out := headAgent(a.Slug, cfg, nil, accept)
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
	// Resources: production's as they are now, with the release's items
	// put back (or left out, when they did not exist before).
	resources := func(kind ResourceKind, list []json.RawMessage, key string) []json.RawMessage {
		out := []json.RawMessage{}
		have := map[string]bool{}
		for _, name := range fields(list, key) {
			k := itemKey{kind, name}
			have[name] = true
			it := target[k]
			switch {
			case it == nil:
				if ls := now.missing[k]; len(ls) > 0 {
					why := recoveryRolesReason + " cannot be used"
					if rec != nil && rec.rolesWhy != "" {
						why = rec.rolesWhy
					}
					refuse(lossRefusalTo("roll back", kindLabel(kind), name, ls, "not returned by the pull state, and "+why+"; re-sending it would clear it"))
				}
				out = append(out, now.items[k])
			case len(it.Before) > 0:
				out = append(out, it.Before)
			}
		}
		for _, it := range rel.Items {
			if it.Kind == kind && !have[it.Name] && len(it.Before) > 0 {
				out = append(out, it.Before) // deleted since: the stale check refuses it
			}
		}
		return out
	}
	args.EntityTypes = resources(KindEntityType, r.prodPull.EntityTypes, "slug")
	args.Roles = resources(KindRole, r.prodPull.Roles, "name")
	if rec != nil && rec.rolesWhy == "" {
		for _, raw := range r.prodPull.Roles {
			name := fields([]json.RawMessage{raw}, "name")[0]
			if target[itemKey{KindRole, name}] != nil {
				// The stale check compares the role in the pull state's
				// form, which cannot show these: a change to them since
				// the deploy would pass it, and restoring drops them.
				if ls, why := roleLosses(raw, rec.roleRows[name]); len(ls) > 0 {
					refuse(lossRefusalTo("roll back", "role", name, ls, why+"; the rollback compares the role with what the deploy left in the pull state's form, which cannot show them, so it cannot show they are unchanged since the deploy, and restoring the recorded role drops them"))
				}
				continue
			}
			if ls, why := roleLosses(raw, rec.roleRows[name]); len(ls) > 0 {
				refuse(lossRefusalTo("roll back", "role", name, ls, why))
			}
		}
	} else if len(r.prodPull.Roles) > 0 {
		ls := []Loss{LossScopeRules, LossFieldMasks}
		why := recoveryRolesReason + " cannot be used"
		if rec != nil {
			why = rec.rolesWhy
		}
		refuse(lossRefusalTo("roll back", "role", "", ls, "production roles are not fully returned by the pull state, and "+why+"; the rollback cannot show that re-sending them keeps them"))
	}
	for _, d := range duplicateNames(fields(r.prodPull.EntityTypes, "slug")) {
		p.Refusals = append(p.Refusals, Refusal{Slug: d, Kind: "entity type", Reason: "production has several entity types of this slug; the rollback re-sends production's entity types, and sending a slug twice would make the backend keep or re-create one of them arbitrarily: delete or rename the duplicates in production first"})
	}
	for _, d := range duplicateNames(fields(r.prodPull.Roles, "name")) {
		p.Refusals = append(p.Refusals, Refusal{Slug: d, Kind: "role", Reason: "production has several roles of this name; the rollback re-sends one and the backend deletes the others with their policies, scope rules, masks and user assignments: delete or rename the duplicates in production first"})
	}
	hasTrigger := false
	for _, it := range rel.Items {
		hasTrigger = hasTrigger || it.Kind == KindTrigger
	}
	if hasTrigger {
		args.Triggers = resources(KindTrigger, r.prodPull.Triggers, "slug")
		if len(args.Triggers) == 0 {
			p.Refusals = append(p.Refusals, Refusal{Kind: "trigger", Reason: "the rollback would leave production without triggers, and the backend leaves triggers untouched when the list sent is empty: delete the remaining trigger in the dashboard instead"})
		}
	}
	p.SideEffects = sideEffectsFor(r, fields(args.Roles, "name"))
	if args.Triggers != nil {
		p.SideEffects = append(p.SideEffects, "the rollback sends production's triggers (the release holds one): the backend's state queries list enabled triggers only, so a disabled production trigger cannot be seen, and sending triggers hard-deletes it; the rollback's result names any trigger the backend deleted unexpectedly")
	}
	sortRefusals := func(rs []Refusal) {
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].Slug < rs[j].Slug })
	}
	sortRefusals(p.Refusals)
	sortRefusals(stale)
	p.Refusals = append(p.Refusals, stale...)
	if p.Fingerprint, err = fingerprint(r, resourcePromotion{}); err != nil {
		return nil, nil, nil, err
	}
	return p, args, stale, nil
}

// staleReason begins the reason of every refusal for an item production
// changed since the release's deploy (Plan.Refusals documents it).
const staleReason = "production changed since the deploy"

// staleRefusal describes how production's content of an item differs from
// what the deploy left.
func staleRefusal(k itemKey, left, now json.RawMessage) Refusal {
	rf := Refusal{Slug: k.name, Kind: kindLabel(k.kind)}
	switch {
	case len(now) == 0:
		rf.Reason = fmt.Sprintf(staleReason+": %s is gone (the deploy left version %s)", k, contentVersion(left))
	case len(left) == 0:
		rf.Reason = fmt.Sprintf(staleReason+": %s was created", k)
	default:
		var fs []string
		if d, err := diffItem(k.kind, k.name, left, now); err == nil && d != nil {
			for _, f := range d.Fields {
				fs = append(fs, f.Path)
			}
		}
		rf.Fields = fs
		what := "its content differs"
		if len(fs) > 0 {
			what = "changed " + strings.Join(fs, ", ")
		}
		rf.Reason = fmt.Sprintf(staleReason+": %s is at version %s (the deploy left %s), %s", k, contentVersion(now), contentVersion(left), what)
	}
	rf.Reason += "; nothing was written: deploy again or record a new release, or restore it by hand"
	return rf
}

// productionPartial compares production's pull state with its sync state
// and describes the first disagreement, or returns "".
func productionPartial(r *remote) string {
	agents, err := r.pulledAgents("rollback", r.prodPull)
	if err != nil || r.prodPull.EntityTypes == nil || r.prodPull.Roles == nil {
		return "production's pull state lacks its agents, entityTypes or roles list"
	}
	slugs := make([]string, 0, len(r.dev.Agents))
	for _, a := range r.dev.Agents {
		slugs = append(slugs, a.Slug)
	}
	if !sameSet(slugs, keys(agents)) {
		return "the pull state lists other agents than the sync state"
	}
	return productionResourcesDisagree(r)
}

// rollbackWrite sends the rollback and checks the backend's account of it:
// every agent sent updated, none created or deleted; resources deleted or
// created exactly as planned.
func (c *Client) rollbackWrite(ctx context.Context, op string, r *remote, args *promotionArgs) error {
	var out struct {
		promotionResult
		Triggers *promotedChanges `json:"triggers"`
	}
	if err := c.exchange(ctx, op, Production, convex.Mutation, fnSyncOrganization, args, &out); err != nil {
		return err
	}
	if !out.Success || out.Agents == nil || out.EntityTypes == nil || out.Roles == nil || (args.Triggers != nil && out.Triggers == nil) {
		return &VerificationError{Op: op, Mismatches: []Refusal{{Reason: "the backend's answer to the rollback lacks success or its agents, entityTypes or roles lists, so what it wrote is unknown: check production (Status) before trying again"}},
			Err: &APIError{Op: op, Path: fnSyncOrganization, HTTPStatus: 200, Message: "syncOrganization result without success or its lists", kinds: []error{ErrMalformedResponse}}}
	}
	expect := func(kind ResourceKind, ch *promotedChanges, sent []json.RawMessage, key string, before []json.RawMessage) []Refusal {
		was := map[string]bool{}
		for _, n := range fields(before, key) {
			was[n] = true
		}
		send := map[string]bool{}
		for _, n := range fields(sent, key) {
			send[n] = true
		}
		var bad []Refusal
		for _, s := range deref(ch.Deleted) {
			if !was[s] || send[s] {
				bad = append(bad, Refusal{Slug: s, Kind: kindLabel(kind), Reason: fmt.Sprintf("the backend reported %s %q deleted, which the rollback did not mean to delete (a concurrent change): check production", kindLabel(kind), s)})
			}
		}
		for _, s := range deref(ch.Created) {
			if was[s] || !send[s] || kind == KindAgent {
				bad = append(bad, Refusal{Slug: s, Kind: kindLabel(kind), Reason: fmt.Sprintf("the backend reported %s %q created, which the rollback did not mean to create (a concurrent change): check production", kindLabel(kind), s)})
			}
		}
		for _, s := range deref(ch.Updated) {
			if !send[s] {
				bad = append(bad, Refusal{Slug: s, Kind: kindLabel(kind), Reason: fmt.Sprintf("the backend reported %s %q updated, which the rollback did not send: check it in production", kindLabel(kind), s)})
			}
		}
		return bad
	}
	agentsBefore, _ := r.pulledAgents(op, r.prodPull)
	var agentList []json.RawMessage
	for _, slug := range sortedKeys(agentsBefore) {
		agentList = append(agentList, agentsBefore[slug])
	}
	bad := expect(KindAgent, out.Agents, args.Agents, "slug", agentList)
	bad = append(bad, expect(KindEntityType, out.EntityTypes, args.EntityTypes, "slug", r.prodPull.EntityTypes)...)
	bad = append(bad, expect(KindRole, out.Roles, args.Roles, "name", r.prodPull.Roles)...)
	if args.Triggers != nil {
		bad = append(bad, expect(KindTrigger, out.Triggers, args.Triggers, "slug", r.prodPull.Triggers)...)
	}
	if len(bad) > 0 {
		return &VerificationError{Op: op, Mismatches: bad}
	}
	return nil
}

// rollbackMismatches compares production read back after a rollback (got)
// with what it meant: every release item holds the content the rollback
// sent (the release's before, as the backend accepts it), and every other
// item what it held before the rollback (was).
func rollbackMismatches(gen Generation, rel *Release, was, got *snapshot) []Refusal {
	shape := func(k itemKey, raw json.RawMessage) json.RawMessage {
		if raw == nil || k.kind != KindAgent || gen != GenerationHead {
			return raw
		}
		return headAgent(k.name, raw, nil, nil).payload
	}
	var bad []Refusal
	var unread unreadNotes
	// Fields either side lacks are not compared (known: the fields the
	// expected side could not hold); those only the read-back could not
	// recover are said.
	readable := func(k itemKey, want, have json.RawMessage, known []Loss) (json.RawMessage, json.RawMessage) {
		if len(have) == 0 {
			return want, have
		}
		unread.add(k, unreadKeys(known, got.missing[k]), got.why[k.kind])
		keys := lossKeys(append(append([]Loss(nil), known...), got.missing[k]...))
		if len(keys) == 0 {
			return want, have
		}
		if len(want) > 0 {
			want = withoutKeys(want, keys)
		}
		return want, withoutKeys(have, keys)
	}
	target := map[itemKey]bool{}
	for _, it := range rel.Items {
		k := itemKey{it.Kind, it.Name}
		target[k] = true
		before, after := readable(k, it.Before, got.items[k], it.Missing)
		want, have := shape(k, before), shape(k, after)
		switch {
		case len(want) == 0 && len(have) > 0:
			bad = append(bad, Refusal{Slug: it.Name, Kind: kindLabel(it.Kind), Reason: fmt.Sprintf("%s is still in production after the rollback", k)})
		case len(want) > 0 && len(have) == 0:
			bad = append(bad, Refusal{Slug: it.Name, Kind: kindLabel(it.Kind), Reason: fmt.Sprintf("%s is not in production after the rollback", k)})
		case len(want) > 0 && !sameJSON(want, have):
			bad = append(bad, staleMismatch(k, want, have))
		}
	}
	for k, before := range was.items {
		if target[k] {
			continue
		}
		b, have := readable(k, before, got.items[k], was.missing[k])
		if have == nil || !sameJSON(shape(k, b), shape(k, have)) {
			bad = append(bad, Refusal{Slug: k.name, Kind: kindLabel(k.kind), Reason: fmt.Sprintf("%s, which the rollback re-sent unchanged, differs after it", k)})
		}
	}
	sort.SliceStable(bad, func(i, j int) bool { return bad[i].Slug < bad[j].Slug })
	return append(bad, unread.refusals("after the rollback")...)
}

func staleMismatch(k itemKey, want, have json.RawMessage) Refusal {
	rf := Refusal{Slug: k.name, Kind: kindLabel(k.kind)}
	if d, err := diffItem(k.kind, k.name, want, have); err == nil && d != nil {
		for _, f := range d.Fields {
			rf.Fields = append(rf.Fields, f.Path)
		}
	}
	rf.Reason = fmt.Sprintf("%s differs from the release's record after the rollback (%s)", k, strings.Join(rf.Fields, ", "))
	return rf
}

// lossKeys are the content keys of the losses that name one (the fields a
// read could not recover), sorted.
func lossKeys(ls []Loss) []string {
	var out []string
	for _, l := range ls {
		switch l {
		case LossFirstMessageSuggestions, LossThreadContextParams, LossAgentAccess:
			out = append(out, string(l))
		}
	}
	sort.Strings(out)
	return out
}

// recordedWithout reports whether the release item lacks every key named
// (it could not read them either).
func recordedWithout(it *ReleaseItem, keys []string) bool {
	have := lossKeys(it.Missing)
	for _, k := range keys {
		if !slices.Contains(have, k) {
			return false
		}
	}
	return true
}

// withoutKeys returns the content object without the keys named.
func withoutKeys(raw json.RawMessage, keys []string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return raw
	}
	for _, k := range keys {
		delete(m, k)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return b
}

// unrecordedWhy says why a release lacks the values of losses: agent
// fields and agentAccess could not be read before the deploy; scope rules
// and masks were read, but the release records a role in the form the
// pull state returns, which cannot carry them.
func unrecordedWhy(losses []Loss) string {
	var unread, uncarried bool
	for _, l := range losses {
		if l == LossScopeRules || l == LossFieldMasks {
			uncarried = true
		} else {
			unread = true
		}
	}
	switch {
	case unread && uncarried:
		return "some could not be read before the deploy; the others are stored in a form the recorded role, shaped like the pull state, cannot carry"
	case uncarried:
		return "they are stored in a form the recorded role, shaped like the pull state, cannot carry"
	}
	return "they could not be read before the deploy"
}

// rollbackString is Plan.String for a rollback's plan: one line per agent
// and resource restored or deleted, production's version now -> after.
func (p *Plan) rollbackString() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Rollback plan (backend %s)\n", p.Generation)
	for _, it := range p.rollbackLines() {
		line := fmt.Sprintf("  %-7s %-11s %-24s %s -> %s", it.action, it.kind, it.name, it.from, it.to)
		if len(it.fields) > 0 {
			line += " (" + strings.Join(it.fields, ", ") + ")"
		}
		b.WriteString(line + "\n")
	}
	p.detailLines(&b)
	if len(p.Diffs) > 0 {
		b.WriteString("\nChanges to production (before: production now, after: the release's record):\n")
		b.WriteString(p.Diffs.String())
	}
	return b.String()
}

// rollbackMarkdown is Plan.Markdown for a rollback's plan.
func (p *Plan) rollbackMarkdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Struere rollback plan\n\nBackend %s: production gets back the release's recorded content.\n\n", p.Generation)
	if lines := p.rollbackLines(); len(lines)+len(p.Refusals) > 0 {
		mdRow(&b, "Item", "Kind", "Production now", "After the rollback", "Action")
		mdRow(&b, "---", "---", "---", "---", "---")
		for _, it := range lines {
			action := it.action
			if len(it.fields) > 0 {
				action += " (" + strings.Join(it.fields, ", ") + ")"
			}
			mdRow(&b, mdCode(it.name), it.kind, it.from, it.to, action)
		}
		for _, r := range p.Refusals {
			label := "**refused**: "
			if strings.HasPrefix(r.Reason, staleReason) {
				label = "**changed since the deploy, refused**: "
			}
			mdRow(&b, mdCode(r.Slug), r.Kind, "", "", label+r.Reason)
		}
		b.WriteString("\n")
	}
	for _, r := range p.Accepted {
		b.WriteString("> accepted loss: " + r.Slug + ": " + r.Reason + "\n\n")
	}
	for _, n := range p.SideEffects {
		b.WriteString("> side effect: " + n + "\n\n")
	}
	if len(p.Diffs) > 0 {
		b.WriteString("Changes to production (before: production now, after: the release's record):\n\n")
		b.WriteString(p.Diffs.Markdown())
	}
	return b.String()
}

// rollbackLine is one agent or resource of a rollback's plan, for display.
type rollbackLine struct {
	action, kind, name, from, to string
	fields                       []string
}

// rollbackLines are the plan's agents, then resources: "restore" for what
// is written back (or re-created), "delete" for what the deploy created.
func (p *Plan) rollbackLines() []rollbackLine {
	var out []rollbackLine
	for _, a := range p.Deploy {
		from := "none"
		if a.Before.Present {
			from = orUnknown(a.Before.Version)
		}
		out = append(out, rollbackLine{action: "restore", kind: "agent", name: a.Slug, from: from, to: orUnknown(a.Version)})
	}
	for _, r := range p.Resources {
		l := rollbackLine{action: "restore", kind: kindLabel(r.Kind), name: r.Name, from: "present", to: "present", fields: r.Fields}
		switch r.Action {
		case ResourceDelete:
			l.action, l.to = "delete", "none"
		case ResourceCreate:
			l.from = "none"
		}
		out = append(out, l)
	}
	return out
}
