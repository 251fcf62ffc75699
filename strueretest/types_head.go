package strueretest

import (
	"encoding/json"
	"time"

	struere "github.com/struere/struere-go"
)

// Event is a row of the events table, as sync writes it on HEAD
// (protocol-head §H1.7): one sync.completed or deploy.completed event per
// successful sync.
type Event struct {
	ID             string              // the events row id
	OrganizationID string              // the organization synced
	Environment    struere.Environment // the environment synced
	EventType      string              // "sync.completed" or "deploy.completed"
	ActorType      string              // "user" (sync:syncOrganization) or "system" (POST /v1/sync)
	ActorID        string              // the caller's users-table id; "" for "system"
	SchemaVersion  int                 // always 1
	Payload        json.RawMessage     // {operation, agents, entityTypes, roles, triggers?, evalSuites?}
	Timestamp      time.Time           // server clock
}

// UserRole is a row of the userRoles table: a user's assignment to a role.
type UserRole struct {
	ID              string              // assigned by AssignRole or by sync
	UserID          string              // users-table id
	RoleID          string              // roles-table id
	RoleName        string              // the role's name; "" when the role row is gone
	RoleEnvironment struere.Environment // the role's environment; "" when it is gone
	OrganizationID  string              // the role's organization; "" when it is gone
}

// Entity is a row of the entities table (the organization's data).
type Entity struct {
	ID             string              // assigned by SeedEntity or by a fixture sync
	OrganizationID string              // defaults to the seeded organization
	Environment    struere.Environment // Development, Production or Eval
	EntityType     string              // the entity type's slug; SeedEntity requires it to exist
	EntityTypeID   string              // that entity type's id (dangling after its type is deleted)
	Status         string              // "active" unless set
	Data           json.RawMessage     // the v.any() data, raw JSON; empty seeds {}
	Deleted        bool                // soft-deleted (deletedAt set): fixture syncs leave it alone
}

// Relation is a row of the entityRelations table.
type Relation struct {
	ID             string              // assigned by SeedRelation or by a fixture sync
	OrganizationID string              // the organization of both entities
	Environment    struere.Environment // their environment
	FromEntityID   string              // the source entity's id
	ToEntityID     string              // the target entity's id
	RelationType   string              // the relation's type
	Metadata       json.RawMessage     // raw JSON; a fixture sync stores {} when unset
}

// Fixture is a row of the fixtures bookkeeping table that a fixture sync to
// the eval environment maintains.
type Fixture struct {
	ID               string              // the fixtures row id
	OrganizationID   string              // its organization
	Environment      struere.Environment // always Eval
	Name, Slug       string              // from the payload
	EntityCount      int                 // the fixture's entities
	RelationCount    int                 // the fixture's relations
	EntityTypeCounts map[string]int      // entities per entity type slug
	SyncedAt         time.Time           // server clock of the last sync
}
