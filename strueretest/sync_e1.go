package strueretest

import "slices"

// E1 (protocol §5): organization-wide entity types and roles, agents with
// development/production config pointers, preserve flags, soft delete.

type changes struct {
	created, updated, deleted, preserved, skipped []any
}

func newChanges() *changes {
	return &changes{created: []any{}, updated: []any{}, deleted: []any{}, preserved: []any{}, skipped: []any{}}
}

func (c *changes) e1() map[string]any {
	return map[string]any{"created": c.created, "updated": c.updated, "deleted": c.deleted, "preserved": c.preserved}
}

func (c *changes) e2() map[string]any {
	return map[string]any{"created": c.created, "updated": c.updated, "deleted": c.deleted}
}

func flag(args map[string]any, k string) bool {
	v, ok := args[k].(bool)
	return !ok || v
}

func (s *Server) syncOrganizationE1(st *state, c *callCtx) (any, *fnError) {
	userID, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	preservePacks := flag(c.args, "preservePackResources")
	preserveAgents := flag(c.args, "preserveUnmanagedAgents")

	ets := newChanges()
	keep := map[string]bool{}
	for _, v := range list(c.args, "entityTypes") {
		p := v.(map[string]any)
		slug := str(p, "slug")
		keep[slug] = true
		if i := slices.IndexFunc(st.entityTypes, func(e entityTypeRow) bool { return e.orgID == orgID && e.slug == slug }); i >= 0 {
			patchEntityType(&st.entityTypes[i], p)
			ets.updated = append(ets.updated, slug)
			continue
		}
		row := entityTypeRow{id: st.newID(tableEntityTypes), orgID: orgID, createdAt: c.now}
		patchEntityType(&row, p)
		st.entityTypes = append(st.entityTypes, row)
		ets.created = append(ets.created, slug)
	}
	for _, e := range slices.Clone(st.entityTypes) {
		if e.orgID != orgID || keep[e.slug] {
			continue
		}
		if preservePacks && st.packManaged(e.id) {
			ets.preserved = append(ets.preserved, e.slug)
			continue
		}
		st.entityTypes = slices.DeleteFunc(st.entityTypes, func(x entityTypeRow) bool { return x.id == e.id })
		ets.deleted = append(ets.deleted, e.slug)
	}

	roles := newChanges()
	keep = map[string]bool{}
	for _, v := range list(c.args, "roles") {
		p := v.(map[string]any)
		name := str(p, "name")
		keep[name] = true
		i := slices.IndexFunc(st.roles, func(r roleRow) bool { return r.orgID == orgID && !r.isSystem && r.name == name })
		if i >= 0 {
			st.roles[i].description = str(p, "description")
			rebuildPolicies(st, st.roles[i].id, p, true)
			roles.updated = append(roles.updated, name)
			continue
		}
		row := roleRow{id: st.newID(tableRoles), orgID: orgID, name: name, description: str(p, "description"), createdAt: c.now}
		st.roles = append(st.roles, row)
		rebuildPolicies(st, row.id, p, true)
		roles.created = append(roles.created, name)
	}
	for _, r := range slices.Clone(st.roles) {
		if r.orgID != orgID || r.isSystem || keep[r.name] {
			continue
		}
		if preservePacks && st.packManaged(r.id) {
			roles.preserved = append(roles.preserved, r.name)
			continue
		}
		st.deleteRole(r.id)
		roles.deleted = append(roles.deleted, r.name)
	}

	agents := newChanges()
	keep = map[string]bool{}
	for _, v := range list(c.args, "agents") {
		p := v.(map[string]any)
		slug := str(p, "slug")
		keep[slug] = true
		a := st.liveAgentBySlug(orgID, slug)
		if a != nil {
			a.name, a.description, a.updatedAt = str(p, "name"), str(p, "description"), c.now
			agents.updated = append(agents.updated, slug)
		} else {
			st.agents = append(st.agents, agentRow{id: st.newID(tableAgents), orgID: orgID, name: str(p, "name"), slug: slug,
				description: str(p, "description"), status: StatusActive, createdAt: c.now, updatedAt: c.now})
			a = &st.agents[len(st.agents)-1]
			agents.created = append(agents.created, slug)
		}
		if a.devConfigID != "" {
			cfg := st.config(a.devConfigID)
			if cfg == nil {
				return nil, throw("syncAgents (../convex/lib/sync/agents.ts:58:7)", "Update on nonexistent document ID "+a.devConfigID)
			}
			fillConfig(cfg, p, userID)
			continue
		}
		row := configRow{id: st.newID(tableConfigs), agentID: a.id, env: envDev, createdAt: c.now}
		fillConfig(&row, p, userID)
		st.configs = append(st.configs, row)
		a.devConfigID = row.id
	}
	for i := range st.agents {
		a := &st.agents[i]
		if a.orgID != orgID || a.status == StatusDeleted || keep[a.slug] {
			continue
		}
		if preserveAgents {
			agents.preserved = append(agents.preserved, a.slug)
			continue
		}
		a.status, a.updatedAt = StatusDeleted, c.now
		agents.deleted = append(agents.deleted, a.slug)
	}
	return map[string]any{"success": true, "entityTypes": ets.e1(), "roles": roles.e1(), "agents": agents.e1(),
		"packResourcesPreserved": len(st.packsOf(orgID)) > 0}, nil
}

// fillConfig writes an agent payload's configuration into row.
func fillConfig(row *configRow, p map[string]any, userID string) {
	row.version, row.name, row.systemPrompt = str(p, "version"), str(p, "name"), str(p, "systemPrompt")
	row.model, row.tools = p["model"], p["tools"]
	row.firstMessageSuggestions, row.threadContextParams = p["firstMessageSuggestions"], p["threadContextParams"] // nil (removed) when omitted
	row.deployedBy = userID
}

func (s *Server) getSyncStateE1(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	agents, ets, roles, packs := []any{}, []any{}, []any{}, []any{}
	for _, a := range st.agents {
		if a.orgID != orgID || a.status == StatusDeleted {
			continue
		}
		dev := st.config(a.devConfigID)
		version := "0.0.0"
		if dev != nil {
			version = dev.version
		}
		agents = append(agents, map[string]any{"slug": a.slug, "name": a.name, "version": version,
			"hasDevConfig": dev != nil, "hasProdConfig": a.prodConfigID != ""})
	}
	for _, e := range st.entityTypes {
		if e.orgID == orgID {
			ets = append(ets, map[string]any{"slug": e.slug, "name": e.name, "isPackManaged": st.packManaged(e.id)})
		}
	}
	for _, r := range st.roles {
		if r.orgID == orgID && !r.isSystem {
			roles = append(roles, map[string]any{"name": r.name, "policyCount": float64(len(st.policiesOf(r.id))), "isPackManaged": st.packManaged(r.id)})
		}
	}
	for _, p := range st.packsOf(orgID) {
		packs = append(packs, map[string]any{"packId": p.packID, "version": p.version,
			"entityTypeCount": float64(len(p.entityTypeIDs)), "roleCount": float64(len(p.roleIDs))})
	}
	return map[string]any{"agents": agents, "entityTypes": ets, "roles": roles, "installedPacks": packs}, nil
}

func (s *Server) deployAllAgentsE1(st *state, c *callCtx) (any, *fnError) {
	return deployAll(st, c, func(a *agentRow) *configRow { return st.config(a.devConfigID) },
		func(a *agentRow, id string) { a.prodConfigID = id })
}

// deployAll copies each active agent's development configuration into a new
// production configuration row (protocol §5.3).
func deployAll(st *state, c *callCtx, devOf func(*agentRow) *configRow, point func(*agentRow, string)) (any, *fnError) {
	userID, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	deployed, skipped := []any{}, []any{}
	for i := range st.agents {
		a := &st.agents[i]
		if a.orgID != orgID || a.status != StatusActive {
			continue
		}
		dev := devOf(a)
		if dev == nil {
			skipped = append(skipped, a.slug)
			continue
		}
		row := *dev
		row.id, row.env, row.createdAt, row.deployedBy = st.newID(tableConfigs), envProd, c.now, userID
		st.configs = append(st.configs, row)
		point(a, row.id)
		a.updatedAt = c.now
		deployed = append(deployed, a.slug)
	}
	return map[string]any{"success": true, "deployed": deployed, "skipped": skipped}, nil
}
