package strueretest

import (
	"sort"
)

// sync:syncOrganization on environment-isolated generations, and the HEAD
// queries that read what getPullState omits (protocol-head §H2.4).

func (s *Server) syncOrganization(st *state, c *callCtx) (any, *fnError) {
	userID, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	r := &syncRun{s: s, st: st, now: c.now, orgID: orgID, env: str(c.args, "environment"), userID: userID, args: c.args, head: s.isHead()}
	if r.head {
		r.logf = c.logf // the public mutation's diagnostic logging (§H1.8)
	}
	return r.run()
}

// planOf is the organization's plan: its own, else the server's default.
func (s *Server) planOf(st *state, orgID string) Plan {
	if o := st.org(orgID); o != nil && o.plan != "" {
		return o.plan
	}
	return s.opts.plan
}

// listSyncEvents is events:listSyncEvents (default organization): the
// sync/deploy events among the newest 5×limit events of the environment,
// newest first, at most limit.
func (s *Server) listSyncEvents(st *state, c *callCtx) (any, *fnError) {
	orgID, err := c.defaultOrgOf(st)
	if err != nil {
		return nil, err
	}
	env := envArg(c, envDev)
	limit := limitArg(c, 20)
	var rows []eventRow
	for _, e := range st.events {
		if e.orgID == orgID && e.env == env {
			rows = append(rows, e)
		}
	}
	rows = newestFirst(rows) // by_org_env_timestamp, descending
	if n := 5 * limit; n >= 0 && len(rows) > n {
		rows = rows[:n]
	}
	out := []any{}
	for _, e := range rows {
		switch e.eventType {
		case "sync.completed", "sync.failed", "deploy.completed", "deploy.failed":
			if len(out) < limit {
				out = append(out, eventDoc(e))
			}
		}
	}
	return out, nil
}

// newestFirst orders events by timestamp, newest first, and among equal
// timestamps the later insertion first (a descending index scan).
func newestFirst(rows []eventRow) []eventRow {
	out := make([]eventRow, len(rows))
	for i := range rows {
		out[len(rows)-1-i] = rows[i]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].timestamp > out[j].timestamp })
	return out
}

func eventDoc(e eventRow) map[string]any {
	m := map[string]any{"_id": e.id, "_creationTime": float64(e.timestamp), "organizationId": e.orgID, "environment": e.env,
		"eventType": e.eventType, "actorType": e.actorType, "schemaVersion": float64(1), "timestamp": float64(e.timestamp),
		"payload": e.payload}
	setIf(m, "actorId", e.actorID)
	return m
}

// isAdmin is HEAD's isOrgAdmin.
func (c *callCtx) isAdmin(st *state, orgID string) bool { return c.requireAdmin(st, orgID) == nil }

// listRoles is HEAD's roles:list (default organization): raw role
// documents of the environment (default development), system roles
// included.
func (s *Server) listRoles(st *state, c *callCtx) (any, *fnError) {
	orgID, err := c.defaultOrgOf(st)
	if err != nil {
		return nil, err
	}
	env := envArg(c, envDev)
	out := []any{}
	for _, r := range st.roles {
		if r.orgID == orgID && r.env == env {
			out = append(out, roleDoc(r))
		}
	}
	return out, nil
}

func roleDoc(r roleRow) map[string]any {
	m := map[string]any{"_id": r.id, "_creationTime": float64(r.createdAt), "organizationId": r.orgID, "environment": r.env,
		"name": r.name, "isSystem": r.isSystem, "createdAt": float64(r.createdAt), "updatedAt": float64(r.createdAt)}
	setIf(m, "description", r.description)
	if r.agentAccess != nil {
		m["agentAccess"] = anys(r.agentAccess)
	}
	return m
}

// listAgents is HEAD's agents:list (admin, default organization): raw
// agent documents, deleted ones only when asked for by status.
func (s *Server) listAgents(st *state, c *callCtx) (any, *fnError) {
	orgID, err := c.defaultOrgOf(st)
	if err != nil {
		return nil, err
	}
	out := []any{}
	if !c.isAdmin(st, orgID) {
		return out, nil
	}
	status := str(c.args, "status")
	for _, a := range st.agents {
		if a.orgID != orgID || (status == "" && a.status == StatusDeleted) || (status != "" && a.status != status) {
			continue
		}
		out = append(out, agentDoc(a))
	}
	return out, nil
}

// getWithConfig is HEAD's agents:getWithConfig (admin, default
// organization): the agent document with its development and production
// configuration documents (null when missing).
func (s *Server) getWithConfig(st *state, c *callCtx) (any, *fnError) {
	orgID, err := c.defaultOrgOf(st)
	if err != nil {
		return nil, err
	}
	if !c.isAdmin(st, orgID) {
		return nil, nil
	}
	a := st.agent(str(c.args, "id"))
	if a == nil || a.orgID != orgID {
		return nil, nil
	}
	m := agentDoc(*a)
	for key, env := range map[string]string{"developmentConfig": envDev, "productionConfig": envProd} {
		m[key] = nil
		if cfg := st.currentConfig(a.id, env); cfg != nil {
			m[key] = configDoc(*cfg)
		}
	}
	return m, nil
}

func agentDoc(a agentRow) map[string]any {
	m := map[string]any{"_id": a.id, "_creationTime": float64(a.createdAt), "organizationId": a.orgID, "name": a.name,
		"slug": a.slug, "status": a.status, "createdAt": float64(a.createdAt), "updatedAt": float64(a.updatedAt)}
	setIf(m, "description", a.description)
	return m
}

func configDoc(c configRow) map[string]any {
	m := map[string]any{"_id": c.id, "_creationTime": float64(c.createdAt), "agentId": c.agentID, "name": c.name,
		"version": c.version, "systemPrompt": c.systemPrompt, "model": c.model, "tools": c.tools,
		"environment": c.env, "createdAt": float64(c.createdAt)}
	setIf(m, "deployedBy", c.deployedBy)
	if c.firstMessageSuggestions != nil {
		m["firstMessageSuggestions"] = c.firstMessageSuggestions
	}
	if c.threadContextParams != nil {
		m["threadContextParams"] = c.threadContextParams
	}
	return m
}
