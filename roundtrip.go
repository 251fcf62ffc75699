package struere

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// This file holds the newest backend's round trip of pulled values: what
// sync:getPullState returns that sync:syncOrganization rejects or would
// clear, and how a client-side promotion handles each case. Every
// function works on the wire JSON and reads nothing.

// agentExtras are configuration fields the pull state omits, recovered
// through other queries. A nil field is absent from the configuration.
type agentExtras struct {
	FirstMessageSuggestions json.RawMessage
	ThreadContextParams     json.RawMessage
}

// Keys the newest backend's syncOrganization validator accepts.
var (
	headAgentKeys = keySet("name", "slug", "version", "description", "firstMessageSuggestions", "threadContextParams", "systemPrompt", "model", "tools")
	headModelKeys = keySet("model", "temperature", "maxTokens")
	headToolKeys  = keySet("name", "description", "parameters", "handlerCode", "templateOnly")
)

func keySet(ks ...string) map[string]bool {
	m := make(map[string]bool, len(ks))
	for _, k := range ks {
		m[k] = true
	}
	return m
}

// headAgentOutcome is what converting one pulled agent gave.
type headAgentOutcome struct {
	payload     json.RawMessage // what to send; nil when refused
	adjustments []Adjustment
	refusals    []Refusal // losses not accepted, or values that cannot be sent at all
	accepted    []Refusal // losses accepted with AcceptLoss
}

// headAgent turns one pulled agent into the syncOrganization item that
// gives production exactly that configuration: it strips tools' isBuiltin
// (the backend no longer stores meaning in it), converts the legacy model
// {provider, name} to "provider/name" (what the backend's own migration
// writes), strips model.reasoning only when that loss is accepted, and adds
// the recovered fields the pull state omits. Keys the validator would
// reject for other reasons refuse the agent.
func headAgent(slug string, pulled json.RawMessage, extras *agentExtras, accept map[Loss]bool) headAgentOutcome {
	var out headAgentOutcome
	bad := func(field, why string) headAgentOutcome {
		out.refusals = append(out.refusals, Refusal{Slug: slug, Kind: "agent", Fields: []string{field},
			Reason: fmt.Sprintf("agent field %s %s, which the backend's sync rejects; fix the configuration in development (Sync) or the dashboard", field, why)})
		out.payload = nil
		return out
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(pulled, &m); err != nil || m == nil {
		return bad("(whole)", "is not a JSON object")
	}
	for _, k := range sortedKeys(m) {
		if !headAgentKeys[k] {
			return bad(k, "is returned by the pull state")
		}
	}
	// Model.
	var model map[string]json.RawMessage
	if err := json.Unmarshal(m["model"], &model); err != nil || model == nil {
		return bad("model", "is not an object")
	}
	provider, hasProvider := jsonString(model["provider"])
	name, hasName := jsonString(model["name"])
	id, hasID := jsonString(model["model"])
	_, rawProvider := model["provider"]
	_, rawName := model["name"]
	switch {
	case rawProvider || rawName:
		legacy := provider + "/" + name
		switch {
		case !hasProvider || !hasName || provider == "" || name == "":
			return bad("model", "has the legacy {provider, name} shape without both a provider and a name, so it cannot be converted exactly")
		case hasID && id != legacy:
			return bad("model", fmt.Sprintf("has both model %q and the legacy provider/name %q", id, legacy))
		}
		delete(model, "provider")
		delete(model, "name")
		if !hasID {
			model["model"], _ = json.Marshal(legacy)
			out.adjustments = append(out.adjustments, Adjustment{Slug: slug, Field: "model",
				Change: fmt.Sprintf("legacy {provider:%q, name:%q} sent as {model:%q}", provider, name, legacy)})
		} else {
			out.adjustments = append(out.adjustments, Adjustment{Slug: slug, Field: "model",
				Change: fmt.Sprintf("redundant legacy provider and name (equal to model %q) removed", id)})
		}
	case !hasID:
		return bad("model.model", "is missing or not a string")
	}
	if _, ok := model["reasoning"]; ok {
		r := lossRefusal("agent", slug, []Loss{LossModelReasoning},
			"set in the stored configuration; the backend's sync rejects it, so the configuration can only be promoted without it")
		if !accept[LossModelReasoning] {
			out.refusals = append(out.refusals, r)
		} else {
			out.accepted = append(out.accepted, r)
			delete(model, "reasoning")
			out.adjustments = append(out.adjustments, Adjustment{Slug: slug, Field: "model.reasoning", Change: "removed (loss accepted)"})
		}
	}
	for _, k := range sortedKeys(model) {
		if !headModelKeys[k] && k != "reasoning" {
			return bad("model."+k, "is returned by the pull state")
		}
	}
	m["model"], _ = json.Marshal(model)
	// Tools.
	var tools []map[string]json.RawMessage
	if err := json.Unmarshal(m["tools"], &tools); err != nil || tools == nil {
		return bad("tools", "is not a list of objects")
	}
	for i, t := range tools {
		tname, _ := jsonString(t["name"])
		if _, ok := t["isBuiltin"]; ok {
			delete(t, "isBuiltin")
			out.adjustments = append(out.adjustments, Adjustment{Slug: slug, Field: fmt.Sprintf("tools[%s].isBuiltin", tname),
				Change: "removed (the backend no longer accepts it; built-in tools are recognised by name)"})
		}
		for _, k := range sortedKeys(t) {
			if !headToolKeys[k] {
				return bad(fmt.Sprintf("tools[%d].%s", i, k), "is returned by the pull state")
			}
		}
	}
	m["tools"], _ = json.Marshal(tools)
	// Recovered fields. The pull never carries them; if it ever does, the
	// recovered value (from the configuration itself) wins only when
	// they agree.
	if extras != nil {
		for _, f := range []struct {
			key string
			val json.RawMessage
		}{{"firstMessageSuggestions", extras.FirstMessageSuggestions}, {"threadContextParams", extras.ThreadContextParams}} {
			if f.val == nil {
				continue
			}
			if have, ok := m[f.key]; ok && !sameJSON(have, f.val) {
				return bad(f.key, "differs between the pull state and the configuration read by id")
			}
			m[f.key] = f.val
		}
	}
	if len(out.refusals) > 0 {
		return out
	}
	b, err := json.Marshal(m)
	if err != nil {
		return bad("(whole)", "cannot be encoded")
	}
	out.payload = b
	return out
}

// rawPolicy is one stored policy row as roles:getWithPolicies returns it.
type rawPolicy struct {
	Resource   string                       `json:"resource"`
	Action     string                       `json:"action"`
	Effect     string                       `json:"effect"`
	ScopeRules []map[string]json.RawMessage `json:"scopeRules"`
	FieldMasks []map[string]json.RawMessage `json:"fieldMasks"`
}

// pulledRole is the part of a pulled role the loss checks read.
type pulledRole struct {
	Name       string `json:"name"`
	ScopeRules []struct {
		EntityType string `json:"entityType"`
		Field      string `json:"field"`
		Operator   string `json:"operator"`
		Value      string `json:"value"`
	} `json:"scopeRules"`
	FieldMasks []struct {
		EntityType string          `json:"entityType"`
		FieldPath  string          `json:"fieldPath"`
		MaskType   string          `json:"maskType"`
		MaskConfig json.RawMessage `json:"maskConfig"`
	} `json:"fieldMasks"`
}

// roleLosses compares a pulled role with its stored policy rows and
// returns the kinds of values a re-sync of the pulled role would lose,
// with a description. Re-syncing attaches every pulled scope rule and mask
// to every policy row of its resource; a stored row whose rules or masks
// are not exactly those loses the difference.
func roleLosses(pulled json.RawMessage, rows []rawPolicy) ([]Loss, string) {
	var p pulledRole
	if err := json.Unmarshal(pulled, &p); err != nil {
		return []Loss{LossScopeRules, LossFieldMasks}, "the pulled role cannot be read"
	}
	wantRules, wantMasks := map[string][]string{}, map[string][]string{}
	for _, r := range p.ScopeRules {
		wantRules[r.EntityType] = append(wantRules[r.EntityType], canonicalJSON(map[string]any{"field": r.Field, "operator": r.Operator, "value": r.Value}))
	}
	for _, m := range p.FieldMasks {
		mm := map[string]any{"fieldPath": m.FieldPath, "maskType": m.MaskType}
		if len(m.MaskConfig) > 0 {
			mm["maskConfig"] = json.RawMessage(m.MaskConfig)
		}
		wantMasks[m.EntityType] = append(wantMasks[m.EntityType], canonicalJSON(mm))
	}
	var losses []Loss
	var why []string
	ruleBad, maskBad := map[string]bool{}, map[string]bool{}
	for _, row := range rows {
		var got []string
		for _, sr := range row.ScopeRules {
			typ, _ := jsonString(sr["type"])
			f, okF := jsonString(sr["field"])
			o, okO := jsonString(sr["operator"])
			v, okV := jsonString(sr["value"])
			if (typ != "" && typ != "field") || !okF || !okO || !okV || f == "" || o == "" || v == "" {
				got = append(got, "\x00inexpressible") // never in the wanted set
				continue
			}
			got = append(got, canonicalJSON(map[string]any{"field": f, "operator": o, "value": v}))
		}
		if !sameStringSet(got, wantRules[row.Resource]) {
			ruleBad[row.Resource] = true
		}
		got = got[:0]
		for _, fm := range row.FieldMasks {
			fp, _ := jsonString(fm["fieldPath"])
			mt, _ := jsonString(fm["maskType"])
			mm := map[string]any{"fieldPath": fp, "maskType": mt}
			if c, ok := fm["maskConfig"]; ok {
				mm["maskConfig"] = c
			}
			got = append(got, canonicalJSON(mm))
		}
		if !sameStringSet(got, wantMasks[row.Resource]) {
			maskBad[row.Resource] = true
		}
	}
	if len(ruleBad) > 0 {
		losses = append(losses, LossScopeRules)
		why = append(why, "scope rules on "+strings.Join(sortedKeys(ruleBad), ", ")+" that the pull state cannot express (relation rules, rules without field, operator or value, or rules that differ between policies of one resource) would be deleted")
	}
	if len(maskBad) > 0 {
		losses = append(losses, LossFieldMasks)
		why = append(why, "field masks on "+strings.Join(sortedKeys(maskBad), ", ")+" that the pull state collapses (differing only in maskConfig, or between policies of one resource) would be reduced to one")
	}
	return losses, strings.Join(why, "; ")
}

// withAgentAccess returns the pulled role with the recovered agentAccess
// list set (present, even when empty, exactly as stored), or unchanged
// when the stored role has none.
func withAgentAccess(pulled, access json.RawMessage) (json.RawMessage, error) {
	if access == nil {
		return pulled, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(pulled, &m); err != nil {
		return nil, err
	}
	m["agentAccess"] = access
	return json.Marshal(m)
}

// duplicateNames returns the names that occur more than once, sorted.
func duplicateNames(names []string) []string {
	seen := map[string]int{}
	for _, n := range names {
		seen[n]++
	}
	var out []string
	for n, k := range seen {
		if k > 1 {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func jsonString(raw json.RawMessage) (string, bool) {
	if raw == nil {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// canonicalJSON encodes v with object keys sorted at every level.
func canonicalJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var x any
	if json.Unmarshal(b, &x) != nil {
		return string(b)
	}
	b, _ = json.Marshal(x)
	return string(b)
}

// sameJSON reports whether two JSON texts hold the same value (object key
// order aside).
func sameJSON(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return canonicalJSON(x) == canonicalJSON(y)
}

// sameStringSet compares as sets (duplicates collapse, as the backend's
// pull de-duplicates identical rules).
func sameStringSet(a, b []string) bool {
	sa, sb := map[string]bool{}, map[string]bool{}
	for _, x := range a {
		sa[x] = true
	}
	for _, x := range b {
		sb[x] = true
	}
	if len(sa) != len(sb) {
		return false
	}
	for x := range sa {
		if !sb[x] {
			return false
		}
	}
	return true
}
