package strueretest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	struere "github.com/struere/struere-go"
)

// AddOrganization inserts an organization and returns it with its ID (and
// ClerkOrgID, when empty) filled in. It fails if Name or Slug is empty.
func (s *Server) AddOrganization(o Organization) (Organization, error) {
	if o.Name == "" || o.Slug == "" {
		return o, errors.New("strueretest: add organization: name and slug are required")
	}
	err := s.mutate(func(st *state, now int64) error {
		o.ID = st.newID(tableOrganizations)
		if o.ClerkOrgID == "" {
			o.ClerkOrgID = "org_" + strconv.FormatUint(st.counter, 10) + o.ID[1:12]
		}
		st.orgs = append(st.orgs, orgRow{id: o.ID, name: o.Name, slug: o.Slug, clerkID: o.ClerkOrgID, createdAt: now})
		return nil
	})
	return o, err
}

// DeleteOrganization deletes an organization; memberships pointing at it
// are kept, as after a real deletion. It fails if the id is unknown.
func (s *Server) DeleteOrganization(id string) error {
	return s.mutate(func(st *state, _ int64) error {
		o := st.org(id)
		if o == nil {
			return fmt.Errorf("strueretest: delete organization: %s not found", id)
		}
		o.deleted = true
		return nil
	})
}

// AddUser inserts a user row and returns it with a token for it (no org_id
// claim). It fails if Subject is empty or already taken.
func (s *Server) AddUser(u User) (User, struere.Token, error) {
	if u.Subject == "" {
		return u, struere.Token{}, errors.New("strueretest: add user: subject is required")
	}
	if u.Email == "" {
		u.Email = u.Subject + "@unknown.com"
	}
	err := s.mutate(func(st *state, now int64) error {
		if st.userBySubject(u.Subject) != nil {
			return fmt.Errorf("strueretest: add user: subject %q already exists", u.Subject)
		}
		u.ID = st.newID(tableUsers)
		st.users = append(st.users, userRow{id: u.ID, subject: u.Subject, email: u.Email, name: u.Name, createdAt: now, updatedAt: now})
		return nil
	})
	if err != nil {
		return u, struere.Token{}, err
	}
	return u, s.MintToken(u.Subject, ""), nil
}

// AddMembership makes a user a member of an organization. It fails if
// either does not exist or the role is not owner, admin or member.
func (s *Server) AddMembership(m Membership) error {
	if !slices.Contains([]string{"owner", "admin", "member"}, m.Role) {
		return fmt.Errorf("strueretest: add membership: invalid role %q", m.Role)
	}
	return s.mutate(func(st *state, _ int64) error {
		if st.user(m.UserID) == nil || st.org(m.OrganizationID) == nil {
			return errors.New("strueretest: add membership: unknown user or organization")
		}
		if st.membership(m.UserID, m.OrganizationID) != nil {
			return errors.New("strueretest: add membership: already a member")
		}
		st.members = append(st.members, membershipRow{id: st.newID(tableMemberships), userID: m.UserID, orgID: m.OrganizationID, role: m.Role})
		return nil
	})
}

// MintToken returns a token for subject, whose user row may not exist.
// orgIDClaim, when not empty, becomes the org_id claim (an organization's
// ClerkOrgID or ID). The token is valid for a year of server clock.
func (s *Server) MintToken(subject, orgIDClaim string) struere.Token {
	s.mu.Lock()
	now := s.clock.Unix()
	s.mu.Unlock()
	return struere.NewToken(s.sign(claims{Iss: s.issuer, Sub: subject, Aud: tokenAudience, Iat: now, Exp: now + tokenLifetime, OrgID: orgIDClaim}))
}

// ExpireToken makes every later call with tok fail with 401
// Unauthenticated, as an expired JWT does.
func (s *Server) ExpireToken(tok struere.Token) {
	raw := tok.Reveal()
	i := len(raw) - 1
	for i >= 0 && raw[i] != '.' {
		i--
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expired[raw[i+1:]] = struct{}{}
	s.forgetToken(raw)
}

func (s *Server) orgOrSeed(id string) string {
	if id != "" {
		return id
	}
	return s.orgID
}

// SeedAgent inserts an agent (without configuration) and returns it with
// its ID. It fails if the slug is empty or already used by a live agent.
func (s *Server) SeedAgent(a Agent) (Agent, error) {
	if a.Slug == "" {
		return a, errors.New("strueretest: seed agent: slug is required")
	}
	if a.Name == "" {
		a.Name = a.Slug
	}
	if a.Status == "" {
		a.Status = StatusActive
	}
	if !slices.Contains([]string{StatusActive, StatusPaused, StatusDeleted}, a.Status) {
		return a, fmt.Errorf("strueretest: seed agent: invalid status %q", a.Status)
	}
	a.OrganizationID = s.orgOrSeed(a.OrganizationID)
	err := s.mutate(func(st *state, now int64) error {
		if st.org(a.OrganizationID) == nil {
			return errors.New("strueretest: seed agent: unknown organization")
		}
		if a.Status != StatusDeleted && st.liveAgentBySlug(a.OrganizationID, a.Slug) != nil {
			return fmt.Errorf("strueretest: seed agent: slug %q already exists", a.Slug)
		}
		a.ID = st.newID(tableAgents)
		a.CreatedAt, a.UpdatedAt = time.UnixMilli(now).UTC(), time.UnixMilli(now).UTC()
		st.agents = append(st.agents, agentRow{id: a.ID, orgID: a.OrganizationID, name: a.Name, slug: a.Slug,
			description: a.Description, status: a.Status, createdAt: now, updatedAt: now})
		return nil
	})
	return a, err
}

// SetAgentStatus changes the status of the seeded organization's agent with
// that slug (or id). It fails if there is no such agent.
func (s *Server) SetAgentStatus(slugOrID, status string) error {
	if !slices.Contains([]string{StatusActive, StatusPaused, StatusDeleted}, status) {
		return fmt.Errorf("strueretest: set agent status: invalid status %q", status)
	}
	return s.mutate(func(st *state, now int64) error {
		a := s.findAgent(st, slugOrID)
		if a == nil {
			return fmt.Errorf("strueretest: set agent status: agent %q not found", slugOrID)
		}
		a.status, a.updatedAt = status, now
		return nil
	})
}

func (s *Server) findAgent(st *state, slugOrID string) *agentRow {
	if a := st.agent(slugOrID); a != nil {
		return a
	}
	return st.liveAgentBySlug(s.orgID, slugOrID)
}

func (s *Server) checkEnv(env struere.Environment) error {
	if env == Eval && s.isHead() {
		return nil
	}
	if env != Development && env != Production {
		if s.isHead() {
			return fmt.Errorf("invalid environment %q (want development, production or eval)", env)
		}
		return fmt.Errorf("invalid environment %q (want development or production; eval exists on HEAD only)", env)
	}
	return nil
}

// SeedConfig adds a configuration row for (agent, env) and returns it. The
// agent is the seeded organization's live agent with that slug, or the agent
// with that id. The new row becomes the environment's current configuration
// (on E1 the agent's development or production pointer is moved to it).
func (s *Server) SeedConfig(slugOrID string, env struere.Environment, cfg AgentConfig) (ConfigRecord, error) {
	if err := s.checkEnv(env); err != nil {
		return ConfigRecord{}, fmt.Errorf("strueretest: seed config: %w", err)
	}
	model, tools, err := s.storedModelTools(cfg)
	if err != nil {
		return ConfigRecord{}, fmt.Errorf("strueretest: seed config: %w", err)
	}
	var fms, tcp any
	if cfg.FirstMessageSuggestions != nil {
		fms = anys(cfg.FirstMessageSuggestions)
	}
	if cfg.ThreadContextParams != nil {
		if tcp, err = toConvex(cfg.ThreadContextParams); err != nil {
			return ConfigRecord{}, fmt.Errorf("strueretest: seed config: threadContextParams: %w", err)
		}
	}
	var rec ConfigRecord
	err = s.mutate(func(st *state, now int64) error {
		a := s.findAgent(st, slugOrID)
		if a == nil {
			return fmt.Errorf("strueretest: seed config: agent %q not found", slugOrID)
		}
		row := configRow{id: st.newID(tableConfigs), agentID: a.id, env: string(env), version: cfg.Version, name: cfg.Name,
			systemPrompt: cfg.SystemPrompt, model: model, tools: tools, createdAt: now,
			firstMessageSuggestions: fms, threadContextParams: tcp}
		st.configs = append(st.configs, row)
		if s.opts.gen == struere.GenerationE1 {
			if env == Development {
				a.devConfigID = row.id
			} else {
				a.prodConfigID = row.id
			}
		}
		rec = s.configRecord(st, row)
		return nil
	})
	return rec, err
}

// DeleteConfig removes one configuration row by id, leaving any E1 pointer
// to it dangling. It fails if there is no such row.
func (s *Server) DeleteConfig(id string) error {
	return s.mutate(func(st *state, _ int64) error {
		n := len(st.configs)
		st.configs = slices.DeleteFunc(st.configs, func(c configRow) bool { return c.id == id })
		if len(st.configs) == n {
			return fmt.Errorf("strueretest: delete config: %s not found", id)
		}
		return nil
	})
}

// scopeEnv returns the environment rows of env are stored with: "" on E1.
func (s *Server) scopeEnv(env struere.Environment) (string, error) {
	if s.opts.gen == struere.GenerationE1 {
		return "", nil
	}
	return string(env), s.checkEnv(env)
}

// SeedEntityType inserts an entity type into env (ignored on E1) and returns
// it with its ID. It fails on an invalid environment or a duplicate slug.
func (s *Server) SeedEntityType(env struere.Environment, et EntityType) (EntityType, error) {
	rowEnv, err := s.scopeEnv(env)
	if err != nil {
		return et, fmt.Errorf("strueretest: seed entity type: %w", err)
	}
	p, err := entityTypePayload(et)
	if err != nil {
		return et, fmt.Errorf("strueretest: seed entity type: %w", err)
	}
	et.OrganizationID, et.Environment = s.orgOrSeed(et.OrganizationID), struere.Environment(rowEnv)
	err = s.mutate(func(st *state, now int64) error {
		for _, e := range st.entityTypes {
			if e.orgID == et.OrganizationID && e.env == rowEnv && e.slug == et.Slug {
				return fmt.Errorf("strueretest: seed entity type: slug %q already exists", et.Slug)
			}
		}
		row := entityTypeRow{id: st.newID(tableEntityTypes), orgID: et.OrganizationID, env: rowEnv, createdAt: now}
		patchEntityType(&row, p)
		st.entityTypes = append(st.entityTypes, row)
		et.ID = row.id
		return nil
	})
	return et, err
}

// SeedRole inserts a role into env (ignored on E1), expanding its policies
// one row per action, and returns it with its ID. System roles
// (IsSystem) are never listed, synced or deleted by sync.
func (s *Server) SeedRole(env struere.Environment, r Role) (Role, error) {
	rowEnv, err := s.scopeEnv(env)
	if err != nil {
		return r, fmt.Errorf("strueretest: seed role: %w", err)
	}
	if r.Name == "" {
		return r, errors.New("strueretest: seed role: name is required")
	}
	p, err := rolePayload(r)
	if err != nil {
		return r, fmt.Errorf("strueretest: seed role: %w", err)
	}
	r.OrganizationID, r.Environment = s.orgOrSeed(r.OrganizationID), struere.Environment(rowEnv)
	err = s.mutate(func(st *state, now int64) error {
		if st.org(r.OrganizationID) == nil {
			return errors.New("strueretest: seed role: unknown organization")
		}
		row := roleRow{id: st.newID(tableRoles), orgID: r.OrganizationID, env: rowEnv, name: r.Name, description: r.Description,
			isSystem: r.IsSystem, createdAt: now, agentAccess: slices.Clone(r.AgentAccess)}
		st.roles = append(st.roles, row)
		rebuildPolicies(st, row.id, p, s.isE1())
		r.ID = row.id
		r.PolicyCount = len(st.policiesOf(row.id))
		return nil
	})
	return r, err
}

// SeedTrigger inserts a trigger into env and returns it with its ID. It
// fails on E1, which has no triggers.
func (s *Server) SeedTrigger(env struere.Environment, t Trigger) (Trigger, error) {
	if s.opts.gen == struere.GenerationE1 {
		return t, errors.New("strueretest: seed trigger: E1 has no triggers")
	}
	if err := s.checkEnv(env); err != nil {
		return t, fmt.Errorf("strueretest: seed trigger: %w", err)
	}
	def, err := triggerPayload(t)
	if err != nil {
		return t, fmt.Errorf("strueretest: seed trigger: %w", err)
	}
	t.OrganizationID, t.Environment = s.orgOrSeed(t.OrganizationID), env
	err = s.mutate(func(st *state, now int64) error {
		t.ID = st.newID(tableTriggers)
		st.triggers = append(st.triggers, triggerRow{id: t.ID, orgID: t.OrganizationID, env: string(env), slug: t.Slug, def: def, enabled: !t.Disabled, createdAt: now})
		return nil
	})
	return t, err
}

// SeedEvalSuite inserts an eval suite into env for the agent AgentSlug and
// returns it with its ID. It fails on E1 or when the agent does not exist.
func (s *Server) SeedEvalSuite(env struere.Environment, e EvalSuite) (EvalSuite, error) {
	if s.opts.gen == struere.GenerationE1 {
		return e, errors.New("strueretest: seed eval suite: E1 has no eval suites")
	}
	if err := s.checkEnv(env); err != nil {
		return e, fmt.Errorf("strueretest: seed eval suite: %w", err)
	}
	if e.Status == "" {
		e.Status = "active"
	}
	if len(e.Cases) == 0 {
		e.Cases = json.RawMessage(`[]`)
	}
	e.OrganizationID, e.Environment = s.orgOrSeed(e.OrganizationID), env
	def := map[string]any{"name": e.Name, "slug": e.Slug, "agentSlug": e.AgentSlug}
	if e.Description != "" {
		def["description"] = e.Description
	}
	cases, err := fromRaw(e.Cases)
	if err != nil {
		return e, fmt.Errorf("strueretest: seed eval suite: cases: %w", err)
	}
	caseList, isList := cases.([]any)
	if !isList {
		return e, errors.New("strueretest: seed eval suite: cases must be a JSON array")
	}
	err = s.mutate(func(st *state, now int64) error {
		a := st.liveAgentBySlug(e.OrganizationID, e.AgentSlug)
		if a == nil {
			return fmt.Errorf("strueretest: seed eval suite: agent %q not found", e.AgentSlug)
		}
		e.ID, e.AgentID = st.newID(tableEvalSuites), a.id
		st.evalSuites = append(st.evalSuites, evalSuiteRow{id: e.ID, orgID: e.OrganizationID, env: string(env), slug: e.Slug, agentID: a.id,
			def: def, status: e.Status, createdAt: now, updatedAt: now})
		(&syncRun{st: st, now: now, orgID: e.OrganizationID}).replaceCases(e.ID, caseList)
		return nil
	})
	return e, err
}

// SeedPack installs a pack (meaningful on E1): its entity types and roles
// are inserted as pack-managed. It returns the pack with ids filled in.
func (s *Server) SeedPack(p Pack) (Pack, error) {
	p.OrganizationID = s.orgOrSeed(p.OrganizationID)
	var env struere.Environment
	if s.opts.gen != struere.GenerationE1 {
		env = Development
	}
	for i := range p.EntityTypes {
		p.EntityTypes[i].OrganizationID = p.OrganizationID
		et, err := s.SeedEntityType(env, p.EntityTypes[i])
		if err != nil {
			return p, err
		}
		p.EntityTypes[i] = et
	}
	for i := range p.Roles {
		p.Roles[i].OrganizationID = p.OrganizationID
		r, err := s.SeedRole(env, p.Roles[i])
		if err != nil {
			return p, err
		}
		p.Roles[i] = r
	}
	err := s.mutate(func(st *state, _ int64) error {
		row := packRow{id: st.newID(tablePacks), orgID: p.OrganizationID, packID: p.PackID, version: p.Version}
		for _, et := range p.EntityTypes {
			row.entityTypeIDs = append(row.entityTypeIDs, et.ID)
		}
		for _, r := range p.Roles {
			row.roleIDs = append(row.roleIDs, r.ID)
		}
		st.packs = append(st.packs, row)
		p.ID = row.id
		return nil
	})
	return p, err
}

// CreateAPIKey creates an API key for the seeded organization in env and
// returns the raw key (af_live_<8>_<32>); only its SHA-256 and prefix are
// stored. A zero expiresAt never expires.
func (s *Server) CreateAPIKey(env struere.Environment, name string, expiresAt time.Time) (string, error) {
	return s.CreateAPIKeyIn(s.OrganizationID(), env, name, expiresAt)
}

// CreateAPIKeyIn is CreateAPIKey for any organization.
func (s *Server) CreateAPIKeyIn(orgID string, env struere.Environment, name string, expiresAt time.Time) (string, error) {
	if err := s.checkEnv(env); err != nil {
		return "", fmt.Errorf("strueretest: create api key: %w", err)
	}
	var exp int64
	if !expiresAt.IsZero() {
		exp = expiresAt.UnixMilli()
	}
	var key string
	err := s.mutate(func(st *state, now int64) error {
		if st.org(orgID) == nil {
			return errors.New("strueretest: create api key: unknown organization")
		}
		row, raw, err := newAPIKey(st, orgID, string(env), name, []string{"*"}, exp, now)
		if err != nil {
			return err
		}
		st.apiKeys = append(st.apiKeys, row)
		key = raw
		return nil
	})
	return key, err
}

func newAPIKey(st *state, orgID, env, name string, perms []string, exp, now int64) (apiKeyRow, string, error) {
	buf := make([]byte, 40)
	if _, err := rand.Read(buf); err != nil {
		return apiKeyRow{}, "", fmt.Errorf("strueretest: create api key: %w", err)
	}
	for i := range buf {
		buf[i] = idAlphabet[int(buf[i])%36]
	}
	raw := "af_live_" + string(buf[:8]) + "_" + string(buf[8:])
	sum := sha256.Sum256([]byte(raw))
	return apiKeyRow{id: st.newID(tableAPIKeys), orgID: orgID, env: env, name: name, hash: hex.EncodeToString(sum[:]),
		prefix: raw[:16], permissions: perms, expiresAt: exp, createdAt: now}, raw, nil
}

// toConvex converts a Go value to a Convex value through JSON.
func toConvex(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return fromRaw(b)
}
