package struere

import (
	"context"
	"fmt"

	"github.com/struere/struere-go/internal/convex"
)

// Changes lists what a sync did to one kind of resource.
type Changes struct {
	Created   []string `json:"created"`             // names created
	Updated   []string `json:"updated"`             // names updated (E2: also an agent synced into a new environment)
	Deleted   []string `json:"deleted"`             // names deleted (eval suites: archived)
	Preserved []string `json:"preserved,omitempty"` // names kept although absent from the payload (E1)
	Skipped   []string `json:"skipped,omitempty"`   // eval suites skipped, with the backend's reason
}

// SyncResult is the outcome of Client.Sync.
type SyncResult struct {
	Environment Environment `json:"environment"` // Development, or Eval with SyncTo(Eval)
	Generation  Generation  `json:"-"`           // the backend generation the payload was shaped for
	Agents      Changes     `json:"agents"`      // agent changes
	EntityTypes Changes     `json:"entityTypes"` // entity type changes
	Roles       Changes     `json:"roles"`       // role changes
	// Triggers and EvalSuites are nil when they were not sent.
	Triggers   *Changes `json:"triggers,omitempty"`
	EvalSuites *Changes `json:"evalSuites,omitempty"` // eval suite changes, when sent
	// FixtureEntities and FixtureRelations count the records and relations
	// the eval environment created from the fixtures, which replace every
	// active record there; 0 when no fixtures were sent.
	FixtureEntities  int `json:"fixtureEntities,omitempty"`
	FixtureRelations int `json:"fixtureRelations,omitempty"`
	// PackResourcesPreserved is reported by E1 backends: true when the
	// organization has installed packs.
	PackResourcesPreserved bool `json:"packResourcesPreserved,omitempty"`
}

// SyncOption configures Client.Sync. These build one:
//
//   - AllowDeletions(): let the sync delete remote items the definitions
//     leave out (refused otherwise, with ErrWouldDelete);
//   - SyncTo(env): write Eval instead of Development (newest backend
//     only).
type SyncOption interface{ applySync(*syncOptions) }

type syncOptions struct {
	allowDeletions bool
	env            Environment
}

type syncOptionFunc func(*syncOptions)

func (f syncOptionFunc) applySync(o *syncOptions) { f(o) }

// AllowDeletions lets Sync delete remote resources that the definitions no
// longer contain. Without it, Sync refuses with ErrWouldDelete and writes
// nothing (the CLI asks for confirmation at this point).
func AllowDeletions() SyncOption {
	return syncOptionFunc(func(o *syncOptions) { o.allowDeletions = true })
}

// SyncTo makes Sync write to env instead of Development. Only Development
// and Eval are accepted (production is written by Deploy), and Eval only
// on the newest backend, where it is the environment eval suites run in
// and the only one that processes fixtures.
func SyncTo(env Environment) SyncOption {
	return syncOptionFunc(func(o *syncOptions) { o.env = env })
}

// syncArgs is the syncOrganization payload for local definitions.
type syncArgs struct {
	OrganizationID string      `json:"organizationId,omitempty"`
	Environment    Environment `json:"environment,omitempty"`
	*wireDefs
	// E1 only; both default to true on the backend and are sent
	// explicitly, as `struere dev` does.
	PreservePackResources   *bool `json:"preservePackResources,omitempty"`
	PreserveUnmanagedAgents *bool `json:"preserveUnmanagedAgents,omitempty"`
}

// Sync pushes local definitions to development (never production: that is
// Deploy's job; SyncTo(Eval) writes the eval environment instead), in the
// argument shape of the backend's generation. Definitions the generation
// cannot store exactly are refused before anything is sent, with an
// *ValidationError naming each agent and field (matching ErrUnsupported); so are
// fixtures for any environment but eval, which would ignore them. Before
// writing, Sync reads the target environment and computes which remote
// resources the sync would delete; unless AllowDeletions is given it then
// refuses with an error matching ErrWouldDelete that lists them.
//
// On environment-isolated backends an agent missing from defs is deleted
// together with its configurations in every environment, production
// included; the refusal says so. A failure the backend reports because of
// the organization's plan (too many agents, eval suites or automations)
// matches ErrPlanLimit and carries the backend's message.
func (c *Client) Sync(ctx context.Context, defs *Definitions, opts ...SyncOption) (*SyncResult, error) {
	const op = "sync"
	if ctx == nil {
		return nil, nilContext(op)
	}
	o := syncOptions{env: Development}
	for _, opt := range opts {
		opt.applySync(&o)
	}
	if defs == nil {
		return nil, fmt.Errorf("struere: %s: definitions are nil: load them with LoadDefinitions", op)
	}
	if o.env != Development && o.env != Eval {
		return nil, fmt.Errorf("struere: %s: cannot sync to %q: Sync writes development or eval; use Deploy for production", op, string(o.env))
	}
	if err := defs.Validate(); err != nil {
		return nil, wrapOp(op, err)
	}
	release, err := c.exclusive(ctx, op) // never overlaps a Deploy or Sync of this client
	if err != nil {
		return nil, err
	}
	defer release()
	gen, err := c.isolation(ctx)
	if err != nil {
		return nil, err
	}
	if o.env == Eval && gen != GenerationHead {
		return nil, wrapOp(op, fmt.Errorf("%w: this backend (%s) has no eval environment: sync to development", ErrUnsupported, gen))
	}
	if o.env != Eval && len(defs.Fixtures) > 0 && gen == GenerationHead {
		return nil, wrapOp(op, &ValidationError{Generation: gen, Problems: []FieldError{{Item: "fixtures",
			Problem: fmt.Sprintf("only the eval environment processes fixtures; %s would ignore them: sync them with SyncTo(Eval), or remove them", o.env)}}})
	}
	wire, err := wireDefinitions(gen, defs)
	if err != nil {
		return nil, wrapOp(op, err)
	}
	r, err := c.readTarget(ctx, op, gen, o.env)
	if err != nil {
		return nil, err
	}
	if dels := wouldDelete(r, defs, o.env); len(dels) > 0 && !o.allowDeletions {
		return nil, &RefusedError{Op: op, Refusals: dels, kind: ErrWouldDelete}
	}
	args := syncArgs{OrganizationID: c.s.org, wireDefs: wire}
	if gen.environmentIsolated() {
		args.Environment = o.env
	} else {
		yes := true
		args.PreservePackResources, args.PreserveUnmanagedAgents = &yes, &yes
	}
	if err := c.recheckSync(ctx, op, r, o.env); err != nil {
		return nil, err // someone changed the backend since it was read: nothing written
	}
	var out struct {
		wireSyncResult
		Fixtures *struct {
			EntitiesCreated  int `json:"entitiesCreated"`
			RelationsCreated int `json:"relationsCreated"`
		} `json:"fixtures"`
	}
	if err := c.exchange(ctx, op, o.env, convex.Mutation, fnSyncOrganization, args, &out); err != nil {
		return nil, err
	}
	if !out.Success {
		return nil, &APIError{Op: op, Path: fnSyncOrganization, HTTPStatus: 200, Message: "backend answered success:false", kinds: []error{ErrMalformedResponse}}
	}
	res := &SyncResult{Environment: o.env, Generation: gen,
		Agents: out.Agents.changes(), EntityTypes: out.EntityTypes.changes(), Roles: out.Roles.changes(),
		PackResourcesPreserved: out.PackResourcesPreserved}
	if out.Fixtures != nil {
		res.FixtureEntities, res.FixtureRelations = out.Fixtures.EntitiesCreated, out.Fixtures.RelationsCreated
	}
	if out.Triggers != nil {
		ch := out.Triggers.changes()
		res.Triggers = &ch
	}
	if out.EvalSuites != nil {
		ch := out.EvalSuites.changes()
		res.EvalSuites = &ch
	}
	if bad := syncUnintended(r, defs, &out.wireSyncResult); len(bad) > 0 {
		return res, &VerificationError{Op: op, Sync: res, Mismatches: bad}
	}
	return res, nil
}

// readTarget reads the sync state of the environment a sync writes (E1:
// the organization-wide one) into r.dev, for the deletion check.
func (c *Client) readTarget(ctx context.Context, op string, gen Generation, env Environment) (*remote, error) {
	if env == Development || !gen.environmentIsolated() {
		return c.readRemoteAs(ctx, op, gen, reads{devOnly: true})
	}
	r := &remote{gen: gen, dev: new(wireSyncState)}
	if err := c.exchange(ctx, op, env, convex.Query, fnGetSyncState, syncStateArgs{OrganizationID: c.s.org, Environment: env}, r.dev); err != nil {
		return nil, err
	}
	return r, r.check(op)
}

func (s syncChanges) changes() Changes {
	return Changes{Created: nonNil(s.Created), Updated: nonNil(s.Updated), Deleted: nonNil(s.Deleted), Preserved: s.Preserved, Skipped: s.Skipped}
}

// wouldDelete lists the remote resources a sync of d to env would delete;
// r.dev holds env's state.
func wouldDelete(r *remote, d *Definitions, env Environment) []Refusal {
	var out []Refusal
	agents := map[string]bool{}
	for _, a := range d.Agents {
		agents[a.Slug] = true
	}
	if r.gen.environmentIsolated() {
		for _, a := range r.dev.Agents {
			if !agents[a.Slug] {
				out = append(out, Refusal{Slug: a.Slug, Reason: "agent would be deleted, with its configurations in every environment (production included)"})
			}
		}
	}
	ets := map[string]bool{}
	for _, e := range d.EntityTypes {
		ets[e.Slug] = true
	}
	for _, e := range r.dev.EntityTypes {
		if !ets[e.Slug] && !e.IsPackManaged {
			out = append(out, Refusal{Slug: e.Slug, Reason: "entity type would be deleted from " + string(env)})
		}
	}
	roles := map[string]bool{}
	for _, e := range d.Roles {
		roles[e.Name] = true
	}
	for _, e := range r.dev.Roles {
		if !roles[e.Name] && !e.IsPackManaged {
			out = append(out, Refusal{Slug: e.Name, Reason: "role would be deleted from " + string(env)})
		}
	}
	if len(d.Triggers) > 0 {
		ts := map[string]bool{}
		for _, t := range d.Triggers {
			ts[t.Slug] = true
		}
		for _, t := range r.dev.Triggers {
			if !ts[t.Slug] {
				out = append(out, Refusal{Slug: t.Slug, Reason: "trigger would be deleted from " + string(env)})
			}
		}
	}
	if len(d.EvalSuites) > 0 {
		ss := map[string]bool{}
		for _, s := range d.EvalSuites {
			ss[s.Slug] = true
		}
		for _, s := range r.dev.EvalSuites {
			if !ss[s.Slug] {
				out = append(out, Refusal{Slug: s.Slug, Reason: "eval suite would be archived in " + string(env)})
			}
		}
	}
	return out
}
