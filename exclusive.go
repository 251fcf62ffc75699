package struere

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// exclusive waits until no other Deploy or Sync of this Client runs, or
// until ctx ends, and returns the function that lets the next one in.
// Deploys and Syncs read the backend, decide, then write what they
// decided; two of them interleaved would each write from a state the
// other already changed.
func (c *Client) exclusive(ctx context.Context, op string) (func(), error) {
	select {
	case c.s.writes <- struct{}{}:
		return func() { <-c.s.writes }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("struere: %s: waiting for another Deploy or Sync of this client: %w", op, ctx.Err())
	}
}

// recheck reads the sync state the write depends on again, immediately
// before writing, and refuses as stale if it changed since r was read:
// agents, entity types, roles, triggers or suites created, deleted or
// re-versioned by someone else in between. It costs one small query per
// environment. Changes inside an item that keep its version (a role's
// rules, a prompt edited without a version bump) are not visible to it;
// the write's own result and the read-back catch what they can.
//
// A deploy that promotes resources (PromoteResources) re-reads both pull
// states too and compares every item's content, agents included: it writes
// contents, so a content change is as stale as a created or deleted item.
func (c *Client) recheck(ctx context.Context, op string, r *remote, p *Plan) error {
	full := p.promo.on() && r.devPull != nil && r.prodPull != nil
	now, err := c.readRemoteAs(ctx, op+": re-read before writing", r.gen, reads{devPull: full, prodPull: full})
	if err != nil {
		return err
	}
	what := stateChanges(r, now)
	if full && what == "" {
		var parts []string
		for _, s := range []string{pullChanges("development", r.devPull, now.devPull), pullChanges("production", r.prodPull, now.prodPull)} {
			if s != "" {
				parts = append(parts, s)
			}
		}
		what = strings.Join(parts, "; ")
	}
	if what != "" {
		return &StalePlanError{Op: op, Planned: p.Fingerprint, Current: "changed", Changed: what}
	}
	return nil
}

// recheckSync is recheck for a Sync to env, whose read r holds env's
// sync state only.
func (c *Client) recheckSync(ctx context.Context, op string, r *remote, env Environment) error {
	now, err := c.readTarget(ctx, op+": re-read before writing", r.gen, env)
	if err != nil {
		return err
	}
	a, b := *r, *now
	a.prod, b.prod = nil, nil
	if what := stateChangesAs(string(env), &a, &b); what != "" {
		return &StalePlanError{Op: op, Current: "changed", Changed: what}
	}
	return nil
}

// syncUnintended compares what a sync's result reports deleted with what
// the sync meant to delete (the items read before it that defs lacks); an
// item deleted that was not read (created concurrently) is named.
func syncUnintended(r *remote, defs *Definitions, out *wireSyncResult) []Refusal {
	var bad []Refusal
	check := func(kind string, deleted []string, read []string, kept map[string]bool) {
		was := map[string]bool{}
		for _, n := range read {
			was[n] = true
		}
		for _, d := range deleted {
			if !was[d] || kept[d] {
				bad = append(bad, Refusal{Slug: d, Kind: kind, Reason: fmt.Sprintf("the backend reported %s %q deleted, which the sync did not mean to delete: it was created after the sync read the backend (a concurrent change); re-create it, add it to the definitions, and sync again", kind, d)})
			}
		}
	}
	agents, ets, roles := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, a := range defs.Agents {
		agents[a.Slug] = true
	}
	for _, e := range defs.EntityTypes {
		ets[e.Slug] = true
	}
	for _, x := range defs.Roles {
		roles[x.Name] = true
	}
	var readAgents, readETs, readRoles []string
	for _, a := range r.dev.Agents {
		readAgents = append(readAgents, a.Slug)
	}
	for _, e := range r.dev.EntityTypes {
		readETs = append(readETs, e.Slug)
	}
	for _, x := range r.dev.Roles {
		readRoles = append(readRoles, x.Name)
	}
	check("agent", out.Agents.Deleted, readAgents, agents)
	check("entity type", out.EntityTypes.Deleted, readETs, ets)
	check("role", out.Roles.Deleted, readRoles, roles)
	return bad
}

// stateChanges describes how the sync states of b differ from a's, or
// returns "" when they hold the same.
func stateChanges(a, b *remote) string { return stateChangesAs("development", a, b) }

// stateChangesAs is stateChanges with a's and b's first state named devEnv.
func stateChangesAs(devEnv string, a, b *remote) string {
	var out []string
	cmpState := func(env string, x, y *wireSyncState) {
		if x == nil || y == nil {
			return
		}
		out = append(out, diffNamed(env+" agent", agentKeys(x), agentKeys(y))...)
		et := func(s *wireSyncState) map[string]string {
			m := map[string]string{}
			for _, e := range s.EntityTypes {
				m[e.Slug] = e.Name + "\x00" + e.BoundToRole
			}
			return m
		}
		out = append(out, diffNamed(env+" entity type", et(x), et(y))...)
		roles := func(s *wireSyncState) map[string]string {
			m := map[string]string{}
			for _, e := range s.Roles {
				m[e.Name] += fmt.Sprintf("%d;", e.PolicyCount)
			}
			return m
		}
		out = append(out, diffNamed(env+" role", roles(x), roles(y))...)
		tr := func(s *wireSyncState) map[string]string {
			m := map[string]string{}
			for _, e := range s.Triggers {
				m[e.Slug] = e.Name
			}
			return m
		}
		out = append(out, diffNamed(env+" trigger", tr(x), tr(y))...)
	}
	cmpState(devEnv, a.dev, b.dev)
	cmpState("production", a.prod, b.prod)
	return strings.Join(out, "; ")
}

func agentKeys(s *wireSyncState) map[string]string {
	m := make(map[string]string, len(s.Agents))
	for _, a := range s.Agents {
		m[a.Slug] = fmt.Sprintf("%s\x00%s\x00%t%t%t", a.Name, a.Version, a.HasConfig, a.HasDevConfig, a.HasProdConfig)
	}
	return m
}

// diffNamed lists what was added, removed or changed between two keyed
// sets, naming the items.
func diffNamed(kind string, a, b map[string]string) []string {
	var added, removed, changed []string
	for k, v := range a {
		w, ok := b[k]
		switch {
		case !ok:
			removed = append(removed, k)
		case v != w:
			changed = append(changed, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			added = append(added, k)
		}
	}
	var out []string
	for _, l := range []struct {
		what  string
		names []string
	}{{"created", added}, {"deleted", removed}, {"changed", changed}} {
		if len(l.names) > 0 {
			sort.Strings(l.names)
			out = append(out, fmt.Sprintf("%s %s: %s", kind, l.what, strings.Join(l.names, ", ")))
		}
	}
	return out
}
