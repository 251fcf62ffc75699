package struere

import "encoding/json"

// This file holds what a project defines: agents, entity types, roles,
// triggers, eval suites and fixtures. The JSON tags are the keys of the
// sync:syncOrganization arguments, so a file in the struere CLI's
// sync-payload shape decodes directly into Definitions and a Definitions
// encodes back into exactly that shape. These types do not depend on the backend generation:
// Sync converts them to the generation's wire shape (wire_models.go).
//
// Encoding rules: optional fields are omitted when unset, never encoded as
// null; an optional list keeps the difference between absent (nil) and
// empty ([]), because the backend treats them differently; required lists
// are encoded as [] when empty, never as null. Values the backend stores as
// v.any() (tool parameters, schemas, display configs, mask configs, trigger
// conditions and action arguments, fixture data) are kept as raw JSON, byte
// for byte.

// Agent is one agent and the configuration a sync writes for it. The
// identity (Slug, Name, Description) is shared by every environment; the
// rest becomes the agent's configuration in the environment synced to.
type Agent struct {
	// Name is the display name. Required.
	Name string `json:"name"`
	// Slug identifies the agent within the organization and appears in
	// URLs: lowercase letters, digits and hyphens. Required.
	Slug string `json:"slug"`
	// Version is the configuration's version, a semantic version such as
	// "1.0.0". Status compares it across environments. Required.
	Version string `json:"version"`
	// Description is optional.
	Description string `json:"description,omitempty"`
	// FirstMessageSuggestions are messages the chat offers a user before
	// the first one. Newest backend only.
	FirstMessageSuggestions []string `json:"firstMessageSuggestions,omitzero"`
	// ThreadContextParams declare the context a thread must carry (a
	// customer id, say); chat validates it. Newest backend only.
	ThreadContextParams []ThreadContextParam `json:"threadContextParams,omitzero"`
	// SystemPrompt is the agent's instructions. The backend accepts an
	// empty prompt (and reports one for agents without a configuration).
	SystemPrompt string `json:"systemPrompt"`
	// Model selects the language model.
	Model Model `json:"model"`
	// Tools the agent may call; sent as [] when empty.
	Tools []Tool `json:"tools"`
}

// MarshalJSON encodes a with nil Tools as [].
func (a Agent) MarshalJSON() ([]byte, error) {
	type plain Agent
	p := plain(a)
	p.Tools = nonNil(p.Tools)
	return json.Marshal(p)
}

// ThreadContextParam types: the values of ThreadContextParam.Type.
const (
	ParamString  = "string"
	ParamNumber  = "number"
	ParamBoolean = "boolean"
)

// ThreadContextParam declares one value a chat thread carries as context.
type ThreadContextParam struct {
	// Name is the parameter's name, e.g. "customerId". Required.
	Name string `json:"name"`
	// Type is ParamString, ParamNumber or ParamBoolean.
	Type string `json:"type"`
	// Required makes chat reject a thread without the parameter; nil
	// leaves it optional.
	Required *bool `json:"required,omitempty"`
	// Description is optional.
	Description string `json:"description,omitempty"`
}

// Model selects an agent's language model. It is written in one of two
// forms, and encodes back in the form it was given:
//
//   - ID, "provider/id" such as "openai/gpt-5-mini": the newest backend's
//     form, and what the struere CLI writes today;
//   - Provider and Name, such as "anthropic" and "claude-sonnet-4-20250514":
//     the form of the older backends.
//
// Give one form, not both. Sync converts between them for the backend it
// talks to: ID "p/n" and Provider "p" with Name "n" are the same model (the
// provider is the part before the first slash). A model that has no exact
// counterpart in the backend's form (an ID without a slash, a provider
// containing one) is refused, naming the agent.
type Model struct {
	// ID is the model as "provider/id".
	ID string `json:"model,omitempty"`
	// Provider is the model vendor, with Name.
	Provider string `json:"provider,omitempty"`
	// Name is the provider's model id, with Provider.
	Name string `json:"name,omitempty"`
	// Temperature is the sampling temperature; nil leaves the default.
	Temperature *float64 `json:"temperature,omitempty"`
	// MaxTokens caps the length of a reply; nil leaves the default.
	MaxTokens *int `json:"maxTokens,omitempty"`
}

// String returns the model as "provider/id", whichever form it was given
// in.
func (m Model) String() string {
	if m.ID != "" {
		return m.ID
	}
	return m.Provider + "/" + m.Name
}

// Tool is a tool an agent may call: a built-in one (such as
// "entity.query") or a custom one with handler code.
type Tool struct {
	// Name is the tool's name as the model sees it. Required, and unique
	// within an agent.
	Name string `json:"name"`
	// Description tells the model what the tool does.
	Description string `json:"description"`
	// Parameters is the JSON Schema of the tool's arguments, a JSON
	// object such as {"type":"object","properties":{}}. Required: the
	// backend stores it as sent.
	Parameters json.RawMessage `json:"parameters"`
	// HandlerCode is the body of a custom tool; empty for built-in tools.
	// It is compared as an opaque string.
	HandlerCode string `json:"handlerCode,omitempty"`
	// TemplateOnly marks a custom tool usable only from prompt templates,
	// not by the model. Newest backend only.
	TemplateOnly bool `json:"templateOnly,omitempty"`
	// IsBuiltin marks a tool the platform implements. Only the older
	// backends know it, and they require it: when nil, Sync sends true for
	// a tool without HandlerCode and false otherwise, as the CLI did. The
	// newest backend rejects the key, so Sync leaves it out there.
	IsBuiltin *bool `json:"isBuiltin,omitempty"`
}

// EntityType is a kind of record an organization stores, described by a
// JSON Schema.
type EntityType struct {
	// Name is the display name. Required.
	Name string `json:"name"`
	// Slug identifies the type within the environment; roles, scope rules,
	// field masks and triggers refer to it. Required.
	Slug string `json:"slug"`
	// Schema is the JSON Schema of the type's data, a JSON object.
	// Required.
	Schema json.RawMessage `json:"schema"`
	// SearchFields are the data fields searched by text queries.
	SearchFields []string `json:"searchFields,omitzero"`
	// DisplayConfig is free-form presentation settings for the dashboard.
	DisplayConfig json.RawMessage `json:"displayConfig,omitempty"`
	// BoundToRole names the role whose users are records of this type (a
	// "teacher" type bound to the "teacher" role). At most one entity type
	// may be bound to a role. E2 and later only.
	BoundToRole string `json:"boundToRole,omitempty"`
	// UserIDField is the data field that holds the bound user's id. E2 and
	// later only.
	UserIDField string `json:"userIdField,omitempty"`
}

// Role is a set of permissions granted to users. System roles are never
// part of Definitions: sync neither lists nor touches them.
type Role struct {
	// Name identifies the role within the environment. Required, unique.
	Name string `json:"name"`
	// Description is optional.
	Description string `json:"description,omitempty"`
	// AgentAccess lists the slugs of the agents the role's users may talk
	// to. nil (absent) and empty are different: a sync without the key
	// removes the stored list. Newest backend only.
	AgentAccess []string `json:"agentAccess,omitzero"`
	// Policies grant or deny actions on resources; sent as [] when empty.
	Policies []Policy `json:"policies"`
	// ScopeRules restrict which records the role sees; each applies to the
	// role's policies whose Resource equals its EntityType. Sync sends []
	// when empty.
	ScopeRules []ScopeRule `json:"scopeRules,omitzero"`
	// FieldMasks hide or redact fields from the role, attached like
	// ScopeRules. Sync sends [] when empty.
	FieldMasks []FieldMask `json:"fieldMasks,omitzero"`
}

// MarshalJSON encodes r with nil Policies as [].
func (r Role) MarshalJSON() ([]byte, error) {
	type plain Role
	p := plain(r)
	p.Policies = nonNil(p.Policies)
	return json.Marshal(p)
}

// Policy effects: the values of Policy.Effect.
const (
	EffectAllow = "allow"
	EffectDeny  = "deny"
)

// Policy allows or denies actions on a resource (an entity type slug). The
// backend stores one row per action.
type Policy struct {
	// Resource is the entity type slug the policy applies to. Required.
	Resource string `json:"resource"`
	// Actions such as "read", "create", "update", "delete". At least one.
	Actions []string `json:"actions"`
	// Effect is EffectAllow or EffectDeny.
	Effect string `json:"effect"`
	// Priority orders conflicting policies (the backend defaults it to
	// 50). E1 only: E2 and later backends reject the key, so leave it nil
	// for them.
	Priority *int `json:"priority,omitempty"`
}

// MarshalJSON encodes p with nil Actions as [].
func (p Policy) MarshalJSON() ([]byte, error) {
	type plain Policy
	q := plain(p)
	q.Actions = nonNil(q.Actions)
	return json.Marshal(q)
}

// ScopeRule limits a role to the records whose Field compares with Value,
// e.g. field "data.teacherId", operator "eq", value "actor.userId".
type ScopeRule struct {
	EntityType string `json:"entityType"` // the entity type slug it applies to
	Field      string `json:"field"`      // the record field, e.g. "data.teacherId"
	Operator   string `json:"operator"`   // the comparison, e.g. "eq"
	Value      string `json:"value"`      // the value or actor reference, e.g. "actor.userId"
}

// Field mask types the backend accepts.
const (
	MaskHide   = "hide"
	MaskRedact = "redact"
)

// FieldMask hides (MaskHide) or redacts (MaskRedact) one field of an entity
// type from a role.
type FieldMask struct {
	EntityType string `json:"entityType"` // the entity type slug
	// FieldPath is the masked field, e.g. "data.price".
	FieldPath string `json:"fieldPath"`
	// MaskType is MaskHide or MaskRedact.
	MaskType string `json:"maskType"`
	// MaskConfig is free-form settings for the mask.
	MaskConfig json.RawMessage `json:"maskConfig,omitempty"`
}

// Trigger runs tool calls when a record of an entity type changes. E2 and
// later only.
type Trigger struct {
	// Name is the display name. Required.
	Name string `json:"name"`
	// Slug identifies the trigger within the environment. Required.
	Slug string `json:"slug"`
	// Description is optional.
	Description string `json:"description,omitempty"`
	// EntityType is the slug of the watched entity type. Required.
	EntityType string `json:"entityType"`
	// Action is the watched change, e.g. "created", "updated", "deleted".
	// Required.
	Action string `json:"action"`
	// Condition is a free-form filter on the changed record.
	Condition json.RawMessage `json:"condition,omitempty"`
	// Actions are the tool calls to make, in order. At least one.
	Actions []TriggerAction `json:"actions"`
	// Schedule delays the actions; nil runs them at once.
	Schedule *TriggerSchedule `json:"schedule,omitempty"`
	// Retry retries failed actions; nil uses the backend's default.
	Retry *TriggerRetry `json:"retry,omitempty"`
}

// MarshalJSON encodes t with nil Actions as [].
func (t Trigger) MarshalJSON() ([]byte, error) {
	type plain Trigger
	p := plain(t)
	p.Actions = nonNil(p.Actions)
	return json.Marshal(p)
}

// TriggerAction is one tool call a trigger makes.
type TriggerAction struct {
	// Tool is the tool's name, e.g. "entity.update". Required.
	Tool string `json:"tool"`
	// Args are the tool's arguments, a JSON object that may use template
	// expressions. Required.
	Args json.RawMessage `json:"args"`
	// As names the call's result so later actions can refer to it.
	As string `json:"as,omitempty"`
}

// TriggerSchedule delays a trigger's actions. Every field is optional.
type TriggerSchedule struct {
	// Delay is a wait in milliseconds after the change.
	Delay *float64 `json:"delay,omitempty"`
	// At is a time expression (typically a template over the record).
	At string `json:"at,omitempty"`
	// Offset is added to At, in milliseconds (negative for "before").
	Offset *float64 `json:"offset,omitempty"`
	// CancelPrevious cancels runs still scheduled for the same record.
	CancelPrevious *bool `json:"cancelPrevious,omitempty"`
}

// TriggerRetry configures retries of failed trigger actions. Every field is
// optional.
type TriggerRetry struct {
	MaxAttempts *int `json:"maxAttempts,omitempty"` // attempts in all, first included
	// BackoffMs is the wait between attempts, in milliseconds.
	BackoffMs *float64 `json:"backoffMs,omitempty"`
}

// EvalSuite is a set of scripted conversations that test one agent. E2 and
// later only.
type EvalSuite struct {
	// Name is the display name. Required.
	Name string `json:"name"`
	// Slug identifies the suite within the environment. Required.
	Slug string `json:"slug"`
	// AgentSlug is the slug of the agent under test; it must be one of the
	// Definitions' agents. Required.
	AgentSlug   string   `json:"agentSlug"`
	Description string   `json:"description,omitempty"` // optional
	Tags        []string `json:"tags,omitzero"`         // optional labels
	// JudgeModel grades llm_judge assertions; nil uses the default.
	JudgeModel *JudgeModel `json:"judgeModel,omitempty"`
	// JudgeContext is background the judge receives with every grading.
	JudgeContext string `json:"judgeContext,omitempty"`
	// JudgePrompt replaces the judge's default instructions.
	JudgePrompt string `json:"judgePrompt,omitempty"`
	// Cases are the conversations. At least one.
	Cases []EvalCase `json:"cases"`
}

// MarshalJSON encodes s with nil Cases as [].
func (s EvalSuite) MarshalJSON() ([]byte, error) {
	type plain EvalSuite
	p := plain(s)
	p.Cases = nonNil(p.Cases)
	return json.Marshal(p)
}

// JudgeModel selects the model that grades llm_judge assertions, in one of
// the two forms Model describes: ID ("provider/id", the newest backend's)
// or Provider and Name (the older backends'). Sync converts as for Model.
type JudgeModel struct {
	ID       string `json:"model,omitempty"`    // the judge model as "provider/id"
	Provider string `json:"provider,omitempty"` // the judge model's vendor, with Name
	Name     string `json:"name,omitempty"`     // the judge model's name, with Provider
}

// EvalCase is one scripted conversation.
type EvalCase struct {
	// Name is required.
	Name        string   `json:"name"`                  // required
	Description string   `json:"description,omitempty"` // optional
	Tags        []string `json:"tags,omitzero"`         // optional labels
	// Turns are the user's messages, in order. At least one.
	Turns []EvalTurn `json:"turns"`
	// FinalAssertions are checked after the last turn, against its reply
	// and the tool calls of every turn.
	FinalAssertions []EvalAssertion `json:"finalAssertions,omitzero"`
	// Channel is the channel the conversation simulates: one of the
	// Channel* constants; empty for the default. Newest backend only.
	Channel string `json:"channel,omitempty"`
	// ContextParams is the thread context the case runs with, a JSON
	// object checked against the agent's ThreadContextParams. Newest
	// backend only.
	ContextParams json.RawMessage `json:"contextParams,omitempty"`
}

// Eval case channels: the values of EvalCase.Channel.
const (
	ChannelWidget    = "widget"
	ChannelWhatsApp  = "whatsapp"
	ChannelAPI       = "api"
	ChannelDashboard = "dashboard"
)

// MarshalJSON encodes c with nil Turns as [].
func (c EvalCase) MarshalJSON() ([]byte, error) {
	type plain EvalCase
	p := plain(c)
	p.Turns = nonNil(p.Turns)
	return json.Marshal(p)
}

// EvalTurn is one user message and the checks on the agent's reply.
type EvalTurn struct {
	// UserMessage is what the user says. Required.
	UserMessage string          `json:"userMessage"`
	Assertions  []EvalAssertion `json:"assertions,omitzero"` // checks on the reply to this turn
}

// Eval assertion types the backend accepts.
const (
	AssertLLMJudge      = "llm_judge"
	AssertContains      = "contains"
	AssertMatches       = "matches"
	AssertToolCalled    = "tool_called"
	AssertToolNotCalled = "tool_not_called"
)

// EvalAssertion is one check on an agent's reply or behaviour.
type EvalAssertion struct {
	// Type is one of the Assert* constants.
	Type string `json:"type"`
	// Value is the text (contains), pattern (matches) or tool name
	// (tool_called, tool_not_called) to check.
	Value string `json:"value,omitempty"`
	// Criteria is what an llm_judge assertion asks the judge to grade.
	Criteria string `json:"criteria,omitempty"`
	// Weight scales the assertion in the case's score; nil means the
	// default.
	Weight *float64 `json:"weight,omitempty"`
}

// Fixture is test data for the eval environment: records and relations
// that replace every active eval record when synced. Only the eval
// environment of the newest backend processes fixtures; other
// environments ignore them.
type Fixture struct {
	// Name is the display name. Required.
	Name string `json:"name"`
	// Slug identifies the fixture. Required.
	Slug string `json:"slug"`
	// Entities are the records to create. Sent as [] when empty.
	Entities []FixtureEntity `json:"entities"`
	// Relations link the records by their Ref.
	Relations []FixtureRelation `json:"relations,omitzero"`
}

// MarshalJSON encodes f with nil Entities as [].
func (f Fixture) MarshalJSON() ([]byte, error) {
	type plain Fixture
	p := plain(f)
	p.Entities = nonNil(p.Entities)
	return json.Marshal(p)
}

// FixtureEntity is one record of a fixture.
type FixtureEntity struct {
	// Ref names the record within the fixtures, for relations. Required.
	Ref string `json:"ref"`
	// Type is the entity type's slug; the type must be defined too.
	Type string `json:"type"`
	// Data is the record's data, a JSON object. Required.
	Data json.RawMessage `json:"data"`
	// Status is the record's status; empty means "active".
	Status string `json:"status,omitempty"`
}

// FixtureRelation links two fixture records by their refs.
type FixtureRelation struct {
	From string `json:"from"` // the Ref of the source record
	To   string `json:"to"`   // the Ref of the target record
	Type string `json:"type"` // the relation's type
	// Metadata is free-form data about the relation.
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// nonNil returns s, or an empty non-nil slice when s is nil, so that it
// encodes as [] instead of null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
