package struere

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// This file holds the opt-in promotion of entity types, roles and triggers
// from development to production (PromoteResources): which resources a
// deploy creates, updates, deletes or leaves alone, what it refuses, and
// what it sends for them in the one syncOrganization call that promotes
// the agents too.

// ResourceAction says what a deploy does to one entity type, role or
// trigger in production.
type ResourceAction string

// The actions a plan reports for resources.
const (
	// ResourceCreate: in development only; the deploy creates it in
	// production with development's content.
	ResourceCreate ResourceAction = "create"
	// ResourceUpdate: in both, with other contents; production gets
	// development's.
	ResourceUpdate ResourceAction = "update"
	// ResourceDelete: in production only; the deploy deletes it, and only
	// with AllowResourceDeletions.
	ResourceDelete ResourceAction = "delete"
	// ResourceUnchanged: the same content in both; production's is sent
	// back as it is.
	ResourceUnchanged ResourceAction = "unchanged"
)

// PlannedResource is one entity type, role or trigger of a kind the deploy
// promotes, and what the deploy does to it in production.
type PlannedResource struct {
	Kind ResourceKind `json:"kind"` // KindEntityType, KindRole or KindTrigger
	// Name is the slug for entity types and triggers, the name for roles.
	Name   string         `json:"name"`
	Action ResourceAction `json:"action"` // create, update, delete or unchanged
	// Fields names, for ResourceUpdate, the fields that differ between
	// production and development (for a rollback: between production now
	// and the release's record) as top-level keys; Plan.Diffs has them
	// field by field, and the whole item for a create or delete.
	Fields []string `json:"fields,omitempty"`

	// before is production's item as read, in the backend's own shape,
	// ready to be sent back (a role with its recovered agentAccess); nil
	// for ResourceCreate. after is what the deploy sends; nil for
	// ResourceDelete.
	before, after json.RawMessage
}

// resourcePromotion is what PromoteResources and AllowResourceDeletions
// asked for.
type resourcePromotion struct {
	kinds          []ResourceKind // in the order entity types, roles, triggers
	allowDeletions bool
}

func (rp resourcePromotion) on() bool { return len(rp.kinds) > 0 }

func (rp resourcePromotion) has(k ResourceKind) bool {
	for _, x := range rp.kinds {
		if x == k {
			return true
		}
	}
	return false
}

// PromoteResources makes Deploy promote, besides the agents, the named
// kinds of resources from development to production: KindEntityType,
// KindRole and KindTrigger, in any combination (triggers are promoted only
// when named). For each kind named, production ends up with development's
// set: resources only in development are created, those whose content
// differs are updated, and those only in production are deleted, which
// Deploy refuses unless AllowResourceDeletions is given too. Kinds not
// named stay exactly as production has them, as without this option.
//
// The plan lists every resource of the named kinds as create, update,
// delete or unchanged, with the fields that differ; everything is written
// in the same single call that promotes the agents, so the deploy applies
// in full or not at all. On backends that promote agents with their own
// deploy function, naming any kind makes Deploy use that single call
// instead (Plan.Method is "client"), rather than two calls that could
// half succeed. The oldest backend generation keeps entity types and roles
// organization-wide, shared by both environments, and has no triggers:
// there this option fails with ErrUnsupported.
//
// Naming no kind, or a kind other than these three, makes Deploy fail
// before reading anything.
func PromoteResources(kinds ...ResourceKind) DeployOption {
	return deployOptionFunc(func(o *deployOptions) {
		o.resourcesSet = true
		o.resources = append(o.resources, kinds...)
	})
}

// AllowResourceDeletions lets a Deploy with PromoteResources delete the
// production resources of the promoted kinds that development does not
// have. Without it such a deploy is refused with ErrRefused, naming each
// resource, and nothing is written. A deleted entity type's production
// entities are not deleted by the backend (they stay, pointing at a type
// that no longer exists); a deleted role goes with its policies, scope
// rules, field masks and user assignments. The plan's side effects say so.
func AllowResourceDeletions() DeployOption {
	return deployOptionFunc(func(o *deployOptions) { o.allowResourceDeletions = true })
}

// resourceOptions checks PromoteResources' kinds and orders them.
func resourceOptions(op string, o *deployOptions) (resourcePromotion, error) {
	rp := resourcePromotion{allowDeletions: o.allowResourceDeletions}
	if !o.resourcesSet {
		return rp, nil
	}
	if len(o.resources) == 0 {
		return rp, fmt.Errorf("struere: %s: PromoteResources names no kind: name KindEntityType, KindRole and/or KindTrigger (or leave the option out to promote agents only)", op)
	}
	seen := map[ResourceKind]bool{}
	for _, k := range o.resources {
		switch k {
		case KindEntityType, KindRole, KindTrigger:
			seen[k] = true
		case KindAgent:
			return rp, fmt.Errorf("struere: %s: PromoteResources(KindAgent): agents are always promoted; name KindEntityType, KindRole and/or KindTrigger", op)
		default:
			return rp, fmt.Errorf("struere: %s: PromoteResources: unknown kind %q: name KindEntityType, KindRole and/or KindTrigger", op, k)
		}
	}
	for _, k := range []ResourceKind{KindEntityType, KindRole, KindTrigger} {
		if seen[k] {
			rp.kinds = append(rp.kinds, k)
		}
	}
	return rp, nil
}

// kindLabel is a kind as refusals and notes write it.
func kindLabel(k ResourceKind) string {
	switch k {
	case KindEntityType:
		return "entity type"
	case KindRole:
		return "role"
	case KindTrigger:
		return "trigger"
	}
	return string(k)
}

// resourceKey is the field that identifies an item of a kind.
func resourceKey(k ResourceKind) string {
	if k == KindRole {
		return "name"
	}
	return "slug"
}

// pulledList is a pull state's list of one resource kind.
func pulledList(p *wirePullState, k ResourceKind) []json.RawMessage {
	switch k {
	case KindEntityType:
		return p.EntityTypes
	case KindRole:
		return p.Roles
	}
	return p.Triggers
}

// syncStateNames lists a sync state's items of one resource kind.
func syncStateNames(s *wireSyncState, k ResourceKind) []string {
	var out []string
	switch k {
	case KindEntityType:
		for _, e := range s.EntityTypes {
			out = append(out, e.Slug)
		}
	case KindRole:
		for _, e := range s.Roles {
			out = append(out, e.Name)
		}
	case KindTrigger:
		for _, e := range s.Triggers {
			out = append(out, e.Slug)
		}
	}
	return out
}

// Keys the environment-isolated backends' syncOrganization validator
// accepts for each resource (agentAccess on the newest only).
var resourceWireKeys = map[ResourceKind]map[string]bool{
	KindEntityType: keySet("name", "slug", "schema", "searchFields", "displayConfig", "boundToRole", "userIdField"),
	KindRole:       keySet("name", "description", "agentAccess", "policies", "scopeRules", "fieldMasks"),
	KindTrigger:    keySet("name", "slug", "description", "entityType", "action", "condition", "actions", "schedule", "retry"),
}

// planResources adds to p, for every promoted kind, each resource of
// development and production with its action, the field-by-field diffs of
// the ones that change, and the refusals, notes and side effects that
// promoting them brings. r holds both pull states; rec what the role
// queries recovered (nil when they were not run).
func planResources(op string, r *remote, rec *recovery, rp resourcePromotion, accept map[Loss]bool, p *Plan) error {
	p.PromotedKinds = append([]ResourceKind(nil), rp.kinds...)
	p.promo = rp
	head := r.gen == GenerationHead
	refuse := func(rf Refusal) { p.refuseUnlessAccepted(rf, accept) }
	for _, kind := range rp.kinds {
		label := kindLabel(kind)
		devList, prodList := pulledList(r.devPull, kind), pulledList(r.prodPull, kind)
		devC, devKeyed, err := pulledContents(op, devList, string(kind), nil, nil)
		if err != nil {
			return err
		}
		prodC, _, err := pulledContents(op, prodList, string(kind), devList, devKeyed)
		if err != nil {
			return err
		}
		devRaw, prodRaw := byKey(devList, resourceKey(kind)), byKey(prodList, resourceKey(kind))
		partial := false
		for _, side := range []struct {
			env   Environment
			list  []json.RawMessage
			state *wireSyncState
		}{{Development, devList, r.dev}, {Production, prodList, r.prod}} {
			names := fields(side.list, resourceKey(kind))
			for _, d := range duplicateNames(names) {
				p.Refusals = append(p.Refusals, Refusal{Slug: d, Kind: label, Reason: fmt.Sprintf("%s has several %ss named %q; the backend would keep or create one of them arbitrarily: delete or rename the duplicates in %s first", side.env, label, d, side.env)})
				partial = true
			}
			if !sameSet(names, syncStateNames(side.state, kind)) {
				p.Refusals = append(p.Refusals, Refusal{Kind: label, Reason: fmt.Sprintf("%s's pull state lists other %ss than its sync state (the reads were not consistent): the promotion could delete what the read missed; nothing was written, retry", side.env, label)})
				partial = true
			}
		}
		if partial {
			continue
		}
		// Roles on the newest backend carry agentAccess, which the pull
		// state omits; the role queries recovered it (or say why not).
		var devAccess, prodAccess func(string) (json.RawMessage, bool)
		if kind == KindRole && head {
			devAccess = func(name string) (json.RawMessage, bool) {
				if rec == nil || rec.devRolesWhy != "" || rec.devRoleAccess == nil {
					return nil, false
				}
				return rec.devRoleAccess[name], true
			}
			prodAccess = func(name string) (json.RawMessage, bool) {
				if rec == nil || rec.rolesWhy != "" || rec.roleAccess == nil {
					return nil, false
				}
				return rec.roleAccess[name], true
			}
		}
		all := map[string]bool{}
		for k := range devRaw {
			all[k] = true
		}
		for k := range prodRaw {
			all[k] = true
		}
		sentAny, changed := false, false
		var deletions []string
		for _, name := range sortedKeys(all) {
			pr := PlannedResource{Kind: kind, Name: name}
			dRaw, inDev := devRaw[name]
			pRaw, inProd := prodRaw[name]
			var dAcc, pAcc json.RawMessage
			dKnown, pKnown := true, true
			if devAccess != nil {
				dAcc, dKnown = devAccess(name)
				pAcc, pKnown = prodAccess(name)
			}
			if inDev {
				for _, k := range sortedKeys(devC[name].value) {
					if !resourceWireKeys[kind][k] {
						p.Refusals = append(p.Refusals, Refusal{Slug: name, Kind: label, Fields: []string{k},
							Reason: fmt.Sprintf("development's %s has field %s, which the backend's sync rejects: it cannot be promoted as it is", label, k)})
					}
				}
				if dKnown && dAcc != nil {
					if dRaw, err = withAgentAccess(dRaw, dAcc); err != nil {
						return &APIError{Op: op, Path: fnGetPullState, Message: "pull state lists a role that is not an object", kinds: []error{ErrMalformedResponse}}
					}
				}
			}
			if inProd && pKnown && pAcc != nil {
				if pRaw, err = withAgentAccess(pRaw, pAcc); err != nil {
					return &APIError{Op: op, Path: fnGetPullState, Message: "pull state lists a role that is not an object", kinds: []error{ErrMalformedResponse}}
				}
			}
			switch {
			case inDev && !inProd:
				pr.Action, pr.after = ResourceCreate, dRaw
			case !inDev:
				pr.Action, pr.before = ResourceDelete, pRaw
			default:
				pr.before = pRaw
				same := devC[name].digest == prodC[name].digest
				if devAccess != nil && dKnown && pKnown {
					same = same && sameAccess(dAcc, pAcc)
				}
				if same {
					pr.Action, pr.after = ResourceUnchanged, pRaw
				} else {
					pr.Action, pr.after = ResourceUpdate, dRaw
				}
			}
			if pr.Action != ResourceUnchanged {
				changed = true
				var b, a json.RawMessage
				if inProd {
					b = canonicalBytes(prodC[name], pAcc)
				}
				if inDev {
					a = canonicalBytes(devC[name], dAcc)
				}
				d, err := diffItem(kind, name, b, a)
				if err != nil {
					return err
				}
				if d != nil {
					p.Diffs = append(p.Diffs, *d)
					if pr.Action == ResourceUpdate {
						pr.Fields = topFields(d)
					}
				}
			}
			if pr.Action != ResourceDelete {
				sentAny = true
			} else {
				deletions = append(deletions, name)
			}
			if kind == KindRole && (pr.Action == ResourceCreate || pr.Action == ResourceUpdate) {
				planDevRoleLosses(name, devList, rec, head, dKnown, refuse)
			}
			p.Resources = append(p.Resources, pr)
		}
		// Deletions.
		switch {
		case kind == KindTrigger && changed && !sentAny:
			// Sending no trigger at all is ignored by the backend.
			for _, name := range deletions {
				p.Refusals = append(p.Refusals, Refusal{Slug: name, Kind: label, Reason: "development has no triggers, and the backend ignores an empty trigger list, so no deploy can delete production's last triggers: leave KindTrigger out of PromoteResources to keep them, or keep at least one trigger in development"})
			}
		case !rp.allowDeletions:
			for _, name := range deletions {
				p.Refusals = append(p.Refusals, Refusal{Slug: name, Kind: label, Reason: deletionReason(kind, name) + "; refused before writing: pass AllowResourceDeletions() to delete it, or create it in development (Sync)"})
			}
		default:
			for _, name := range deletions {
				p.SideEffects = append(p.SideEffects, deletionReason(kind, name))
			}
		}
		if kind == KindTrigger && changed {
			devN, prodN := len(devRaw), 0
			for _, pr := range p.Resources {
				if pr.Kind == KindTrigger && pr.Action != ResourceDelete {
					prodN++
				}
			}
			p.Notes = append(p.Notes,
				"the backend's state queries list enabled triggers only: a disabled production trigger cannot be seen, and sending triggers hard-deletes it (or, if development has one of the same slug, updates it and leaves it disabled); a disabled development trigger cannot be seen either, so it is not promoted. No public function of these backends disables a trigger, so only older data can hold one; the deploy's result names any trigger the backend touched unexpectedly",
				fmt.Sprintf("the backend re-checks its automation limit counting the triggers of every environment: development %d and production %d after the deploy, plus eval's and disabled ones, which Deploy cannot read; on the free plan (5) a larger total fails with \"Automation limit reached\" and nothing is written", devN, prodN))
		}
	}
	sort.SliceStable(p.Refusals, func(i, j int) bool { return p.Refusals[i].Slug < p.Refusals[j].Slug })
	return nil
}

// deletionReason says what deleting one production resource does.
func deletionReason(kind ResourceKind, name string) string {
	switch kind {
	case KindEntityType:
		return fmt.Sprintf("production entity type %q is not in development: the deploy deletes it, and the backend keeps its production entities, which then point at a type that no longer exists", name)
	case KindRole:
		return fmt.Sprintf("production role %q is not in development: the deploy deletes it with its policies, scope rules, field masks and user assignments", name)
	}
	return fmt.Sprintf("production trigger %q is not in development: the deploy deletes it", name)
}

// planDevRoleLosses refuses promoting a development role whose stored
// policies the pull state cannot express exactly (production would get
// less than development holds), or whose agentAccess could not be read.
func planDevRoleLosses(name string, devList []json.RawMessage, rec *recovery, head, accessKnown bool, refuse func(Refusal)) {
	var raw json.RawMessage
	for _, x := range devList {
		if fields([]json.RawMessage{x}, "name")[0] == name {
			raw = x
		}
	}
	if head && !accessKnown {
		why := recoveryRolesReason + " cannot be used"
		if rec != nil && rec.devRolesWhy != "" {
			why = rec.devRolesWhy
		}
		refuse(lossRefusal("role", name, []Loss{LossAgentAccess}, "not returned by the pull state for the development role, and "+why+"; production's role would get none"))
	}
	if rec == nil || rec.devRolesWhy != "" || rec.devRoleRows == nil {
		var hasPolicies struct {
			Policies []json.RawMessage `json:"policies"`
		}
		_ = json.Unmarshal(raw, &hasPolicies)
		if len(hasPolicies.Policies) > 0 {
			why := recoveryRolesReason + " cannot be used"
			if rec != nil && rec.devRolesWhy != "" {
				why = rec.devRolesWhy
			}
			refuse(lossRefusal("role", name, []Loss{LossScopeRules, LossFieldMasks}, "not fully returned by the pull state for the development role, and "+why+"; Deploy cannot show production receives them whole"))
		}
		return
	}
	if ls, why := roleLosses(raw, rec.devRoleRows[name]); len(ls) > 0 {
		refuse(lossRefusal("role", name, ls, "not carried over from the development role: "+why+" (production would get the role as the pull state shows it)"))
	}
}

// byKey indexes raw items by a string field; the first of equal keys wins
// (duplicates are refused separately).
func byKey(list []json.RawMessage, key string) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(list))
	names := fields(list, key)
	for i, raw := range list {
		if _, dup := out[names[i]]; !dup {
			out[names[i]] = raw
		}
	}
	return out
}

// sameAccess compares two agentAccess lists (nil: absent).
func sameAccess(a, b json.RawMessage) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	return a == nil || sameJSON(a, b)
}

// canonicalBytes is an item's canonical content as JSON, with agentAccess
// (which the canonical form leaves out) put back when known.
func canonicalBytes(c content, access json.RawMessage) json.RawMessage {
	m := make(map[string]any, len(c.value)+1)
	for k, v := range c.value {
		m[k] = v
	}
	if access != nil {
		var v any
		if json.Unmarshal(access, &v) == nil {
			m["agentAccess"] = v
		}
	}
	b, _ := json.Marshal(m)
	return b
}

// topFields names a diff's top-level fields, in order, once each.
func topFields(d *Diff) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range d.Fields {
		k := f.Path
		if i := strings.IndexAny(k, ".["); i > 0 {
			k = k[:i]
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// writes reports whether carrying out the plan writes anything: an agent
// to promote, or a resource to create, update or delete.
func (p *Plan) writes() bool {
	return len(p.Deploy) > 0 || len(p.changedResources()) > 0
}

// resourceAction returns the planned action of one resource, if the plan
// promotes its kind.
func (p *Plan) resourceAction(kind ResourceKind, name string) (ResourceAction, bool) {
	if p == nil {
		return "", false
	}
	for _, r := range p.Resources {
		if r.Kind == kind && r.Name == name {
			return r.Action, true
		}
	}
	return "", false
}

// changedResources lists the resources the plan creates, updates or
// deletes, each with production's content before the deploy (nil for a
// created one) in the backend's own shape, ready to be sent back. A
// release record keeps these to restore production.
func (p *Plan) changedResources() []PlannedResource {
	var out []PlannedResource
	for _, r := range p.Resources {
		if r.Action != ResourceUnchanged {
			out = append(out, r)
		}
	}
	return out
}

// resourcePayload puts into args, for every promoted kind, what
// production must end up with: development's item for each resource
// created or updated, production's own for each unchanged one, nothing for
// a deleted one. Roles not created, updated or deleted were already added
// by promotionPayload, as production's own. Triggers are sent only when one
// changes: an omitted list leaves production's untouched.
func resourcePayload(p *Plan, args *promotionArgs) {
	if p.promo.has(KindEntityType) {
		args.EntityTypes = make([]json.RawMessage, 0, len(p.Resources))
	}
	var triggers []json.RawMessage
	triggersChange := false
	for _, r := range p.Resources {
		switch r.Kind {
		case KindEntityType:
			if r.Action != ResourceDelete {
				args.EntityTypes = append(args.EntityTypes, r.after)
			}
		case KindRole:
			if r.Action == ResourceCreate || r.Action == ResourceUpdate {
				args.Roles = append(args.Roles, r.after)
			}
		case KindTrigger:
			if r.Action != ResourceUnchanged {
				triggersChange = true
			}
			if r.Action != ResourceDelete {
				triggers = append(triggers, r.after)
			}
		}
	}
	if triggersChange && len(triggers) > 0 {
		args.Triggers = triggers
	}
}

// resourceLines renders the plan's resources for String.
func (p *Plan) resourceLines(b *strings.Builder) {
	if len(p.PromotedKinds) == 0 {
		return
	}
	kinds := make([]string, len(p.PromotedKinds))
	for i, k := range p.PromotedKinds {
		kinds[i] = kindLabel(k) + "s"
	}
	fmt.Fprintf(b, "Resources promoted (%s):\n", strings.Join(kinds, ", "))
	if len(p.Resources) == 0 {
		b.WriteString("  (none in either environment)\n")
	}
	for _, r := range p.Resources {
		line := fmt.Sprintf("  %-9s %-12s %s", r.Action, kindLabel(r.Kind), r.Name)
		if len(r.Fields) > 0 && r.Action == ResourceUpdate {
			line += " (" + strings.Join(r.Fields, ", ") + ")"
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
}

// resourceMarkdown renders the plan's resources for Markdown.
func (p *Plan) resourceMarkdown(b *strings.Builder) {
	if len(p.PromotedKinds) == 0 {
		return
	}
	if len(p.Resources) == 0 {
		b.WriteString("No entity types, roles or triggers of the promoted kinds in either environment.\n\n")
		return
	}
	mdRow(b, "Resource", "Kind", "Action", "Fields that differ")
	mdRow(b, "---", "---", "---", "---")
	for _, r := range p.Resources {
		mdRow(b, mdCode(r.Name), kindLabel(r.Kind), string(r.Action), strings.Join(r.Fields, ", "))
	}
	b.WriteString("\n")
}

// resourceMismatches compares production's resources of one promoted kind,
// read back after the deploy, with what the plan meant it to hold: for each
// resource created or updated development's content, for each unchanged one
// its own, none of the deleted ones, and nothing else.
func resourceMismatches(after *remote, p *Plan, kind ResourceKind) []Refusal {
	label := kindLabel(kind)
	got, _, err := pulledContents("verify", pulledList(after.prodPull, kind), string(kind), nil, nil)
	if err != nil {
		return []Refusal{{Kind: label, Reason: "production's " + label + "s could not be read back: " + err.Error()}}
	}
	var bad []Refusal
	planned := map[string]bool{}
	for _, r := range p.Resources {
		if r.Kind != kind {
			continue
		}
		planned[r.Name] = true
		g, present := got[r.Name]
		if r.Action == ResourceDelete {
			if present {
				bad = append(bad, Refusal{Slug: r.Name, Kind: label, Reason: fmt.Sprintf("production %s %q is still there after the deploy, which meant to delete it", label, r.Name)})
			}
			continue
		}
		if !present {
			bad = append(bad, Refusal{Slug: r.Name, Kind: label, Reason: fmt.Sprintf("production has no %s %q after the deploy, which meant it to %s", label, r.Name, map[ResourceAction]string{ResourceCreate: "be created", ResourceUpdate: "be updated", ResourceUnchanged: "stay as it was"}[r.Action])})
			continue
		}
		var m map[string]any
		if json.Unmarshal(r.after, &m) != nil {
			bad = append(bad, Refusal{Slug: r.Name, Kind: label, Reason: "the content the deploy sent cannot be read back to compare"})
			continue
		}
		if same, diff := compare(canonicalContent(string(kind), m), g); !same {
			bad = append(bad, Refusal{Slug: r.Name, Kind: label, Fields: diff, Reason: fmt.Sprintf("production %s %q differs after the deploy from what it sent (%s)", label, r.Name, strings.Join(diff, ", "))})
		}
	}
	for _, name := range sortedKeys(got) {
		if !planned[name] {
			bad = append(bad, Refusal{Slug: name, Kind: label, Reason: fmt.Sprintf("production has %s %q after the deploy, which neither environment had when the deploy read them (a concurrent change): check it", label, name)})
		}
	}
	return bad
}

// pullChanges names the items whose content differs between two reads of
// one environment's pull state (agents, entity types, roles, triggers), as
// stateChanges does for sync states; "" when they hold the same.
func pullChanges(env string, a, b *wirePullState) string {
	if a == nil || b == nil {
		return ""
	}
	var out []string
	for _, l := range []struct {
		kind ResourceKind
		a, b []json.RawMessage
	}{{KindAgent, a.Agents, b.Agents}, {KindEntityType, a.EntityTypes, b.EntityTypes}, {KindRole, a.Roles, b.Roles}, {KindTrigger, a.Triggers, b.Triggers}} {
		key := resourceKey(l.kind)
		index := func(list []json.RawMessage) map[string]string {
			m := map[string]string{}
			names := fields(list, key)
			for i, raw := range list {
				var v any
				_ = json.Unmarshal(raw, &v)
				m[names[i]] += canonicalJSON(v) + "\x00"
			}
			return m
		}
		label := kindLabel(l.kind)
		if l.kind == KindAgent {
			label = "agent configuration"
		}
		out = append(out, diffNamed(env+" "+label, index(l.a), index(l.b))...)
	}
	return strings.Join(out, "; ")
}
