package struere

import (
	"encoding/json"
	"fmt"
	"strings"
)

// This file is the one place where the definitions meet the backend
// generations' argument shapes. Definitions (definitions.go) are the same for
// every generation; wireDefinitions converts them to what one generation's
// sync:syncOrganization validator accepts, and refuses, naming the item
// and field, what that generation cannot store exactly:
//
//	                        E1            E2              HEAD
//	model                   provider/name provider/name   "provider/id"
//	tools[].isBuiltin       required      required        rejected (stripped)
//	tools[].templateOnly    -             -               accepted
//	firstMessageSuggestions -             -               accepted
//	threadContextParams     -             -               accepted
//	roles[].agentAccess     -             -               accepted
//	policies[].priority     accepted      -               -
//	boundToRole/userIdField -             accepted        accepted
//	triggers, evalSuites    -             accepted        accepted
//	judgeModel              -             provider/name   "provider/id"
//	case channel/contextP.  -             -               accepted
//	fixtures                -             -               accepted (eval only)

// wireDefs is the definitions part of a syncOrganization payload in one
// generation's shape.
type wireDefs struct {
	Agents      []wireAgent     `json:"agents"`
	EntityTypes []EntityType    `json:"entityTypes"`
	Roles       []wireRole      `json:"roles"`
	Triggers    []Trigger       `json:"triggers,omitempty"`
	EvalSuites  []wireEvalSuite `json:"evalSuites,omitempty"`
	Fixtures    []Fixture       `json:"fixtures,omitempty"`
}

// wireAgent is an agent as syncOrganization takes it. The fields up to
// Tools are also exactly what getPullState serves back, in the same
// shape, which is what Status compares.
type wireAgent struct {
	Name                    string               `json:"name"`
	Slug                    string               `json:"slug"`
	Version                 string               `json:"version"`
	Description             string               `json:"description,omitempty"`
	FirstMessageSuggestions []string             `json:"firstMessageSuggestions,omitzero"`
	ThreadContextParams     []ThreadContextParam `json:"threadContextParams,omitzero"`
	SystemPrompt            string               `json:"systemPrompt"`
	Model                   wireModel            `json:"model"`
	Tools                   []wireTool           `json:"tools"`
}

// wireModel holds either form of a model; exactly one is set.
type wireModel struct {
	Model       string   `json:"model,omitempty"`    // HEAD
	Provider    string   `json:"provider,omitempty"` // E1, E2
	Name        string   `json:"name,omitempty"`     // E1, E2
	Temperature *float64 `json:"temperature,omitempty"`
	MaxTokens   *int     `json:"maxTokens,omitempty"`
}

type wireTool struct {
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	Parameters   json.RawMessage `json:"parameters"`
	HandlerCode  string          `json:"handlerCode,omitempty"`
	TemplateOnly bool            `json:"templateOnly,omitempty"` // HEAD
	IsBuiltin    *bool           `json:"isBuiltin,omitempty"`    // E1, E2 (always set there)
}

// wireRole sends the optional scope rules and masks as [] when empty, as
// every CLI does.
type wireRole struct {
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	AgentAccess []string    `json:"agentAccess,omitzero"` // HEAD
	Policies    []Policy    `json:"policies"`
	ScopeRules  []ScopeRule `json:"scopeRules"`
	FieldMasks  []FieldMask `json:"fieldMasks"`
}

type wireEvalSuite struct {
	Name         string          `json:"name"`
	Slug         string          `json:"slug"`
	AgentSlug    string          `json:"agentSlug"`
	Description  string          `json:"description,omitempty"`
	Tags         []string        `json:"tags,omitzero"`
	JudgeModel   *wireJudgeModel `json:"judgeModel,omitempty"`
	JudgeContext string          `json:"judgeContext,omitempty"`
	JudgePrompt  string          `json:"judgePrompt,omitempty"`
	Cases        []EvalCase      `json:"cases"`
}

type wireJudgeModel struct {
	Model    string `json:"model,omitempty"`    // HEAD
	Provider string `json:"provider,omitempty"` // E2
	Name     string `json:"name,omitempty"`     // E2
}

// wireProblems collects what a generation cannot store, as FieldErrors:
// the first maxListedProblems, and a count of the rest, as Validate does.
type wireProblems struct {
	gen      Generation
	problems []FieldError
	omitted  int
}

func (w *wireProblems) add(item, field, problem string) {
	if len(w.problems) >= maxListedProblems {
		w.omitted++
		return
	}
	w.problems = append(w.problems, FieldError{Item: item, Field: field, Problem: problem})
}

// only reports a key the generation rejects.
func (w *wireProblems) only(item, field, where string) {
	w.add(item, field, fmt.Sprintf("exists only on %s; the %s backend rejects it: remove it", where, w.gen))
}

// err returns nil or a *ValidationError naming the generation.
func (w *wireProblems) err() error {
	if len(w.problems) == 0 {
		return nil
	}
	return &ValidationError{Generation: w.gen, Problems: w.problems, Omitted: w.omitted}
}

const newestOnly = "the newest backend (head)"

// splitModelID splits "provider/id" at the first slash; ok is false when
// either part would be empty.
func splitModelID(id string) (provider, name string, ok bool) {
	provider, name, found := strings.Cut(id, "/")
	return provider, name, found && provider != "" && name != ""
}

// modelFor converts m to gen's form, or explains why it cannot.
func modelFor(gen Generation, id, provider, name string) (wireModel, string) {
	if gen == GenerationHead {
		if id != "" {
			return wireModel{Model: id}, ""
		}
		if strings.Contains(provider, "/") {
			return wireModel{}, fmt.Sprintf("provider %q contains a slash, so %q would read back as another provider: give model as \"provider/id\"", provider, provider+"/"+name)
		}
		return wireModel{Model: provider + "/" + name}, ""
	}
	if id == "" {
		return wireModel{Provider: provider, Name: name}, ""
	}
	p, n, ok := splitModelID(id)
	if !ok {
		return wireModel{}, fmt.Sprintf("%q is not \"provider/id\", and this backend needs a provider and a name: give provider and name", id)
	}
	return wireModel{Provider: p, Name: n}, ""
}

// wireAgentFor converts one agent to gen's shape, recording problems.
func wireAgentFor(gen Generation, a Agent, w *wireProblems) wireAgent {
	item := itemName("agents", 0, a.Slug)
	out := wireAgent{Name: a.Name, Slug: a.Slug, Version: a.Version, Description: a.Description,
		FirstMessageSuggestions: a.FirstMessageSuggestions, ThreadContextParams: a.ThreadContextParams,
		SystemPrompt: a.SystemPrompt, Tools: make([]wireTool, 0, len(a.Tools))}
	if gen != GenerationHead {
		if a.FirstMessageSuggestions != nil {
			w.only(item, "firstMessageSuggestions", newestOnly)
		}
		if a.ThreadContextParams != nil {
			w.only(item, "threadContextParams", newestOnly)
		}
	}
	m, problem := modelFor(gen, a.Model.ID, a.Model.Provider, a.Model.Name)
	if problem != "" {
		w.add(item, "model", problem)
	}
	m.Temperature, m.MaxTokens = a.Model.Temperature, a.Model.MaxTokens
	out.Model = m
	for i, t := range a.Tools {
		wt := wireTool{Name: t.Name, Description: t.Description, Parameters: t.Parameters, HandlerCode: t.HandlerCode}
		if gen == GenerationHead {
			// The newest backend has no isBuiltin: it is stripped, which
			// loses nothing the backend would keep.
			wt.TemplateOnly = t.TemplateOnly
		} else {
			if t.TemplateOnly {
				w.only(item, itemName("tools", i, t.Name)+".templateOnly", newestOnly)
			}
			builtin := t.HandlerCode == ""
			if t.IsBuiltin != nil {
				builtin = *t.IsBuiltin
			}
			wt.IsBuiltin = &builtin
		}
		out.Tools = append(out.Tools, wt)
	}
	return out
}

// wireDefinitions converts d to gen's syncOrganization shape. It returns
// a *ValidationError listing everything gen cannot store
// exactly.
func wireDefinitions(gen Generation, d *Definitions) (*wireDefs, error) {
	w := &wireProblems{gen: gen}
	out := &wireDefs{
		Agents:      make([]wireAgent, 0, len(d.Agents)),
		EntityTypes: nonNil(d.EntityTypes),
		Roles:       make([]wireRole, 0, len(d.Roles)),
	}
	for _, a := range d.Agents {
		out.Agents = append(out.Agents, wireAgentFor(gen, a, w))
	}
	if !gen.environmentIsolated() {
		for _, e := range d.EntityTypes {
			item := itemName("entityTypes", 0, e.Slug)
			if e.BoundToRole != "" {
				w.only(item, "boundToRole", "environment-isolated backends")
			}
			if e.UserIDField != "" {
				w.only(item, "userIdField", "environment-isolated backends")
			}
		}
	}
	for _, r := range d.Roles {
		item := itemName("roles", 0, r.Name)
		if r.AgentAccess != nil && gen != GenerationHead {
			w.only(item, "agentAccess", newestOnly)
		}
		if gen.environmentIsolated() {
			for i, p := range r.Policies {
				if p.Priority != nil {
					w.only(item, fmt.Sprintf("policies[%d].priority", i), "E1 backends")
				}
			}
		}
		out.Roles = append(out.Roles, wireRole{Name: r.Name, Description: r.Description, AgentAccess: r.AgentAccess,
			Policies: nonNil(r.Policies), ScopeRules: nonNil(r.ScopeRules), FieldMasks: nonNil(r.FieldMasks)})
	}
	if !gen.environmentIsolated() {
		if len(d.Triggers) > 0 {
			w.add("triggers", "", "E1 backends have no triggers: remove them")
		}
		if len(d.EvalSuites) > 0 {
			w.add("evalSuites", "", "E1 backends have no eval suites: remove them")
		}
	} else {
		out.Triggers = d.Triggers
	}
	if gen != GenerationHead && len(d.Fixtures) > 0 {
		w.add("fixtures", "", "fixtures exist only on "+newestOnly+": remove them")
	} else if gen == GenerationHead {
		out.Fixtures = d.Fixtures
	}
	if gen.environmentIsolated() {
		for _, s := range d.EvalSuites {
			item := itemName("evalSuites", 0, s.Slug)
			ws := wireEvalSuite{Name: s.Name, Slug: s.Slug, AgentSlug: s.AgentSlug, Description: s.Description,
				Tags: s.Tags, JudgeContext: s.JudgeContext, JudgePrompt: s.JudgePrompt, Cases: nonNil(s.Cases)}
			if jm := s.JudgeModel; jm != nil {
				m, problem := modelFor(gen, jm.ID, jm.Provider, jm.Name)
				if problem != "" {
					w.add(item, "judgeModel", problem)
				}
				ws.JudgeModel = &wireJudgeModel{Model: m.Model, Provider: m.Provider, Name: m.Name}
			}
			if gen != GenerationHead {
				for i, c := range s.Cases {
					if c.Channel != "" {
						w.only(item, fmt.Sprintf("cases[%d].channel", i), newestOnly)
					}
					if len(c.ContextParams) > 0 {
						w.only(item, fmt.Sprintf("cases[%d].contextParams", i), newestOnly)
					}
				}
			}
			out.EvalSuites = append(out.EvalSuites, ws)
		}
	}
	if err := w.err(); err != nil {
		return nil, err
	}
	return out, nil
}
