package struere

import (
	"context"
	"fmt"
	"strings"

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
	Environment Environment `json:"environment"` // always Development
	Generation  Generation  `json:"-"`           // the backend generation the payload was shaped for
	Agents      Changes     `json:"agents"`      // agent changes
	EntityTypes Changes     `json:"entityTypes"` // entity type changes
	Roles       Changes     `json:"roles"`       // role changes
	// Triggers and EvalSuites are nil when they were not sent.
	Triggers   *Changes `json:"triggers,omitempty"`
	EvalSuites *Changes `json:"evalSuites,omitempty"` // eval suite changes, when sent
	// PackResourcesPreserved is reported by E1 backends: true when the
	// organization has installed packs.
	PackResourcesPreserved bool `json:"packResourcesPreserved,omitempty"`
}

// SyncOption configures Client.Sync.
type SyncOption interface{ applySync(*syncOptions) }

type syncOptions struct{ allowDeletions bool }

type syncOptionFunc func(*syncOptions)

func (f syncOptionFunc) applySync(o *syncOptions) { f(o) }

// AllowDeletions lets Sync delete remote resources that the definitions no
// longer contain. Without it, Sync refuses with ErrWouldDelete and writes
// nothing (the CLI asks for confirmation at this point).
func AllowDeletions() SyncOption {
	return syncOptionFunc(func(o *syncOptions) { o.allowDeletions = true })
}

// syncArgs is the syncOrganization payload for local definitions.
type syncArgs struct {
	OrganizationID string      `json:"organizationId,omitempty"`
	Environment    Environment `json:"environment,omitempty"`
	// The definitions, listed rather than embedded: Definitions has its
	// own MarshalJSON, which embedding would promote over these fields.
	Agents      []Agent      `json:"agents"`
	EntityTypes []EntityType `json:"entityTypes"`
	Roles       []Role       `json:"roles"`
	Triggers    []Trigger    `json:"triggers,omitempty"`
	EvalSuites  []EvalSuite  `json:"evalSuites,omitempty"`
	// E1 only; both default to true on the backend and are sent
	// explicitly, as `struere dev` does.
	PreservePackResources   *bool `json:"preservePackResources,omitempty"`
	PreserveUnmanagedAgents *bool `json:"preserveUnmanagedAgents,omitempty"`
}

// Sync pushes local definitions to development (never production: that is
// Deploy's job), in the argument shape of the backend's generation. Before
// writing it reads development and computes which remote resources the sync
// would delete; unless AllowDeletions is given it then refuses with an
// error matching ErrWouldDelete that lists them.
//
// On E2 backends an agent missing from defs is deleted together with its
// configurations in every environment, production included; the refusal
// says so.
func (c *Client) Sync(ctx context.Context, defs *Definitions, opts ...SyncOption) (*SyncResult, error) {
	const op = "sync"
	var o syncOptions
	for _, opt := range opts {
		opt.applySync(&o)
	}
	if defs == nil {
		return nil, fmt.Errorf("struere: %s: definitions are nil: load them with LoadDefinitions", op)
	}
	if err := defs.Validate(); err != nil {
		return nil, wrapOp(op, err)
	}
	gen, err := c.isolation(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkSupported(gen, defs); err != nil {
		return nil, wrapOp(op, err)
	}
	r, err := c.readRemote(ctx, op, reads{devOnly: true})
	if err != nil {
		return nil, err
	}
	if dels := wouldDelete(r, defs); len(dels) > 0 && !o.allowDeletions {
		return nil, &RefusedError{Op: op, Refusals: dels, kind: ErrWouldDelete}
	}
	args := syncArgs{OrganizationID: c.s.org,
		Agents: nonNil(defs.Agents), EntityTypes: nonNil(defs.EntityTypes), Roles: nonNil(defs.Roles),
		Triggers: defs.Triggers, EvalSuites: defs.EvalSuites}
	if gen.EnvironmentIsolated() {
		args.Environment = Development
	} else {
		yes := true
		args.PreservePackResources, args.PreserveUnmanagedAgents = &yes, &yes
	}
	var out wireSyncResult
	if err := c.call(ctx, op, convex.Mutation, fnSyncOrganization, args, &out); err != nil {
		return nil, err
	}
	if !out.Success {
		return nil, &APIError{Op: op, Path: fnSyncOrganization, HTTPStatus: 200, Message: "backend answered success:false", kinds: []error{ErrMalformedResponse}}
	}
	res := &SyncResult{Environment: Development, Generation: gen,
		Agents: out.Agents.changes(), EntityTypes: out.EntityTypes.changes(), Roles: out.Roles.changes(),
		PackResourcesPreserved: out.PackResourcesPreserved}
	if out.Triggers != nil {
		ch := out.Triggers.changes()
		res.Triggers = &ch
	}
	if out.EvalSuites != nil {
		ch := out.EvalSuites.changes()
		res.EvalSuites = &ch
	}
	return res, nil
}

func (s syncChanges) changes() Changes {
	return Changes{Created: nonNil(s.Created), Updated: nonNil(s.Updated), Deleted: nonNil(s.Deleted), Preserved: s.Preserved, Skipped: s.Skipped}
}

// checkSupported rejects definitions the backend's generation cannot
// store, instead of letting its validator fail or silently dropping them.
func checkSupported(gen Generation, d *Definitions) error {
	if gen == GenerationHead {
		return fmt.Errorf("%w: syncing to the newest backend generation (model \"provider/id\", tools without isBuiltin) is not implemented yet; use the struere CLI to sync, then Status and Deploy from Go", ErrUnsupported)
	}
	var problems []string
	if gen.EnvironmentIsolated() {
		for _, r := range d.Roles {
			for i, p := range r.Policies {
				if p.Priority != nil {
					problems = append(problems, fmt.Sprintf("roles[%s].policies[%d].priority: policy priority exists only on E1 backends; remove it", r.Name, i))
				}
			}
		}
	} else {
		if len(d.Triggers) > 0 {
			problems = append(problems, "triggers: E1 backends have no triggers; remove them or upgrade the backend")
		}
		if len(d.EvalSuites) > 0 {
			problems = append(problems, "evalSuites: E1 backends have no eval suites; remove them or upgrade the backend")
		}
		for _, e := range d.EntityTypes {
			if e.BoundToRole != "" || e.UserIDField != "" {
				problems = append(problems, fmt.Sprintf("entityTypes[%s]: boundToRole and userIdField exist only on environment-isolated backends", e.Slug))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: not supported by this backend (%s): %s", ErrUnsupported, gen, strings.Join(problems, "; "))
	}
	return nil
}

// wouldDelete lists the remote resources a sync of d would delete
// (protocol §5.1, §6.1).
func wouldDelete(r *remote, d *Definitions) []Refusal {
	var out []Refusal
	agents := map[string]bool{}
	for _, a := range d.Agents {
		agents[a.Slug] = true
	}
	if r.gen.EnvironmentIsolated() {
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
			out = append(out, Refusal{Slug: e.Slug, Reason: "entity type would be deleted from development"})
		}
	}
	roles := map[string]bool{}
	for _, e := range d.Roles {
		roles[e.Name] = true
	}
	for _, e := range r.dev.Roles {
		if !roles[e.Name] && !e.IsPackManaged {
			out = append(out, Refusal{Slug: e.Name, Reason: "role would be deleted from development"})
		}
	}
	if len(d.Triggers) > 0 {
		ts := map[string]bool{}
		for _, t := range d.Triggers {
			ts[t.Slug] = true
		}
		for _, t := range r.dev.Triggers {
			if !ts[t.Slug] {
				out = append(out, Refusal{Slug: t.Slug, Reason: "trigger would be deleted from development"})
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
				out = append(out, Refusal{Slug: s.Slug, Reason: "eval suite would be archived in development"})
			}
		}
	}
	return out
}
