package strueretest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	struere "github.com/struere/struere-go"
)

// storedModelTools returns cfg's model and tools as the server's generation
// stores them (see AgentConfig).
func (s *Server) storedModelTools(cfg AgentConfig) (model, tools any, err error) {
	m := cfg.Model
	switch {
	case cfg.RawModel != nil:
		if model, err = fromRaw(cfg.RawModel); err != nil {
			return nil, nil, fmt.Errorf("model: %w", err)
		}
	case s.isHead():
		model = modelMap(map[string]any{"model": m.String()}, m)
	default:
		provider, name := m.Provider, m.Name
		if m.ID != "" {
			provider, name, _ = strings.Cut(m.ID, "/")
		}
		model = modelMap(map[string]any{"provider": provider, "name": name}, m)
	}
	if cfg.RawTools != nil {
		if tools, err = fromRaw(cfg.RawTools); err != nil {
			return nil, nil, fmt.Errorf("tools: %w", err)
		}
		if _, ok := tools.([]any); !ok {
			return nil, nil, errors.New("tools: RawTools must be a JSON array")
		}
		return model, tools, nil
	}
	list := make([]any, 0, len(cfg.Tools))
	for _, t := range cfg.Tools {
		params := any(map[string]any{})
		if len(t.Parameters) > 0 {
			if params, err = fromRaw(t.Parameters); err != nil {
				return nil, nil, fmt.Errorf("tools: %s: parameters: %w", t.Name, err)
			}
		}
		row := map[string]any{"name": t.Name, "description": t.Description, "parameters": params}
		setIf(row, "handlerCode", t.HandlerCode)
		switch {
		case s.isHead():
			if t.TemplateOnly {
				row["templateOnly"] = true
			}
		case t.IsBuiltin != nil:
			row["isBuiltin"] = *t.IsBuiltin
		default:
			row["isBuiltin"] = t.HandlerCode == ""
		}
		list = append(list, row)
	}
	return model, list, nil
}

// modelMap adds m's temperature and maxTokens to base.
func modelMap(base map[string]any, m struere.Model) map[string]any {
	if m.Temperature != nil {
		base["temperature"] = *m.Temperature
	}
	if m.MaxTokens != nil {
		base["maxTokens"] = float64(*m.MaxTokens)
	}
	return base
}

// decodeModel reads a stored model of either shape into a Model: "model"
// into ID, "provider" and "name" into Provider and Name.
func decodeModel(v any) struere.Model {
	m, _ := v.(map[string]any)
	out := struere.Model{ID: str(m, "model"), Provider: str(m, "provider"), Name: str(m, "name")}
	if t, ok := m["temperature"].(float64); ok {
		out.Temperature = &t
	}
	if n, ok := m["maxTokens"].(float64); ok {
		i := int(n)
		out.MaxTokens = &i
	}
	return out
}

// SetPlan sets an organization's billing plan ("" returns it to the
// server's default, see WithPlan). It fails for an unknown organization.
func (s *Server) SetPlan(orgID string, p Plan) error {
	return s.mutate(func(st *state, _ int64) error {
		o := st.org(orgID)
		if o == nil {
			return fmt.Errorf("strueretest: set plan: unknown organization %s", orgID)
		}
		o.plan = p
		return nil
	})
}

// AssignRole assigns a user to a role (a userRoles row) and returns the
// assignment. It fails if either does not exist.
func (s *Server) AssignRole(userID, roleID string) (UserRole, error) {
	var out UserRole
	err := s.mutate(func(st *state, now int64) error {
		if st.user(userID) == nil {
			return fmt.Errorf("strueretest: assign role: unknown user %s", userID)
		}
		if st.role(roleID) == nil {
			return fmt.Errorf("strueretest: assign role: unknown role %s", roleID)
		}
		row := userRoleRow{id: st.newID(tableUserRoles), userID: userID, roleID: roleID, createdAt: now}
		st.userRoles = append(st.userRoles, row)
		out = row.export(st)
		return nil
	})
	return out, err
}

func (row userRoleRow) export(st *state) UserRole {
	u := UserRole{ID: row.id, UserID: row.userID, RoleID: row.roleID}
	if r := st.role(row.roleID); r != nil {
		u.RoleName, u.RoleEnvironment, u.OrganizationID = r.name, struere.Environment(r.env), r.orgID
	}
	return u
}

// SeedEntity inserts an entity of the entity type e.EntityType (a slug of
// env) and returns it with its ids. It fails if the type does not exist.
func (s *Server) SeedEntity(env struere.Environment, e Entity) (Entity, error) {
	if err := s.checkEnv(env); err != nil {
		return e, fmt.Errorf("strueretest: seed entity: %w", err)
	}
	if len(e.Data) == 0 {
		e.Data = json.RawMessage(`{}`)
	}
	data, err := fromRaw(e.Data)
	if err != nil {
		return e, fmt.Errorf("strueretest: seed entity: data: %w", err)
	}
	if e.Status == "" {
		e.Status = "active"
	}
	e.OrganizationID, e.Environment = s.orgOrSeed(e.OrganizationID), env
	err = s.mutate(func(st *state, now int64) error {
		for _, et := range st.entityTypes {
			if et.orgID == e.OrganizationID && et.env == string(env) && et.slug == e.EntityType {
				e.EntityTypeID = et.id
				break
			}
		}
		if e.EntityTypeID == "" {
			return fmt.Errorf("strueretest: seed entity: entity type %q not found in %s", e.EntityType, env)
		}
		e.ID = st.newID(tableEntities)
		st.entities = append(st.entities, entityRow{id: e.ID, orgID: e.OrganizationID, env: string(env), typeID: e.EntityTypeID,
			status: e.Status, data: data, deleted: e.Deleted, createdAt: now})
		return nil
	})
	return e, err
}

// SeedRelation inserts a relation between two entities and returns it
// with its id. It fails if either entity does not exist.
func (s *Server) SeedRelation(rel Relation) (Relation, error) {
	var meta any
	if len(rel.Metadata) > 0 {
		var err error
		if meta, err = fromRaw(rel.Metadata); err != nil {
			return rel, fmt.Errorf("strueretest: seed relation: metadata: %w", err)
		}
	}
	err := s.mutate(func(st *state, now int64) error {
		i := slices.IndexFunc(st.entities, func(e entityRow) bool { return e.id == rel.FromEntityID })
		j := slices.IndexFunc(st.entities, func(e entityRow) bool { return e.id == rel.ToEntityID })
		if i < 0 || j < 0 {
			return errors.New("strueretest: seed relation: unknown entity")
		}
		rel.OrganizationID, rel.Environment = st.entities[i].orgID, struere.Environment(st.entities[i].env)
		rel.ID = st.newID(tableRelations)
		st.relations = append(st.relations, relationRow{id: rel.ID, orgID: rel.OrganizationID, env: string(rel.Environment),
			fromID: rel.FromEntityID, toID: rel.ToEntityID, relType: rel.RelationType, metadata: meta, createdAt: now})
		return nil
	})
	return rel, err
}

// CreateKey creates an API key from k's OrganizationID (default: the
// seeded organization), Environment (required), Name, Permissions (nil
// stores []), ExpiresAt (zero: never) and Studio, and returns the raw key
// and the stored record. A studio key is what the backend creates when it
// mirrors an organization: apiKeys:list hides it, apiKeys:update and
// remove refuse it, and it authenticates like any other key.
func (s *Server) CreateKey(k APIKey) (string, APIKey, error) {
	if err := s.checkEnv(k.Environment); err != nil {
		return "", APIKey{}, fmt.Errorf("strueretest: create key: %w", err)
	}
	k.OrganizationID = s.orgOrSeed(k.OrganizationID)
	perms := slices.Clone(k.Permissions)
	if perms == nil {
		perms = []string{}
	}
	var exp int64
	if !k.ExpiresAt.IsZero() {
		exp = k.ExpiresAt.UnixMilli()
	}
	var raw string
	var out APIKey
	err := s.mutate(func(st *state, now int64) error {
		if st.org(k.OrganizationID) == nil {
			return errors.New("strueretest: create key: unknown organization")
		}
		row, key, err := newAPIKey(st, k.OrganizationID, string(k.Environment), k.Name, perms, exp, now)
		if err != nil {
			return err
		}
		if k.Studio {
			row.studio, row.rawKey = true, key
		}
		st.apiKeys = append(st.apiKeys, row)
		raw, out = key, row.export()
		return nil
	})
	return raw, out, err
}

func (k apiKeyRow) export() APIKey {
	return APIKey{ID: k.id, OrganizationID: k.orgID, Environment: struere.Environment(k.env), Name: k.name, KeyPrefix: k.prefix,
		KeyHash: k.hash, Permissions: slices.Clone(k.permissions), ExpiresAt: ms(k.expiresAt), LastUsedAt: ms(k.lastUsedAt),
		CreatedAt: ms(k.createdAt), Studio: k.studio}
}

// Events returns the events table in insertion order.
func (s *Server) Events() []Event {
	var out []Event
	s.read(func(st *state, _ int64) {
		for _, e := range st.events {
			out = append(out, Event{ID: e.id, OrganizationID: e.orgID, Environment: struere.Environment(e.env), EventType: e.eventType,
				ActorType: e.actorType, ActorID: e.actorID, SchemaVersion: 1, Payload: toRaw(e.payload), Timestamp: ms(e.timestamp)})
		}
	})
	return out
}

// UserRoles returns every user-role assignment, in insertion order.
func (s *Server) UserRoles() []UserRole {
	var out []UserRole
	s.read(func(st *state, _ int64) {
		for _, u := range st.userRoles {
			out = append(out, u.export(st))
		}
	})
	return out
}

// Entities returns the entities of env (every organization), soft-deleted
// ones included, in insertion order.
func (s *Server) Entities(env struere.Environment) []Entity {
	var out []Entity
	s.read(func(st *state, _ int64) {
		for _, e := range st.entities {
			if e.env != string(env) {
				continue
			}
			x := Entity{ID: e.id, OrganizationID: e.orgID, Environment: env, EntityTypeID: e.typeID, Status: e.status,
				Data: toRaw(e.data), Deleted: e.deleted}
			if et := st.entityType(e.typeID); et != nil {
				x.EntityType = et.slug
			}
			out = append(out, x)
		}
	})
	return out
}

// Relations returns every entity relation, in insertion order.
func (s *Server) Relations() []Relation {
	var out []Relation
	s.read(func(st *state, _ int64) {
		for _, r := range st.relations {
			out = append(out, Relation{ID: r.id, OrganizationID: r.orgID, Environment: struere.Environment(r.env), FromEntityID: r.fromID,
				ToEntityID: r.toID, RelationType: r.relType, Metadata: toRaw(r.metadata)})
		}
	})
	return out
}

// Fixtures returns the fixtures bookkeeping rows of env.
func (s *Server) Fixtures(env struere.Environment) []Fixture {
	var out []Fixture
	s.read(func(st *state, _ int64) {
		for _, f := range st.fixtures {
			if f.env == string(env) {
				counts := make(map[string]int, len(f.entityTypeCounts))
				for k, v := range f.entityTypeCounts {
					counts[k] = v
				}
				out = append(out, Fixture{ID: f.id, OrganizationID: f.orgID, Environment: env, Name: f.name, Slug: f.slug,
					EntityCount: f.entityCount, RelationCount: f.relationCount, EntityTypeCounts: counts, SyncedAt: ms(f.syncedAt)})
			}
		}
	})
	return out
}
