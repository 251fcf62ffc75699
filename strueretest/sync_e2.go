package strueretest

// Environment-isolated generations (protocol §6): everything but agents is
// scoped to (organization, environment); agents are hard-deleted across
// environments.

func (s *Server) getSyncStateE2(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	return s.syncState(st, orgID, str(c.args, "environment")), nil
}

// syncState is getSyncState's value for (orgID, env).
func (s *Server) syncState(st *state, orgID, env string) *syncStateE2 {
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
	return out
}

func (s *Server) getPullState(st *state, c *callCtx) (any, *fnError) {
	_, orgID, err := c.resolveOrg(st)
	if err != nil {
		return nil, err
	}
	return s.pullState(st, orgID, str(c.args, "environment")), nil
}

// pullState is getPullState's value for (orgID, env).
func (s *Server) pullState(st *state, orgID, env string) map[string]any {
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
			if s.isHead() {
				m["model"] = map[string]any{"model": "anthropic/claude-haiku-4-5"}
			}
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
		if t.orgID != orgID || t.env != env || !t.enabled {
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
	return map[string]any{"agents": agents, "entityTypes": ets, "roles": roles, "triggers": triggers}
}

func (s *Server) deployAllAgentsE2(st *state, c *callCtx) (any, *fnError) {
	dev := st.configIndex(envDev) // deployAll appends production rows only, so the indexes stay valid
	return deployAll(st, c, func(a *agentRow) *configRow { return st.configAt(dev, a.id) }, func(*agentRow, string) {})
}
