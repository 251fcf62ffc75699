package strueretest_test

import (
	"encoding/json"
	"testing"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// The root package's definition types go into strueretest and come back
// out without conversion.
func TestRootTypesPassBetweenPackagesWithoutConversion(t *testing.T) {
	temp, maxTokens, yes := 0.7, 4096, true
	a := struere.Agent{Name: "Support", Slug: "support", Version: "1.0.0", SystemPrompt: "Help.",
		FirstMessageSuggestions: []string{"Book a session"},
		ThreadContextParams:     []struere.ThreadContextParam{{Name: "customerId", Type: struere.ParamString, Required: &yes}},
		Model:                   struere.Model{ID: "openai/gpt-5-mini", Temperature: &temp, MaxTokens: &maxTokens},
		Tools: []struere.Tool{{Name: "entity.query", Description: "Query", Parameters: json.RawMessage(`{"type":"object"}`)},
			{Name: "lookup", Description: "Find", Parameters: json.RawMessage(`{}`), HandlerCode: "return 1", TemplateOnly: true}}}

	s := strueretest.NewServer(t, strueretest.WithRedaction(false)) // HEAD
	must[strueretest.Agent](t)(s.SeedAgent(strueretest.Agent{Slug: a.Slug, Name: a.Name}))
	var env struere.Environment = struere.Production
	rec := must[strueretest.ConfigRecord](t)(s.SeedConfig(a.Slug, env, strueretest.AgentConfig{Version: a.Version, Name: a.Name,
		SystemPrompt: a.SystemPrompt, Model: a.Model, Tools: a.Tools,
		FirstMessageSuggestions: a.FirstMessageSuggestions, ThreadContextParams: a.ThreadContextParams}))
	if rec.Environment != env {
		t.Errorf("environment %q, want %q", rec.Environment, env)
	}
	diff(t, "model", a.Model, rec.Model)
	diff(t, "tools", a.Tools, rec.Tools)
	diff(t, "thread context params", a.ThreadContextParams, rec.ThreadContextParams)
	diff(t, "suggestions", a.FirstMessageSuggestions, rec.FirstMessageSuggestions)

	// Seeding stores exactly what a HEAD sync of the same agent stores.
	payload, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var agent map[string]any
	if err := json.Unmarshal(payload, &agent); err != nil {
		t.Fatal(err)
	}
	syncOK(t, s, headSync(struere.Development, agent))
	var synced strueretest.ConfigRecord
	for _, c := range s.Configs(a.Slug) {
		if c.Environment == struere.Development {
			synced = c
		}
	}
	diff(t, "stored model (seed vs sync)", string(rec.StoredModel), string(synced.StoredModel))
	diff(t, "stored tools (seed vs sync)", string(rec.StoredTools), string(synced.StoredTools))
	diff(t, "content (seed vs sync)", rec.AgentConfig, synced.AgentConfig)
	for _, e := range []struere.Environment{struere.Development, struere.Production, struere.Eval} {
		if got := s.EntityTypes(e); got != nil {
			t.Errorf("%s: unexpected entity types %+v", e, got)
		}
	}

	// E2 stores {provider,name} and isBuiltin: the same Model and Tool
	// types, in their older form.
	e2 := newServer(t, struere.GenerationE2)
	must[strueretest.Agent](t)(e2.SeedAgent(strueretest.Agent{Slug: "support"}))
	old := struere.Model{Provider: "anthropic", Name: "claude-haiku-4-5", MaxTokens: &maxTokens}
	tools := []struere.Tool{{Name: "entity.query", Description: "Query", Parameters: json.RawMessage(`{}`), IsBuiltin: &yes}}
	rec = must[strueretest.ConfigRecord](t)(e2.SeedConfig("support", struere.Development, strueretest.AgentConfig{Version: "1", Model: old, Tools: tools}))
	diff(t, "E2 model", old, rec.Model)
	diff(t, "E2 tools", tools, rec.Tools)
	wantJSON(t, "E2 stored model", `{"provider":"anthropic","name":"claude-haiku-4-5","maxTokens":4096}`, rec.StoredModel)
	// A "provider/id" model is split for E2.
	rec = must[strueretest.ConfigRecord](t)(e2.SeedConfig("support", struere.Production, strueretest.AgentConfig{Version: "1", Model: struere.Model{ID: "openai/gpt-5-mini"}}))
	wantJSON(t, "E2 split model", `{"provider":"openai","name":"gpt-5-mini"}`, rec.StoredModel)
}
