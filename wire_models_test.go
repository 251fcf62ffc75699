package struere

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// headCLIFile is a definitions file written by hand in exactly the shape
// the newest struere CLI's payload builder produces.
const headCLIFile = "testdata/definitions/head-cli.json"

func TestHeadCLIPayloadLoadsAndRoundTripsUnchanged(t *testing.T) {
	original, err := os.ReadFile(headCLIFile)
	require.NoError(t, err)
	d, err := LoadDefinitions(headCLIFile)
	require.NoError(t, err)

	encoded, err := json.Marshal(d)
	require.NoError(t, err)
	if diff := cmp.Diff(decodeAny(t, original), decodeAny(t, encoded)); diff != "" {
		t.Errorf("load then marshal changed the file (-file +marshalled):\n%s", diff)
	}

	// What Sync sends to the newest backend is exactly the CLI's payload.
	wire, err := wireDefinitions(GenerationHead, d)
	require.NoError(t, err)
	sent, err := json.Marshal(wire)
	require.NoError(t, err)
	if diff := cmp.Diff(decodeAny(t, original), decodeAny(t, sent)); diff != "" {
		t.Errorf("the newest backend's payload differs from the CLI's (-file +sent):\n%s", diff)
	}

	support, ok := d.Agent("support")
	require.True(t, ok)
	require.Equal(t, "openai/gpt-5-mini", support.Model.ID)
	require.Equal(t, []string{"Book a session", "Cancel my booking"}, support.FirstMessageSuggestions)
	require.Equal(t, ThreadContextParam{Name: "customerId", Type: ParamString, Required: new(true), Description: "The customer's record id"}, support.ThreadContextParams[0])
	require.True(t, support.Tools[1].TemplateOnly)
	require.Nil(t, support.Tools[0].IsBuiltin)
	teacher, _ := d.Role("teacher")
	require.Equal(t, []string{"support"}, teacher.AgentAccess)
	viewer, _ := d.Role("viewer")
	require.Nil(t, viewer.AgentAccess, "absent stays absent")
	suite, _ := d.EvalSuite("support-smoke")
	require.Equal(t, &JudgeModel{ID: "openai/gpt-5-mini"}, suite.JudgeModel)
	require.Equal(t, ChannelWidget, suite.Cases[0].Channel)
	require.JSONEq(t, `{"customerId":"c-1"}`, string(suite.Cases[0].ContextParams))
}

func TestModelsConvertExactlyForTheTargetGeneration(t *testing.T) {
	tests := []struct {
		name  string
		gen   Generation
		model Model
		want  string // the wire model
	}{
		{"head keeps an id", GenerationHead, Model{ID: "openai/gpt-5-mini", Temperature: new(0.2)}, `{"model":"openai/gpt-5-mini","temperature":0.2}`},
		{"head joins provider and name", GenerationHead, Model{Provider: "anthropic", Name: "claude-haiku-4-5", MaxTokens: new(100)}, `{"model":"anthropic/claude-haiku-4-5","maxTokens":100}`},
		{"e2 keeps provider and name", GenerationE2, Model{Provider: "anthropic", Name: "claude-haiku-4-5"}, `{"provider":"anthropic","name":"claude-haiku-4-5"}`},
		{"e2 splits an id", GenerationE2, Model{ID: "openai/gpt-5-mini", Temperature: new(0.7)}, `{"provider":"openai","name":"gpt-5-mini","temperature":0.7}`},
		{"e1 splits at the first slash", GenerationE1, Model{ID: "openrouter/meta-llama/llama-3"}, `{"provider":"openrouter","name":"meta-llama/llama-3"}`},
		{"head joins a name with a slash", GenerationHead, Model{Provider: "openrouter", Name: "meta-llama/llama-3"}, `{"model":"openrouter/meta-llama/llama-3"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &Definitions{Agents: []Agent{{Name: "A", Slug: "a", Version: "1.0.0", Model: tt.model}}}
			wire, err := wireDefinitions(tt.gen, d)
			require.NoError(t, err)
			got, err := json.Marshal(wire.Agents[0].Model)
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(got))
		})
	}
}

func TestModelsWithoutAnExactCounterpartAreRefusedNamingAgentAndField(t *testing.T) {
	tests := []struct {
		name  string
		gen   Generation
		defs  Definitions
		field string
		want  string
	}{
		{"an id without a slash on e2", GenerationE2, Definitions{Agents: []Agent{{Name: "A", Slug: "support", Version: "1.0.0", Model: Model{ID: "gpt-5-mini"}}}},
			"agents[support].model", `"gpt-5-mini" is not "provider/id"`},
		{"an id with an empty provider on e1", GenerationE1, Definitions{Agents: []Agent{{Name: "A", Slug: "support", Version: "1.0.0", Model: Model{ID: "/gpt"}}}},
			"agents[support].model", `"/gpt" is not "provider/id"`},
		{"a provider with a slash on head", GenerationHead, Definitions{Agents: []Agent{{Name: "A", Slug: "support", Version: "1.0.0", Model: Model{Provider: "open/router", Name: "x"}}}},
			"agents[support].model", `provider "open/router" contains a slash`},
		{"a judge id without a slash on e2", GenerationE2, Definitions{
			Agents:     []Agent{{Name: "A", Slug: "a", Version: "1.0.0", Model: Model{Provider: "p", Name: "n"}}},
			EvalSuites: []EvalSuite{{Name: "S", Slug: "smoke", AgentSlug: "a", JudgeModel: &JudgeModel{ID: "judge"}}}},
			"evalSuites[smoke].judgeModel", `"judge" is not "provider/id"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := wireDefinitions(tt.gen, &tt.defs)
			require.ErrorIs(t, err, ErrUnsupported)
			var ue *ValidationError
			require.True(t, errors.As(err, &ue))
			require.Equal(t, tt.gen, ue.Generation)
			require.Len(t, ue.Problems, 1)
			require.Equal(t, tt.field, ue.Problems[0].Item+"."+ue.Problems[0].Field)
			require.Contains(t, ue.Problems[0].Problem, tt.want)
			require.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestNewestBackendFieldsAreRefusedOnOlderBackends(t *testing.T) {
	d, err := LoadDefinitions(headCLIFile)
	require.NoError(t, err)
	fields := func(gen Generation) []string {
		_, err := wireDefinitions(gen, d)
		var ue *ValidationError
		require.True(t, errors.As(err, &ue), "%v", err)
		var out []string
		for _, p := range ue.Problems {
			out = append(out, strings.TrimSuffix(p.Item+"."+p.Field, "."))
		}
		return out
	}
	require.Equal(t, []string{
		"agents[support].firstMessageSuggestions",
		"agents[support].threadContextParams",
		"agents[support].tools[lookup-price].templateOnly",
		"roles[teacher].agentAccess",
		"evalSuites[support-smoke].cases[0].channel",
		"evalSuites[support-smoke].cases[0].contextParams",
	}, fields(GenerationE2))
	require.Equal(t, []string{
		"agents[support].firstMessageSuggestions",
		"agents[support].threadContextParams",
		"agents[support].tools[lookup-price].templateOnly",
		"entityTypes[teacher].boundToRole",
		"entityTypes[teacher].userIdField",
		"roles[teacher].agentAccess",
		"triggers",
		"evalSuites",
	}, fields(GenerationE1))
}

func TestIsBuiltinIsDerivedForOlderBackendsAndStrippedForTheNewest(t *testing.T) {
	d := &Definitions{Agents: []Agent{{Name: "A", Slug: "a", Version: "1.0.0", Model: Model{ID: "p/n"}, Tools: []Tool{
		{Name: "entity.query", Parameters: json.RawMessage(`{}`)},
		{Name: "custom", Parameters: json.RawMessage(`{}`), HandlerCode: "return 1"},
		{Name: "explicit", Parameters: json.RawMessage(`{}`), IsBuiltin: new(true), HandlerCode: "return 2"},
	}}}}
	e2, err := wireDefinitions(GenerationE2, d)
	require.NoError(t, err)
	got, _ := json.Marshal(e2.Agents[0].Tools)
	require.JSONEq(t, `[{"name":"entity.query","description":"","parameters":{},"isBuiltin":true},
		{"name":"custom","description":"","parameters":{},"handlerCode":"return 1","isBuiltin":false},
		{"name":"explicit","description":"","parameters":{},"handlerCode":"return 2","isBuiltin":true}]`, string(got))

	head, err := wireDefinitions(GenerationHead, d)
	require.NoError(t, err)
	got, _ = json.Marshal(head.Agents[0].Tools)
	require.NotContains(t, string(got), "isBuiltin")
}

func TestValidateWantsExactlyOneModelForm(t *testing.T) {
	for name, tt := range map[string]struct {
		model       Model
		field, want string
	}{
		"neither": {Model{}, "model.model", "required"},
		"both":    {Model{ID: "p/n", Provider: "p", Name: "n"}, "model", "not both"},
		"half":    {Model{Provider: "p"}, "model.name", "required"},
	} {
		t.Run(name, func(t *testing.T) {
			d := &Definitions{Agents: []Agent{{Name: "A", Slug: "a", Version: "1.0.0", Model: tt.model}}}
			err := d.Validate()
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			require.Len(t, ve.Problems, 1)
			require.Equal(t, tt.field, ve.Problems[0].Field)
			require.Contains(t, ve.Problems[0].Problem, tt.want)
		})
	}
}

func TestValidateChecksTheNewestBackendsFields(t *testing.T) {
	d, err := LoadDefinitions(headCLIFile)
	require.NoError(t, err)
	d.Agents[0].ThreadContextParams[1].Type = "date"
	d.EvalSuites[0].Cases[0].Channel = "sms"
	d.Fixtures = []Fixture{{Name: "F", Slug: "f",
		Entities:  []FixtureEntity{{Ref: "t1", Type: "teacher", Data: json.RawMessage(`{"name":"Ana"}`)}, {Ref: "x", Type: "invoice", Data: json.RawMessage(`{}`)}},
		Relations: []FixtureRelation{{From: "t1", To: "s9", Type: "teaches"}}}}
	err = d.Validate()
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	var got []string
	for _, p := range ve.Problems {
		got = append(got, p.Error())
	}
	require.Equal(t, []string{
		`agents[support].threadContextParams[vip].type: "date": use "string", "number" or "boolean"`,
		`evalSuites[support-smoke].cases[0].channel: "sms": use one of widget, whatsapp, api, dashboard`,
		`fixtures[f].entities[1].type: "invoice" is not one of the defined entity types`,
		`fixtures[f].relations[0].to: "s9" is not the ref of a record in this or an earlier fixture`,
	}, got)
}

// What a generation cannot store is a *ValidationError like Validate's, and
// is bounded like it: the first 20 problems listed, the rest counted in
// Omitted, so that a large file refused by an older backend does not make
// a huge error.
func TestGenerationProblemsAreListedUpToTheLimitAndCounted(t *testing.T) {
	d := &Definitions{}
	for i := range 500 {
		d.Agents = append(d.Agents, Agent{Name: "A", Slug: fmt.Sprintf("a%03d", i), Version: "1.0.0",
			Model: Model{ID: "openai/gpt-5-mini"}, FirstMessageSuggestions: []string{"hi"}})
	}
	_, err := wireDefinitions(GenerationE2, d)
	var ve *ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	require.Equal(t, GenerationE2, ve.Generation)
	require.Equal(t, maxListedProblems, len(ve.Problems), "only the first ones are listed")
	require.Equal(t, "agents[a000]", ve.Problems[0].Item, "the first ones found")
	require.Equal(t, 500-maxListedProblems, ve.Omitted)
	require.Contains(t, err.Error(), "(500 problems)")
	require.True(t, strings.HasSuffix(err.Error(), fmt.Sprintf("; and %d more", 500-maxListedProblems)), "%s", err)
	require.Less(t, len(err.Error()), 4096)
	require.ErrorIs(t, err, ErrUnsupported)
	require.ErrorIs(t, err, ErrValidation)
}
