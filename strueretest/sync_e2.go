package strueretest

import (
	"fmt"
	"slices"
)

// Environment-isolated generations (protocol §6): everything but agents is
// scoped to (organization, environment); agents are hard-deleted across
// environments.

func (s *Server) syncOrganizationE2(st *state, c *callCtx) (any, *fnError) {
	userID, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	env := str(c.args, "environment")

	// 1. Entity types; a shared boundToRole fails the whole mutation.
	bound := map[string]string{}
	for _, v := range list(c.args, "entityTypes") {
		p := v.(map[string]any)
		role := str(p, "boundToRole")
		if role == "" {
			continue
		}
		if first, dup := bound[role]; dup {
			return nil, throw("syncEntityTypes (../convex/lib/sync/entityTypes.ts:21:13)",
				fmt.Sprintf("Multiple entity types bound to role %q: %q and %q", role, first, str(p, "slug")))
		}
		bound[role] = str(p, "slug")
	}
	ets := newChanges()
	keep := map[string]bool{}
	for _, v := range list(c.args, "entityTypes") {
		p := v.(map[string]any)
		slug := str(p, "slug")
		keep[slug] = true
		if i := slices.IndexFunc(st.entityTypes, func(e entityTypeRow) bool { return e.orgID == orgID && e.env == env && e.slug == slug }); i >= 0 {
			patchEntityType(&st.entityTypes[i], p)
			ets.updated = append(ets.updated, slug)
			continue
		}
		row := entityTypeRow{id: st.newID(tableEntityTypes), orgID: orgID, env: env, createdAt: c.now}
		patchEntityType(&row, p)
		st.entityTypes = append(st.entityTypes, row)
		ets.created = append(ets.created, slug)
	}
	for _, e := range slices.Clone(st.entityTypes) {
		if e.orgID == orgID && e.env == env && !keep[e.slug] {
			st.entityTypes = slices.DeleteFunc(st.entityTypes, func(x entityTypeRow) bool { return x.id == e.id })
			ets.deleted = append(ets.deleted, e.slug)
		}
	}

	// 2. Roles; duplicates of one name within the environment collapse.
	roles := newChanges()
	keep = map[string]bool{}
	for _, v := range list(c.args, "roles") {
		p := v.(map[string]any)
		name := str(p, "name")
		keep[name] = true
		var found string
		for _, r := range slices.Clone(st.roles) {
			if r.orgID != orgID || r.env != env || r.isSystem || r.name != name {
				continue
			}
			if found == "" {
				found = r.id
			} else {
				st.deleteRole(r.id)
			}
		}
		if found != "" {
			i := slices.IndexFunc(st.roles, func(r roleRow) bool { return r.id == found })
			st.roles[i].description = str(p, "description")
			rebuildPolicies(st, found, p, false)
			roles.updated = append(roles.updated, name)
			continue
		}
		row := roleRow{id: st.newID(tableRoles), orgID: orgID, env: env, name: name, description: str(p, "description"), createdAt: c.now}
		st.roles = append(st.roles, row)
		rebuildPolicies(st, row.id, p, false)
		roles.created = append(roles.created, name)
	}
	for _, r := range slices.Clone(st.roles) {
		if r.orgID == orgID && r.env == env && !r.isSystem && !keep[r.name] {
			st.deleteRole(r.id)
			roles.deleted = append(roles.deleted, r.name)
		}
	}

	// 3. Agents (shared) and this environment's configurations.
	agents := newChanges()
	keep = map[string]bool{}
	live, cur := st.liveAgentIndex(orgID), st.configIndex(env) // one pass each, not one per agent
	for _, v := range list(c.args, "agents") {
		p := v.(map[string]any)
		slug := str(p, "slug")
		keep[slug] = true
		var a *agentRow
		if i, ok := live[slug]; ok {
			a = &st.agents[i]
			a.name, a.description, a.updatedAt = str(p, "name"), str(p, "description"), c.now
			agents.updated = append(agents.updated, slug)
		} else {
			st.agents = append(st.agents, agentRow{id: st.newID(tableAgents), orgID: orgID, name: str(p, "name"), slug: slug,
				description: str(p, "description"), status: StatusActive, createdAt: c.now, updatedAt: c.now})
			live[slug] = len(st.agents) - 1
			a = &st.agents[len(st.agents)-1]
			agents.created = append(agents.created, slug)
		}
		if cfg := st.configAt(cur, a.id); cfg != nil {
			fillConfig(cfg, p, userID)
			continue
		}
		row := configRow{id: st.newID(tableConfigs), agentID: a.id, env: env, createdAt: c.now}
		fillConfig(&row, p, userID)
		st.configs = append(st.configs, row)
		cur[a.id] = len(st.configs) - 1
	}
	gone := map[string]bool{}
	for _, a := range st.agents {
		if a.orgID != orgID || a.status == StatusDeleted || keep[a.slug] {
			continue
		}
		gone[a.id] = true
		agents.deleted = append(agents.deleted, a.slug)
	}
	if len(gone) > 0 {
		st.agents = slices.DeleteFunc(st.agents, func(x agentRow) bool { return gone[x.id] })
		st.configs = slices.DeleteFunc(st.configs, func(x configRow) bool { return gone[x.agentID] })
	}
	out := map[string]any{"success": true, "entityTypes": ets.e2(), "roles": roles.e2(), "agents": agents.e2()}

	// 4. Eval suites, only when a non-empty array is sent.
	if suites := list(c.args, "evalSuites"); len(suites) > 0 {
		ch := newChanges()
		keep = map[string]bool{}
		for _, v := range suites {
			p := v.(map[string]any)
			slug, agentSlug := str(p, "slug"), str(p, "agentSlug")
			keep[slug] = true
			a := st.liveAgentBySlug(orgID, agentSlug)
			if a == nil {
				ch.skipped = append(ch.skipped, fmt.Sprintf("%s (agent %q not found)", slug, agentSlug))
				continue
			}
			if i := slices.IndexFunc(st.evalSuites, func(e evalSuiteRow) bool { return e.orgID == orgID && e.env == env && e.slug == slug }); i >= 0 {
				st.evalSuites[i].def, st.evalSuites[i].agentID, st.evalSuites[i].status = p, a.id, "active"
				ch.updated = append(ch.updated, slug)
				continue
			}
			st.evalSuites = append(st.evalSuites, evalSuiteRow{id: st.newID(tableEvalSuites), orgID: orgID, env: env, slug: slug,
				agentID: a.id, def: p, status: "active", createdAt: c.now})
			ch.created = append(ch.created, slug)
		}
		for i := range st.evalSuites {
			e := &st.evalSuites[i]
			if e.orgID == orgID && e.env == env && e.status == "active" && !keep[e.slug] {
				e.status = "archived"
				ch.deleted = append(ch.deleted, e.slug)
			}
		}
		out["evalSuites"] = map[string]any{"created": ch.created, "updated": ch.updated, "deleted": ch.deleted, "skipped": ch.skipped}
	}

	// 5. Triggers, only when a non-empty array is sent.
	if triggers := list(c.args, "triggers"); len(triggers) > 0 {
		ch := newChanges()
		keep = map[string]bool{}
		for _, v := range triggers {
			p := v.(map[string]any)
			slug := str(p, "slug")
			keep[slug] = true
			if i := slices.IndexFunc(st.triggers, func(t triggerRow) bool { return t.orgID == orgID && t.env == env && t.slug == slug }); i >= 0 {
				st.triggers[i].def = p
				ch.updated = append(ch.updated, slug)
				continue
			}
			st.triggers = append(st.triggers, triggerRow{id: st.newID(tableTriggers), orgID: orgID, env: env, slug: slug, def: p, enabled: true, createdAt: c.now})
			ch.created = append(ch.created, slug)
		}
		for _, t := range slices.Clone(st.triggers) {
			if t.orgID == orgID && t.env == env && !keep[t.slug] {
				st.triggers = slices.DeleteFunc(st.triggers, func(x triggerRow) bool { return x.id == t.id })
				ch.deleted = append(ch.deleted, t.slug)
			}
		}
		out["triggers"] = ch.e2()
	}
	return out, nil
}

func (s *Server) getSyncStateE2(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	env := str(c.args, "environment")
	out := &syncStateE2{agents: make([]syncAgent, 0, len(st.agents)), entityTypes: []syncEntityType{}, evalSuites: []syncEvalSuite{}, roles: []syncRole{}, triggers: []syncTrigger{}}
	var cur map[string]int // small states are scanned instead of indexed
	if len(st.configs) > smallTable {
		cur = st.configIndex(env)
	}
	for _, a := range st.agents {
		if a.orgID != orgID || a.status == StatusDeleted {
			continue
		}
		var cfg *configRow
		if cur != nil {
			cfg = st.configAt(cur, a.id)
		} else {
			cfg = st.currentConfig(a.id, env)
		}
		version := "0.0.0"
		if cfg != nil {
			version = cfg.version
		}
		out.agents = append(out.agents, syncAgent{slug: a.slug, name: a.name, version: version, hasConfig: cfg != nil})
	}
	for _, e := range st.entityTypes {
		if e.orgID == orgID && e.env == env {
			out.entityTypes = append(out.entityTypes, syncEntityType{slug: e.slug, name: e.name, boundToRole: e.boundToRole})
		}
	}
	for _, r := range st.roles {
		if r.orgID == orgID && r.env == env && !r.isSystem {
			out.roles = append(out.roles, syncRole{name: r.name, policyCount: st.policyCount(r.id)})
		}
	}
	for _, e := range st.evalSuites {
		if e.orgID == orgID && e.env == env && e.status == "active" {
			out.evalSuites = append(out.evalSuites, syncEvalSuite{slug: e.slug, name: str(e.def, "name"), agentID: e.agentID})
		}
	}
	for _, t := range st.triggers {
		if t.orgID == orgID && t.env == env && t.enabled {
			_, sched := t.def["schedule"]
			_, retry := t.def["retry"]
			out.triggers = append(out.triggers, syncTrigger{slug: t.slug, name: str(t.def, "name"), entityType: str(t.def, "entityType"),
				action: str(t.def, "action"), hasSchedule: sched, hasRetry: retry})
		}
	}
	return out, nil
}

func (s *Server) getPullState(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	env := str(c.args, "environment")
	agents, ets, roles, triggers := []any{}, []any{}, []any{}, []any{}
	cur := st.configIndex(env)
	for _, a := range st.agents {
		if a.orgID != orgID || a.status == StatusDeleted {
			continue
		}
		m := map[string]any{"slug": a.slug}
		setIf(m, "description", a.description)
		if cfg := st.configAt(cur, a.id); cfg != nil {
			m["name"], m["version"], m["systemPrompt"], m["model"], m["tools"] = cfg.name, cfg.version, cfg.systemPrompt, cfg.model, cfg.tools
		} else {
			m["name"], m["version"], m["systemPrompt"] = a.name, "0.1.0", ""
			m["model"] = map[string]any{"provider": "anthropic", "name": "claude-haiku-4-5"}
			m["tools"] = []any{}
		}
		agents = append(agents, m)
	}
	for _, e := range st.entityTypes {
		if e.orgID != orgID || e.env != env {
			continue
		}
		m := map[string]any{"name": e.name, "slug": e.slug, "schema": e.schema, "searchFields": anys(e.searchFields)}
		if e.hasDisplayConfig {
			m["displayConfig"] = e.displayConfig
		}
		setIf(m, "boundToRole", e.boundToRole)
		setIf(m, "userIdField", e.userIDField)
		ets = append(ets, m)
	}
	for _, r := range st.roles {
		if r.orgID != orgID || r.env != env || r.isSystem {
			continue
		}
		pols, rules, masks := groupPolicies(st.policiesOf(r.id))
		m := map[string]any{"name": r.name, "policies": pols, "scopeRules": rules, "fieldMasks": masks}
		setIf(m, "description", r.description)
		roles = append(roles, m)
	}
	for _, t := range st.triggers {
		if t.orgID != orgID || t.env != env {
			continue
		}
		m := map[string]any{}
		for _, k := range []string{"name", "slug", "description", "entityType", "action", "condition", "actions", "schedule", "retry"} {
			if v, ok := t.def[k]; ok {
				m[k] = v
			}
		}
		triggers = append(triggers, m)
	}
	return map[string]any{"agents": agents, "entityTypes": ets, "roles": roles, "triggers": triggers}, nil
}

func (s *Server) deployAllAgentsE2(st *state, c *callCtx) (any, *fnError) {
	dev := st.configIndex(Development) // deployAll appends production rows only, so the indexes stay valid
	return deployAll(st, c, func(a *agentRow) *configRow { return st.configAt(dev, a.id) }, func(*agentRow, string) {})
}
