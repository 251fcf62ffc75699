package struere

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

const validDefinitionsFile = "testdata/definitions/valid.json"

// loadValid returns a fresh copy of the valid example, for a test to break.
func loadValid(t *testing.T) *Definitions {
	t.Helper()
	d, err := LoadDefinitions(validDefinitionsFile)
	require.NoError(t, err)
	return d
}

// decodeAny decodes JSON into maps, slices and float64s, for semantic
// comparison.
func decodeAny(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(data, &v))
	return v
}

func TestLoadDefinitionsRoundTripsEveryField(t *testing.T) {
	for _, file := range []string{validDefinitionsFile, "testdata/definitions/valid-e1.json"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			original, err := os.ReadFile(file)
			require.NoError(t, err)
			d, err := LoadDefinitions(file)
			require.NoError(t, err)

			encoded, err := json.Marshal(d)
			require.NoError(t, err)
			if diff := cmp.Diff(decodeAny(t, original), decodeAny(t, encoded)); diff != "" {
				t.Errorf("load then marshal changed the definitions (-file +marshalled):\n%s", diff)
			}
			if strings.Contains(string(encoded), "null") {
				t.Errorf("marshalled definitions contain null: %s", encoded)
			}
		})
	}
}

func TestLoadDefinitionsReadsTheExample(t *testing.T) {
	d := loadValid(t)
	require.Len(t, d.Agents, 2)
	support, ok := d.Agent("support")
	require.True(t, ok)
	require.NotNil(t, support.Model.Temperature)
	require.NotNil(t, support.Model.MaxTokens)
	got := map[string]any{
		"temperature": *support.Model.Temperature,
		"maxTokens":   *support.Model.MaxTokens,
		"tools":       []string{support.Tools[0].Name, support.Tools[1].Name},
		"builtin":     []bool{*support.Tools[0].IsBuiltin, *support.Tools[1].IsBuiltin},
	}
	want := map[string]any{
		"temperature": 0.7,
		"maxTokens":   4096,
		"tools":       []string{"entity.query", "lookup-order"},
		"builtin":     []bool{true, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("support agent (-want +got):\n%s", diff)
	}

	trig, ok := d.Trigger("remind-teacher")
	require.True(t, ok)
	require.NotNil(t, trig.Schedule)
	require.NotNil(t, trig.Schedule.Offset)
	require.NotNil(t, trig.Schedule.CancelPrevious)
	if diff := cmp.Diff(TriggerSchedule{At: "{{trigger.data.startsAt}}", Offset: new(-3600000.0), CancelPrevious: new(true)}, *trig.Schedule); diff != "" {
		t.Errorf("schedule (-want +got):\n%s", diff)
	}
}

func TestDefinitionsLookups(t *testing.T) {
	d := loadValid(t)
	tests := []struct {
		name  string
		found func() (string, bool)
		want  string
	}{
		{"agent by slug", func() (string, bool) { a, ok := d.Agent("scheduler"); return a.Name, ok }, "Scheduler"},
		{"entity type by slug", func() (string, bool) { e, ok := d.EntityType("session"); return e.Name, ok }, "Session"},
		{"role by name", func() (string, bool) { r, ok := d.Role("viewer"); return r.Name, ok }, "viewer"},
		{"trigger by slug", func() (string, bool) { tr, ok := d.Trigger("notify"); return tr.Name, ok }, "Notify"},
		{"eval suite by slug", func() (string, bool) { s, ok := d.EvalSuite("support-smoke"); return s.Name, ok }, "Support smoke"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.found()
			require.True(t, ok)
			require.Equal(t, tt.want, got)
		})
	}
	for name, ok := range map[string]bool{
		"agent":       func() bool { _, ok := d.Agent("nope"); return ok }(),
		"entity type": func() bool { _, ok := d.EntityType("nope"); return ok }(),
		"role":        func() bool { _, ok := d.Role("nope"); return ok }(),
		"trigger":     func() bool { _, ok := d.Trigger("nope"); return ok }(),
		"eval suite":  func() bool { _, ok := d.EvalSuite("nope"); return ok }(),
	} {
		if ok {
			t.Errorf("%s lookup of a missing key reported found", name)
		}
	}
}

func TestDefinitionsMarshalOmitsUnsetOptionalFieldsAndSendsEmptyLists(t *testing.T) {
	d := Definitions{
		Agents: []Agent{{
			Name: "A", Slug: "a", Version: "1.0.0",
			Model: Model{Provider: "anthropic", Name: "claude"},
			Tools: []Tool{{Name: "t", Parameters: json.RawMessage(`{}`)}},
		}},
		EntityTypes: []EntityType{{Name: "E", Slug: "e", Schema: json.RawMessage(`{}`)}},
		Roles: []Role{{
			Name:       "r",
			Policies:   []Policy{{Resource: "e", Effect: "allow"}},
			FieldMasks: []FieldMask{{EntityType: "e", FieldPath: "data.x", MaskType: MaskHide}},
		}},
		Triggers: []Trigger{{
			Name: "T", Slug: "t", EntityType: "e", Action: "created",
			Schedule: &TriggerSchedule{}, Retry: &TriggerRetry{},
		}},
		EvalSuites: []EvalSuite{{
			Name: "S", Slug: "s", AgentSlug: "a",
			Cases: []EvalCase{{Name: "c", Turns: []EvalTurn{{UserMessage: "hi", Assertions: []EvalAssertion{{Type: AssertContains}}}}}},
		}},
	}
	encoded, err := json.Marshal(d)
	require.NoError(t, err)
	want := `{
	  "agents": [{"name": "A", "slug": "a", "version": "1.0.0", "systemPrompt": "",
	              "model": {"provider": "anthropic", "name": "claude"},
	              "tools": [{"name": "t", "description": "", "parameters": {}}]}],
	  "entityTypes": [{"name": "E", "slug": "e", "schema": {}}],
	  "roles": [{"name": "r", "policies": [{"resource": "e", "actions": [], "effect": "allow"}],
	             "fieldMasks": [{"entityType": "e", "fieldPath": "data.x", "maskType": "hide"}]}],
	  "triggers": [{"name": "T", "slug": "t", "entityType": "e", "action": "created", "actions": [],
	                "schedule": {}, "retry": {}}],
	  "evalSuites": [{"name": "S", "slug": "s", "agentSlug": "a",
	                  "cases": [{"name": "c", "turns": [{"userMessage": "hi", "assertions": [{"type": "contains"}]}]}]}]
	}`
	if diff := cmp.Diff(decodeAny(t, []byte(want)), decodeAny(t, encoded)); diff != "" {
		t.Errorf("wire shape (-want +got):\n%s", diff)
	}
}

func TestDefinitionsMarshalOfEmptyValueSendsRequiredListsOnly(t *testing.T) {
	encoded, err := json.Marshal(&Definitions{})
	require.NoError(t, err)
	require.JSONEq(t, `{"agents": [], "entityTypes": [], "roles": []}`, string(encoded))
}

// An optional list given as [] stays [] (absent and empty differ on the
// backend: an absent agentAccess removes the stored one).
func TestDefinitionsMarshalKeepsEmptyOptionalLists(t *testing.T) {
	in := `{"agents": [], "entityTypes": [], "roles": [{"name": "r", "agentAccess": [], "policies": [], "scopeRules": [], "fieldMasks": []}],
	        "triggers": [], "evalSuites": [], "fixtures": []}`
	d, err := ParseDefinitions(strings.NewReader(in))
	require.NoError(t, err)
	require.NotNil(t, d.Roles[0].AgentAccess)
	encoded, err := json.Marshal(d)
	require.NoError(t, err)
	require.JSONEq(t, in, string(encoded))
}

func TestDefinitionsMarshalKeepsPolicyPriorityWhenSet(t *testing.T) {
	encoded, err := json.Marshal(Policy{Resource: "r", Actions: []string{"read"}, Effect: "allow", Priority: new(0)})
	require.NoError(t, err)
	require.JSONEq(t, `{"resource": "r", "actions": ["read"], "effect": "allow", "priority": 0}`, string(encoded))
}

func TestParseDefinitionsRejectsMalformedInput(t *testing.T) {
	const agent = `{"name": "A", "slug": "a", "version": "1.0.0", "systemPrompt": "", "model": {"provider": "p", "name": "n"}, "tools": []}`
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{
			name:  "unknown field at top level",
			input: `{"agents": [], "entityTypes": [], "roles": [], "environment": "development"}`,
			want:  `struere: definitions: top level: unknown field "environment"`,
		},
		{
			name:  "unknown field in an agent names its index",
			input: `{"agents": [` + agent + `, {"promt": "x"}], "entityTypes": [], "roles": []}`,
			want:  `struere: definitions: agents[1]: unknown field "promt"`,
		},
		{
			name:  "unknown field deep inside names the path",
			input: `{"agents": [], "entityTypes": [], "roles": [{"name": "r", "policies": [{"resource": "x", "actions": ["read"], "effect": "allow", "prio": 1}], "scopeRules": [], "fieldMasks": []}]}`,
			want:  `struere: definitions: roles[0].policies[0]: unknown field "prio"`,
		},
		{
			name:  "every unknown field is reported",
			input: `{"agents": [{"slug": "a", "Slug": "b", "model": {"temp": 1}}], "entityTypes": [], "roles": [], "fixture": []}`,
			want:  `struere: definitions: agents[0]: unknown field "Slug"; agents[0].model: unknown field "temp"; top level: unknown field "fixture"`,
		},
		{
			name:  "keys are matched case-sensitively like the backend",
			input: `{"Agents": [], "entityTypes": [], "roles": []}`,
			want:  `struere: definitions: top level: unknown field "Agents"`,
		},
		{
			name:  "free-form values may hold any keys",
			input: `{"agents": [], "entityTypes": [{"name": "E", "slug": "e", "schema": {"anything": {"goes": 1}}, "displayConfig": {"x": []}, "bogus": 1}], "roles": []}`,
			want:  `struere: definitions: entityTypes[0]: unknown field "bogus"`,
		},
		{
			name:  "trailing data",
			input: "{\"agents\": [], \"entityTypes\": [], \"roles\": []}\n{}",
			want:  `struere: definitions: line 2, column 1: unexpected data after the definitions object`,
		},
		{
			name:  "syntax error gives line and column",
			input: "{\"agents\": [],\n  \"roles\": [,]}",
			want:  `struere: definitions: line 2, column 13: invalid character ',' looking for beginning of value`,
		},
		{
			name:  "wrong type names the field",
			input: `{"agents": [{"name": "A", "slug": "a", "version": 1}], "entityTypes": [], "roles": []}`,
			want:  `struere: definitions: agents[0].version: expected a string, got a number`,
		},
		{
			name: "every wrong type is reported",
			input: `{"agents": [{"model": {"temperature": "hot", "maxTokens": 10.5}, "tools": [{"isBuiltin": "yes"}]}],
			          "entityTypes": {}, "roles": [{"policies": [{"actions": "read"}]}], "triggers": [{"schedule": []}]}`,
			// In the file's order.
			want: `struere: definitions: agents[0].model.temperature: expected a number, got a string; ` +
				`agents[0].model.maxTokens: expected an integer, got 10.5; ` +
				`agents[0].tools[0].isBuiltin: expected a boolean, got a string; ` +
				`entityTypes: expected an array, got an object; ` +
				`roles[0].policies[0].actions: expected an array, got a string; ` +
				`triggers[0].schedule: expected an object, got an array`,
		},
		{
			name:  "out of range integer",
			input: `{"agents": [{"model": {"maxTokens": 1e30}}], "entityTypes": [], "roles": []}`,
			want:  `struere: definitions: agents[0].model.maxTokens: expected an integer, got 1e30`,
		},
		{
			name:  "not an object",
			input: `[]`,
			want:  `struere: definitions: expected a JSON object`,
		},
		{
			name:  "empty input",
			input: ``,
			want:  `struere: definitions: unexpected end of input`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDefinitions(strings.NewReader(tt.input))
			require.Error(t, err)
			require.Nil(t, d)
			require.Equal(t, tt.want, err.Error())
			require.ErrorIs(t, err, ErrValidation)
		})
	}
}

func TestParseDefinitionsSyntaxErrorUnwrapsToTheDecoderError(t *testing.T) {
	_, err := ParseDefinitions(strings.NewReader(`{"agents": [}`))
	var syn *json.SyntaxError
	require.ErrorAs(t, err, &syn)
	require.ErrorIs(t, err, ErrValidation)
}

func TestParseDefinitionsRejectsOversizedInput(t *testing.T) {
	big := io.MultiReader(strings.NewReader(`{"agents": [], "entityTypes": [], "roles": [], "x": "`),
		io.LimitReader(repeatReader('a'), maxDefinitionsBytes))
	_, err := ParseDefinitions(big)
	require.ErrorIs(t, err, ErrValidation)
	require.Contains(t, err.Error(), "larger than")
}

// repeatReader yields the same byte forever.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func TestParseDefinitionsDropsNullOptionalFreeFormFields(t *testing.T) {
	d, err := ParseDefinitions(strings.NewReader(`{"agents": [], "roles": [],
		"entityTypes": [{"name": "E", "slug": "e", "schema": {}, "displayConfig": null}]}`))
	require.NoError(t, err)
	encoded, err := json.Marshal(d)
	require.NoError(t, err)
	require.JSONEq(t, `{"agents": [], "roles": [], "entityTypes": [{"name": "E", "slug": "e", "schema": {}}]}`, string(encoded))
}

func TestLoadDefinitionsErrorsNameThePath(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"testdata/definitions/unknown-field.json", `struere: definitions: testdata/definitions/unknown-field.json: agents[1]: unknown field "promt"`},
		{"testdata/definitions/trailing-data.json", `struere: definitions: testdata/definitions/trailing-data.json: line 2, column 1: unexpected data after the definitions object`},
		{"testdata/definitions/bound-twice.json", `struere: invalid definitions in testdata/definitions/bound-twice.json: entityTypes[tutor].boundToRole: Multiple entity types bound to role "teacher": "teacher" and "tutor"`},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			_, err := LoadDefinitions(tt.file)
			require.Error(t, err)
			require.Equal(t, tt.want, err.Error())
			require.ErrorIs(t, err, ErrValidation)
			require.NotErrorIs(t, err, ErrUnsupported, "valid on no backend, not unsupported by one")
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := LoadDefinitions("testdata/definitions/does-not-exist.json")
		require.ErrorIs(t, err, os.ErrNotExist)
		require.Contains(t, err.Error(), "testdata/definitions/does-not-exist.json")
	})
}

func TestLoadDefinitionsReportsEveryProblemOfAFile(t *testing.T) {
	_, err := LoadDefinitions("testdata/definitions/invalid-agents.json")
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	want := []FieldError{
		{"agents[Support Bot]", "slug", `"Support Bot": use lowercase letters, digits and hyphens, starting with a letter or digit`},
		{"agents[Support Bot]", "version", `"1.0" is not a semantic version such as 1.0.0`},
		{"agents[Support Bot]", "model.provider", "required"},
		{"agents[Support Bot]", "tools[lookup].parameters", "must be a JSON object, not an array"},
		{"agents[sales]", "name", "required"},
		{"agents[sales]", "version", "required"},
		{"agents[sales]", "slug", `duplicate slug "sales" (also agents[1])`},
	}
	if diff := cmp.Diff(want, ve.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	require.Equal(t, "testdata/definitions/invalid-agents.json", ve.Source)
	require.True(t, strings.HasPrefix(err.Error(), "struere: invalid definitions in testdata/definitions/invalid-agents.json (7 problems): agents[Support Bot].slug: "), err.Error())
}

func TestValidateReportsEachRuleWithItemAndField(t *testing.T) {
	tests := []struct {
		name    string
		break_  func(d *Definitions)
		item    string
		field   string
		problem string // substring
	}{
		// Agents.
		{"agent name is required", func(d *Definitions) { d.Agents[0].Name = " " }, "agents[support]", "name", "required"},
		{"agent slug is required", func(d *Definitions) { d.Agents[1].Slug = "" }, "agents[1]", "slug", "required"},
		{"agent slug is lowercase", func(d *Definitions) { d.Agents[1].Slug = "Scheduler" }, "agents[Scheduler]", "slug", "lowercase letters, digits and hyphens"},
		{"agent slug has no underscore", func(d *Definitions) { d.Agents[1].Slug = "sched_uler" }, "agents[sched_uler]", "slug", "lowercase letters"},
		{"agent slug does not start with a hyphen", func(d *Definitions) { d.Agents[1].Slug = "-scheduler" }, "agents[-scheduler]", "slug", "starting with a letter or digit"},
		{"agent slug is at most 64 characters", func(d *Definitions) { d.Agents[1].Slug = strings.Repeat("a", 65) }, "agents[" + strings.Repeat("a", 65) + "]", "slug", "longer than 64"},
		{"agent version is required", func(d *Definitions) { d.Agents[0].Version = "" }, "agents[support]", "version", "required"},
		{"agent version is semver", func(d *Definitions) { d.Agents[0].Version = "v1" }, "agents[support]", "version", `"v1" is not a semantic version`},
		{"agent version has no leading zero", func(d *Definitions) { d.Agents[0].Version = "01.0.0" }, "agents[support]", "version", "not a semantic version"},
		{"model provider is required", func(d *Definitions) { d.Agents[0].Model.Provider = "" }, "agents[support]", "model.provider", "required"},
		{"model name is required", func(d *Definitions) { d.Agents[1].Model.Name = "" }, "agents[scheduler]", "model.name", "required"},
		{"model temperature is not negative", func(d *Definitions) { d.Agents[0].Model.Temperature = new(-0.1) }, "agents[support]", "model.temperature", "negative"},
		{"model max tokens is positive", func(d *Definitions) { d.Agents[0].Model.MaxTokens = new(0) }, "agents[support]", "model.maxTokens", "positive"},
		{"tool name is required", func(d *Definitions) { d.Agents[0].Tools[1].Name = "" }, "agents[support]", "tools[1].name", "required"},
		{"tool names are unique within an agent", func(d *Definitions) { d.Agents[0].Tools[1].Name = "entity.query" }, "agents[support]", "tools[entity.query].name", `duplicate tool name "entity.query"`},
		{"tool parameters are required", func(d *Definitions) { d.Agents[0].Tools[0].Parameters = nil }, "agents[support]", "tools[entity.query].parameters", "required"},
		{"tool parameters are valid JSON", func(d *Definitions) { d.Agents[0].Tools[0].Parameters = json.RawMessage(`{"type":`) }, "agents[support]", "tools[entity.query].parameters", "not valid JSON"},
		{"tool parameters are an object", func(d *Definitions) { d.Agents[0].Tools[0].Parameters = json.RawMessage(`"object"`) }, "agents[support]", "tools[entity.query].parameters", "must be a JSON object, not a string"},
		{"agent slugs are unique", func(d *Definitions) { d.Agents[1].Slug = "support" }, "agents[support]", "slug", `duplicate slug "support" (also agents[0])`},

		// Entity types.
		{"entity type name is required", func(d *Definitions) { d.EntityTypes[1].Name = "" }, "entityTypes[session]", "name", "required"},
		{"entity type slug is required", func(d *Definitions) { d.EntityTypes[1].Slug = "" }, "entityTypes[1]", "slug", "required"},
		{"entity type schema is required", func(d *Definitions) { d.EntityTypes[1].Schema = nil }, "entityTypes[session]", "schema", "required"},
		{"entity type schema is an object", func(d *Definitions) { d.EntityTypes[1].Schema = json.RawMessage(`null`) }, "entityTypes[session]", "schema", "not null"},
		{"display config is valid JSON", func(d *Definitions) { d.EntityTypes[0].DisplayConfig = json.RawMessage(`{`) }, "entityTypes[teacher]", "displayConfig", "not valid JSON"},
		{"search fields are not empty", func(d *Definitions) { d.EntityTypes[0].SearchFields = []string{"name", ""} }, "entityTypes[teacher]", "searchFields[1]", "required"},
		{"entity type slugs are unique", func(d *Definitions) { d.EntityTypes[1].Slug = "teacher" }, "entityTypes[teacher]", "slug", `duplicate slug "teacher" (also entityTypes[0])`},
		{"one entity type per bound role", func(d *Definitions) { d.EntityTypes[1].BoundToRole = "teacher" }, "entityTypes[session]", "boundToRole", `Multiple entity types bound to role "teacher": "teacher" and "session"`},

		// Roles.
		{"role name is required", func(d *Definitions) { d.Roles[1].Name = "" }, "roles[1]", "name", "required"},
		{"role names are unique", func(d *Definitions) { d.Roles[1].Name = "teacher" }, "roles[teacher]", "name", `duplicate role name "teacher" (also roles[0])`},
		{"policy resource is required", func(d *Definitions) { d.Roles[0].Policies[1].Resource = "" }, "roles[teacher]", "policies[1].resource", "required"},
		{"policy has an action", func(d *Definitions) { d.Roles[0].Policies[0].Actions = nil }, "roles[teacher]", "policies[0].actions", "at least one action"},
		{"policy actions are not empty", func(d *Definitions) { d.Roles[0].Policies[0].Actions = []string{"read", ""} }, "roles[teacher]", "policies[0].actions[1]", "required"},
		{"policy effect is allow or deny", func(d *Definitions) { d.Roles[0].Policies[0].Effect = "permit" }, "roles[teacher]", "policies[0].effect", `"permit": use "allow" or "deny"`},
		{"policy effect is required", func(d *Definitions) { d.Roles[1].Policies[0].Effect = "" }, "roles[viewer]", "policies[0].effect", `"": use "allow" or "deny"`},
		{"scope rule entity type is required", func(d *Definitions) { d.Roles[0].ScopeRules[0].EntityType = "" }, "roles[teacher]", "scopeRules[0].entityType", "required"},
		{"scope rule field is required", func(d *Definitions) { d.Roles[0].ScopeRules[0].Field = "" }, "roles[teacher]", "scopeRules[0].field", "required"},
		{"scope rule operator is required", func(d *Definitions) { d.Roles[0].ScopeRules[0].Operator = "" }, "roles[teacher]", "scopeRules[0].operator", "required"},
		{"scope rule value is required", func(d *Definitions) { d.Roles[0].ScopeRules[0].Value = "" }, "roles[teacher]", "scopeRules[0].value", "required"},
		{"field mask entity type is required", func(d *Definitions) { d.Roles[0].FieldMasks[1].EntityType = "" }, "roles[teacher]", "fieldMasks[1].entityType", "required"},
		{"field mask path is required", func(d *Definitions) { d.Roles[0].FieldMasks[0].FieldPath = "" }, "roles[teacher]", "fieldMasks[0].fieldPath", "required"},
		{"field mask type is hide or redact", func(d *Definitions) { d.Roles[0].FieldMasks[0].MaskType = "blur" }, "roles[teacher]", "fieldMasks[0].maskType", `"blur": use "hide" or "redact"`},
		{"field mask config is valid JSON", func(d *Definitions) { d.Roles[0].FieldMasks[0].MaskConfig = json.RawMessage(`}`) }, "roles[teacher]", "fieldMasks[0].maskConfig", "not valid JSON"},

		// Triggers.
		{"trigger name is required", func(d *Definitions) { d.Triggers[0].Name = "" }, "triggers[remind-teacher]", "name", "required"},
		{"trigger slug is required", func(d *Definitions) { d.Triggers[1].Slug = "" }, "triggers[1]", "slug", "required"},
		{"trigger entity type is required", func(d *Definitions) { d.Triggers[0].EntityType = "" }, "triggers[remind-teacher]", "entityType", "required"},
		{"trigger action is required", func(d *Definitions) { d.Triggers[0].Action = "" }, "triggers[remind-teacher]", "action", "required"},
		{"trigger has an action to run", func(d *Definitions) { d.Triggers[1].Actions = nil }, "triggers[notify]", "actions", "at least one action"},
		{"trigger action tool is required", func(d *Definitions) { d.Triggers[0].Actions[1].Tool = "" }, "triggers[remind-teacher]", "actions[1].tool", "required"},
		{"trigger action args are required", func(d *Definitions) { d.Triggers[0].Actions[0].Args = nil }, "triggers[remind-teacher]", "actions[0].args", "required"},
		{"trigger action args are an object", func(d *Definitions) { d.Triggers[0].Actions[0].Args = json.RawMessage(`[1]`) }, "triggers[remind-teacher]", "actions[0].args", "not an array"},
		{"trigger condition is valid JSON", func(d *Definitions) { d.Triggers[0].Condition = json.RawMessage(`{x}`) }, "triggers[remind-teacher]", "condition", "not valid JSON"},
		{"trigger delay is not negative", func(d *Definitions) { d.Triggers[1].Schedule.Delay = new(-1.0) }, "triggers[notify]", "schedule.delay", "negative"},
		{"trigger retry attempts are at least one", func(d *Definitions) { d.Triggers[0].Retry.MaxAttempts = new(0) }, "triggers[remind-teacher]", "retry.maxAttempts", "at least 1"},
		{"trigger retry backoff is not negative", func(d *Definitions) { d.Triggers[0].Retry.BackoffMs = new(-5.0) }, "triggers[remind-teacher]", "retry.backoffMs", "negative"},
		{"trigger slugs are unique", func(d *Definitions) { d.Triggers[1].Slug = "remind-teacher" }, "triggers[remind-teacher]", "slug", `duplicate slug "remind-teacher" (also triggers[0])`},

		// Eval suites.
		{"eval suite name is required", func(d *Definitions) { d.EvalSuites[0].Name = "" }, "evalSuites[support-smoke]", "name", "required"},
		{"eval suite slug is required", func(d *Definitions) { d.EvalSuites[0].Slug = "" }, "evalSuites[0]", "slug", "required"},
		{"eval suite agent is required", func(d *Definitions) { d.EvalSuites[0].AgentSlug = "" }, "evalSuites[support-smoke]", "agentSlug", "required"},
		{"eval suite agent is defined", func(d *Definitions) { d.EvalSuites[0].AgentSlug = "sales" }, "evalSuites[support-smoke]", "agentSlug", `"sales" is not one of the defined agents`},
		{"judge model provider is required", func(d *Definitions) { d.EvalSuites[0].JudgeModel.Provider = "" }, "evalSuites[support-smoke]", "judgeModel.provider", "required"},
		{"judge model name is required", func(d *Definitions) { d.EvalSuites[0].JudgeModel.Name = "" }, "evalSuites[support-smoke]", "judgeModel.name", "required"},
		{"eval suite has a case", func(d *Definitions) { d.EvalSuites[0].Cases = nil }, "evalSuites[support-smoke]", "cases", "at least one case"},
		{"eval case name is required", func(d *Definitions) { d.EvalSuites[0].Cases[0].Name = "" }, "evalSuites[support-smoke]", "cases[0].name", "required"},
		{"eval case has a turn", func(d *Definitions) { d.EvalSuites[0].Cases[0].Turns = nil }, "evalSuites[support-smoke]", "cases[0].turns", "at least one turn"},
		{"eval turn message is required", func(d *Definitions) { d.EvalSuites[0].Cases[0].Turns[1].UserMessage = "" }, "evalSuites[support-smoke]", "cases[0].turns[1].userMessage", "required"},
		{"assertion type is known", func(d *Definitions) { d.EvalSuites[0].Cases[0].Turns[0].Assertions[0].Type = "equals" }, "evalSuites[support-smoke]", "cases[0].turns[0].assertions[0].type", `"equals": use one of llm_judge, contains, matches, tool_called, tool_not_called`},
		{"final assertion type is known", func(d *Definitions) { d.EvalSuites[0].Cases[0].FinalAssertions[2].Type = "" }, "evalSuites[support-smoke]", "cases[0].finalAssertions[2].type", `"": use one of`},
		{"assertion weight is not negative", func(d *Definitions) { d.EvalSuites[0].Cases[0].Turns[0].Assertions[1].Weight = new(-1.0) }, "evalSuites[support-smoke]", "cases[0].turns[0].assertions[1].weight", "negative"},
		{"eval suite slugs are unique", func(d *Definitions) { d.EvalSuites = append(d.EvalSuites, d.EvalSuites[0]) }, "evalSuites[support-smoke]", "slug", `duplicate slug "support-smoke" (also evalSuites[0])`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := loadValid(t)
			tt.break_(d)
			err := d.Validate()
			require.ErrorIs(t, err, ErrValidation)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			require.Len(t, ve.Problems, 1, "problems: %v", ve.Problems)
			got := ve.Problems[0]
			if diff := cmp.Diff([2]string{tt.item, tt.field}, [2]string{got.Item, got.Field}); diff != "" {
				t.Errorf("item and field (-want +got):\n%s", diff)
			}
			require.Contains(t, got.Problem, tt.problem)
			require.Contains(t, err.Error(), tt.item+"."+tt.field+": ")
		})
	}
}

func TestValidateAcceptsEdgesOfTheRules(t *testing.T) {
	tests := []struct {
		name  string
		tweak func(d *Definitions)
	}{
		{"slug of 64 characters", func(d *Definitions) {
			d.Agents[0].Slug = strings.Repeat("a", 64)
			d.EvalSuites[0].AgentSlug = d.Agents[0].Slug
		}},
		{"slug starting with a digit", func(d *Definitions) { d.Agents[0].Slug = "1st-line"; d.EvalSuites[0].AgentSlug = "1st-line" }},
		{"pre-release and build version", func(d *Definitions) { d.Agents[0].Version = "2.0.0-rc.1+build.5" }},
		{"empty system prompt", func(d *Definitions) { d.Agents[0].SystemPrompt = "" }},
		{"no optional lists", func(d *Definitions) { d.Triggers = nil; d.EvalSuites = nil }},
		{"nothing at all", func(d *Definitions) { *d = Definitions{} }},
		{"same role bound by none", func(d *Definitions) { d.EntityTypes[0].BoundToRole = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := loadValid(t)
			tt.tweak(d)
			require.NoError(t, d.Validate())
		})
	}
}

func TestValidateCollectsProblemsAcrossKinds(t *testing.T) {
	d := loadValid(t)
	d.Agents[0].Slug = "Bad"
	d.Roles[0].Policies[0].Effect = "maybe"
	d.Triggers[0].Actions = nil
	err := d.Validate()
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	var got []string
	for _, p := range ve.Problems {
		got = append(got, p.Item+"."+p.Field)
	}
	want := []string{
		"agents[Bad].slug",
		"roles[teacher].policies[0].effect",
		"triggers[remind-teacher].actions",
		// The suite's agent no longer exists under its old slug.
		"evalSuites[support-smoke].agentSlug",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	require.True(t, strings.HasPrefix(err.Error(), "struere: invalid definitions (4 problems): "), err.Error())
}
