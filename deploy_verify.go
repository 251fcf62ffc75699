package struere

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
)

// verify reads production back and checks every deployed agent serves the
// development version that was promoted, and that production's other
// resources are still there.
func (c *Client) verify(ctx context.Context, op string, before *remote, rec *recovery, accept map[Loss]bool, res *DeployResult) error {
	clientSide := before.prodPull != nil
	after, err := c.readRemoteAs(ctx, op+": verify", before.gen, reads{prodPull: clientSide})
	if err != nil {
		// The deploy was written; say so, whatever stopped the read-back.
		return &VerificationError{Op: op, Result: res, Mismatches: []Refusal{{Reason: "production could not be read back after the deploy: " + err.Error()}}, Err: err}
	}
	want := map[string]string{}
	for _, a := range before.dev.Agents {
		want[a.Slug] = before.devView(a).version
	}
	var bad []Refusal
	for _, slug := range res.Deployed {
		got := after.prodView(slug)
		switch {
		case !got.configured:
			bad = append(bad, Refusal{Slug: slug, Reason: "production has no configuration after the deploy"})
		case got.version != "" && got.version != want[slug]:
			bad = append(bad, Refusal{Slug: slug, Reason: fmt.Sprintf("production serves version %s, development has %s", got.version, want[slug])})
		}
	}
	if before.prod != nil {
		wasProd := &remote{gen: before.gen, dev: before.prod}
		nowProd := &remote{gen: after.gen, dev: after.prod}
		now := map[ResourceKind]map[string]bool{}
		for _, rs := range resourceStatuses(nowProd, nil) {
			if now[rs.Kind] == nil {
				now[rs.Kind] = map[string]bool{}
			}
			now[rs.Kind][rs.Name] = true
		}
		for _, rs := range resourceStatuses(wasProd, nil) {
			if act, _ := res.Plan.resourceAction(rs.Kind, rs.Name); act == ResourceDelete {
				continue // deleted as planned; the content comparison checks it is gone
			}
			if !now[rs.Kind][rs.Name] {
				bad = append(bad, Refusal{Slug: rs.Name, Reason: fmt.Sprintf("production %s %q is gone after the deploy", rs.Kind, rs.Name)})
			}
		}
	}
	if clientSide {
		bad = append(bad, contentMismatches(before, after, res.Plan, res.Deployed, accept)...)
		if rec != nil {
			more, err := c.verifyRecovered(ctx, op, before, after, rec, res)
			if err != nil {
				return &VerificationError{Op: op, Result: res, Mismatches: []Refusal{{Reason: "production's roles and agent configurations could not be read back after the deploy: " + err.Error()}}, Err: err}
			}
			bad = append(bad, more...)
		}
	}
	if len(bad) > 0 {
		return &VerificationError{Op: op, Result: res, Mismatches: bad}
	}
	res.Verified = true
	return nil
}

// contentMismatches compares, after a client-side promotion, production's
// entity types and roles with what they were, and each promoted agent's
// production configuration with its development one, in full.
//
// For the resource kinds the plan promotes, each resource is compared with
// what the deploy meant production to hold (resourceMismatches).
func contentMismatches(before, after *remote, p *Plan, deployed []string, accept map[Loss]bool) []Refusal {
	var bad []Refusal
	same := func(a, b []json.RawMessage) bool {
		ca, errA := canonicalPull(&wirePullState{EntityTypes: a})
		cb, errB := canonicalPull(&wirePullState{EntityTypes: b})
		if errA != nil || errB != nil {
			return false
		}
		ja, _ := json.Marshal(ca)
		jb, _ := json.Marshal(cb)
		return string(ja) == string(jb)
	}
	if p.promo.has(KindEntityType) {
		bad = append(bad, resourceMismatches(after, p, KindEntityType)...)
	} else if !same(before.prodPull.EntityTypes, after.prodPull.EntityTypes) {
		bad = append(bad, Refusal{Reason: "production entity types differ from before the deploy"})
	}
	if p.promo.has(KindRole) {
		bad = append(bad, resourceMismatches(after, p, KindRole)...)
	} else if !same(before.prodPull.Roles, after.prodPull.Roles) {
		bad = append(bad, Refusal{Reason: "production roles differ from before the deploy"})
	}
	if p.promo.has(KindTrigger) {
		bad = append(bad, resourceMismatches(after, p, KindTrigger)...)
	}
	devAgents, _ := before.pulledAgents("verify", before.devPull)
	prodAgents, _ := after.pulledAgents("verify", after.prodPull)
	for _, slug := range deployed {
		want, got := devAgents[slug], prodAgents[slug]
		if before.gen == GenerationHead {
			// Compare what was sent (isBuiltin stripped, legacy models
			// converted) with what production serves.
			want, got = headAgent(slug, want, nil, accept).payload, headAgent(slug, got, nil, accept).payload
		}
		if !after.prodView(slug).configured {
			continue // reported above: no configuration
		}
		if want == nil || !same([]json.RawMessage{want}, []json.RawMessage{got}) {
			bad = append(bad, Refusal{Slug: slug, Reason: "production configuration differs from the development one that was promoted"})
		}
	}
	return bad
}

// verifyRecovered reads back, through the same queries that recovered them,
// the values the pull state does not show: promoted agents'
// firstMessageSuggestions and threadContextParams, production roles'
// agentAccess and every stored policy row with its scope rules and masks.
// Values that could not be read before the deploy (and whose loss was
// accepted) are not compared.
func (c *Client) verifyRecovered(ctx context.Context, op string, before, after *remote, rec *recovery, res *DeployResult) ([]Refusal, error) {
	now, err := c.recover(ctx, op+": verify", after)
	if err != nil {
		return nil, err
	}
	var bad []Refusal
	if before.gen == GenerationHead && rec.agentsWhy == "" && len(res.Deployed) > 0 {
		if now.agentsWhy != "" {
			bad = append(bad, Refusal{Kind: "agent", Reason: "firstMessageSuggestions and threadContextParams could not be read back: " + now.agentsWhy})
		} else {
			deployed := map[string]bool{}
			for _, s := range res.Deployed {
				deployed[s] = true
			}
			for _, a := range before.dev.Agents {
				want := rec.prod[a.Slug]
				if deployed[a.Slug] {
					want = rec.dev[a.Slug]
				}
				got := now.prod[a.Slug]
				if want == nil {
					continue // not configured in production before, and not promoted
				}
				if got == nil {
					bad = append(bad, Refusal{Slug: a.Slug, Kind: "agent", Reason: "production has no configuration after the deploy"})
					continue
				}
				for _, f := range []struct {
					name      string
					want, got json.RawMessage
				}{{"firstMessageSuggestions", want.FirstMessageSuggestions, got.FirstMessageSuggestions}, {"threadContextParams", want.ThreadContextParams, got.ThreadContextParams}} {
					if (f.want == nil) != (f.got == nil) || f.want != nil && !sameJSON(f.want, f.got) {
						bad = append(bad, Refusal{Slug: a.Slug, Kind: "agent", Fields: []string{f.name}, Reason: fmt.Sprintf("production's %s is %s after the deploy, expected %s", f.name, orAbsent(f.got), orAbsent(f.want))})
					}
				}
			}
		}
	}
	// What each production role must hold now, as stored: its own, or
	// for a role the deploy promoted, development's.
	type storedRole struct {
		access json.RawMessage
		rows   []rawPolicy
	}
	want := map[string]storedRole{}
	if len(before.prod.Roles) > 0 && rec.rolesWhy == "" {
		for name, rows := range rec.roleRows {
			want[name] = storedRole{rec.roleAccess[name], rows}
		}
	}
	if res.Plan != nil && res.Plan.promo.has(KindRole) {
		for _, pr := range res.Plan.Resources {
			if pr.Kind != KindRole || pr.Action == ResourceUnchanged {
				continue
			}
			delete(want, pr.Name) // deleted: gone from the pull state, checked there
			if pr.Action != ResourceDelete && rec.devRolesWhy == "" && rec.devRoleRows != nil {
				want[pr.Name] = storedRole{rec.devRoleAccess[pr.Name], rec.devRoleRows[pr.Name]}
			}
		}
	}
	if len(want) > 0 {
		if now.rolesWhy != "" {
			bad = append(bad, Refusal{Kind: "role", Reason: "production roles could not be read back as stored: " + now.rolesWhy})
			return bad, nil
		}
		accepted := map[string]bool{}
		if res.Plan != nil {
			for _, a := range res.Plan.Accepted {
				if a.Kind == "role" {
					accepted[a.Slug] = true
				}
			}
		}
		for _, name := range sortedKeys(want) {
			w := want[name]
			if before.gen == GenerationHead {
				g := now.roleAccess[name]
				if (w.access == nil) != (g == nil) || w.access != nil && !sameJSON(w.access, g) {
					bad = append(bad, Refusal{Slug: name, Kind: "role", Fields: []string{"agentAccess"}, Reason: fmt.Sprintf("production role's agentAccess is %s after the deploy, expected %s", orAbsent(g), orAbsent(w.access))})
				}
			}
			if accepted[name] {
				continue // the caller accepted that these rows change
			}
			if !sameStringSet(policyRowKeys(w.rows), policyRowKeys(now.roleRows[name])) || len(w.rows) != len(now.roleRows[name]) {
				bad = append(bad, Refusal{Slug: name, Kind: "role", Fields: []string{"policies", "scopeRules", "fieldMasks"}, Reason: "production role's stored policies, scope rules or field masks differ after the deploy"})
			}
		}
	}
	return bad, nil
}

func orAbsent(raw json.RawMessage) string {
	if raw == nil {
		return "absent"
	}
	return string(raw)
}

// policyRowKeys renders each stored policy row without its ids and times.
func policyRowKeys(rows []rawPolicy) []string {
	out := make([]string, 0, len(rows))
	keep := func(items []map[string]json.RawMessage, keys ...string) []string {
		var s []string
		for _, it := range items {
			m := map[string]json.RawMessage{}
			for _, k := range keys {
				if v, ok := it[k]; ok {
					m[k] = v
				}
			}
			s = append(s, canonicalJSON(m))
		}
		sort.Strings(s)
		return slices.Compact(s)
	}
	for _, r := range rows {
		out = append(out, canonicalJSON(map[string]any{"resource": r.Resource, "action": r.Action, "effect": r.Effect,
			"scopeRules": keep(r.ScopeRules, "type", "field", "operator", "value", "relationPath"),
			"fieldMasks": keep(r.FieldMasks, "fieldPath", "maskType", "maskConfig")}))
	}
	return out
}
