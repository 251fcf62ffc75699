package strueretest

// The dashboard's read queries that a client-side promotion uses to recover
// what sync:getPullState leaves out (protocol-head.md §H2.4): agents:list,
// agents:getWithConfig, roles:list and roles:getWithPolicies. All four act
// on the caller's default organization (no organizationId argument); the
// agent ones answer [] / null to members who are not admins. They return
// raw documents, system fields included; the scope-rule and field-mask
// documents inside roles:getWithPolicies carry no _id (the emulation does
// not store them as separate rows).

// adminFunctions registers the queries on environment-isolated
// generations (E2 has the same four functions; HEAD's registration of the
// first three is kept).
func (s *Server) adminFunctions(fns map[string]function, envs validator) {
	if _, ok := fns["roles:list"]; !ok {
		fns["roles:list"] = function{"query", obj(opt("environment", envs)), s.listRoles}
		fns["agents:list"] = function{"query", obj(opt("status", literals(StatusActive, StatusPaused, StatusDeleted))), s.listAgents}
		fns["agents:getWithConfig"] = function{"query", obj(req("id", vID{"agents"})), s.getWithConfig}
	}
	fns["roles:getWithPolicies"] = function{"query", obj(req("id", vID{"roles"})), s.rolesGetWithPolicies}
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
	m := roleDoc(*role)
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
