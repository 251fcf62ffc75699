package struere

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The newest backend's round trip of pulled agents (protocol-head.md §H2.4):
// each row of "returned but rejected" and "accepted but not returned".

func TestHeadAgentStripsIsBuiltinAndKeepsEverythingElse(t *testing.T) {
	pulled := `{"name":"Support","slug":"support","description":"Front desk","version":"1.0.0","systemPrompt":"Hi",
	  "model":{"model":"openai/gpt-5-mini","temperature":0.7,"maxTokens":4096},
	  "tools":[{"name":"entity.query","description":"q","parameters":{"type":"object"},"isBuiltin":true},
	           {"name":"lookup","description":"l","parameters":{},"handlerCode":"return 1","templateOnly":true,"isBuiltin":false}]}`
	out := headAgent("support", json.RawMessage(pulled), nil, nil)
	require.Empty(t, out.refusals)
	require.JSONEq(t, `{"name":"Support","slug":"support","description":"Front desk","version":"1.0.0","systemPrompt":"Hi",
	  "model":{"model":"openai/gpt-5-mini","temperature":0.7,"maxTokens":4096},
	  "tools":[{"name":"entity.query","description":"q","parameters":{"type":"object"}},
	           {"name":"lookup","description":"l","parameters":{},"handlerCode":"return 1","templateOnly":true}]}`, string(out.payload))
	require.Len(t, out.adjustments, 2)
	require.Equal(t, "tools[entity.query].isBuiltin", out.adjustments[0].Field)
	require.Equal(t, "tools[lookup].isBuiltin", out.adjustments[1].Field)
}

func TestHeadAgentConvertsTheLegacyModelExactlyOrRefuses(t *testing.T) {
	agent := func(model string) json.RawMessage {
		return json.RawMessage(`{"name":"A","slug":"a","version":"1","systemPrompt":"","tools":[],"model":` + model + `}`)
	}
	out := headAgent("a", agent(`{"provider":"anthropic","name":"claude-haiku-4-5","temperature":0.2}`), nil, nil)
	require.Empty(t, out.refusals)
	var got struct{ Model map[string]any }
	require.NoError(t, json.Unmarshal(out.payload, &got))
	require.Equal(t, map[string]any{"model": "anthropic/claude-haiku-4-5", "temperature": 0.2}, got.Model)
	require.Len(t, out.adjustments, 1)
	require.Contains(t, out.adjustments[0].Change, `{model:"anthropic/claude-haiku-4-5"}`)

	// Both shapes, agreeing: the redundant keys go.
	out = headAgent("a", agent(`{"model":"openai/gpt-5","provider":"openai","name":"gpt-5"}`), nil, nil)
	require.Empty(t, out.refusals)
	got.Model = nil
	require.NoError(t, json.Unmarshal(out.payload, &got))
	require.Equal(t, map[string]any{"model": "openai/gpt-5"}, got.Model)

	for name, model := range map[string]string{
		"disagreeing shapes": `{"model":"openai/gpt-5","provider":"anthropic","name":"x"}`,
		"no provider":        `{"name":"gpt-5"}`,
		"empty name":         `{"provider":"openai","name":""}`,
		"no model at all":    `{"temperature":1}`,
		"unknown model key":  `{"model":"openai/gpt-5","topP":1}`,
	} {
		t.Run(name, func(t *testing.T) {
			out := headAgent("a", agent(model), nil, nil)
			require.Nil(t, out.payload)
			require.Len(t, out.refusals, 1)
			require.Equal(t, "a", out.refusals[0].Slug)
			require.Contains(t, out.refusals[0].Fields[0], "model")
			require.Empty(t, out.refusals[0].Losses, "a value the backend rejects cannot be accepted away")
		})
	}
}

func TestHeadAgentRefusesReasoningUnlessTheLossIsAccepted(t *testing.T) {
	pulled := json.RawMessage(`{"name":"A","slug":"a","version":"1","systemPrompt":"","tools":[],
	  "model":{"model":"openai/gpt-5","reasoning":{"effort":"high"}}}`)
	out := headAgent("a", pulled, nil, nil)
	require.Len(t, out.refusals, 1)
	require.Equal(t, []Loss{LossModelReasoning}, out.refusals[0].Losses)
	require.Contains(t, out.refusals[0].Reason, `AcceptLoss(struere.LossModelReasoning)`)

	out = headAgent("a", pulled, nil, map[Loss]bool{LossModelReasoning: true})
	require.Empty(t, out.refusals)
	require.Len(t, out.accepted, 1)
	require.JSONEq(t, `{"name":"A","slug":"a","version":"1","systemPrompt":"","tools":[],"model":{"model":"openai/gpt-5"}}`, string(out.payload))
}

func TestHeadAgentAddsRecoveredFieldsAndRefusesUnknownKeys(t *testing.T) {
	pulled := json.RawMessage(`{"name":"A","slug":"a","version":"1","systemPrompt":"","tools":[],"model":{"model":"x/y"}}`)
	ex := &agentExtras{FirstMessageSuggestions: json.RawMessage(`["Book"]`), ThreadContextParams: json.RawMessage(`[{"name":"customerId","type":"string","required":true}]`)}
	out := headAgent("a", pulled, ex, nil)
	require.Empty(t, out.refusals)
	require.JSONEq(t, `{"name":"A","slug":"a","version":"1","systemPrompt":"","tools":[],"model":{"model":"x/y"},
	  "firstMessageSuggestions":["Book"],"threadContextParams":[{"name":"customerId","type":"string","required":true}]}`, string(out.payload))

	// An empty list is a value: it is sent as [], not dropped.
	out = headAgent("a", pulled, &agentExtras{FirstMessageSuggestions: json.RawMessage(`[]`)}, nil)
	require.Contains(t, string(out.payload), `"firstMessageSuggestions":[]`)

	out = headAgent("a", json.RawMessage(`{"name":"A","slug":"a","version":"1","systemPrompt":"","tools":[{"name":"t","description":"","parameters":{},"priority":1}],"model":{"model":"x/y"}}`), nil, nil)
	require.Nil(t, out.payload)
	require.Equal(t, []string{"tools[0].priority"}, out.refusals[0].Fields)
	out = headAgent("a", json.RawMessage(`{"name":"A","slug":"a","version":"1","systemPrompt":"","tools":[],"model":{"model":"x/y"},"status":"paused"}`), nil, nil)
	require.Nil(t, out.payload)
	require.Equal(t, []string{"status"}, out.refusals[0].Fields)
}

func rows(t *testing.T, s string) []rawPolicy {
	t.Helper()
	var out []rawPolicy
	require.NoError(t, json.Unmarshal([]byte(s), &out))
	return out
}

func TestRoleLossesFindWhatThePullStateCannotExpress(t *testing.T) {
	pulled := json.RawMessage(`{"name":"teacher","policies":[{"resource":"session","actions":["read","update"],"effect":"allow"}],
	  "scopeRules":[{"entityType":"session","field":"data.teacherId","operator":"eq","value":"actor.userId"}],
	  "fieldMasks":[{"entityType":"session","fieldPath":"data.price","maskType":"redact","maskConfig":{"with":"*"}}]}`)
	rule := `{"_id":"r1","policyId":"p1","type":"field","field":"data.teacherId","operator":"eq","value":"actor.userId","createdAt":1}`
	mask := `{"_id":"m1","policyId":"p1","fieldPath":"data.price","maskType":"redact","maskConfig":{"with":"*"},"createdAt":1}`
	row := func(action, rules, masks string) string {
		return `{"resource":"session","action":"` + action + `","effect":"allow","scopeRules":[` + rules + `],"fieldMasks":[` + masks + `]}`
	}
	exact := rows(t, "["+row("read", rule, mask)+","+row("update", rule, mask)+"]")
	ls, why := roleLosses(pulled, exact)
	require.Empty(t, ls, why)

	relation := `{"type":"relation","relationPath":"teachers","createdAt":1}`
	ls, why = roleLosses(pulled, rows(t, "["+row("read", rule+","+relation, mask)+","+row("update", rule+","+relation, mask)+"]"))
	require.Equal(t, []Loss{LossScopeRules}, ls)
	require.Contains(t, why, "session")

	noValue := `{"type":"field","field":"data.x","operator":"eq","createdAt":1}`
	ls, _ = roleLosses(pulled, rows(t, "["+row("read", rule+","+noValue, mask)+","+row("update", rule, mask)+"]"))
	require.Equal(t, []Loss{LossScopeRules}, ls)

	otherConfig := `{"fieldPath":"data.price","maskType":"redact","maskConfig":{"with":"#"}}`
	ls, why = roleLosses(pulled, rows(t, "["+row("read", rule, mask+","+otherConfig)+","+row("update", rule, mask+","+otherConfig)+"]"))
	require.Equal(t, []Loss{LossFieldMasks}, ls)
	require.True(t, strings.Contains(why, "maskConfig"), why)

	// Rules on one policy row only: a re-sync would attach them to both.
	ls, _ = roleLosses(pulled, rows(t, "["+row("read", rule, mask)+","+row("update", "", mask)+"]"))
	require.Equal(t, []Loss{LossScopeRules}, ls)
}

func TestLossRefusalNamesTheItemFieldsAndOption(t *testing.T) {
	r := lossRefusal("role", "teacher", []Loss{LossScopeRules, LossAgentAccess}, "would be cleared")
	require.Equal(t, "teacher", r.Slug)
	require.Equal(t, "role", r.Kind)
	require.Equal(t, []string{"agentAccess", "scopeRules"}, r.Fields)
	require.Contains(t, r.Reason, `AcceptLoss(struere.LossAgentAccess, struere.LossScopeRules)`)
	require.False(t, acceptable(r, map[Loss]bool{LossScopeRules: true}))
	require.True(t, acceptable(r, map[Loss]bool{LossScopeRules: true, LossAgentAccess: true}))
	require.False(t, acceptable(Refusal{Reason: "no losses"}, map[Loss]bool{LossScopeRules: true}))
}

func TestStateChangesNamesWhatChanged(t *testing.T) {
	a := &remote{dev: &wireSyncState{Agents: []wireAgentState{{Slug: "x", Version: "1", HasConfig: true}}}, prod: &wireSyncState{}}
	b := &remote{dev: &wireSyncState{Agents: []wireAgentState{{Slug: "x", Version: "2", HasConfig: true}, {Slug: "y"}}}, prod: &wireSyncState{}}
	got := stateChanges(a, b)
	require.Contains(t, got, "development agent created: y")
	require.Contains(t, got, "development agent changed: x")
	require.Empty(t, stateChanges(a, a))
}
