package strueretest

import "slices"

// The in-memory database. Every table is a slice in insertion (index)
// order. Records are values; nested slices and maps are replaced, never
// mutated, so clone can copy the tables shallowly.

type orgRow struct {
	id, name, slug, clerkID string
	deleted                 bool
	createdAt               int64
	plan                    Plan // "": the server's default plan
}

type userRow struct {
	id, subject, email, name string
	createdAt, updatedAt     int64
}

type membershipRow struct {
	id, userID, orgID, role string
}

type agentRow struct {
	id, orgID, name, slug, description string
	status                             string
	createdAt, updatedAt               int64
	devConfigID, prodConfigID          string // E1 pointers
}

type configRow struct {
	id, agentID, env            string
	version, name, systemPrompt string
	model                       any // map[string]any, as validated
	tools                       any // []any, as validated
	createdAt                   int64
	deployedBy                  string
	// HEAD: nil means the key is absent.
	firstMessageSuggestions, threadContextParams any
}

type entityTypeRow struct {
	id, orgID, env, name, slug string
	schema, displayConfig      any
	hasDisplayConfig           bool
	searchFields               []string
	boundToRole, userIDField   string
	createdAt                  int64
}

type roleRow struct {
	id, orgID, env, name, description string
	isSystem                          bool
	createdAt                         int64
	agentAccess                       []string // HEAD; nil means the key is absent
}

type policyRow struct {
	id, roleID, resource, action, effect string
	priority                             float64
	hasPriority                          bool
	scopeRules, fieldMasks               []any // payload objects attached to this row
}

type triggerRow struct {
	id, orgID, env, slug string
	def                  map[string]any
	enabled              bool
	createdAt            int64
}

// evalSuiteRow's def is the payload without "cases"; the cases are rows of
// evalCases.
type evalSuiteRow struct {
	id, orgID, env, slug, agentID string
	def                           map[string]any
	status                        string
	createdAt, updatedAt          int64
}

type evalCaseRow struct {
	id, orgID, suiteID   string
	def                  map[string]any // the payload case
	order                int
	createdAt, updatedAt int64
}

type eventRow struct {
	id, orgID, env, eventType, actorType, actorID string
	payload                                       any
	timestamp                                     int64
}

type userRoleRow struct {
	id, userID, roleID string
	createdAt          int64
}

type entityRow struct {
	id, orgID, env, typeID, status string
	data                           any
	deleted                        bool // deletedAt set
	createdAt                      int64
}

type relationRow struct {
	id, orgID, env, fromID, toID, relType string
	metadata                              any
	createdAt                             int64
}

type fixtureRow struct {
	id, orgID, env, name, slug string
	entityCount, relationCount int
	entityTypeCounts           map[string]int
	syncedAt                   int64
}

type packRow struct {
	id, orgID, packID, version string
	entityTypeIDs, roleIDs     []string
}

type apiKeyRow struct {
	id, orgID, env, name, hash, prefix string
	permissions                        []string
	expiresAt, lastUsedAt, createdAt   int64
	studio                             bool   // type "studio"
	rawKey                             string // studio keys only, as the backend stores it
}

type threadRow struct {
	id, orgID, env, agentID, externalID string
	messages, chars                     int
}

type state struct {
	counter     uint64
	orgs        []orgRow
	users       []userRow
	members     []membershipRow
	agents      []agentRow
	configs     []configRow
	entityTypes []entityTypeRow
	roles       []roleRow
	policies    []policyRow
	triggers    []triggerRow
	evalSuites  []evalSuiteRow
	evalCases   []evalCaseRow
	packs       []packRow
	apiKeys     []apiKeyRow
	threads     []threadRow
	events      []eventRow
	userRoles   []userRoleRow
	entities    []entityRow
	relations   []relationRow
	fixtures    []fixtureRow
	ev          evalTables // eval runs and results (evals_state.go)
}

func (st *state) clone() *state {
	c := *st
	c.orgs = slices.Clone(st.orgs)
	c.users = slices.Clone(st.users)
	c.members = slices.Clone(st.members)
	c.agents = slices.Clone(st.agents)
	c.configs = slices.Clone(st.configs)
	c.entityTypes = slices.Clone(st.entityTypes)
	c.roles = slices.Clone(st.roles)
	c.policies = slices.Clone(st.policies)
	c.triggers = slices.Clone(st.triggers)
	c.evalSuites = slices.Clone(st.evalSuites)
	c.evalCases = slices.Clone(st.evalCases)
	c.packs = slices.Clone(st.packs)
	c.apiKeys = slices.Clone(st.apiKeys)
	c.threads = slices.Clone(st.threads)
	c.events = slices.Clone(st.events)
	c.userRoles = slices.Clone(st.userRoles)
	c.entities = slices.Clone(st.entities)
	c.relations = slices.Clone(st.relations)
	c.fixtures = slices.Clone(st.fixtures)
	c.ev = st.ev.clone()
	return &c
}

func (st *state) newID(table byte) string {
	st.counter++
	return makeID(table, st.counter)
}

func (st *state) org(id string) *orgRow {
	for i := range st.orgs {
		if st.orgs[i].id == id && !st.orgs[i].deleted {
			return &st.orgs[i]
		}
	}
	return nil
}

func (st *state) userBySubject(sub string) *userRow {
	for i := range st.users {
		if st.users[i].subject == sub {
			return &st.users[i]
		}
	}
	return nil
}

func (st *state) user(id string) *userRow {
	for i := range st.users {
		if st.users[i].id == id {
			return &st.users[i]
		}
	}
	return nil
}

func (st *state) membership(userID, orgID string) *membershipRow {
	for i := range st.members {
		if st.members[i].userID == userID && st.members[i].orgID == orgID {
			return &st.members[i]
		}
	}
	return nil
}

func (st *state) agent(id string) *agentRow {
	for i := range st.agents {
		if st.agents[i].id == id {
			return &st.agents[i]
		}
	}
	return nil
}

// liveAgentBySlug finds the agent with that slug whose status is not
// "deleted".
func (st *state) liveAgentBySlug(orgID, slug string) *agentRow {
	for i := range st.agents {
		a := &st.agents[i]
		if a.orgID == orgID && a.slug == slug && a.status != "deleted" {
			return a
		}
	}
	return nil
}

func (st *state) config(id string) *configRow {
	if id == "" {
		return nil
	}
	for i := range st.configs {
		if st.configs[i].id == id {
			return &st.configs[i]
		}
	}
	return nil
}

// currentConfig is the newest configuration row of (agent, env): the one
// the environment serves and that sync patches.
func (st *state) currentConfig(agentID, env string) *configRow {
	for i := len(st.configs) - 1; i >= 0; i-- {
		c := &st.configs[i]
		if c.agentID == agentID && c.env == env {
			return c
		}
	}
	return nil
}

// smallTable is the size up to which looking rows up by scanning is cheaper
// than building an index.
const smallTable = 64

// configIndex maps each agent id to the index in st.configs of its newest
// configuration in env (what currentConfig returns), so that a function
// visiting every agent makes one pass over the configurations instead of
// one per agent. Indexes stay valid while rows are only appended.
func (st *state) configIndex(env string) map[string]int {
	idx := make(map[string]int)
	for i := range st.configs {
		if st.configs[i].env == env {
			idx[st.configs[i].agentID] = i
		}
	}
	return idx
}

// configAt returns the row at index i of idx[agentID], or nil.
func (st *state) configAt(idx map[string]int, agentID string) *configRow {
	if i, ok := idx[agentID]; ok {
		return &st.configs[i]
	}
	return nil
}

func (st *state) policiesOf(roleID string) []policyRow {
	var out []policyRow
	for _, p := range st.policies {
		if p.roleID == roleID {
			out = append(out, p)
		}
	}
	return out
}

// policyCount is len(policiesOf(roleID)), without copying the rows.
func (st *state) policyCount(roleID string) int {
	n := 0
	for i := range st.policies {
		if st.policies[i].roleID == roleID {
			n++
		}
	}
	return n
}

// deleteRole deletes a role with its policies (and through them its scope
// rules and masks) and its user assignments.
func (st *state) deleteRole(id string) {
	st.roles = slices.DeleteFunc(st.roles, func(r roleRow) bool { return r.id == id })
	st.policies = slices.DeleteFunc(st.policies, func(p policyRow) bool { return p.roleID == id })
	st.userRoles = slices.DeleteFunc(st.userRoles, func(u userRoleRow) bool { return u.roleID == id })
}

func (st *state) role(id string) *roleRow {
	for i := range st.roles {
		if st.roles[i].id == id {
			return &st.roles[i]
		}
	}
	return nil
}

func (st *state) entityType(id string) *entityTypeRow {
	for i := range st.entityTypes {
		if st.entityTypes[i].id == id {
			return &st.entityTypes[i]
		}
	}
	return nil
}

// casesOf returns the suite's case rows in index order.
func (st *state) casesOf(suiteID string) []evalCaseRow {
	var out []evalCaseRow
	for _, c := range st.evalCases {
		if c.suiteID == suiteID {
			out = append(out, c)
		}
	}
	return out
}

func (st *state) packManaged(id string) bool {
	for _, p := range st.packs {
		if slices.Contains(p.entityTypeIDs, id) || slices.Contains(p.roleIDs, id) {
			return true
		}
	}
	return false
}

func (st *state) packsOf(orgID string) []packRow {
	var out []packRow
	for _, p := range st.packs {
		if p.orgID == orgID {
			out = append(out, p)
		}
	}
	return out
}
