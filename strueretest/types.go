package strueretest

import (
	"encoding/json"
	"net/http"
	"time"

	struere "github.com/struere/struere-go"
)

// The environments, as the root package names them: the seeding and
// inspection helpers take a struere.Environment, so struere.Production and
// strueretest.Production are the same value. E1 keeps entity types and
// roles organization-wide and ignores the environment given for them; Eval
// exists on struere.GenerationHead only.
const (
	Development = struere.Development
	Production  = struere.Production
	Eval        = struere.Eval
)

// The environments as stored in rows.
const (
	envDev  = string(struere.Development)
	envProd = string(struere.Production)
	envEval = string(struere.Eval)
)

// Agent statuses.
const (
	StatusActive  = "active"
	StatusPaused  = "paused"
	StatusDeleted = "deleted"
)

// Organization is a row of the organizations table.
type Organization struct {
	ID         string // assigned by AddOrganization
	Name, Slug string // display name and URL slug
	// ClerkOrgID is the value of the JWT org_id claim that selects this
	// organization as the default. AddOrganization assigns "org_<n>" when
	// it is empty.
	ClerkOrgID string
}

// User is a row of the users table.
type User struct {
	ID      string // assigned by AddUser
	Subject string // the Clerk user id, i.e. the JWT "sub" claim; required
	Email   string // defaults to "<subject>@unknown.com"
	Name    string // optional display name
}

// Membership links a user to an organization with a role: "owner", "admin"
// or "member". Environment-isolated generations list "owner" as "admin".
type Membership struct {
	UserID, OrganizationID, Role string // who, where, and "owner", "admin" or "member"
}

// Agent is a row of the agents table. Agents are shared by all environments.
type Agent struct {
	ID             string    // assigned by SeedAgent
	OrganizationID string    // defaults to the seeded organization
	Slug, Name     string    // slug (required) and display name; Name defaults to Slug
	Description    string    // optional free text
	Status         string    // StatusActive (default), StatusPaused or StatusDeleted
	CreatedAt      time.Time // server clock, set by SeedAgent
	UpdatedAt      time.Time // server clock; moved by status changes and sync
}

// AgentConfig is the content of an agent configuration, in the root
// package's definition types.
//
// SeedConfig stores Model and Tools in the shape the server's generation
// writes. E1 and E2: the model as {provider,name,temperature?,maxTokens?}
// (a Model given as "provider/id" is split at its first "/") and every
// tool with isBuiltin (a nil IsBuiltin stores true for a tool without
// HandlerCode, false otherwise, as Sync sends it); templateOnly is not
// stored. HEAD: the model as {model:"<provider>/<id>",temperature?,
// maxTokens?} and tools without isBuiltin (templateOnly when set).
// RawModel and RawTools, when set, are stored verbatim instead, whatever
// their shape: they seed legacy HEAD rows (a {provider,name} model, tools
// with isBuiltin, a model.reasoning object) that only old data can hold.
type AgentConfig struct {
	Version      string         // the agent's version, e.g. "1.0.0"
	Name         string         // the agent's display name in this config
	SystemPrompt string         // the system prompt
	Model        struere.Model  // the model settings
	Tools        []struere.Tool // the tools, in payload order; empty Parameters store {}

	// FirstMessageSuggestions is HEAD's firstMessageSuggestions; nil means
	// the key is absent (an empty non-nil slice stores []).
	FirstMessageSuggestions []string
	// ThreadContextParams is HEAD's threadContextParams; nil means the key
	// is absent.
	ThreadContextParams []struere.ThreadContextParam
	// RawModel, when not nil, is stored as the model verbatim.
	RawModel json.RawMessage
	// RawTools, when not nil, is stored as the tools array verbatim.
	RawTools json.RawMessage
}

// ConfigRecord is one row of the agentConfigs table, as returned by
// Server.Configs.
type ConfigRecord struct {
	ID          string              // the agentConfigs row id
	AgentID     string              // the agents row id it belongs to
	AgentSlug   string              // that agent's slug; "" if the agent row is gone
	Environment struere.Environment // Development, Production or Eval
	// AgentConfig is the stored content. Model is decoded from either
	// stored shape ({model} into ID, {provider,name} into Provider and
	// Name);
	// FirstMessageSuggestions and ThreadContextParams are nil when the row
	// has no such key; RawModel and RawTools are left nil (see
	// StoredModel and StoredTools).
	AgentConfig
	// StoredModel and StoredTools are the stored model and tools
	// verbatim, in whatever shape the row has.
	StoredModel, StoredTools json.RawMessage
	CreatedAt                time.Time // server clock at insertion
	DeployedBy               string    // users-table id, or "" when seeded
	// Current reports whether this row is the one its environment serves:
	// the newest row of (agent, environment) on environment-isolated
	// generations, the agent's pointer on E1.
	Current bool
}

// EntityType is a row of the entityTypes table.
type EntityType struct {
	ID             string              // assigned by SeedEntityType
	OrganizationID string              // defaults to the seeded organization
	Environment    struere.Environment // "" on E1
	Name, Slug     string              // display name and slug (unique per organization and environment)
	Schema         json.RawMessage     // the v.any() schema, raw JSON; empty seeds {}
	SearchFields   []string            // wire searchFields; stored as [] when nil
	DisplayConfig  json.RawMessage     // the v.any() displayConfig, raw JSON; nil when unset
	BoundToRole    string              // wire boundToRole, a role name; "" when unset
	UserIDField    string              // wire userIdField; "" when unset
	PackManaged    bool                // reported by inspection; set by SeedPack
}

// Policy is an access policy of a role. Seeding expands it into one stored
// row per action; inspection returns one Policy per stored row.
type Policy struct {
	Resource string   // usually an entity type slug
	Actions  []string // e.g. "read", "create"; exactly one per Policy on inspection
	Effect   string   // "allow" or "deny"; seeding treats "" as "allow"
	Priority float64  // E1 only; 0 means the default, 50
}

// ScopeRule restricts a role's access to entities of EntityType.
type ScopeRule struct {
	EntityType, Field, Operator, Value string // entity type slug, field path, operator (e.g. "eq") and value (e.g. "actor.userId")
}

// FieldMask hides or redacts one field of EntityType for a role.
type FieldMask struct {
	EntityType, FieldPath, MaskType string          // entity type slug, field path, and "hide" or "redact"
	MaskConfig                      json.RawMessage // the v.any() maskConfig, raw JSON; nil when unset
}

// Role is a row of the roles table with its policies, scope rules and field
// masks. Scope rules and masks attach to the policies whose resource equals
// their entity type, as sync does.
type Role struct {
	ID             string              // assigned by SeedRole
	OrganizationID string              // defaults to the seeded organization
	Environment    struere.Environment // "" on E1
	Name           string              // required; sync matches roles by name
	Description    string              // optional
	AgentAccess    []string            // HEAD's agentAccess (agent slugs); nil means the key is absent
	IsSystem       bool                // system roles are never listed, synced or deleted
	Policies       []Policy            // seeding expands each per action; inspection gives one per stored row
	ScopeRules     []ScopeRule         // attached to policies of the same resource; de-duplicated on inspection
	FieldMasks     []FieldMask         // attached like ScopeRules; de-duplicated on inspection
	PolicyCount    int                 // stored policy rows; reported by inspection
	PackManaged    bool                // reported by inspection; set by SeedPack
}

// Trigger is a row of the triggers table (environment-isolated generations).
type Trigger struct {
	ID             string              // assigned by SeedTrigger
	OrganizationID string              // defaults to the seeded organization
	Environment    struere.Environment // Development, Production or Eval
	Name, Slug     string              // display name and slug
	Description    string              // optional
	EntityType     string              // slug of the entity type it watches
	Action         string              // the entity action that fires it, e.g. "created"
	Condition      json.RawMessage     // the v.any() condition, raw JSON; nil when unset
	Actions        json.RawMessage     // [{tool,args,as?}]; empty seeds []
	Schedule       json.RawMessage     // {delay?,at?,offset?,cancelPrevious?}, raw JSON; nil when unset
	Retry          json.RawMessage     // {maxAttempts?,backoffMs?}, raw JSON; nil when unset
	Disabled       bool                // stored as enabled: false
}

// EvalSuite is a row of the evalSuites table (environment-isolated
// generations).
type EvalSuite struct {
	ID             string              // assigned by SeedEvalSuite
	OrganizationID string              // defaults to the seeded organization
	Environment    struere.Environment // Development, Production or Eval
	Name, Slug     string              // display name and slug
	AgentSlug      string              // slug of the live agent it tests; required to exist
	AgentID        string              // that agent's id, filled by SeedEvalSuite
	Description    string              // optional
	Status         string              // "active" (default) or "archived"
	Cases          json.RawMessage     // the payload's cases array
}

// Pack is an installed pack (E1): the entity types and roles it brings are
// pack-managed.
type Pack struct {
	ID             string       // the packs row id, assigned by SeedPack
	OrganizationID string       // defaults to the seeded organization
	PackID         string       // the pack's own id (wire packId), e.g. "tutoring"
	Version        string       // the installed pack version
	EntityTypes    []EntityType // seeded as pack-managed, ids filled in
	Roles          []Role       // seeded as pack-managed, ids filled in
}

// APIKey is a row of the apiKeys table. The raw key is never stored.
type APIKey struct {
	ID             string              // the apiKeys row id
	OrganizationID string              // the owning organization
	Environment    struere.Environment // Development or Production
	Name           string              // the key's label
	KeyPrefix      string              // the first 16 characters
	KeyHash        string              // lowercase hex SHA-256 of the key
	Permissions    []string            // ["*"] for CreateAPIKey; as given to apiKeys:create or CreateKey
	ExpiresAt      time.Time           // zero: never expires
	// LastUsedAt is set by a successful chat on E1 and E2, and by every
	// authenticated site-route request on HEAD; zero: never used.
	LastUsedAt time.Time
	CreatedAt  time.Time // server clock
	Studio     bool      // a studio key (apiKeys.type "studio", HEAD)
}

// Request is one entry of the request log. It never holds a credential.
type Request struct {
	Method       string          // HTTP method
	URLPath      string          // the request URL's path, e.g. "/api/query"
	FunctionPath string          // "sync:getSyncState"; "" for site routes
	Kind         string          // query, mutation, action, function, run, site
	Args         json.RawMessage // the function's args object, or the site route's JSON body
	HadAuth      bool            // an Authorization header was present
	Status       int             // HTTP status written; 0 if none was (hang)
	RequestID    string          // of function calls
	Fault        bool            // an injected fault applied
	At           time.Time       // server clock
}

// Fault describes a failure to inject. See Server.Inject.
type Fault struct {
	// Path selects the requests: a function path ("sync:getSyncState"), a
	// site route path ("/v1/chat"), a prefix ending in "*"
	// ("/v1/agents/*"), or "" for every request.
	Path string
	// Times is how many matching requests the fault applies to; 0 means
	// every one until ClearFaults.
	Times int
	// Status replaces the HTTP status. Body replaces the body; when Status
	// is 400 or more and Body is empty, a platform-style error body is
	// written ({"code","message"} on /api, {"error"} on site routes).
	Status int    // 0: not overridden
	Body   string // raw replacement body; "": not overridden
	// Header is added to the response, e.g. Retry-After.
	Header http.Header
	// Delay holds the request before it runs (after, with AfterRun).
	Delay time.Duration
	// Hang blocks until the client's request context ends (or the server
	// closes) and writes nothing.
	Hang bool
	// CloseMidBody sends the headers and part of the body, then drops the
	// connection.
	CloseMidBody bool
	// Truncate sends only the first half of the body, with a matching
	// Content-Length.
	Truncate bool
	// Malformed replaces the body with JSON that does not parse.
	Malformed bool
	// OversizeBytes streams a syntactically valid JSON body of this many
	// bytes without buffering it.
	OversizeBytes int64
	// FunctionError makes a function call fail with this message
	// (status "error", HTTP 200), as if the function threw Error(msg), or
	// ConvexError(ErrorData) when ErrorData is set.
	FunctionError string
	// ErrorData is the ConvexError data (JSON); it is never redacted.
	ErrorData json.RawMessage
	// AfterRun runs the request for real (its writes are kept), then
	// applies the fault to the reply: "the mutation ran but the reply was
	// lost".
	AfterRun bool
	// Applied, when not nil, receives one value each time the fault starts
	// applying to a request (the send does not block; give it a buffer).
	// Tests use it to know a request is being held.
	Applied chan<- struct{}
}
