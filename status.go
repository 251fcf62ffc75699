package struere

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
)

// State is how one agent or resource compares across local definitions,
// development and production.
type State string

// The states Status reports.
const (
	// StateSynced: development and production agree (and local, when
	// given, matches development).
	StateSynced State = "synced"
	// StateNew: defined locally, not yet in development.
	StateNew State = "new"
	// StateWillBeDeleted: in development but not in the local
	// definitions; the next Sync (with AllowDeletions) removes it.
	StateWillBeDeleted State = "will-be-deleted"
	// StateUnmanaged: in development but not in the local definitions, on
	// a backend whose sync keeps such agents (E1 preserves them).
	StateUnmanaged State = "unmanaged"
	// StateModified: defined locally and in development, but they differ;
	// Sync would update development.
	StateModified State = "modified"
	// StateNotInProduction: configured in development, not in production;
	// Deploy would promote it.
	StateNotInProduction State = "not-in-production"
	// StateDrifted: development and production versions differ; Deploy
	// would promote development.
	StateDrifted State = "drifted"
	// StateNotInDevelopment: present in production only; Deploy skips it.
	StateNotInDevelopment State = "not-in-development"
	// StateUnconfigured: the agent exists but has a configuration in
	// neither environment.
	StateUnconfigured State = "unconfigured"
)

// Presence is one side of a comparison.
type Presence struct {
	// Present reports whether the item exists (for agents: has a
	// configuration) on this side.
	Present bool `json:"present"`
	// Version is the agent configuration's version, "" when absent or not
	// reported by the backend (E1 does not report production versions).
	Version string `json:"version,omitempty"`
}

// AgentStatus compares one agent across local, development and production.
type AgentStatus struct {
	Slug        string   `json:"slug"`        // the agent's slug
	Name        string   `json:"name"`        // its display name
	Local       Presence `json:"local"`       // in the local definitions (WithLocal only)
	Development Presence `json:"development"` // development's configuration
	Production  Presence `json:"production"`  // production's configuration
	State       State    `json:"state"`       // how the three compare
}

// ResourceKind names a kind of resource other than agents.
type ResourceKind string

// The resource kinds Status compares.
const (
	KindEntityType ResourceKind = "entityType"
	KindRole       ResourceKind = "role"
	KindTrigger    ResourceKind = "trigger"
)

// ResourceStatus compares one entity type, role or trigger.
type ResourceStatus struct {
	Kind ResourceKind `json:"kind"` // entity type, role or trigger
	// Name is the slug for entity types and triggers, the name for roles.
	Name        string `json:"name"`
	Local       bool   `json:"local"`       // in the local definitions
	Development bool   `json:"development"` // in development
	Production  bool   `json:"production"`  // in production (E1: same as development)
	State       State  `json:"state"`       // how the three compare
}

// StatusSchemaVersion is the version of Status's JSON shape. It changes
// only when a field is removed or changes meaning.
const StatusSchemaVersion = 1

// Status is the result of Client.Status.
type Status struct {
	Generation     Generation       `json:"-"`                        // the backend generation (in JSON as "generation")
	OrganizationID string           `json:"organizationId,omitempty"` // "" for the backend's default organization
	WithLocal      bool             `json:"withLocal"`                // local definitions were compared
	Agents         []AgentStatus    `json:"agents"`                   // by slug
	Resources      []ResourceStatus `json:"resources"`                // by kind, then name
	Notes          []string         `json:"notes,omitempty"`          // what this backend cannot report
}

// StatusOption configures Client.Status.
type StatusOption interface{ applyStatus(*statusOptions) }

type statusOptions struct{ local *Definitions }

// WithLocal compares local definitions too: Status reports new, modified
// and will-be-deleted items, and Deploy refuses when they differ from
// development.
func WithLocal(defs *Definitions) LocalOption { return LocalOption{defs: defs} }

// LocalOption is the option WithLocal returns; it applies to Status and to
// Deploy.
type LocalOption struct{ defs *Definitions }

func (o LocalOption) applyStatus(s *statusOptions) { s.local = o.defs }

// Status compares development and production (and local definitions, with
// WithLocal) agent by agent and resource by resource. On
// environment-isolated backends the two environments are read
// concurrently. A failed read fails the whole call: a partial status could
// pass a CI gate that should fail.
func (c *Client) Status(ctx context.Context, opts ...StatusOption) (*Status, error) {
	const op = "status"
	if ctx == nil {
		return nil, nilContext(op)
	}
	var o statusOptions
	for _, opt := range opts {
		opt.applyStatus(&o)
	}
	if o.local != nil {
		if err := o.local.Validate(); err != nil {
			return nil, wrapOp(op, err)
		}
	}
	r, err := c.readRemote(ctx, op, reads{devPull: o.local != nil})
	if err != nil {
		return nil, err
	}
	devPull, err := r.pulledAgents(op, r.devPull)
	if err != nil {
		return nil, err
	}
	return buildStatus(r, o.local, devPull, c.s.org), nil
}

// pulledAgents indexes a pull state's agent configurations by slug; nil
// when p is nil.
func (r *remote) pulledAgents(op string, p *wirePullState) (map[string]json.RawMessage, error) {
	if p == nil {
		return nil, nil
	}
	if p.bySlug != nil {
		return p.bySlug, nil
	}
	out := make(map[string]json.RawMessage, len(p.Agents))
	for _, a := range p.Agents {
		var id struct {
			Slug string `json:"slug"`
		}
		if err := json.Unmarshal(a, &id); err != nil || id.Slug == "" {
			return nil, &APIError{Op: op, Path: fnGetPullState, Message: "pull state lists an agent without a slug", kinds: []error{ErrMalformedResponse}}
		}
		out[id.Slug] = a
	}
	p.bySlug = out
	return out, nil
}

func buildStatus(r *remote, local *Definitions, devPull map[string]json.RawMessage, org string) *Status {
	st := &Status{Generation: r.gen, OrganizationID: org, WithLocal: local != nil, Resources: []ResourceStatus{}}
	st.Agents = make([]AgentStatus, 0, len(r.dev.Agents))
	if r.gen == GenerationE1 {
		st.Notes = append(st.Notes, "this backend (E1) does not report production versions: drift between development and production cannot be detected, and entity types and roles are organization-wide")
	}
	var localAgents map[string]Agent
	if local != nil {
		localAgents = make(map[string]Agent, len(local.Agents))
		for _, a := range local.Agents {
			localAgents[a.Slug] = a
		}
	}
	for _, a := range r.dev.Agents {
		dev, prod := r.devView(a), r.prodView(a.Slug)
		as := AgentStatus{
			Slug: a.Slug, Name: a.Name,
			Development: Presence{Present: dev.configured, Version: dev.version},
			Production:  Presence{Present: prod.configured, Version: prod.version},
		}
		la, hasLocal := localAgents[a.Slug]
		if hasLocal {
			as.Local = Presence{Present: true, Version: la.Version}
		}
		switch {
		case local != nil && !hasLocal && r.gen.EnvironmentIsolated():
			as.State = StateWillBeDeleted
		case local != nil && !hasLocal:
			// E1 syncs preserve agents missing from the payload.
			as.State = StateUnmanaged
		case hasLocal && (!dev.configured || !agentMatches(r.gen, la, dev, devPull[a.Slug])):
			as.State = StateModified
		case dev.configured && !prod.configured:
			as.State = StateNotInProduction
		case dev.configured && prod.version != "" && dev.version != prod.version:
			as.State = StateDrifted
		case !dev.configured && prod.configured:
			as.State = StateNotInDevelopment
		case !dev.configured:
			as.State = StateUnconfigured
		default:
			as.State = StateSynced
		}
		st.Agents = append(st.Agents, as)
	}
	if local != nil {
		for _, a := range local.Agents {
			if !r.hasAgent(a.Slug) {
				st.Agents = append(st.Agents, AgentStatus{Slug: a.Slug, Name: a.Name, Local: Presence{Present: true, Version: a.Version}, State: StateNew})
			}
		}
	}
	// The backend's list order is not guaranteed (protocol §12).
	bySlug := func(a, b AgentStatus) int { return strings.Compare(a.Slug, b.Slug) }
	if !slices.IsSortedFunc(st.Agents, bySlug) {
		slices.SortFunc(st.Agents, bySlug)
	}
	st.Resources = append(st.Resources, resourceStatuses(r, local)...)
	return st
}

// agentMatches reports whether a local agent equals development's
// configuration. With development's full configuration (isolated
// backends) every field is compared; otherwise only the version.
func agentMatches(gen Generation, local Agent, dev envView, pulled json.RawMessage) bool {
	if local.Version != dev.version {
		return false
	}
	if pulled == nil {
		return true
	}
	lj, err := json.Marshal(wireAgentFor(gen, local, &wireProblems{gen: gen}))
	if err != nil {
		return false
	}
	return jsonEqual(lj, pulled, "description")
}

// jsonEqual compares two JSON objects semantically. Keys listed in
// optional compare equal when absent on one side and empty on the other.
func jsonEqual(a, b []byte, optional ...string) bool {
	var x, y map[string]any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	for _, k := range optional {
		if v, ok := x[k]; ok && v == "" {
			delete(x, k)
		}
		if v, ok := y[k]; ok && v == "" {
			delete(y, k)
		}
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

func resourceStatuses(r *remote, local *Definitions) []ResourceStatus {
	type names struct{ dev, prod, local map[string]bool }
	collect := func(kind ResourceKind) names {
		n := names{dev: map[string]bool{}, prod: map[string]bool{}, local: map[string]bool{}}
		add := func(m map[string]bool, s *wireSyncState) {
			if s == nil {
				return
			}
			switch kind {
			case KindEntityType:
				for _, e := range s.EntityTypes {
					m[e.Slug] = true
				}
			case KindRole:
				for _, e := range s.Roles {
					m[e.Name] = true
				}
			case KindTrigger:
				for _, e := range s.Triggers {
					m[e.Slug] = true
				}
			}
		}
		add(n.dev, r.dev)
		if r.prod != nil {
			add(n.prod, r.prod)
		} else {
			add(n.prod, r.dev) // E1: organization-wide resources
		}
		if local != nil {
			switch kind {
			case KindEntityType:
				for _, e := range local.EntityTypes {
					n.local[e.Slug] = true
				}
			case KindRole:
				for _, e := range local.Roles {
					n.local[e.Name] = true
				}
			case KindTrigger:
				for _, e := range local.Triggers {
					n.local[e.Slug] = true
				}
			}
		}
		return n
	}
	var out []ResourceStatus
	for _, kind := range []ResourceKind{KindEntityType, KindRole, KindTrigger} {
		n := collect(kind)
		all := map[string]bool{}
		for _, m := range []map[string]bool{n.dev, n.prod, n.local} {
			for k := range m {
				all[k] = true
			}
		}
		keys := make([]string, 0, len(all))
		for k := range all {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			rs := ResourceStatus{Kind: kind, Name: k, Local: n.local[k], Development: n.dev[k], Production: n.prod[k]}
			switch {
			case local != nil && rs.Local && !rs.Development:
				rs.State = StateNew
			case local != nil && !rs.Local && rs.Development && !(kind == KindTrigger && len(local.Triggers) == 0):
				// Omitted triggers are never deleted by sync (protocol §6.1).
				rs.State = StateWillBeDeleted
			case rs.Development && !rs.Production:
				rs.State = StateNotInProduction
			case !rs.Development && rs.Production:
				rs.State = StateNotInDevelopment
			default:
				rs.State = StateSynced
			}
			out = append(out, rs)
		}
	}
	return out
}

// InSync reports whether nothing differs: every agent and resource is
// StateSynced.
func (s *Status) InSync() bool {
	for _, a := range s.Agents {
		if a.State != StateSynced {
			return false
		}
	}
	for _, r := range s.Resources {
		if r.State != StateSynced {
			return false
		}
	}
	return true
}

// AgentsIn returns the slugs of the agents in any of the given states.
func (s *Status) AgentsIn(states ...State) []string {
	var out []string
	for _, a := range s.Agents {
		for _, st := range states {
			if a.State == st {
				out = append(out, a.Slug)
				break
			}
		}
	}
	return out
}

// LocalDiffers returns the agents and resources ("kind name") whose local
// definition differs from development: new, modified, will be deleted or
// unmanaged. It is empty when Status was called without WithLocal.
func (s *Status) LocalDiffers() []string {
	var out []string
	for _, a := range s.Agents {
		if a.State.DiffersLocally() {
			out = append(out, a.Slug)
		}
	}
	for _, r := range s.Resources {
		if r.State.DiffersLocally() {
			out = append(out, string(r.Kind)+" "+r.Name)
		}
	}
	return out
}

// DiffersLocally reports whether st says a local definition differs from
// development: new, modified, will be deleted or unmanaged.
func (st State) DiffersLocally() bool {
	return st == StateNew || st == StateModified || st == StateWillBeDeleted || st == StateUnmanaged
}

// Drifted returns the agents whose production differs from development,
// whatever the local definitions say: configured in one environment only,
// or with different versions where the backend reports both.
func (s *Status) Drifted() []string {
	var out []string
	for _, a := range s.Agents {
		d, p := a.Development, a.Production
		if d.Present != p.Present || (d.Present && p.Version != "" && d.Version != p.Version) {
			out = append(out, a.Slug)
		}
	}
	return out
}

// ProductionMatchesDevelopment reports whether production serves every
// agent configuration development holds (the CI gate's question): no agent
// is drifted. Entity types, roles and triggers are not promoted by Deploy;
// see ResourcesDiffer.
func (s *Status) ProductionMatchesDevelopment() bool { return len(s.Drifted()) == 0 }

// ResourcesDiffer returns the entity types, roles and triggers present in
// only one of development and production, as "kind name".
func (s *Status) ResourcesDiffer() []string {
	var out []string
	for _, r := range s.Resources {
		if r.Development != r.Production {
			out = append(out, string(r.Kind)+" "+r.Name)
		}
	}
	return out
}
