package strueretest

import (
	"slices"

	struere "github.com/struere/struere-go"
)

func (s *Server) isE1() bool { return s.opts.gen == struere.GenerationE1 }

// Configs returns the full configuration history of the seeded
// organization's agent with that slug (or of the agent with that id), in
// insertion order, every environment included. Deleted agents' configs are
// gone with them; a slug with no agent gives nil.
func (s *Server) Configs(slugOrID string) []ConfigRecord {
	var out []ConfigRecord
	s.read(func(st *state, _ int64) {
		ids := map[string]bool{}
		for _, a := range st.agents {
			if a.id == slugOrID || (a.orgID == s.orgID && a.slug == slugOrID) {
				ids[a.id] = true
			}
		}
		for _, c := range st.configs {
			if ids[c.agentID] {
				out = append(out, s.configRecord(st, c))
			}
		}
	})
	return out
}

// Agents returns every agent row of every organization, soft-deleted ones
// included, in index order.
func (s *Server) Agents() []Agent {
	var out []Agent
	s.read(func(st *state, _ int64) {
		for _, a := range st.agents {
			out = append(out, Agent{ID: a.id, OrganizationID: a.orgID, Slug: a.slug, Name: a.name, Description: a.description,
				Status: a.status, CreatedAt: ms(a.createdAt), UpdatedAt: ms(a.updatedAt)})
		}
	})
	return out
}

// envMatch reports whether a row of environment rowEnv is listed for env;
// on E1 everything is organization-wide and env is ignored.
func (s *Server) envMatch(rowEnv string, env struere.Environment) bool {
	return s.isE1() || rowEnv == string(env)
}

// EntityTypes returns the entity types of env (all of them on E1), in index
// order.
func (s *Server) EntityTypes(env struere.Environment) []EntityType {
	var out []EntityType
	s.read(func(st *state, _ int64) {
		for _, e := range st.entityTypes {
			if s.envMatch(e.env, env) {
				out = append(out, e.export(st))
			}
		}
	})
	return out
}

// Roles returns the roles of env (all of them on E1), system roles
// included, in index order.
func (s *Server) Roles(env struere.Environment) []Role {
	var out []Role
	s.read(func(st *state, _ int64) {
		for _, r := range st.roles {
			if s.envMatch(r.env, env) {
				out = append(out, r.export(st))
			}
		}
	})
	return out
}

// Triggers returns the triggers of env, disabled ones included.
func (s *Server) Triggers(env struere.Environment) []Trigger {
	var out []Trigger
	s.read(func(st *state, _ int64) {
		for _, t := range st.triggers {
			if t.env == string(env) {
				out = append(out, t.export())
			}
		}
	})
	return out
}

// EvalSuites returns the eval suites of env, archived ones included.
func (s *Server) EvalSuites(env struere.Environment) []EvalSuite {
	var out []EvalSuite
	s.read(func(st *state, _ int64) {
		for _, e := range st.evalSuites {
			if e.env == string(env) {
				out = append(out, e.export(st))
			}
		}
	})
	return out
}

// Packs returns the installed packs.
func (s *Server) Packs() []Pack {
	var out []Pack
	s.read(func(st *state, _ int64) {
		for _, p := range st.packs {
			pk := Pack{ID: p.id, OrganizationID: p.orgID, PackID: p.packID, Version: p.version}
			for _, e := range st.entityTypes {
				if slices.Contains(p.entityTypeIDs, e.id) {
					pk.EntityTypes = append(pk.EntityTypes, e.export(st))
				}
			}
			for _, r := range st.roles {
				if slices.Contains(p.roleIDs, r.id) {
					pk.Roles = append(pk.Roles, r.export(st))
				}
			}
			out = append(out, pk)
		}
	})
	return out
}

// APIKeys returns every API key record (never the raw key).
func (s *Server) APIKeys() []APIKey {
	var out []APIKey
	s.read(func(st *state, _ int64) {
		for _, k := range st.apiKeys {
			out = append(out, k.export())
		}
	})
	return out
}

// Users returns every user row.
func (s *Server) Users() []User {
	var out []User
	s.read(func(st *state, _ int64) {
		for _, u := range st.users {
			out = append(out, User{ID: u.id, Subject: u.subject, Email: u.email, Name: u.name})
		}
	})
	return out
}

// Thread is a chat thread, as returned by Server.Threads.
type Thread struct {
	ID, OrganizationID, AgentID, ExternalThreadID string              // the thread's identity
	Environment                                   struere.Environment // the key's environment that created it
	Messages                                      int                 // messages stored in it
}

// Threads returns every chat thread.
func (s *Server) Threads() []Thread {
	var out []Thread
	s.read(func(st *state, _ int64) {
		for _, t := range st.threads {
			out = append(out, Thread{ID: t.id, OrganizationID: t.orgID, Environment: struere.Environment(t.env), AgentID: t.agentID, ExternalThreadID: t.externalID, Messages: t.messages})
		}
	})
	return out
}
func (s *Server) isHead() bool { return s.opts.gen == struere.GenerationHead }
