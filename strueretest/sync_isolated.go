package strueretest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// syncRun is one run of the environment-isolated sync (protocol §6.1 and
// protocol-head §H1.2–§H1.7), shared by E2, E2Deploy and HEAD, by the
// public mutation and by POST /v1/sync.
type syncRun struct {
	s      *Server
	st     *state
	now    int64
	orgID  string
	env    string
	userID string // the caller; "" on the HTTP path (deployedBy removed)
	args   map[string]any
	head   bool
	logf   func(format string, a ...any) // nil: no log lines
}

// syncError is a failure inside sync's error wrapper: a ConvexError with the
// message as data on HEAD, a plain Error before.
func (r *syncRun) syncError(frame, msg string) *fnError {
	if r.head {
		return &fnError{msg: msg, frame: "handler (../convex/sync.ts:330:13)", data: msg, hasData: true}
	}
	return throw(frame, msg)
}

func (r *syncRun) log(format string, a ...any) {
	if r.logf != nil {
		r.logf(format, a...)
	}
}

// limits returns the organization's plan limits (-1: unlimited), or all
// unlimited before HEAD.
func (r *syncRun) limits() (agents, suites, automations int) {
	if !r.head {
		return -1, -1, -1
	}
	return r.s.planOf(r.st, r.orgID).limits()
}

func (r *syncRun) run() (map[string]any, *fnError) {
	op := "sync"
	if r.env == envProd {
		op = "deploy"
	}
	if r.logf != nil {
		r.log("[SYNC] === START %s to %s ===", op, r.env)
		r.log("[SYNC] orgId=%s", r.orgID)
		r.logDiagnostics("BEFORE")
	}
	ets, err := r.entityTypes()
	if err != nil {
		return nil, err
	}
	r.log("[SYNC] entityTypes result: created=%s updated=%s deleted=%s", joinJS(ets.created), joinJS(ets.updated), joinJS(ets.deleted))
	roles := r.roles()
	r.log("[SYNC] roles result: created=%s updated=%s deleted=%s", joinJS(roles.created), joinJS(roles.updated), joinJS(roles.deleted))
	agents, err := r.agents()
	if err != nil {
		return nil, err
	}
	r.log("[SYNC] agents result: created=%s updated=%s deleted=%s", joinJS(agents.created), joinJS(agents.updated), joinJS(agents.deleted))
	out := map[string]any{"success": true, "entityTypes": ets.e2(), "roles": roles.e2(), "agents": agents.e2()}
	payload := map[string]any{"operation": op, "agents": agents.e2(), "entityTypes": ets.e2(), "roles": roles.e2()}
	if suites := list(r.args, "evalSuites"); len(suites) > 0 {
		ch, err := r.evalSuites(suites)
		if err != nil {
			return nil, err
		}
		res := map[string]any{"created": ch.created, "updated": ch.updated, "deleted": ch.deleted, "skipped": ch.skipped}
		out["evalSuites"], payload["evalSuites"] = res, res
	}
	if triggers := list(r.args, "triggers"); len(triggers) > 0 {
		ch, err := r.triggers(triggers)
		if err != nil {
			return nil, err
		}
		out["triggers"], payload["triggers"] = ch.e2(), ch.e2()
	}
	if fixtures := list(r.args, "fixtures"); r.head && len(fixtures) > 0 && r.env == envEval {
		res, err := r.fixtures(fixtures)
		if err != nil {
			return nil, err
		}
		out["fixtures"] = res
	}
	if r.logf != nil {
		r.logDiagnostics("AFTER")
		r.log("[SYNC] === END %s to %s ===", op, r.env)
	}
	if r.head {
		actorType := "user"
		if r.userID == "" {
			actorType = "system"
		}
		r.st.events = append(r.st.events, eventRow{id: r.st.newID(tableEvents), orgID: r.orgID, env: r.env,
			eventType: op + ".completed", actorType: actorType, actorID: r.userID, payload: payload, timestamp: r.now})
	}
	return out, nil
}

// jsonStringify renders v as JavaScript's JSON.stringify does (no HTML
// escaping; Go sorts object keys, JavaScript keeps insertion order).
func jsonStringify(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(encodeValue(v, false)); err != nil {
		return "undefined"
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// joinJS renders a list as a JavaScript template literal does: elements
// joined by commas.
func joinJS(l []any) string {
	parts := make([]string, len(l))
	for i, v := range l {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ",")
}

// logDiagnostics logs what the public mutation's whole-table scans read
// (protocol-head §H1.8): the environment's active entities, the
// organization's relations and every user-role assignment of the
// deployment.
func (r *syncRun) logDiagnostics(when string) {
	st := r.st
	missing := "undefined"
	if when == "AFTER" {
		missing = "MISSING"
	}
	var active []entityRow
	for _, e := range st.entities {
		if e.orgID == r.orgID && e.env == r.env && !e.deleted {
			active = append(active, e)
		}
	}
	r.log("[SYNC] entities %s: %d active", when, len(active))
	for _, e := range active {
		slug := missing
		if et := st.entityType(e.typeID); et != nil {
			slug = et.slug
		}
		r.log("[SYNC]   entity %s type=%s data=%s", e.id, slug, jsonStringify(e.data))
	}
	var rels []relationRow
	for _, rel := range st.relations {
		if rel.orgID == r.orgID {
			rels = append(rels, rel)
		}
	}
	r.log("[SYNC] entityRelations %s: %d", when, len(rels))
	for _, rel := range rels {
		r.log("[SYNC]   relation %s from=%s to=%s type=%s", rel.id, rel.fromID, rel.toID, rel.relType)
	}
	r.log("[SYNC] userRoles %s: %d", when, len(st.userRoles))
	for _, ur := range st.userRoles {
		name, env := missing, missing
		if role := st.role(ur.roleID); role != nil {
			name, env = role.name, role.env
		}
		r.log("[SYNC]   userRole %s userId=%s role=%s env=%s", ur.id, ur.userID, name, env)
	}
}

// entityTypes is syncEntityTypes: a shared boundToRole fails before any
// write; types are matched by slug (the last of equal slugs), patched
// (omitted keys removed) or inserted; absent ones are hard-deleted and
// their entities left dangling.
func (r *syncRun) entityTypes() (*changes, *fnError) {
	st := r.st
	payload := list(r.args, "entityTypes")
	bound := map[string]string{}
	for _, v := range payload {
		p := v.(map[string]any)
		role := str(p, "boundToRole")
		if role == "" {
			continue
		}
		if first, dup := bound[role]; dup {
			return nil, r.syncError("syncEntityTypes (../convex/lib/sync/entityTypes.ts:36:15)",
				fmt.Sprintf("Multiple entity types bound to role %q: %q and %q", role, first, str(p, "slug")))
		}
		bound[role] = str(p, "slug")
	}
	existing := map[string]string{} // slug -> id
	var existingIDs []string
	for _, e := range st.entityTypes {
		if e.orgID == r.orgID && e.env == r.env {
			existing[e.slug] = e.id
			existingIDs = append(existingIDs, e.id)
		}
	}
	ch := newChanges()
	keep := map[string]bool{}
	for _, v := range payload {
		p := v.(map[string]any)
		slug := str(p, "slug")
		keep[slug] = true
		if id, ok := existing[slug]; ok {
			if et := st.entityType(id); et != nil {
				patchEntityType(et, p)
			}
			ch.updated = append(ch.updated, slug)
			continue
		}
		row := entityTypeRow{id: st.newID(tableEntityTypes), orgID: r.orgID, env: r.env, createdAt: r.now}
		patchEntityType(&row, p)
		st.entityTypes = append(st.entityTypes, row)
		ch.created = append(ch.created, slug)
	}
	gone := map[string]bool{}
	for _, id := range existingIDs {
		if et := st.entityType(id); et != nil && !keep[et.slug] {
			gone[id] = true
			ch.deleted = append(ch.deleted, et.slug)
		}
	}
	if len(gone) > 0 {
		st.entityTypes = slices.DeleteFunc(st.entityTypes, func(e entityTypeRow) bool { return gone[e.id] })
	}
	return ch, nil
}

// roles is syncRoles: extra same-name roles are deleted first; roles are
// matched by name, patched (description, agentAccess) or inserted; their
// policies are rebuilt; absent ones are deleted; a production sync then
// copies development user-role assignments.
func (r *syncRun) roles() *changes {
	st := r.st
	var existing []string // ids of the env's non-system roles, index order
	byName := map[string]string{}
	for _, role := range slices.Clone(st.roles) {
		if role.orgID != r.orgID || role.env != r.env || role.isSystem {
			continue
		}
		existing = append(existing, role.id)
		if _, dup := byName[role.name]; dup {
			st.deleteRole(role.id)
			continue
		}
		byName[role.name] = role.id
	}
	payload := list(r.args, "roles")
	ch := newChanges()
	keep := map[string]bool{}
	for _, v := range payload {
		p := v.(map[string]any)
		name := str(p, "name")
		keep[name] = true
		access := agentAccessOf(p)
		if id, ok := byName[name]; ok {
			if role := st.role(id); role != nil {
				role.description, role.agentAccess = str(p, "description"), access
				rebuildPolicies(st, id, p, false)
			}
			ch.updated = append(ch.updated, name)
			continue
		}
		row := roleRow{id: st.newID(tableRoles), orgID: r.orgID, env: r.env, name: name, description: str(p, "description"),
			agentAccess: access, createdAt: r.now}
		st.roles = append(st.roles, row)
		rebuildPolicies(st, row.id, p, false)
		ch.created = append(ch.created, name)
	}
	// The deletion loop walks every role read at the start; the duplicates
	// already deleted are gone, and a name in the payload keeps its role.
	for _, id := range existing {
		if role := st.role(id); role != nil && !keep[role.name] {
			name := role.name
			st.deleteRole(id)
			ch.deleted = append(ch.deleted, name)
		}
	}
	if r.env == envProd {
		r.copyUserRoles(payload)
	}
	return ch
}

// agentAccessOf returns a role payload's agentAccess, nil when absent.
func agentAccessOf(p map[string]any) []string {
	if _, ok := p["agentAccess"]; !ok {
		return nil
	}
	return strs(p["agentAccess"])
}

// firstRole is the first role of (org, env) with that name, in index order.
func firstRole(st *state, orgID, env, name string) *roleRow {
	for i := range st.roles {
		if ro := &st.roles[i]; ro.orgID == orgID && ro.env == env && ro.name == name {
			return ro
		}
	}
	return nil
}

// copyUserRoles is duplicateUserRolesForProduction: for each payload role
// whose name exists in development and production, every development
// assignment is copied to the production role after deleting all of that
// user's assignments on production roles of any organization.
func (r *syncRun) copyUserRoles(payload []any) {
	st := r.st
	for _, v := range payload {
		name := str(v.(map[string]any), "name")
		dev := firstRole(st, r.orgID, envDev, name)
		if dev == nil {
			continue
		}
		prod := firstRole(st, r.orgID, envProd, name)
		if prod == nil {
			continue
		}
		prodID := prod.id
		var devAssignments []userRoleRow
		for _, ur := range st.userRoles {
			if ur.roleID == dev.id {
				devAssignments = append(devAssignments, ur)
			}
		}
		for _, ur := range devAssignments {
			st.userRoles = slices.DeleteFunc(st.userRoles, func(x userRoleRow) bool {
				if x.userID != ur.userID {
					return false
				}
				role := st.role(x.roleID)
				return role != nil && role.env == envProd
			})
			st.userRoles = append(st.userRoles, userRoleRow{id: st.newID(tableUserRoles), userID: ur.userID, roleID: prodID, createdAt: r.now})
		}
	}
}

// agents is syncAgents: the plan limit is checked before any agent write;
// agents are matched by slug among the organization's non-deleted agents
// (the last of equal slugs), patched (name, description) or inserted;
// this environment's configuration is patched or inserted; absent agents
// are hard-deleted with their configurations in every environment.
func (r *syncRun) agents() (*changes, *fnError) {
	st := r.st
	payload := list(r.args, "agents")
	existing := map[string]string{} // slug -> id
	var activeIDs []string
	for _, a := range st.agents {
		if a.orgID == r.orgID && a.status != StatusDeleted {
			existing[a.slug] = a.id
			activeIDs = append(activeIDs, a.id)
		}
	}
	inputs := map[string]bool{}
	for _, v := range payload {
		inputs[str(v.(map[string]any), "slug")] = true
	}
	if maxAgents, _, _ := r.limits(); maxAgents >= 0 {
		added, removed := 0, 0
		for _, v := range payload {
			if _, ok := existing[str(v.(map[string]any), "slug")]; !ok {
				added++
			}
		}
		for _, id := range activeIDs {
			if !inputs[st.agent(id).slug] {
				removed++
			}
		}
		if len(activeIDs)+added-removed > maxAgents {
			return nil, r.syncError("", fmt.Sprintf("Agent limit reached. Your plan allows up to %d agents.", maxAgents))
		}
	}
	agentIdx := map[string]int{} // id -> index in st.agents, for the agents present now
	for i := range st.agents {
		agentIdx[st.agents[i].id] = i
	}
	cur := st.configIndex(r.env)
	ch := newChanges()
	for _, v := range payload {
		p := v.(map[string]any)
		slug := str(p, "slug")
		var a *agentRow
		if id, ok := existing[slug]; ok {
			a = &st.agents[agentIdx[id]]
			a.name, a.description, a.updatedAt = str(p, "name"), str(p, "description"), r.now
			ch.updated = append(ch.updated, slug)
		} else {
			st.agents = append(st.agents, agentRow{id: st.newID(tableAgents), orgID: r.orgID, name: str(p, "name"), slug: slug,
				description: str(p, "description"), status: StatusActive, createdAt: r.now, updatedAt: r.now})
			a = &st.agents[len(st.agents)-1]
			agentIdx[a.id] = len(st.agents) - 1
			ch.created = append(ch.created, slug)
		}
		if cfg := st.configAt(cur, a.id); cfg != nil {
			fillConfig(cfg, p, r.userID)
			continue
		}
		row := configRow{id: st.newID(tableConfigs), agentID: a.id, env: r.env, createdAt: r.now}
		fillConfig(&row, p, r.userID)
		st.configs = append(st.configs, row)
		cur[a.id] = len(st.configs) - 1
	}
	gone := map[string]bool{}
	for _, id := range activeIDs {
		a := &st.agents[agentIdx[id]]
		if !inputs[a.slug] {
			gone[id] = true
			ch.deleted = append(ch.deleted, a.slug)
		}
	}
	if len(gone) > 0 {
		st.agents = slices.DeleteFunc(st.agents, func(x agentRow) bool { return gone[x.id] })
		st.configs = slices.DeleteFunc(st.configs, func(x configRow) bool { return gone[x.agentID] })
	}
	return ch, nil
}

// evalSuites is syncEvalSuites: suites are matched by slug among the
// environment's active suites; the plan limit counts new payload suites,
// skipped ones included; a suite whose agent is unknown is skipped; cases
// are replaced wholesale; absent active suites are archived.
func (r *syncRun) evalSuites(payload []any) (*changes, *fnError) {
	st := r.st
	agentBySlug := map[string]string{}
	for _, a := range st.agents {
		if a.orgID == r.orgID && a.status != StatusDeleted {
			agentBySlug[a.slug] = a.id
		}
	}
	existing := map[string]string{}
	var activeIDs []string
	for _, e := range st.evalSuites {
		if e.orgID == r.orgID && e.env == r.env && e.status == "active" {
			existing[e.slug] = e.id
			activeIDs = append(activeIDs, e.id)
		}
	}
	inputs := map[string]bool{}
	for _, v := range payload {
		inputs[str(v.(map[string]any), "slug")] = true
	}
	suiteIdx := func(id string) int {
		return slices.IndexFunc(st.evalSuites, func(e evalSuiteRow) bool { return e.id == id })
	}
	if _, maxSuites, _ := r.limits(); maxSuites >= 0 {
		added, removed := 0, 0
		for _, v := range payload {
			if _, ok := existing[str(v.(map[string]any), "slug")]; !ok {
				added++
			}
		}
		for _, id := range activeIDs {
			if !inputs[st.evalSuites[suiteIdx(id)].slug] {
				removed++
			}
		}
		if len(activeIDs)+added-removed > maxSuites {
			return nil, r.syncError("", fmt.Sprintf("Eval suite limit reached. Your plan allows up to %d eval suites.", maxSuites))
		}
	}
	ch := newChanges()
	for _, v := range payload {
		p := v.(map[string]any)
		slug, agentSlug := str(p, "slug"), str(p, "agentSlug")
		agentID, ok := agentBySlug[agentSlug]
		if !ok {
			ch.skipped = append(ch.skipped, fmt.Sprintf("%s (agent %q not found)", slug, agentSlug))
			continue
		}
		def := suiteDef(p)
		if id, ok := existing[slug]; ok {
			e := &st.evalSuites[suiteIdx(id)]
			e.def, e.agentID, e.updatedAt = def, agentID, r.now
			r.replaceCases(id, list(p, "cases"))
			ch.updated = append(ch.updated, slug)
			continue
		}
		row := evalSuiteRow{id: st.newID(tableEvalSuites), orgID: r.orgID, env: r.env, slug: slug, agentID: agentID,
			def: def, status: "active", createdAt: r.now, updatedAt: r.now}
		st.evalSuites = append(st.evalSuites, row)
		r.replaceCases(row.id, list(p, "cases"))
		ch.created = append(ch.created, slug)
	}
	for _, id := range activeIDs {
		e := &st.evalSuites[suiteIdx(id)]
		if !inputs[e.slug] {
			e.status, e.updatedAt = "archived", r.now
			ch.deleted = append(ch.deleted, e.slug)
		}
	}
	return ch, nil
}

// suiteDef is a suite payload without its cases.
func suiteDef(p map[string]any) map[string]any {
	def := make(map[string]any, len(p))
	for k, v := range p {
		if k != "cases" {
			def[k] = v
		}
	}
	return def
}

// replaceCases deletes the suite's cases and inserts cases, order = index.
func (r *syncRun) replaceCases(suiteID string, cases []any) {
	st := r.st
	st.evalCases = slices.DeleteFunc(st.evalCases, func(c evalCaseRow) bool { return c.suiteID == suiteID })
	for i, v := range cases {
		c, _ := v.(map[string]any)
		st.evalCases = append(st.evalCases, evalCaseRow{id: st.newID(tableEvalCases), orgID: r.orgID, suiteID: suiteID,
			def: c, order: i, createdAt: r.now, updatedAt: r.now})
	}
}

// triggers is syncTriggers: the plan limit counts the organization's
// triggers of every environment; triggers are matched by slug in the
// environment (the last of equal slugs), patched (enabled kept) or inserted
// enabled; absent ones are deleted.
func (r *syncRun) triggers(payload []any) (*changes, *fnError) {
	st := r.st
	existing := map[string]string{}
	var envIDs []string
	all := 0
	for _, t := range st.triggers {
		if t.orgID != r.orgID {
			continue
		}
		all++
		if t.env == r.env {
			existing[t.slug] = t.id
			envIDs = append(envIDs, t.id)
		}
	}
	inputs := map[string]bool{}
	for _, v := range payload {
		inputs[str(v.(map[string]any), "slug")] = true
	}
	trigIdx := func(id string) int {
		return slices.IndexFunc(st.triggers, func(t triggerRow) bool { return t.id == id })
	}
	if _, _, maxAuto := r.limits(); maxAuto >= 0 {
		added, removed := 0, 0
		for _, v := range payload {
			if _, ok := existing[str(v.(map[string]any), "slug")]; !ok {
				added++
			}
		}
		for _, id := range envIDs {
			if !inputs[st.triggers[trigIdx(id)].slug] {
				removed++
			}
		}
		if all+added-removed > maxAuto {
			return nil, r.syncError("", fmt.Sprintf("Automation limit reached. Your plan allows up to %d automations.", maxAuto))
		}
	}
	ch := newChanges()
	for _, v := range payload {
		p := v.(map[string]any)
		slug := str(p, "slug")
		if id, ok := existing[slug]; ok {
			st.triggers[trigIdx(id)].def = p
			ch.updated = append(ch.updated, slug)
			continue
		}
		st.triggers = append(st.triggers, triggerRow{id: st.newID(tableTriggers), orgID: r.orgID, env: r.env, slug: slug, def: p, enabled: true, createdAt: r.now})
		ch.created = append(ch.created, slug)
	}
	gone := map[string]bool{}
	for _, id := range envIDs {
		t := st.triggers[trigIdx(id)]
		if !inputs[t.slug] {
			gone[id] = true
			ch.deleted = append(ch.deleted, t.slug)
		}
	}
	if len(gone) > 0 {
		st.triggers = slices.DeleteFunc(st.triggers, func(t triggerRow) bool { return gone[t.id] })
	}
	return ch, nil
}

// fixtures is syncFixtures (eval only): every active eval entity and its
// relations are deleted, the fixtures' entities and relations inserted, and
// the fixtures bookkeeping table brought up to date.
func (r *syncRun) fixtures(payload []any) (map[string]any, *fnError) {
	st := r.st
	removed := map[string]bool{}
	for _, e := range st.entities {
		if e.orgID == r.orgID && e.env == r.env && !e.deleted {
			removed[e.id] = true
		}
	}
	st.relations = slices.DeleteFunc(st.relations, func(x relationRow) bool { return removed[x.fromID] || removed[x.toID] })
	st.entities = slices.DeleteFunc(st.entities, func(x entityRow) bool { return removed[x.id] })
	refs := map[string]string{}
	entities, relations := 0, 0
	for _, v := range payload {
		f := v.(map[string]any)
		fslug := str(f, "slug")
		for _, ev := range list(f, "entities") {
			e := ev.(map[string]any)
			var typeID string
			for _, et := range st.entityTypes {
				if et.orgID == r.orgID && et.env == r.env && et.slug == str(e, "type") {
					typeID = et.id
					break
				}
			}
			if typeID == "" {
				return nil, r.syncError("", fmt.Sprintf("Fixture %q: entity type %q not found in %s environment", fslug, str(e, "type"), r.env))
			}
			status := str(e, "status")
			if status == "" {
				status = "active"
			}
			row := entityRow{id: st.newID(tableEntities), orgID: r.orgID, env: r.env, typeID: typeID, status: status, data: e["data"], createdAt: r.now}
			st.entities = append(st.entities, row)
			refs[str(e, "ref")] = row.id
			entities++
		}
		for _, rv := range list(f, "relations") {
			rel := rv.(map[string]any)
			from, okFrom := refs[str(rel, "from")]
			if !okFrom {
				return nil, r.syncError("", fmt.Sprintf("Fixture %q: relation references unknown ref %q", fslug, str(rel, "from")))
			}
			to, okTo := refs[str(rel, "to")]
			if !okTo {
				return nil, r.syncError("", fmt.Sprintf("Fixture %q: relation references unknown ref %q", fslug, str(rel, "to")))
			}
			meta, has := rel["metadata"]
			if !has || !truthy(meta) {
				meta = map[string]any{}
			}
			st.relations = append(st.relations, relationRow{id: st.newID(tableRelations), orgID: r.orgID, env: r.env,
				fromID: from, toID: to, relType: str(rel, "type"), metadata: meta, createdAt: r.now})
			relations++
		}
	}
	incoming := map[string]bool{}
	for _, v := range payload {
		incoming[str(v.(map[string]any), "slug")] = true
	}
	st.fixtures = slices.DeleteFunc(st.fixtures, func(x fixtureRow) bool {
		return x.orgID == r.orgID && x.env == r.env && !incoming[x.slug]
	})
	for _, v := range payload {
		f := v.(map[string]any)
		counts := map[string]int{}
		for _, ev := range list(f, "entities") {
			counts[str(ev.(map[string]any), "type")]++
		}
		row := fixtureRow{orgID: r.orgID, env: r.env, name: str(f, "name"), slug: str(f, "slug"),
			entityCount: len(list(f, "entities")), relationCount: len(list(f, "relations")), entityTypeCounts: counts, syncedAt: r.now}
		if i := slices.IndexFunc(st.fixtures, func(x fixtureRow) bool { return x.orgID == r.orgID && x.env == r.env && x.slug == row.slug }); i >= 0 {
			row.id = st.fixtures[i].id
			st.fixtures[i] = row
			continue
		}
		row.id = st.newID(tableFixtures)
		st.fixtures = append(st.fixtures, row)
	}
	return map[string]any{"entitiesCreated": float64(entities), "relationsCreated": float64(relations)}, nil
}
