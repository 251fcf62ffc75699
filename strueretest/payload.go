package strueretest

import (
	"encoding/json"
	"slices"
	"time"

	struere "github.com/struere/struere-go"
)

// Helpers that move between validated payload objects (map[string]any), the
// stored rows and the exported structs.

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func list(m map[string]any, k string) []any {
	l, _ := m[k].([]any)
	return l
}

func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func anys(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

func setIf(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func ms(t int64) time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.UnixMilli(t).UTC()
}

func entityTypePayload(et EntityType) (map[string]any, error) {
	p := map[string]any{"name": et.Name, "slug": et.Slug}
	schema, err := fromRaw(et.Schema)
	if err != nil {
		return nil, err
	}
	if schema == nil {
		schema = map[string]any{}
	}
	p["schema"] = schema
	if et.SearchFields != nil {
		p["searchFields"] = anys(et.SearchFields)
	}
	if len(et.DisplayConfig) > 0 {
		d, err := fromRaw(et.DisplayConfig)
		if err != nil {
			return nil, err
		}
		p["displayConfig"] = d
	}
	setIf(p, "boundToRole", et.BoundToRole)
	setIf(p, "userIdField", et.UserIDField)
	return p, nil
}

// patchEntityType writes a validated entity type payload into row.
// searchFields defaults to [].
func patchEntityType(row *entityTypeRow, p map[string]any) {
	row.name, row.slug = str(p, "name"), str(p, "slug")
	row.schema = p["schema"]
	row.searchFields = strs(p["searchFields"])
	row.displayConfig, row.hasDisplayConfig = p["displayConfig"]
	row.boundToRole, row.userIDField = str(p, "boundToRole"), str(p, "userIdField")
}

func (row entityTypeRow) export(st *state) EntityType {
	return EntityType{ID: row.id, OrganizationID: row.orgID, Environment: struere.Environment(row.env), Name: row.name, Slug: row.slug,
		Schema: toRaw(row.schema), SearchFields: slices.Clone(row.searchFields), DisplayConfig: toRaw(row.displayConfig),
		BoundToRole: row.boundToRole, UserIDField: row.userIDField, PackManaged: st.packManaged(row.id)}
}

func rolePayload(r Role) (map[string]any, error) {
	p := map[string]any{"name": r.Name}
	setIf(p, "description", r.Description)
	pols := []any{}
	for _, pol := range r.Policies {
		m := map[string]any{"resource": pol.Resource, "actions": anys(pol.Actions), "effect": pol.Effect}
		if pol.Effect == "" {
			m["effect"] = "allow"
		}
		if pol.Priority != 0 {
			m["priority"] = pol.Priority
		}
		pols = append(pols, m)
	}
	p["policies"] = pols
	rules := []any{}
	for _, sr := range r.ScopeRules {
		rules = append(rules, map[string]any{"entityType": sr.EntityType, "field": sr.Field, "operator": sr.Operator, "value": sr.Value})
	}
	p["scopeRules"] = rules
	masks := []any{}
	for _, fm := range r.FieldMasks {
		m := map[string]any{"entityType": fm.EntityType, "fieldPath": fm.FieldPath, "maskType": fm.MaskType}
		if len(fm.MaskConfig) > 0 {
			c, err := fromRaw(fm.MaskConfig)
			if err != nil {
				return nil, err
			}
			m["maskConfig"] = c
		}
		masks = append(masks, m)
	}
	p["fieldMasks"] = masks
	return p, nil
}

// rebuildPolicies deletes the role's policies and recreates them from the
// payload: one row per action, each scope rule and field mask attached to
// every row whose resource equals its entityType. E1 rows carry a priority
// (default 50).
func rebuildPolicies(st *state, roleID string, p map[string]any, withPriority bool) {
	st.policies = slices.DeleteFunc(st.policies, func(r policyRow) bool { return r.roleID == roleID })
	for _, pv := range list(p, "policies") {
		pol, _ := pv.(map[string]any)
		for _, action := range strs(pol["actions"]) {
			row := policyRow{id: st.newID(tablePolicies), roleID: roleID, resource: str(pol, "resource"), action: action, effect: str(pol, "effect")}
			if withPriority {
				row.hasPriority, row.priority = true, 50
				if f, ok := pol["priority"].(float64); ok {
					row.priority = f
				}
			}
			for _, sv := range list(p, "scopeRules") {
				if sr, _ := sv.(map[string]any); str(sr, "entityType") == row.resource {
					row.scopeRules = append(row.scopeRules, sr)
				}
			}
			for _, mv := range list(p, "fieldMasks") {
				if fm, _ := mv.(map[string]any); str(fm, "entityType") == row.resource {
					row.fieldMasks = append(row.fieldMasks, fm)
				}
			}
			st.policies = append(st.policies, row)
		}
	}
}

// groupPolicies regroups policy rows by (resource, effect) and collects the
// scope rules and masks of the first row of each resource, de-duplicated
// (protocol §6.3).
func groupPolicies(rows []policyRow) (policies, scopeRules, fieldMasks []any) {
	policies, scopeRules, fieldMasks = []any{}, []any{}, []any{}
	index := map[[2]string]int{}
	seenResource := map[string]bool{}
	seen := map[string]bool{}
	for _, r := range rows {
		key := [2]string{r.resource, r.effect}
		if i, ok := index[key]; ok {
			m := policies[i].(map[string]any)
			m["actions"] = append(m["actions"].([]any), r.action)
		} else {
			index[key] = len(policies)
			policies = append(policies, map[string]any{"resource": r.resource, "actions": []any{r.action}, "effect": r.effect})
		}
		if seenResource[r.resource] {
			continue
		}
		seenResource[r.resource] = true
		for _, sv := range r.scopeRules {
			sr, _ := sv.(map[string]any)
			if str(sr, "field") == "" || str(sr, "operator") == "" || str(sr, "value") == "" {
				continue
			}
			if k := "s" + render([]any{r.resource, sr["field"], sr["operator"], sr["value"]}); !seen[k] {
				seen[k] = true
				scopeRules = append(scopeRules, map[string]any{"entityType": r.resource, "field": sr["field"], "operator": sr["operator"], "value": sr["value"]})
			}
		}
		for _, mv := range r.fieldMasks {
			fm, _ := mv.(map[string]any)
			// The key leaves maskConfig out: masks differing only in it
			// collapse (protocol-head §H2.4).
			if k := "m" + render([]any{r.resource, fm["fieldPath"], fm["maskType"]}); !seen[k] {
				seen[k] = true
				m := map[string]any{"entityType": r.resource, "fieldPath": fm["fieldPath"], "maskType": fm["maskType"]}
				if c, ok := fm["maskConfig"]; ok {
					m["maskConfig"] = c
				}
				fieldMasks = append(fieldMasks, m)
			}
		}
	}
	return policies, scopeRules, fieldMasks
}

func (row roleRow) export(st *state) Role {
	rows := st.policiesOf(row.id)
	r := Role{ID: row.id, OrganizationID: row.orgID, Environment: struere.Environment(row.env), Name: row.name, Description: row.description,
		IsSystem: row.isSystem, PolicyCount: len(rows), PackManaged: st.packManaged(row.id), AgentAccess: slices.Clone(row.agentAccess)}
	for _, p := range rows {
		r.Policies = append(r.Policies, Policy{Resource: p.resource, Actions: []string{p.action}, Effect: p.effect, Priority: p.priority})
	}
	_, rules, masks := groupPolicies(rows)
	for _, v := range rules {
		m := v.(map[string]any)
		r.ScopeRules = append(r.ScopeRules, ScopeRule{EntityType: str(m, "entityType"), Field: str(m, "field"), Operator: str(m, "operator"), Value: str(m, "value")})
	}
	for _, v := range masks {
		m := v.(map[string]any)
		r.FieldMasks = append(r.FieldMasks, FieldMask{EntityType: str(m, "entityType"), FieldPath: str(m, "fieldPath"), MaskType: str(m, "maskType"), MaskConfig: toRaw(m["maskConfig"])})
	}
	return r
}

func triggerPayload(t Trigger) (map[string]any, error) {
	p := map[string]any{"name": t.Name, "slug": t.Slug, "entityType": t.EntityType, "action": t.Action}
	setIf(p, "description", t.Description)
	for k, raw := range map[string]json.RawMessage{"condition": t.Condition, "actions": t.Actions, "schedule": t.Schedule, "retry": t.Retry} {
		if len(raw) == 0 {
			continue
		}
		v, err := fromRaw(raw)
		if err != nil {
			return nil, err
		}
		p[k] = v
	}
	if _, ok := p["actions"]; !ok {
		p["actions"] = []any{}
	}
	return p, nil
}

func (row triggerRow) export() Trigger {
	d := row.def
	return Trigger{ID: row.id, OrganizationID: row.orgID, Environment: struere.Environment(row.env), Name: str(d, "name"), Slug: row.slug,
		Description: str(d, "description"), EntityType: str(d, "entityType"), Action: str(d, "action"),
		Condition: toRaw(d["condition"]), Actions: toRaw(d["actions"]), Schedule: toRaw(d["schedule"]), Retry: toRaw(d["retry"]),
		Disabled: !row.enabled}
}

func (row evalSuiteRow) export(st *state) EvalSuite {
	d := row.def
	cases := []any{}
	for _, c := range st.casesOf(row.id) {
		cases = append(cases, c.def)
	}
	return EvalSuite{ID: row.id, OrganizationID: row.orgID, Environment: struere.Environment(row.env), Name: str(d, "name"), Slug: row.slug,
		AgentSlug: str(d, "agentSlug"), AgentID: row.agentID, Description: str(d, "description"), Status: row.status, Cases: toRaw(cases)}
}

func (s *Server) configRecord(st *state, row configRow) ConfigRecord {
	rec := ConfigRecord{ID: row.id, AgentID: row.agentID, Environment: struere.Environment(row.env), CreatedAt: ms(row.createdAt), DeployedBy: row.deployedBy}
	rec.Version, rec.Name, rec.SystemPrompt = row.version, row.name, row.systemPrompt
	rec.Model = decodeModel(row.model)
	_ = json.Unmarshal(toRaw(row.tools), &rec.Tools)
	rec.StoredModel, rec.StoredTools = toRaw(row.model), toRaw(row.tools)
	if row.firstMessageSuggestions != nil {
		rec.FirstMessageSuggestions = strs(row.firstMessageSuggestions)
	}
	if row.threadContextParams != nil {
		rec.ThreadContextParams = []struere.ThreadContextParam{}
		_ = json.Unmarshal(toRaw(row.threadContextParams), &rec.ThreadContextParams)
	}
	if a := st.agent(row.agentID); a != nil {
		rec.AgentSlug = a.slug
		if s.isE1() {
			rec.Current = a.devConfigID == row.id || a.prodConfigID == row.id
		} else if c := st.currentConfig(a.id, row.env); c != nil {
			rec.Current = c.id == row.id
		}
	}
	return rec
}
