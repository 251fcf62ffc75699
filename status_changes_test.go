package struere_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// fieldChange returns the FieldDiff at path, failing when there is none.
func fieldChange(t *testing.T, fields []struere.FieldDiff, path string) struere.FieldDiff {
	t.Helper()
	for _, f := range fields {
		if f.Path == path {
			return f
		}
	}
	t.Fatalf("no change at %s in %+v", path, fields)
	return struere.FieldDiff{}
}

const (
	promptBefore = "You help customers.\nBe brief.\nNever promise refunds."
	promptAfter  = "You help customers.\nBe brief.\nOffer a refund when an order is late."
)

// A prompt changed without a version bump shows, on both comparisons, as
// a unified diff of the prompt, in the text, the Markdown and the JSON.
func TestStatusShowsAPromptOnlyChangeAsAUnifiedDiff(t *testing.T) {
	for _, gen := range contentGenerations {
		t.Run(gen.String(), func(t *testing.T) {
			srv := strueretest.NewServer(t, strueretest.WithGeneration(gen))
			c, ctx, defs := newClient(t, srv), ctxT(t), sampleDefs(t)
			defs.Agents[0].SystemPrompt = promptBefore
			_, err := c.Sync(ctx, defs)
			require.NoError(t, err)
			_, err = c.Deploy(ctx)
			require.NoError(t, err)

			defs.Agents[0].SystemPrompt = promptAfter // same version
			st, err := c.Status(ctx, struere.WithLocal(defs))
			require.NoError(t, err)
			a := agentStatus(t, st, "support")
			require.Len(t, a.LocalChanges, 1, "%+v", a.LocalChanges)
			f := fieldChange(t, a.LocalChanges, "systemPrompt")
			require.Equal(t, struere.ChangeModified, f.Change)
			require.Contains(t, f.Unified, "-Never promise refunds.\n")
			require.Contains(t, f.Unified, "+Offer a refund when an order is late.\n")
			require.Contains(t, f.Unified, " Be brief.\n", "context lines")
			require.Empty(t, a.ProductionChanges, "development still matches production")
			require.Contains(t, st.String(), "        -Never promise refunds.\n")
			require.Contains(t, st.Markdown(), "```diff\n")

			_, err = c.Sync(ctx, defs)
			require.NoError(t, err)
			st, err = c.Status(ctx)
			require.NoError(t, err)
			a = agentStatus(t, st, "support")
			require.Equal(t, struere.ProductionDrifted, a.ProductionState)
			require.Empty(t, a.LocalChanges, "without WithLocal")
			f = fieldChange(t, a.ProductionChanges, "systemPrompt")
			require.Contains(t, f.Unified, "-Never promise refunds.\n", "before is production")
			require.Contains(t, f.Unified, "+Offer a refund when an order is late.\n", "after is development")

			text := st.String()
			require.Contains(t, text, "Development vs production, field by field (before: production, after: development):\n~ agent support\n    ~ systemPrompt:\n")
			require.Contains(t, text, "        +Offer a refund when an order is late.\n")
			md := st.Markdown()
			require.Contains(t, md, "**Development vs production, field by field")
			require.Contains(t, md, "#### ~ agent `support` (modified)")
			require.Contains(t, md, "```diff\n@@ -1,3 +1,3 @@\n You help customers.\n Be brief.\n-Never promise refunds.\n+Offer a refund when an order is late.\n```")
		})
	}
}

// Model parameters and tools are shown before and after, tool parameter
// schemas as unified diffs of their JSON.
func TestStatusShowsModelParametersAndToolSchemasFieldByField(t *testing.T) {
	for _, gen := range contentGenerations {
		t.Run(gen.String(), func(t *testing.T) {
			_, c, ctx, defs := synced(t, gen)
			defs.Agents[1].Model.Temperature = new(0.1)
			defs.Agents[1].Tools[0].Parameters = json.RawMessage(`{"type":"object","properties":{"limit":{"type":"number"}}}`)
			defs.Agents[0].Tools = append(defs.Agents[0].Tools, struere.Tool{Name: "entity.get", Description: "Get one", Parameters: json.RawMessage(`{"type":"object"}`)})
			st, err := c.Status(ctx, struere.WithLocal(defs))
			require.NoError(t, err)

			sch := agentStatus(t, st, "scheduler")
			temp := fieldChange(t, sch.LocalChanges, "model.temperature")
			require.Equal(t, struere.ChangeAdded, temp.Change)
			require.JSONEq(t, `0.1`, string(temp.After))
			params := fieldChange(t, sch.LocalChanges, "tools[entity.query].parameters")
			require.Contains(t, params.Unified, `+    "limit": {`)

			sup := agentStatus(t, st, "support")
			tool := fieldChange(t, sup.LocalChanges, "tools[entity.get]")
			require.Equal(t, struere.ChangeAdded, tool.Change)
			require.Contains(t, string(tool.After), `"entity.get"`)
			require.Nil(t, tool.Before)
			require.Contains(t, st.String(), "    + model.temperature: 0.1\n")
		})
	}
}

// A changed role policy shows as the policy rows added and removed, and a
// new scope rule and mask as added, on both comparisons.
func TestStatusShowsRolePoliciesScopeRulesAndMasksAddedAndRemoved(t *testing.T) {
	for _, gen := range contentGenerations {
		t.Run(gen.String(), func(t *testing.T) {
			srv, c, ctx, defs := synced(t, gen)
			_, err := srv.SeedRole("production", strueretest.Role{Name: "agent-operator", Description: "Operators",
				Policies: []strueretest.Policy{{Resource: "customer", Actions: []string{"read", "update"}, Effect: "allow"}}})
			require.NoError(t, err)

			defs.Roles[0].Policies = []struere.Policy{
				{Resource: "customer", Actions: []string{"read"}, Effect: "allow"},
				{Resource: "customer", Actions: []string{"delete"}, Effect: "deny"},
			}
			defs.Roles[0].ScopeRules = []struere.ScopeRule{{EntityType: "customer", Field: "data.ownerId", Operator: "eq", Value: "actor.userId"}}
			defs.Roles[0].FieldMasks = []struere.FieldMask{{EntityType: "customer", FieldPath: "data.email", MaskType: struere.MaskHide}}
			st, err := c.Status(ctx, struere.WithLocal(defs))
			require.NoError(t, err)
			role := resourceStatus(t, st, struere.KindRole, "agent-operator")
			require.Equal(t, struere.LocalModified, role.LocalState)
			paths := map[string]struere.Change{}
			for _, f := range role.LocalChanges {
				paths[f.Path] = f.Change
			}
			require.Equal(t, struere.ChangeAdded, paths["policies[customer deny]"], "%+v", role.LocalChanges)
			require.Equal(t, struere.ChangeModified, paths["policies[customer allow].actions"], "%+v", role.LocalChanges)
			require.Equal(t, struere.ChangeAdded, paths["scopeRules[customer data.ownerId eq actor.userId]"], "%+v", role.LocalChanges)
			require.Len(t, role.LocalChanges, 4, "%+v", role.LocalChanges)
			var mask bool
			for p, ch := range paths {
				if strings.HasPrefix(p, "fieldMasks[") {
					mask = true
					require.Equal(t, struere.ChangeAdded, ch, p)
				}
			}
			require.True(t, mask, "%+v", role.LocalChanges)

			_, err = c.Sync(ctx, defs)
			require.NoError(t, err)
			st, err = c.Status(ctx)
			require.NoError(t, err)
			role = resourceStatus(t, st, struere.KindRole, "agent-operator")
			require.Equal(t, struere.ProductionDrifted, role.ProductionState)
			deny := fieldChange(t, role.ProductionChanges, "policies[customer deny]")
			require.Equal(t, struere.ChangeAdded, deny.Change, "development has it, production not")
			require.Contains(t, st.String(), "~ role agent-operator\n")
			require.Contains(t, st.Markdown(), "#### ~ role `agent-operator` (modified)")
		})
	}
}

// An item on one side only is shown by its state alone, not as every
// field added or removed.
func TestStatusShowsItemsOnOneSideByTheirStateAlone(t *testing.T) {
	_, c, ctx, defs := synced(t, struere.GenerationHead)
	defs.Agents = append(defs.Agents[1:], struere.Agent{Name: "Billing", Slug: "billing", Version: "0.1.0",
		SystemPrompt: "You handle invoices.", Model: struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5"}})
	st, err := c.Status(ctx, struere.WithLocal(defs))
	require.NoError(t, err)

	billing := agentStatus(t, st, "billing")
	require.Equal(t, struere.LocalNew, billing.LocalState)
	require.Empty(t, billing.LocalChanges)
	support := agentStatus(t, st, "support")
	require.Equal(t, struere.LocalWillBeDeleted, support.LocalState)
	require.Equal(t, struere.ProductionNotDeployed, support.ProductionState)
	require.Empty(t, support.LocalChanges)
	require.Empty(t, support.ProductionChanges)
	require.NotContains(t, st.String(), "field by field")
	require.NotContains(t, st.Markdown(), "field by field")
}

// Status's JSON carries the field-by-field changes and decodes back into
// a Status with the same comparisons.
func TestStatusJSONRoundTripKeepsTheFieldChanges(t *testing.T) {
	_, c, ctx, defs := synced(t, struere.GenerationE2)
	defs.Agents[0].SystemPrompt = promptAfter
	defs.Roles[0].Policies[0].Actions = []string{"read"}
	st, err := c.Status(ctx, struere.WithLocal(defs))
	require.NoError(t, err)
	require.NotEmpty(t, agentStatus(t, st, "support").LocalChanges)
	require.NotEmpty(t, resourceStatus(t, st, struere.KindRole, "agent-operator").LocalChanges)

	b, err := json.Marshal(st)
	require.NoError(t, err)
	var raw struct {
		Agents []struct {
			Slug         string `json:"slug"`
			LocalChanges []struct {
				Path    string          `json:"path"`
				Change  string          `json:"change"`
				Before  json.RawMessage `json:"before"`
				After   json.RawMessage `json:"after"`
				Unified string          `json:"unified"`
			} `json:"localChanges"`
		} `json:"agents"`
	}
	require.NoError(t, json.Unmarshal(b, &raw))
	var found bool
	for _, a := range raw.Agents {
		if a.Slug == "support" {
			for _, f := range a.LocalChanges {
				if f.Path == "systemPrompt" {
					found = true
					require.Equal(t, "modified", f.Change)
					require.JSONEq(t, `"You help customers."`, string(f.Before))
					require.JSONEq(t, `"`+strings.ReplaceAll(promptAfter, "\n", `\n`)+`"`, string(f.After))
					require.Contains(t, f.Unified, "+Offer a refund when an order is late.")
				}
			}
		}
	}
	require.True(t, found, "%s", b)

	var back struere.Status
	require.NoError(t, json.Unmarshal(b, &back))
	back.Generation = st.Generation // not part of the JSON object's fields
	require.Equal(t, st.Agents, back.Agents)
	require.Equal(t, st.Resources, back.Resources)
	require.Equal(t, st.String(), back.String())
	require.Equal(t, st.Markdown(), back.Markdown())
}

// On E1 no contents are served: no field-by-field changes, and the notes
// say so.
func TestStatusOnE1ShowsNoFieldChangesAndSaysWhy(t *testing.T) {
	_, c, ctx, defs := synced(t, struere.GenerationE1)
	_, err := c.Deploy(ctx)
	require.NoError(t, err)
	defs.Agents[0].Version = "1.1.0"
	defs.Agents[0].SystemPrompt = promptAfter
	_, err = c.Sync(ctx, defs)
	require.NoError(t, err)
	st, err := c.Status(ctx, struere.WithLocal(defs))
	require.NoError(t, err)
	for _, a := range st.Agents {
		require.Empty(t, a.LocalChanges, a.Slug)
		require.Empty(t, a.ProductionChanges, a.Slug)
	}
	require.Contains(t, strings.Join(st.Notes, " "), "no field-by-field differences can be shown")
	require.NotContains(t, st.String(), "field by field (")
}
