package struere_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
)

func ptr[T any](v T) *T { return &v }

// baseAgent is an agent with every kind of field the diff knows.
func baseAgent() struere.Agent {
	return struere.Agent{
		Name: "Support", Slug: "support", Version: "1.0.0",
		SystemPrompt:            "You are the front desk.\nAnswer briefly.\nNever promise refunds.\n",
		Model:                   struere.Model{ID: "openai/gpt-5-mini", Temperature: ptr(0.7)},
		FirstMessageSuggestions: []string{"Book a session", "Prices"},
		ThreadContextParams:     []struere.ThreadContextParam{{Name: "customerId", Type: "string"}},
		Tools: []struere.Tool{
			{Name: "entity.query", Description: "Query entities", Parameters: json.RawMessage(`{"type":"object","properties":{}}`)},
			{Name: "lookup", Description: "Find a price", HandlerCode: "return 1",
				Parameters: json.RawMessage(`{"type":"object","properties":{"sku":{"type":"string"}},"required":["sku"]}`)},
		},
	}
}

func defsWith(agents ...struere.Agent) *struere.Definitions {
	return &struere.Definitions{Agents: agents}
}

func diffOf(t *testing.T, before, after *struere.Definitions) struere.Diffs {
	t.Helper()
	ds, err := struere.DiffDefinitions(before, after)
	require.NoError(t, err)
	return ds
}

// field returns the diff's field at path, failing when there is none.
func field(t *testing.T, d struere.Diff, path string) struere.FieldDiff {
	t.Helper()
	for _, f := range d.Fields {
		if f.Path == path {
			return f
		}
	}
	var paths []string
	for _, f := range d.Fields {
		paths = append(paths, f.Path)
	}
	t.Fatalf("no field %q in %s %s; fields: %v", path, d.Kind, d.Name, paths)
	return struere.FieldDiff{}
}

func paths(d struere.Diff) []string {
	var out []string
	for _, f := range d.Fields {
		out = append(out, f.Path)
	}
	return out
}

func TestDiffOfEqualDefinitionsIsEmpty(t *testing.T) {
	ds := diffOf(t, defsWith(baseAgent()), defsWith(baseAgent()))
	require.Empty(t, ds)
	require.NotNil(t, ds, "encodes as [], not null")
	b, err := json.Marshal(ds)
	require.NoError(t, err)
	require.Equal(t, "[]", string(b))
}

func TestDiffOfAPromptChangeIsAUnifiedDiff(t *testing.T) {
	after := baseAgent()
	after.SystemPrompt = "You are the front desk.\nAnswer in full sentences.\nNever promise refunds.\n"

	ds := diffOf(t, defsWith(baseAgent()), defsWith(after))

	require.Len(t, ds, 1)
	d := ds[0]
	require.Equal(t, struere.KindAgent, d.Kind)
	require.Equal(t, "support", d.Name)
	require.Equal(t, struere.ChangeModified, d.Change)
	require.Equal(t, []string{"systemPrompt"}, paths(d), "only the prompt differs: the version did not change, and the diff still shows it")
	f := d.Fields[0]
	require.Equal(t, struere.ChangeModified, f.Change)
	require.Equal(t, "@@ -1,3 +1,3 @@\n You are the front desk.\n-Answer briefly.\n+Answer in full sentences.\n Never promise refunds.\n", f.Unified)
	var before, afterText string
	require.NoError(t, json.Unmarshal(f.Before, &before))
	require.NoError(t, json.Unmarshal(f.After, &afterText))
	require.Equal(t, baseAgent().SystemPrompt, before)
	require.Equal(t, after.SystemPrompt, afterText)
}

func TestDiffShowsModelParametersBeforeAndAfter(t *testing.T) {
	after := baseAgent()
	after.Version = "1.1.0"
	after.Model = struere.Model{ID: "anthropic/claude-sonnet-4", Temperature: ptr(0.2), MaxTokens: ptr(4096)}

	ds := diffOf(t, defsWith(baseAgent()), defsWith(after))

	require.Len(t, ds, 1)
	want := []struere.FieldDiff{
		{Path: "model.maxTokens", Change: struere.ChangeAdded, After: json.RawMessage(`4096`)},
		{Path: "model.model", Change: struere.ChangeModified, Before: json.RawMessage(`"openai/gpt-5-mini"`), After: json.RawMessage(`"anthropic/claude-sonnet-4"`)},
		{Path: "model.temperature", Change: struere.ChangeModified, Before: json.RawMessage(`0.7`), After: json.RawMessage(`0.2`)},
		{Path: "version", Change: struere.ChangeModified, Before: json.RawMessage(`"1.0.0"`), After: json.RawMessage(`"1.1.0"`)},
	}
	require.Empty(t, cmp.Diff(want, ds[0].Fields))
}

func TestDiffOfToolsAddedRemovedAndChangedWithTheirSchemas(t *testing.T) {
	after := baseAgent()
	after.Tools = []struere.Tool{
		{Name: "lookup", Description: "Find a price", HandlerCode: "return 1",
			Parameters: json.RawMessage(`{"type":"object","properties":{"sku":{"type":"string"},"currency":{"type":"string"}},"required":["sku"]}`)},
		{Name: "book", Description: "Book a session", Parameters: json.RawMessage(`{"type":"object","properties":{"at":{"type":"string"}}}`)},
	}

	ds := diffOf(t, defsWith(baseAgent()), defsWith(after))

	require.Len(t, ds, 1)
	d := ds[0]
	require.Equal(t, []string{"tools[book]", "tools[entity.query]", "tools[lookup].parameters"}, paths(d))
	added := field(t, d, "tools[book]")
	require.Equal(t, struere.ChangeAdded, added.Change)
	require.Nil(t, added.Before)
	require.JSONEq(t, `{"name":"book","description":"Book a session","parameters":{"type":"object","properties":{"at":{"type":"string"}}}}`, string(added.After))
	require.Contains(t, added.Unified, "+  \"parameters\": {", "the new tool's parameter schema is shown")
	require.Contains(t, added.Unified, "+        \"type\": \"string\"")

	removed := field(t, d, "tools[entity.query]")
	require.Equal(t, struere.ChangeRemoved, removed.Change)
	require.Nil(t, removed.After)
	require.Contains(t, removed.Unified, "-  \"name\": \"entity.query\",")

	params := field(t, d, "tools[lookup].parameters")
	require.Equal(t, struere.ChangeModified, params.Change)
	require.Equal(t, `@@ -1,5 +1,8 @@
 {
   "properties": {
+    "currency": {
+      "type": "string"
+    },
     "sku": {
       "type": "string"
     }
`, params.Unified)
}

func TestDiffOfSuggestionsAndThreadContextParams(t *testing.T) {
	after := baseAgent()
	after.FirstMessageSuggestions = []string{"Book a session", "Opening hours"}
	after.ThreadContextParams = []struere.ThreadContextParam{
		{Name: "customerId", Type: "string", Required: ptr(true)},
		{Name: "locale", Type: "string", Description: "BCP 47"},
	}

	ds := diffOf(t, defsWith(baseAgent()), defsWith(after))

	require.Len(t, ds, 1)
	d := ds[0]
	require.Equal(t, []string{"firstMessageSuggestions", "threadContextParams[customerId].required", "threadContextParams[locale]"}, paths(d))
	require.Equal(t, "@@ -1,2 +1,2 @@\n \"Book a session\"\n-\"Prices\"\n+\"Opening hours\"\n", field(t, d, "firstMessageSuggestions").Unified)
	req := field(t, d, "threadContextParams[customerId].required")
	require.Equal(t, struere.ChangeAdded, req.Change)
	require.Equal(t, "true", string(req.After))
	require.Empty(t, req.Unified)
	locale := field(t, d, "threadContextParams[locale]")
	require.Equal(t, struere.ChangeAdded, locale.Change)
	require.JSONEq(t, `{"name":"locale","type":"string","description":"BCP 47"}`, string(locale.After))
}

func TestDiffTreatsAbsentAndEmptyAlike(t *testing.T) {
	before := baseAgent()
	before.Description = ""
	before.Tools[0].IsBuiltin = ptr(false)
	before.ThreadContextParams[0].Required = ptr(false)
	after := baseAgent()
	after.Tools[0].IsBuiltin = nil
	after.Tools[1].TemplateOnly = false
	role := struere.Role{Name: "teacher", Policies: []struere.Policy{{Resource: "session", Actions: []string{"read"}, Effect: struere.EffectAllow}}}
	withEmpty := role
	withEmpty.ScopeRules, withEmpty.FieldMasks = []struere.ScopeRule{}, []struere.FieldMask{}

	ds := diffOf(t, &struere.Definitions{Agents: []struere.Agent{before}, Roles: []struere.Role{role}},
		&struere.Definitions{Agents: []struere.Agent{after}, Roles: []struere.Role{withEmpty}})

	require.Empty(t, ds)
}

func TestDiffOfRolePoliciesScopeRulesAndMasks(t *testing.T) {
	before := struere.Role{Name: "teacher", Description: "Teaches",
		Policies: []struere.Policy{
			{Resource: "session", Actions: []string{"read", "update"}, Effect: struere.EffectAllow},
			{Resource: "invoice", Actions: []string{"read"}, Effect: struere.EffectDeny},
		},
		ScopeRules: []struere.ScopeRule{{EntityType: "session", Field: "data.teacherId", Operator: "eq", Value: "actor.userId"}},
		FieldMasks: []struere.FieldMask{{EntityType: "session", FieldPath: "data.price", MaskType: struere.MaskHide}},
	}
	after := before
	after.Policies = []struere.Policy{
		{Resource: "session", Actions: []string{"read"}, Effect: struere.EffectAllow},
		{Resource: "student", Actions: []string{"read"}, Effect: struere.EffectAllow},
	}
	after.ScopeRules = []struere.ScopeRule{{EntityType: "session", Field: "data.teacherId", Operator: "eq", Value: "actor.entityId"}}
	after.FieldMasks = []struere.FieldMask{{EntityType: "session", FieldPath: "data.price", MaskType: struere.MaskHide, MaskConfig: json.RawMessage(`{"with":"***"}`)}}

	ds := diffOf(t, &struere.Definitions{Roles: []struere.Role{before}}, &struere.Definitions{Roles: []struere.Role{after}})

	require.Len(t, ds, 1)
	d := ds[0]
	require.Equal(t, struere.KindRole, d.Kind)
	require.Equal(t, "teacher", d.Name)
	require.Equal(t, []string{
		"fieldMasks[session data.price hide].maskConfig",
		"policies[invoice deny]",
		"policies[session allow].actions",
		"policies[student allow]",
		"scopeRules[session data.teacherId eq actor.entityId]",
		"scopeRules[session data.teacherId eq actor.userId]",
	}, paths(d))
	require.Equal(t, struere.ChangeRemoved, field(t, d, "policies[invoice deny]").Change)
	require.Equal(t, struere.ChangeAdded, field(t, d, "policies[student allow]").Change)
	require.Equal(t, "@@ -1,2 +1 @@\n \"read\"\n-\"update\"\n", field(t, d, "policies[session allow].actions").Unified)
	require.Equal(t, struere.ChangeAdded, field(t, d, "scopeRules[session data.teacherId eq actor.entityId]").Change)
	require.Equal(t, struere.ChangeRemoved, field(t, d, "scopeRules[session data.teacherId eq actor.userId]").Change)
	mask := field(t, d, "fieldMasks[session data.price hide].maskConfig")
	require.Equal(t, struere.ChangeAdded, mask.Change)
	require.JSONEq(t, `{"with":"***"}`, string(mask.After))
}

func TestDiffOfEntityTypeSchemas(t *testing.T) {
	before := struere.EntityType{Name: "Session", Slug: "session", SearchFields: []string{"title"},
		Schema: json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"},"price":{"type":"number"}}}`)}
	after := before
	after.Schema = json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"},"price":{"type":"integer"}}}`)
	after.SearchFields = []string{"title", "teacher"}

	ds := diffOf(t, &struere.Definitions{EntityTypes: []struere.EntityType{before}}, &struere.Definitions{EntityTypes: []struere.EntityType{after}})

	require.Len(t, ds, 1)
	require.Equal(t, struere.KindEntityType, ds[0].Kind)
	require.Equal(t, []string{"schema", "searchFields"}, paths(ds[0]))
	require.Equal(t, `@@ -1,7 +1,7 @@
 {
   "properties": {
     "price": {
-      "type": "number"
+      "type": "integer"
     },
     "title": {
       "type": "string"
`, ds[0].Fields[0].Unified)
}

func TestDiffOfAddedAndRemovedItemsListsTheirFields(t *testing.T) {
	other := baseAgent()
	other.Slug, other.Name = "scheduler", "Scheduler"
	trig := struere.Trigger{Name: "Notify", Slug: "notify", EntityType: "session", Action: "created",
		Actions: []struere.TriggerAction{{Tool: "event.emit", Args: json.RawMessage(`{}`)}}}

	ds := diffOf(t, &struere.Definitions{Agents: []struere.Agent{baseAgent()}, Triggers: []struere.Trigger{trig}},
		&struere.Definitions{Agents: []struere.Agent{baseAgent(), other}})

	require.Len(t, ds, 2)
	require.Equal(t, struere.KindAgent, ds[0].Kind, "agents first")
	require.Equal(t, "scheduler", ds[0].Name)
	require.Equal(t, struere.ChangeAdded, ds[0].Change)
	prompt := field(t, ds[0], "systemPrompt")
	require.Equal(t, struere.ChangeAdded, prompt.Change)
	require.Equal(t, "@@ -0,0 +1,3 @@\n+You are the front desk.\n+Answer briefly.\n+Never promise refunds.\n", prompt.Unified)
	require.NotContains(t, paths(ds[0]), "slug", "the item's name is not one of its fields")
	for _, f := range ds[0].Fields {
		require.Equal(t, struere.ChangeAdded, f.Change, f.Path)
	}
	require.Equal(t, struere.KindTrigger, ds[1].Kind)
	require.Equal(t, struere.ChangeRemoved, ds[1].Change)
	require.Equal(t, "notify", ds[1].Name)
}

func TestDiffReportsAnAddedItemWithNoFieldsButItsName(t *testing.T) {
	ds := diffOf(t, &struere.Definitions{}, &struere.Definitions{Roles: []struere.Role{{Name: "viewer"}}})

	require.Len(t, ds, 1)
	require.Equal(t, struere.ChangeAdded, ds[0].Change)
	require.Equal(t, "viewer", ds[0].Name)
	require.NotNil(t, ds[0].Fields, "encodes as []")
}

func TestDiffComparesListsWithDuplicateKeysWhole(t *testing.T) {
	after := baseAgent()
	after.Tools = append(after.Tools, after.Tools[1]) // "lookup" twice

	ds := diffOf(t, defsWith(baseAgent()), defsWith(after))

	require.Len(t, ds, 1)
	require.Equal(t, []string{"tools"}, paths(ds[0]))
	require.Contains(t, ds[0].Fields[0].Unified, "+    \"name\": \"lookup\",")
}

func TestDiffsRenderAsText(t *testing.T) {
	after := baseAgent()
	after.SystemPrompt = "You are the front desk.\nAnswer in full sentences.\nNever promise refunds.\n"
	after.Model.Temperature = ptr(0.2)
	after.Tools = after.Tools[1:]

	got := diffOf(t, defsWith(baseAgent()), defsWith(after)).String()

	want := `~ agent support
    ~ model.temperature: 0.7 -> 0.2
    ~ systemPrompt:
        @@ -1,3 +1,3 @@
         You are the front desk.
        -Answer briefly.
        +Answer in full sentences.
         Never promise refunds.
    - tools[entity.query]:
        @@ -1,8 +0,0 @@
        -{
        -  "description": "Query entities",
        -  "name": "entity.query",
        -  "parameters": {
        -    "properties": {},
        -    "type": "object"
        -  }
        -}
`
	require.Equal(t, want, got)
	require.Equal(t, "(no differences)\n", struere.Diffs{}.String())
}

func TestDiffsRenderAsMarkdownForAPullRequest(t *testing.T) {
	after := baseAgent()
	after.SystemPrompt = "You are the front desk.\nAnswer in full sentences.\nNever promise refunds.\n"
	after.Model.Temperature = ptr(0.2)

	got := diffOf(t, defsWith(baseAgent()), defsWith(after)).Markdown()

	want := "#### ~ agent `support` (modified)\n\n" +
		"| Field | Before | After |\n| --- | --- | --- |\n" +
		"| ~ `model.temperature` | `0.7` | `0.2` |\n\n" +
		"~ `systemPrompt` modified (+1 −1 lines):\n\n" +
		"```diff\n@@ -1,3 +1,3 @@\n You are the front desk.\n-Answer briefly.\n+Answer in full sentences.\n Never promise refunds.\n```\n\n"
	require.Equal(t, want, got)
	require.Equal(t, "No differences.\n", struere.Diffs{}.Markdown())
}

func TestMarkdownFoldsLongPromptsAndFencesBackticks(t *testing.T) {
	var long strings.Builder
	for i := range 40 {
		long.WriteString("Rule " + strings.Repeat("x", i%7) + "\n")
	}
	before := baseAgent()
	after := baseAgent()
	after.SystemPrompt = "Use ```code``` blocks | tables.\n" + long.String()

	md := diffOf(t, defsWith(before), defsWith(after)).Markdown()

	require.Contains(t, md, "<details><summary><code>systemPrompt</code> modified (+41 −3 lines)</summary>\n\n````diff\n")
	require.Contains(t, md, "+Use ```code``` blocks | tables.\n", "the prompt is shown verbatim inside a longer fence")
	require.True(t, strings.HasSuffix(md, "````\n\n</details>\n\n"), md)

	short := baseAgent()
	short.SystemPrompt = "one\ntwo\n"
	md = diffOf(t, defsWith(baseAgent()), defsWith(short)).Markdown()
	require.NotContains(t, md, "<details>", "a short diff is shown open")
}

func TestMarkdownEscapesTableCells(t *testing.T) {
	after := baseAgent()
	after.Name = "Support | `desk`"

	md := diffOf(t, defsWith(baseAgent()), defsWith(after)).Markdown()

	require.Contains(t, md, "| ~ `name` | `\"Support\"` | ``\"Support \\| `desk`\"`` |\n")
}

func TestDiffsEncodeAsJSON(t *testing.T) {
	after := baseAgent()
	after.Model.Temperature = ptr(0.2)
	after.SystemPrompt = "Short.\nPrompt.\n"

	b, err := json.Marshal(diffOf(t, defsWith(baseAgent()), defsWith(after)))

	require.NoError(t, err)
	require.JSONEq(t, `[{"kind":"agent","name":"support","change":"modified","fields":[
		{"path":"model.temperature","change":"modified","before":0.7,"after":0.2},
		{"path":"systemPrompt","change":"modified",
		 "before":"You are the front desk.\nAnswer briefly.\nNever promise refunds.\n","after":"Short.\nPrompt.\n",
		 "unified":"@@ -1,3 +1,2 @@\n-You are the front desk.\n-Answer briefly.\n-Never promise refunds.\n+Short.\n+Prompt.\n"}]}]`, string(b))
}

func TestDiffDefinitionsRejectsUnencodableValues(t *testing.T) {
	bad := baseAgent()
	bad.Tools[0].Parameters = json.RawMessage(`{not json`)
	_, err := struere.DiffDefinitions(defsWith(baseAgent()), defsWith(bad))
	require.ErrorContains(t, err, "agent support")
}

func TestDiffComparesFreeFormJSONExactly(t *testing.T) {
	after := baseAgent()
	after.Tools[0].Parameters = json.RawMessage(`{"type":"object"}`) // "properties":{} dropped
	et := struere.EntityType{Name: "Session", Slug: "session", Schema: json.RawMessage(`{"type":"object"}`)}
	etNull := et
	etNull.DisplayConfig = json.RawMessage(`null`)

	ds := diffOf(t, &struere.Definitions{Agents: []struere.Agent{baseAgent()}, EntityTypes: []struere.EntityType{et}},
		&struere.Definitions{Agents: []struere.Agent{after}, EntityTypes: []struere.EntityType{etNull}})

	require.Len(t, ds, 1, "a null display config is an absent one")
	require.Equal(t, []string{"tools[entity.query].parameters"}, paths(ds[0]), "a schema is compared as written")
	require.Contains(t, ds[0].Fields[0].Unified, "-  \"properties\": {},\n")
}

func TestDeployPlanShowsAPromptOnlyChangeFieldByField(t *testing.T) {
	for _, gen := range []struere.Generation{struere.GenerationE2, struere.GenerationE2Deploy, struere.GenerationHead} {
		t.Run(gen.String(), func(t *testing.T) {
			_, c, ctx, defs := synced(t, gen)
			_, err := c.Deploy(ctx)
			require.NoError(t, err)
			defs.Agents[0].SystemPrompt = "You help customers.\nNever promise refunds."
			defs.Agents[1].Model.Temperature = ptr(0.3)
			_, err = c.Sync(ctx, defs)
			require.NoError(t, err)

			res, err := c.Deploy(ctx, struere.DryRun())

			require.NoError(t, err)
			plan := res.Plan
			require.Len(t, plan.Diffs, 2, "the version did not change, the content did")
			byName := map[string]struere.Diff{}
			for _, d := range plan.Diffs {
				byName[d.Name] = d
			}
			prompt := field(t, byName["support"], "systemPrompt")
			require.Equal(t, "@@ -1 +1,2 @@\n You help customers.\n+Never promise refunds.\n", prompt.Unified, "prompts without a final newline show none of diff's markers")
			require.Equal(t, []string{"systemPrompt"}, paths(byName["support"]))
			temp := field(t, byName["scheduler"], "model.temperature")
			require.Equal(t, struere.ChangeAdded, temp.Change)
			require.Equal(t, "0.3", string(temp.After))

			require.Contains(t, plan.String(), "Changes to production (before: production, after: development):\n~ agent scheduler\n")
			require.Contains(t, plan.String(), "        +Never promise refunds.\n")
			md := plan.Markdown()
			require.Contains(t, md, "| `support` | 1.0.0 | 1.0.0 | deploy |")
			require.Contains(t, md, "~ `systemPrompt` modified (+1 −0 lines):\n\n```diff\n")
			b, err := json.Marshal(plan)
			require.NoError(t, err)
			var decoded struct {
				Diffs []struct {
					Name   string `json:"name"`
					Fields []struct {
						Path    string `json:"path"`
						Unified string `json:"unified"`
					} `json:"fields"`
				} `json:"diffs"`
			}
			require.NoError(t, json.Unmarshal(b, &decoded))
			require.Len(t, decoded.Diffs, 2)
		})
	}
}

func TestDeployPlanOfANewProductionConfigurationShowsItAdded(t *testing.T) {
	_, c, ctx, _ := synced(t, struere.GenerationHead)

	res, err := c.Deploy(ctx, struere.DryRun())

	require.NoError(t, err)
	require.Len(t, res.Plan.Diffs, 2)
	for _, d := range res.Plan.Diffs {
		require.Equal(t, struere.ChangeAdded, d.Change, d.Name)
		require.Contains(t, paths(d), "systemPrompt")
	}
}

func TestDiffOfPromptsKeepsARealChangeOfTheLastNewline(t *testing.T) {
	before, after := baseAgent(), baseAgent()
	before.SystemPrompt = "Line one.\nLine two."
	after.SystemPrompt = "Line one.\nLine two.\n"

	ds := diffOf(t, defsWith(before), defsWith(after))

	require.Len(t, ds, 1)
	require.Equal(t, "@@ -1,2 +1,2 @@\n Line one.\n-Line two.\n\\ No newline at end of file\n+Line two.\n", ds[0].Fields[0].Unified)
}
