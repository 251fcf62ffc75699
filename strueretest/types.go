package strueretest

import (
	"encoding/json"
	"net/http"
	"time"
)

// Environment names accepted by the seeding and inspection helpers. E1 keeps
// entity types and roles organization-wide and ignores the environment given
// for them.
const (
	Development = "development"
	Production  = "production"
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
	ID             string // assigned by SeedAgent
	OrganizationID string // defaults to the seeded organization
	Slug, Name     string
	Description    string
	Status         string // StatusActive (default), StatusPaused or StatusDeleted
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Model is an agent configuration's model, as on the wire.
type Model struct {
	Provider    string   `json:"provider"`
	Name        string   `json:"name"`
	Temperature *float64 `json:"temperature,omitempty"`
	MaxTokens   *float64 `json:"maxTokens,omitempty"`
}

// Tool is one tool of an agent configuration, as on the wire.
type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	HandlerCode string          `json:"handlerCode,omitempty"`
	IsBuiltin   bool            `json:"isBuiltin"`
}

// AgentConfig is the content of an agent configuration.
type AgentConfig struct {
	Version      string
	Name         string
	SystemPrompt string
	Model        Model
	Tools        []Tool
}

// ConfigRecord is one row of the agentConfigs table, as returned by
// Server.Configs.
type ConfigRecord struct {
	ID          string
	AgentID     string
	AgentSlug   string
	Environment string
	AgentConfig
	CreatedAt  time.Time
	DeployedBy string // users-table id, or "" when seeded
	// Current reports whether this row is the one its environment serves:
	// the newest row of (agent, environment) on environment-isolated
	// generations, the agent's pointer on E1.
	Current bool
}

// EntityType is a row of the entityTypes table.
type EntityType struct {
	ID             string
	OrganizationID string // defaults to the seeded organization
	Environment    string // "" on E1
	Name, Slug     string
	Schema         json.RawMessage
	SearchFields   []string
	DisplayConfig  json.RawMessage
	BoundToRole    string
	UserIDField    string
	PackManaged    bool // reported by inspection; set by SeedPack
}

// Policy is an access policy of a role. Seeding expands it into one stored
// row per action; inspection returns one Policy per stored row.
type Policy struct {
	Resource string
	Actions  []string
	Effect   string  // "allow" or "deny"
	Priority float64 // E1 only; 0 means the default, 50
}

// ScopeRule restricts a role's access to entities of EntityType.
type ScopeRule struct {
	EntityType, Field, Operator, Value string
}

// FieldMask hides or redacts one field of EntityType for a role.
type FieldMask struct {
	EntityType, FieldPath, MaskType string
	MaskConfig                      json.RawMessage
}

// Role is a row of the roles table with its policies, scope rules and field
// masks. Scope rules and masks attach to the policies whose resource equals
// their entity type, as sync does.
type Role struct {
	ID             string
	OrganizationID string // defaults to the seeded organization
	Environment    string // "" on E1
	Name           string
	Description    string
	IsSystem       bool // system roles are never listed, synced or deleted
	Policies       []Policy
	ScopeRules     []ScopeRule
	FieldMasks     []FieldMask
	PolicyCount    int  // stored policy rows; reported by inspection
	PackManaged    bool // reported by inspection; set by SeedPack
}

// Trigger is a row of the triggers table (environment-isolated generations).
type Trigger struct {
	ID             string
	OrganizationID string
	Environment    string
	Name, Slug     string
	Description    string
	EntityType     string
	Action         string
	Condition      json.RawMessage
	Actions        json.RawMessage // [{tool,args,as?}]
	Schedule       json.RawMessage
	Retry          json.RawMessage
	Disabled       bool
}

// EvalSuite is a row of the evalSuites table (environment-isolated
// generations).
type EvalSuite struct {
	ID             string
	OrganizationID string
	Environment    string
	Name, Slug     string
	AgentSlug      string
	AgentID        string
	Description    string
	Status         string          // "active" (default) or "archived"
	Cases          json.RawMessage // the payload's cases array
}

// Pack is an installed pack (E1): the entity types and roles it brings are
// pack-managed.
type Pack struct {
	ID             string
	OrganizationID string
	PackID         string
	Version        string
	EntityTypes    []EntityType
	Roles          []Role
}

// APIKey is a row of the apiKeys table. The raw key is never stored.
type APIKey struct {
	ID             string
	OrganizationID string
	Environment    string
	Name           string
	KeyPrefix      string // the first 16 characters
	KeyHash        string // lowercase hex SHA-256 of the key
	Permissions    []string
	ExpiresAt      time.Time // zero: never expires
	LastUsedAt     time.Time
	CreatedAt      time.Time
}

// Request is one entry of the request log. It never holds a credential.
type Request struct {
	Method       string
	URLPath      string
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
	Status int
	Body   string
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
