package strueretest

// The dashboard's read queries that a client-side promotion uses to recover
// what sync:getPullState leaves out (protocol-head.md §H2.4): agents:list,
// agents:getWithConfig, roles:list and roles:getWithPolicies. All four act
// on the caller's default organization (no organizationId argument); the
// agent ones answer [] / null to members who are not admins. They return
// raw documents, system fields included.

// adminFunctions registers the queries on environment-isolated
// generations (E2 has the same four functions).
func (s *Server) adminFunctions(fns map[string]function, envs validator) {
	fns["agents:list"] = function{"query", obj(opt("status", literals(StatusActive, StatusPaused, StatusDeleted))), s.agentsList}
	fns["agents:getWithConfig"] = function{"query", obj(req("id", vID{"agents"})), s.agentsGetWithConfig}
	fns["roles:list"] = function{"query", obj(opt("environment", envs)), s.rolesList}
	fns["roles:getWithPolicies"] = function{"query", obj(req("id", vID{"roles"})), s.rolesGetWithPolicies}
}

// isAdmin is isOrgAdmin: the caller's membership of the resolved
// organization has role admin (an owner is an admin on these backends).
func (c *callCtx) isAdmin(st *state, orgID string) bool {
	u := st.userBySubject(c.ident.subject)
	if u == nil {
		return false
	}
	m := st.membership(u.id, orgID)
	return m != nil && (m.role == "admin" || m.role == "owner")
}

func agentDoc(a *agentRow) map[string]any {
	m := map[string]any{"_id": a.id, "_creationTime": float64(a.createdAt), "organizationId": a.orgID,
		"name": a.name, "slug": a.slug, "status": a.status, "createdAt": float64(a.createdAt), "updatedAt": float64(a.updatedAt)}
	setIf(m, "description", a.description)
	return m
}

func (s *Server) agentsList(st *state, c *callCtx) (any, *fnError) {
	orgID, err := c.defaultOrgOf(st)
	if err != nil {
		return nil, err
	}
	out := []any{}
	if !c.isAdmin(st, orgID) {
		return out, nil
	}
	status := str(c.args, "status")
	for i := range st.agents {
		a := &st.agents[i]
		if a.orgID != orgID || (status == "" && a.status == StatusDeleted) || (status != "" && a.status != status) {
			continue
		}
		out = append(out, agentDoc(a))
	}
	return out, nil
}

func (s *Server) agentsGetWithConfig(st *state, c *callCtx) (any, *fnError) {
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
	m := agentDoc(a)
	for _, env := range []string{Development, Production} {
		var doc any
		if cfg := st.configAt(st.configIndex(env), a.id); cfg != nil {
			doc = configDoc(cfg)
		}
		m[env+"Config"] = doc
	}
	return m, nil
}

// configDoc is a stored agentConfigs document.
func configDoc(cfg *configRow) map[string]any {
	m := map[string]any{"_id": cfg.id, "_creationTime": float64(cfg.createdAt), "agentId": cfg.agentID, "environment": cfg.env,
		"name": cfg.name, "version": cfg.version, "systemPrompt": cfg.systemPrompt, "model": cfg.model, "tools": cfg.tools,
		"createdAt": float64(cfg.createdAt)}
	setIf(m, "deployedBy", cfg.deployedBy)
	return m
}

func roleDoc(r *roleRow) map[string]any {
	m := map[string]any{"_id": r.id, "_creationTime": float64(r.createdAt), "organizationId": r.orgID, "environment": r.env,
		"name": r.name, "isSystem": r.isSystem, "createdAt": float64(r.createdAt), "updatedAt": float64(r.createdAt)}
	setIf(m, "description", r.description)
	return m
}

func (s *Server) rolesList(st *state, c *callCtx) (any, *fnError) {
	orgID, err := c.defaultOrgOf(st)
	if err != nil {
		return nil, err
	}
	env := str(c.args, "environment")
	if env == "" {
		env = Development
	}
	out := []any{}
	for i := range st.roles {
		r := &st.roles[i]
		if r.orgID == orgID && r.env == env {
			out = append(out, roleDoc(r))
		}
	}
	return out, nil
}

func (s *Server) rolesGetWithPolicies(st *state, c *callCtx) (any, *fnError) {
	orgID, err := c.defaultOrgOf(st)
	if err != nil {
		return nil, err
	}
	var role *roleRow
	for i := range st.roles {
		if st.roles[i].id == str(c.args, "id") {
			role = &st.roles[i]
		}
	}
	if role == nil || role.orgID != orgID {
		return nil, nil
	}
	m := roleDoc(role)
	pols := []any{}
	for _, p := range st.policiesOf(role.id) {
		rules, masks := []any{}, []any{}
		for _, rv := range p.scopeRules {
			r, _ := rv.(map[string]any)
			d := map[string]any{"policyId": p.id, "type": "field", "createdAt": float64(role.createdAt)}
			if t, ok := r["type"].(string); ok {
				d["type"] = t
			}
			for _, k := range []string{"field", "operator", "value", "relationPath"} {
				if v, ok := r[k]; ok {
					d[k] = v
				}
			}
			rules = append(rules, d)
		}
		for _, mv := range p.fieldMasks {
			fm, _ := mv.(map[string]any)
			d := map[string]any{"policyId": p.id, "fieldPath": fm["fieldPath"], "maskType": fm["maskType"], "createdAt": float64(role.createdAt)}
			if v, ok := fm["maskConfig"]; ok {
				d["maskConfig"] = v
			}
			masks = append(masks, d)
		}
		pols = append(pols, map[string]any{"_id": p.id, "organizationId": role.orgID, "roleId": role.id, "resource": p.resource,
			"action": p.action, "effect": p.effect, "createdAt": float64(role.createdAt), "scopeRules": rules, "fieldMasks": masks})
	}
	m["policies"] = pols
	return m, nil
}
